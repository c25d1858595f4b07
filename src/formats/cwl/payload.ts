/**
 * CloudWatch Logs subscription payloads, decoded without any I/O: what a Lambda handler (direct
 * subscription, Kinesis, Firehose transformation) and the `cwl` format share.
 *
 * A payload is gzip-compressed JSON `{messageType, owner, logGroup, logStream,
 * subscriptionFilters, logEvents: [{id, timestamp, message, extractedFields?}]}`, base64-encoded
 * when it travels inside a JSON event. `messageType` is DATA_MESSAGE, or CONTROL_MESSAGE (a
 * health check CloudWatch sends when a subscription is created: acknowledged and ignored).
 *
 * Every failure is a `CwlPayloadError` with a stable code and the reason in plain words ("not
 * base64", "not gzip", "not JSON", "missing logEvents"), so a caller can reject the one payload
 * and go on with the rest of its batch. Decompressed size is capped, so a gzip bomb is a
 * rejection, not an out-of-memory.
 */
import { gunzipSync } from 'node:zlib';
import { SluiceError } from '../../core/errors.js';

export type CwlMessageType = 'DATA_MESSAGE' | 'CONTROL_MESSAGE';

export interface CwlLogEvent {
  /** CloudWatch's unique event id (a long decimal string); empty or absent in control messages. */
  id?: string;
  /** Event time, epoch milliseconds. */
  timestamp?: number;
  message: string;
  /** Fields CloudWatch extracted (account-level subscriptions add `@aws.account`, `@aws.region`). */
  extractedFields?: Record<string, unknown>;
}

export interface CwlPayload {
  messageType: CwlMessageType;
  owner?: string;
  logGroup?: string;
  logStream?: string;
  subscriptionFilters?: string[];
  logEvents: CwlLogEvent[];
}

/** Stable codes of payload rejections. */
export const CWL_REJECT_CODES = {
  notBase64: 'CWL_NOT_BASE64',
  notGzip: 'CWL_NOT_GZIP',
  notJson: 'CWL_NOT_JSON',
  tooLarge: 'CWL_PAYLOAD_TOO_LARGE',
  missingMessageType: 'CWL_MISSING_MESSAGE_TYPE',
  missingLogEvents: 'CWL_MISSING_LOG_EVENTS',
  badLogEvent: 'CWL_BAD_LOG_EVENT',
  unknownShape: 'CWL_UNKNOWN_SHAPE',
} as const;

export type CwlRejectCode = (typeof CWL_REJECT_CODES)[keyof typeof CWL_REJECT_CODES];

/** Largest decompressed payload accepted (CloudWatch sends at most ~1 MB per payload). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

/** One payload could not be read: `reason` says why in a few words, `code` is stable. */
export class CwlPayloadError extends SluiceError {
  readonly reason: string;
  constructor(code: CwlRejectCode, reason: string, detail?: string) {
    super(detail ? `${reason}: ${detail}` : reason, { code, stage: 'decode', retryable: false, hint: 'the payload is rejected; the rest of the batch goes on' });
    this.name = 'CwlPayloadError';
    this.reason = reason;
  }
}

