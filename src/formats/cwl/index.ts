/**
 * The `cwl` format: CloudWatch Logs subscription payloads, read from objects (a folder or S3) or
 * handed over one at a time by a Lambda handler (`cwlPayloadToBatch`).
 *
 * An object may hold, back to back (`{...}{...}` or one per line, after the reader has undone
 * any gzip, including the concatenated gzip members Firehose writes):
 * - bare payloads `{messageType, logGroup, logStream, logEvents}` (Firehose -> S3);
 * - Lambda events `{"awslogs":{"data": base64(gzip(payload))}}`;
 * - Kinesis events `{"Records":[{"kinesis":{"data": …}}]}`;
 * - Firehose transformation events / HTTP-endpoint requests `{"records":[{"data": …}]}`.
 *
 * The log lines inside (`logEvents[].message`) are decoded by the configured inner format (no
 * header line there): `vpcflow` with its `fields` order, `cloudtrail` (one event per message),
 * `s3access`, `alb`, `json` (each message one JSON object) or `text` (`{message}`).
 *
 * Accounting, per object: every log event of a DATA_MESSAGE becomes a record, a rejection, or
 * (a blank message, a header line) a filtered count; a CONTROL_MESSAGE counts as one filtered
 * record (acknowledged, nothing to deliver); a payload that cannot be read (not base64, not
 * gzip, not JSON, missing logEvents, junk between objects) is one rejection with that reason,
 * and the rest of the object goes on.
 *
 * Identity: a record whose log event has an id gets `cwl-<event id>` (CloudWatch's ids are
 * unique per event, so the same event delivered twice — a Firehose retry, a Kinesis replay —
 * lands on the same OpenSearch `_id`); otherwise `<object prefix>-<ordinal>`. `origin.line` is
 * the 1-based ordinal of the log event in the object (payload rejections take the ordinal the
 * payload's first event would have had).
 */
import { createHash } from 'node:crypto';
import type { DecodeContext, Format, RecordBatch } from '../../core/component.js';
import type { ObjectRef, Rejection, SluiceRecord } from '../../core/record.js';
import { recordId } from '../../core/record.js';
import { splitJsonObjects } from './json-objects.js';
import {
  badLogEventReason,
  CWL_REJECT_CODES,
  CwlPayloadError,
  cwlPayloadsOf,
  decodeEnvelopeItem,
  DEFAULT_MAX_PAYLOAD_BYTES,
  parseCwlPayloadJson,
  decodeCwlPayload,
  type CwlEnvelopeItem,
  type CwlLogEvent,
  type CwlPayload,
} from './payload.js';

export {
  CWL_REJECT_CODES,
  CwlPayloadError,
  cwlPayloadsOf,
  decodeCwlPayload,
  decodeEnvelopeItem,
  parseCwlPayloadJson,
  tryDecodeCwlPayload,
  type CwlEnvelopeItem,
  type CwlLogEvent,
  type CwlMessageType,
  type CwlPayload,
} from './payload.js';
import { defineFormat } from '../../core/component.js';
import { cwlFormatSchema, type CwlInnerFormatConfig } from './config.js';

/** How the messages inside are read: a line format (no header), or `json` / `text`. */
export type CwlInner = Format | 'json' | 'text';

export interface CwlFormatOptions {
  inner: CwlInner;
  /** Add `cwl_log_group`, `cwl_log_stream`, `cwl_owner` (and `cwl_extracted` when present) to each record. */
  metadata?: boolean;
  /** Largest payload (decompressed) or JSON object in an object, in bytes. */
  maxPayloadBytes?: number;
}

export const CWL_INNER_REJECT_CODES = {
  notJsonObject: 'CWL_MESSAGE_NOT_JSON',
} as const;

/** Records per emitted batch when reading objects (payloads are joined or split to about this). */
const BATCH_RECORDS = 2048;
const MAX_RAW = 4096;