export interface DecodePayloadOptions {
  maxPayloadBytes?: number;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64_WHITESPACE = /[\r\n\t ]/g;

/**
 * Decodes one subscription payload: a base64 string (as in `awslogs.data`, Kinesis `data`,
 * Firehose `data`), or bytes that are gzip or plain JSON. Throws `CwlPayloadError`.
 *
 * @example
 * const payload = decodeCwlPayload(event.awslogs.data);
 * if (payload.messageType === 'DATA_MESSAGE') for (const e of payload.logEvents) console.log(e.message);
 */
export function decodeCwlPayload(data: string | Uint8Array, options: DecodePayloadOptions = {}): CwlPayload {
  const bytes = typeof data === 'string' ? fromBase64(data) : data;
  return parseCwlPayloadJson(decompressPayload(bytes, options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES));
}

/** The same as `decodeCwlPayload`, returning the error instead of throwing it. */
export function tryDecodeCwlPayload(
  data: string | Uint8Array,
  options: DecodePayloadOptions = {},
): { ok: true; payload: CwlPayload } | { ok: false; error: CwlPayloadError } {
  try {
    return { ok: true, payload: decodeCwlPayload(data, options) };
  } catch (err) {
    if (err instanceof CwlPayloadError) return { ok: false, error: err };
    throw err;
  }
}

function fromBase64(text: string): Uint8Array {
  const compact = text.replace(BASE64_WHITESPACE, '');
  // Buffer.from(…, 'base64') silently skips junk; a payload that is not base64 must be rejected instead.
  if (compact.length === 0 || compact.length % 4 === 1 || !BASE64.test(compact)) {
    throw new CwlPayloadError(CWL_REJECT_CODES.notBase64, 'not base64', describeText(text));
  }
  return Buffer.from(compact, 'base64');
}

function decompressPayload(bytes: Uint8Array, maxBytes: number): Uint8Array {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return gunzipSync(bytes, { maxOutputLength: maxBytes });
    } catch (err) {
      const e = err as { code?: string; message?: string };
      if (e.code === 'ERR_BUFFER_TOO_LARGE') {
        throw new CwlPayloadError(CWL_REJECT_CODES.tooLarge, 'payload too large', `decompresses to more than ${maxBytes} bytes`);
      }
      throw new CwlPayloadError(CWL_REJECT_CODES.notGzip, 'not gzip', `broken gzip data (${e.message ?? 'unknown error'})`);
    }
  }
  // Some producers (tests, Firehose HTTP replays) hand over the JSON itself.
  const first = firstNonSpace(bytes);
  if (first === 0x7b) {
    if (bytes.length > maxBytes) throw new CwlPayloadError(CWL_REJECT_CODES.tooLarge, 'payload too large', `${bytes.length} bytes`);
    return bytes;
  }
  throw new CwlPayloadError(CWL_REJECT_CODES.notGzip, 'not gzip', `starts with bytes ${hexHead(bytes)}`);
}

/**
 * Checks a parsed (or to-be-parsed) payload object. Throws `CwlPayloadError`.
 *
 * @example
 * parseCwlPayloadJson('{"messageType":"CONTROL_MESSAGE","logEvents":[]}').messageType // 'CONTROL_MESSAGE'
 */
export function parseCwlPayloadJson(json: string | Uint8Array | object): CwlPayload {
  let value: unknown = json;
  if (typeof json === 'string' || json instanceof Uint8Array) {
    const text = typeof json === 'string' ? json : Buffer.from(json.buffer, json.byteOffset, json.byteLength).toString('utf8');
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new CwlPayloadError(CWL_REJECT_CODES.notJson, 'not JSON', (err as Error).message);
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new CwlPayloadError(CWL_REJECT_CODES.notJson, 'not JSON', 'the payload is not a JSON object');
  }
  const obj = value as Record<string, unknown>;
  const messageType = obj.messageType;
  if (messageType !== 'DATA_MESSAGE' && messageType !== 'CONTROL_MESSAGE') {
    throw new CwlPayloadError(
      CWL_REJECT_CODES.missingMessageType,
      'missing messageType',
      messageType === undefined ? 'no messageType field' : `messageType ${JSON.stringify(messageType)?.slice(0, 40)} is neither DATA_MESSAGE nor CONTROL_MESSAGE`,
    );
  }
  const logEvents = obj.logEvents;
  if (!Array.isArray(logEvents)) {
    if (messageType === 'CONTROL_MESSAGE') return { ...metadataOf(obj), messageType, logEvents: [] };
    throw new CwlPayloadError(CWL_REJECT_CODES.missingLogEvents, 'missing logEvents', 'a DATA_MESSAGE needs a logEvents array');
  }
  return { ...metadataOf(obj), messageType, logEvents: logEvents as CwlLogEvent[] };
}

function metadataOf(obj: Record<string, unknown>): Omit<CwlPayload, 'messageType' | 'logEvents'> {
  const out: Omit<CwlPayload, 'messageType' | 'logEvents'> = {};
  if (typeof obj.owner === 'string') out.owner = obj.owner;
  if (typeof obj.logGroup === 'string') out.logGroup = obj.logGroup;
  if (typeof obj.logStream === 'string') out.logStream = obj.logStream;
  if (Array.isArray(obj.subscriptionFilters)) out.subscriptionFilters = obj.subscriptionFilters.filter((s): s is string => typeof s === 'string');
  return out;
}

/**
 * Checks one log event of a payload: the reason it cannot be used, or undefined when it is fine.
 * Events are checked one by one so one bad event does not cost its payload's good ones.
 */