/**
 * Creates the `cwl` format.
 *
 * @example
 * const format = cwlFormat({ inner: vpcflowFormat({ fields: 'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status' }) });
 */
export function cwlFormat(options: CwlFormatOptions): Format {
  const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  return {
    name: 'cwl',
    async *decode(input: AsyncIterable<Uint8Array>, ctx: DecodeContext): AsyncIterable<RecordBatch> {
      const object = ctx.object.uri;
      let pending: RecordBatch = { records: [], rejects: [], filtered: 0 };
      let ordinal = 0;
      let pieceNo = 0;
      const rejectPiece = (code: string, reason: string, raw?: string) => {
        ordinal++;
        pending.rejects.push({ origin: { object, line: ordinal }, code, reason: `${object}: ${reason}`, raw });
      };
      for await (const piece of splitJsonObjects(input, maxPayloadBytes)) {
        pieceNo++;
        if (piece.kind === 'junk') {
          rejectPiece(CWL_REJECT_CODES.notJson, `not JSON: ${piece.text.length} bytes of text between payloads at byte ${piece.offset}`, piece.text);
        } else if (piece.kind === 'oversized') {
          rejectPiece(CWL_REJECT_CODES.tooLarge, `payload too large: JSON object #${pieceNo} at byte ${piece.offset} is ${piece.bytes} bytes (cap ${maxPayloadBytes})`);
        } else if (piece.kind === 'truncated') {
          rejectPiece(CWL_REJECT_CODES.notJson, `not JSON: JSON object #${pieceNo} at byte ${piece.offset} is cut short at the end of the object (${piece.bytes} bytes)`);
        } else {
          let value: unknown;
          try {
            value = JSON.parse(Buffer.from(piece.bytes.buffer, piece.bytes.byteOffset, piece.bytes.byteLength).toString('utf8'));
          } catch (err) {
            rejectPiece(CWL_REJECT_CODES.notJson, `not JSON: JSON object #${pieceNo} at byte ${piece.offset}: ${(err as Error).message}`, truncate(Buffer.from(piece.bytes).toString('utf8')));
            value = undefined;
          }
          if (value !== undefined) {
            let items: CwlEnvelopeItem[];
            try {
              items = cwlPayloadsOf(value);
            } catch (err) {
              if (!(err instanceof CwlPayloadError)) throw err;
              rejectPiece(err.code, `${err.message} (JSON object #${pieceNo} at byte ${piece.offset})`);
              items = [];
            }
            for (const item of items) {
              const where = `JSON object #${pieceNo} at byte ${piece.offset}${item.via === 'payload' ? '' : `, ${item.via} record ${item.index}${item.itemId ? ` (${item.itemId})` : ''}`}`;
              let payload: CwlPayload;
              try {
                payload = decodeEnvelopeItem(item, { maxPayloadBytes });
              } catch (err) {
                if (!(err instanceof CwlPayloadError)) throw err;
                rejectPiece(err.code, `${err.message} (${where})`, typeof item.data === 'string' ? truncate(item.data) : undefined);
                continue;
              }
              const batch = await payloadEventsToBatch(payload, options, { object: ctx.object, idPrefix: ctx.idPrefix, firstOrdinal: ordinal + 1, where });
              ordinal += Math.max(1, payload.logEvents.length);
              appendBatch(pending, batch);
              if (pending.records.length + pending.rejects.length >= BATCH_RECORDS) {
                yield pending;
                pending = { records: [], rejects: [], filtered: 0 };
              }
            }
          }
        }
        if (pending.rejects.length >= BATCH_RECORDS) {
          yield pending;
          pending = { records: [], rejects: [], filtered: 0 };
        }
      }
      if (pending.records.length > 0 || pending.rejects.length > 0 || (pending.filtered ?? 0) > 0) yield pending;
    },
  };
}

export interface CwlPayloadBatchOptions extends CwlFormatOptions {
  /**
   * What the records' `origin.object` says (e.g. `kinesis:<stream>:<sequenceNumber>`); default
   * `cwl://<logGroup>/<logStream>`.
   */
  object?: string;
  /** Prefix of ids for events without an id; default: a hash of `object`. */
  idPrefix?: string;
}

/**
 * Turns one payload (base64, gzip bytes, JSON bytes or an already parsed object) into a batch:
 * its events decoded by the inner format, a CONTROL_MESSAGE as `filtered: 1`, and a payload that
 * cannot be read as one rejection with the reason (the function never throws for bad input).
 *
 * @example
 * // In a Kinesis-triggered Lambda:
 * for (const item of cwlPayloadsOf(event)) {
 *   const batch = await cwlPayloadToBatch(item.data, { inner: vpcflowFormat(), object: `kinesis:${item.itemId}` });
 * }
 */
export async function cwlPayloadToBatch(
  data: string | Uint8Array | object,
  options: CwlPayloadBatchOptions,
): Promise<RecordBatch & { payload?: CwlPayload }> {
  let payload: CwlPayload;
  try {
    payload = typeof data === 'string' || data instanceof Uint8Array
      ? decodeCwlPayload(data, { maxPayloadBytes: options.maxPayloadBytes })
      : parseCwlPayloadJson(data);
  } catch (err) {
    if (!(err instanceof CwlPayloadError)) throw err;
    const object = options.object ?? 'cwl://unknown';
    return {
      records: [],
      rejects: [{ origin: { object, line: 1 }, code: err.code, reason: `${object}: ${err.message}`, raw: typeof data === 'string' ? truncate(data) : undefined }],
    };
  }
  const object = options.object ?? `cwl://${payload.logGroup ?? 'unknown'}/${payload.logStream ?? 'unknown'}`;
  const idPrefix = options.idPrefix ?? createHash('sha256').update(object).digest('hex').slice(0, 16);
  const batch = await payloadEventsToBatch(payload, options, { object: { uri: object, key: object }, idPrefix, firstOrdinal: 1, where: 'payload' });
  return { ...batch, payload };
}

interface PayloadContext {
  object: ObjectRef;
  idPrefix: string;
  /** Ordinal of the payload's first event in its object. */
  firstOrdinal: number;
  /** Where the payload sits, for messages. */
  where: string;
}