export function badLogEventReason(event: unknown): string | undefined {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return 'log event is not an object';
  const e = event as Record<string, unknown>;
  if (typeof e.message !== 'string') return 'log event has no message string';
  if (e.timestamp !== undefined && (typeof e.timestamp !== 'number' || !Number.isFinite(e.timestamp))) return 'log event timestamp is not a number';
  if (e.id !== undefined && typeof e.id !== 'string') return 'log event id is not a string';
  return undefined;
}

/** Where one payload sits in a Lambda / Kinesis / Firehose event. */
export interface CwlEnvelopeItem {
  /** How it was wrapped. */
  via: 'lambda' | 'kinesis' | 'firehose' | 'payload';
  /**
   * The id the event's protocol uses to report this item: Kinesis `sequenceNumber` (for
   * `batchItemFailures`), Firehose `recordId`; absent for the others.
   */
  itemId?: string;
  /** 0-based position in the event's list (0 for single-payload events). */
  index: number;
  /** The base64 data, or, for an unwrapped payload (`via: 'payload'`), the object itself. */
  data: string | object;
}

/**
 * Lists the payloads in one JSON event: a Lambda CloudWatch Logs event (`awslogs.data`), a
 * Kinesis event (`Records[].kinesis.data`), a Firehose transformation event or HTTP-endpoint
 * request (`records[].data`), or a bare payload object. Throws `CwlPayloadError` (unknown shape)
 * when it is none of those; an item without data is listed with `data: ''`, so decoding it
 * rejects that one item.
 *
 * @example
 * for (const item of cwlPayloadsOf(kinesisEvent)) {
 *   const r = tryDecodeCwlPayload(item.data as string);
 *   if (!r.ok) batchItemFailures.push({ itemIdentifier: item.itemId! });
 * }
 */
export function cwlPayloadsOf(event: unknown): CwlEnvelopeItem[] {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw new CwlPayloadError(CWL_REJECT_CODES.unknownShape, 'not a CloudWatch Logs event', 'expected a JSON object');
  }
  const obj = event as Record<string, unknown>;
  const awslogs = obj.awslogs as { data?: unknown } | undefined;
  if (awslogs && typeof awslogs === 'object') {
    return [{ via: 'lambda', index: 0, data: typeof awslogs.data === 'string' ? awslogs.data : '' }];
  }
  if (Array.isArray(obj.Records)) {
    return obj.Records.map((record, index) => {
      const kinesis = (record as { kinesis?: { data?: unknown; sequenceNumber?: unknown } } | null)?.kinesis;
      return {
        via: 'kinesis' as const,
        index,
        itemId: typeof kinesis?.sequenceNumber === 'string' ? kinesis.sequenceNumber : undefined,
        data: typeof kinesis?.data === 'string' ? kinesis.data : '',
      };
    });
  }
  if (Array.isArray(obj.records)) {
    return obj.records.map((record, index) => {
      const r = record as { data?: unknown; recordId?: unknown } | null;
      return {
        via: 'firehose' as const,
        index,
        itemId: typeof r?.recordId === 'string' ? r.recordId : undefined,
        data: typeof r?.data === 'string' ? r.data : '',
      };
    });
  }
  if ('messageType' in obj || 'logEvents' in obj) return [{ via: 'payload', index: 0, data: obj }];
  throw new CwlPayloadError(
    CWL_REJECT_CODES.unknownShape,
    'not a CloudWatch Logs event',
    `expected awslogs.data, Records[].kinesis.data, records[].data or a payload; found keys ${Object.keys(obj).slice(0, 5).join(', ') || '(none)'}`,
  );
}

/** Decodes an envelope item: base64 data through `decodeCwlPayload`, an inline object checked as is. */
export function decodeEnvelopeItem(item: CwlEnvelopeItem, options: DecodePayloadOptions = {}): CwlPayload {
  return typeof item.data === 'string' ? decodeCwlPayload(item.data, options) : parseCwlPayloadJson(item.data);
}

function firstNonSpace(bytes: Uint8Array): number | undefined {
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return c;
  }
  return undefined;
}

function hexHead(bytes: Uint8Array): string {
  return bytes.length === 0 ? '(empty)' : Buffer.from(bytes.subarray(0, 4)).toString('hex');
}

function describeText(text: string): string {
  if (text.length === 0) return 'empty string';
  const bad = text.search(/[^A-Za-z0-9+/=\r\n\t ]/);
  return bad >= 0 ? `character ${JSON.stringify(text[bad])} at position ${bad}` : `${text.length} characters is not a valid base64 length`;
}