async function payloadEventsToBatch(payload: CwlPayload, options: CwlFormatOptions, ctx: PayloadContext): Promise<RecordBatch> {
  if (payload.messageType === 'CONTROL_MESSAGE') return { records: [], rejects: [], filtered: 1 };
  const object = ctx.object.uri;
  const records: SluiceRecord[] = [];
  const rejects: Rejection[] = [];
  const good: Array<{ event: CwlLogEvent; ordinal: number }> = [];
  payload.logEvents.forEach((event, i) => {
    const ordinal = ctx.firstOrdinal + i;
    const bad = badLogEventReason(event);
    if (bad) rejects.push({ origin: { object, line: ordinal }, code: CWL_REJECT_CODES.badLogEvent, reason: `${object}: ${bad} (${ctx.where}, log event ${i})`, raw: truncate(safeJson(event)) });
    else good.push({ event, ordinal });
  });
  const extras = options.metadata ? metadataFields(payload) : undefined;
  const idOf = (event: CwlLogEvent, ordinal: number) => (event.id ? `cwl-${event.id}` : recordId(ctx.idPrefix, ordinal));
  const finish = (record: SluiceRecord, event: CwlLogEvent, ordinal: number): SluiceRecord => {
    record.id = idOf(event, ordinal);
    record.origin = { object, line: ordinal };
    if (record.time === undefined && typeof event.timestamp === 'number') record.time = event.timestamp;
    if (extras) {
      Object.assign(record.fields, extras);
      if (event.extractedFields) record.fields.cwl_extracted = event.extractedFields;
    }
    return record;
  };

  if (options.inner === 'text' || options.inner === 'json') {
    for (const { event, ordinal } of good) {
      if (options.inner === 'text') {
        records.push(finish({ id: '', origin: { object, line: ordinal }, fields: { message: event.message } }, event, ordinal));
        continue;
      }
      let value: unknown;
      try {
        value = JSON.parse(event.message);
      } catch {
        value = undefined;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        rejects.push({ origin: { object, line: ordinal }, code: CWL_INNER_REJECT_CODES.notJsonObject, reason: `${object}: log event message is not a JSON object (${ctx.where}, event id ${event.id || '(none)'})`, raw: truncate(event.message) });
        continue;
      }
      records.push(finish({ id: '', origin: { object, line: ordinal }, fields: value as Record<string, unknown> }, event, ordinal));
    }
    return { records, rejects };
  }

  // A line format reads the messages as the lines of one text: line k is good[k - 1]. Line
  // breaks inside a message would shift that mapping, so they become spaces (JSON allows
  // whitespace there; flow log lines never hold one).
  if (good.length === 0) return { records, rejects };
  const text = good.map(({ event }) => (event.message.includes('\n') || event.message.includes('\r') ? event.message.replace(/[\r\n]/g, ' ') : event.message)).join('\n');
  let produced = 0;
  for await (const inner of options.inner.decode(once(Buffer.from(text, 'utf8')), { object: ctx.object, idPrefix: ctx.idPrefix })) {
    for (const record of inner.records) {
      const slot = good[record.origin.line - 1];
      if (!slot) continue;
      records.push(finish(record, slot.event, slot.ordinal));
      produced++;
    }
    for (const reject of inner.rejects) {
      const slot = good[reject.origin.line - 1];
      produced++;
      rejects.push({
        ...reject,
        origin: { object, line: slot?.ordinal ?? ctx.firstOrdinal },
        reason: `${reject.reason} (${ctx.where}, event id ${slot?.event.id || '(none)'})`,
      });
    }
  }
  // Blank messages and header-shaped lines produce nothing: counted, not lost.
  const filtered = Math.max(0, good.length - produced);
  return filtered > 0 ? { records, rejects, filtered } : { records, rejects };
}

function metadataFields(payload: CwlPayload): Record<string, unknown> {
  return { cwl_log_group: payload.logGroup ?? null, cwl_log_stream: payload.logStream ?? null, cwl_owner: payload.owner ?? null };
}

function appendBatch(into: RecordBatch, batch: RecordBatch): void {
  for (const r of batch.records) into.records.push(r);
  for (const r of batch.rejects) into.rejects.push(r);
  into.filtered = (into.filtered ?? 0) + (batch.filtered ?? 0);
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

function truncate(text: string): string {
  return text.length > MAX_RAW ? text.slice(0, MAX_RAW) : text;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * The catalog's entry: `{ type: cwl, inner: { type: vpcflow | cloudtrail | s3access | alb | json | text } }`.
 * The inner formats come from the catalog (`context.createFormat`), so this folder imports none of them.
 */
export const cwlFormatComponent = defineFormat({
  type: 'cwl',
  schema: cwlFormatSchema,
  create: (config, context) =>
    cwlFormat({
      inner: cwlInner(config.inner, context.createFormat),
      metadata: config.metadata,
      maxPayloadBytes: config.maxPayloadMb === undefined ? undefined : Math.round(config.maxPayloadMb * 1024 * 1024),
    }),
});

/** The format reading the messages inside CloudWatch Logs payloads (no header line there; CloudTrail events one per message). */
function cwlInner(inner: CwlInnerFormatConfig, createFormat: (config: { type: string }) => Format): CwlInner {
  if (inner.type === 'json' || inner.type === 'text') return inner.type;
  if (inner.type === 'cloudtrail') return createFormat({ type: 'cloudtrail', mode: 'ndjson' } as { type: string });
  return createFormat(inner);
}
