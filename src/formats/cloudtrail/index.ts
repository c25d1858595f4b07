/**
 * The `cloudtrail` format: AWS CloudTrail events, from S3 delivery files (`{"Records":[...]}`,
 * including CloudTrail Insights files) or one event per line (NDJSON, as CloudWatch Logs
 * delivery and many tools write them).
 *
 * How an object is read:
 * - Objects under a `CloudTrail-Digest/` folder are digest files: never parsed, counted as one
 *   filtered input. A digest that arrives another way (an object with `digestStartTime` or
 *   `logFiles` and no `Records`, in either mode) is filtered the same way once parsed.
 * - `mode: auto` (default) looks at the start of the object: `{"Records":` (whitespace allowed)
 *   means a delivery file; a first line that is by itself a complete JSON object (without a
 *   `Records` array) means NDJSON; anything else (a pretty-printed digest, garbage, an array) is
 *   read as a delivery file, which then says precisely what it found instead of records. Only
 *   the first line (at most `maxRecordBytes`) is held to decide.
 * - Delivery files are streamed (see `records-scanner.ts`): one record in memory at a time,
 *   whatever the file size. A record's ordinal is its 1-based position in `Records` (counted on
 *   through several documents back to back), used both for its id and as `origin.line`.
 * - NDJSON: each non-blank line is one event; ordinal and `origin.line` are the line number.
 * - A record is the event as parsed (nested objects kept), `time` = `Date.parse(eventTime)` when
 *   that is a valid date (else the record has no time). A JSON object with neither
 *   `eventVersion` nor `eventTime` (which every CloudTrail event has) is rejected as not an
 *   event, so a wrongly pointed pipeline (e.g. at CloudWatch Logs payloads) fails loudly.
 *
 * Damage, and what survives it (nothing is ever thrown for bad input, nothing is duplicated):
 * - One record that is not valid JSON, not an object, or over `maxRecordBytes`: that record is
 *   rejected (`origin.line` = its ordinal or line) and the rest goes on.
 * - The file's own structure broken (truncated, invalid JSON between records, no `Records`):
 *   one file-level rejection (`origin.line` 0 = the object as a whole) naming the object, the
 *   position and what was found. Records completed before that point stay; nothing after it
 *   is read (a parser cannot know where the next record would start).
 * - Invalid UTF-8 is decoded as U+FFFD, never an exception.
 */
import type { DecodeContext, Format, RecordBatch } from '../../core/component.js';
import { SluiceError } from '../../core/errors.js';
import type { Rejection, SluiceRecord } from '../../core/record.js';
import { recordId } from '../../core/record.js';
import { splitLines } from '../../core/lines/lines.js';
import { describeJsonValue, hintForObject, isDigestKey, isDigestObject, isPlainObject } from './json-shape.js';
import { HEAD_CHARS, RecordsDocumentScanner, type ScanProblem } from './records-scanner.js';
import { defineFormat } from '../../core/component.js';
import { cloudtrailFormatSchema } from './config.js';

export type CloudtrailMode = 'auto' | 'records' | 'ndjson';

export interface CloudtrailOptions {
  /** `records` for `{"Records":[...]}` files, `ndjson` for one event per line; default `auto`. */
  mode?: CloudtrailMode;
  /**
   * Largest record kept, in bytes of UTF-8 (NDJSON lines) or characters (delivery files, where
   * it also bounds a record-less top-level object). Larger ones are rejected. Default 32 MiB.
   */
  maxRecordBytes?: number;
  /** Records per emitted batch. Default 1000. */
  batchRecords?: number;
}

/** Stable codes of the rejections this format produces. */
export const CLOUDTRAIL_REJECT_CODES = {
  /** File-level: a JSON value without a Records array (not a digest), or an empty file. */
  noRecords: 'CLOUDTRAIL_NO_RECORDS',
  /** File-level: the JSON ends in the middle. */
  truncated: 'CLOUDTRAIL_TRUNCATED',
  /** File-level: the JSON around the records is invalid. */
  badJson: 'CLOUDTRAIL_BAD_JSON',
  /** One record (or NDJSON line) is not valid JSON or not an object. */
  badRecord: 'CLOUDTRAIL_BAD_RECORD',
  /** One record (or NDJSON line) is over `maxRecordBytes`. */
  recordTooLarge: 'CLOUDTRAIL_RECORD_TOO_LARGE',
} as const;

export const DEFAULT_MAX_RECORD_BYTES = 32 * 1024 * 1024;
const DEFAULT_BATCH_RECORDS = 1000;
/** A batch is also emitted once its records came from this much JSON text. */
const BATCH_TEXT_CHARS = 8 * 1024 * 1024;
/**
 * Bytes decoded into one string. Strings over ~128 KiB go to V8's large-object space, collected
 * only by full GCs; a piece holding one character outside Latin-1 becomes a two-byte string, so
 * 32 KiB of bytes keeps every piece under 64 KiB (measured: 64 KiB pieces of such text made the
 * heap grow by hundreds of MB between full GCs and decoding 3x slower).
 */
const DECODE_PIECE_BYTES = 32 * 1024;
/** Bytes after the opening '{' examined for a leading "Records" key. */
const PREFIX_PROBE_BYTES = 256;
const BYTE_ORDER_MARK = [0xef, 0xbb, 0xbf];

interface Settings {
  mode: CloudtrailMode;
  maxRecordBytes: number;
  batchRecords: number;
}

/**
 * Creates the `cloudtrail` format.
 *
 * @example
 * const format = cloudtrailFormat();
 * for await (const { records, rejects, filtered } of format.decode(bytes, { object, idPrefix })) { ... }
 *
 * @example
 * // CloudTrail events exported one per line
 * cloudtrailFormat({ mode: 'ndjson' });
 */
export const cloudtrailFormat = (options: CloudtrailOptions = {}): Format => {
  const mode = options.mode ?? 'auto';
  if (mode !== 'auto' && mode !== 'records' && mode !== 'ndjson') {
    throw new SluiceError(`cloudtrail format: unknown mode ${JSON.stringify(mode)}`, {
      code: 'CLOUDTRAIL_BAD_OPTION',
      stage: 'config',
      hint: 'set mode to auto, records ({"Records":[...]} files) or ndjson (one event per line)',
    });
  }
  const settings: Settings = {
    mode,
    maxRecordBytes: positiveInteger(options.maxRecordBytes, DEFAULT_MAX_RECORD_BYTES, 'maxRecordBytes'),
    batchRecords: positiveInteger(options.batchRecords, DEFAULT_BATCH_RECORDS, 'batchRecords'),
  };
  return {
    name: 'cloudtrail',
    decode(input: AsyncIterable<Uint8Array>, ctx: DecodeContext): AsyncIterable<RecordBatch> {
      return decodeCloudtrail(input, ctx, settings);
    },
  };
};

async function* decodeCloudtrail(input: AsyncIterable<Uint8Array>, ctx: DecodeContext, settings: Settings): AsyncIterable<RecordBatch> {
  if (isDigestKey(ctx.object.key) || isDigestKey(ctx.object.uri)) {
    // Read to the end (digests are small) so the source sees an ordinary, complete read.
    for await (const chunk of input) void chunk;
    yield { records: [], rejects: [], filtered: 1 };
    return;
  }
  let mode = settings.mode;
  let stream = input;
  if (mode === 'auto') {
    const detected = await detectMode(input, settings.maxRecordBytes);
    mode = detected.mode;
    stream = detected.input;
  }
  if (mode === 'ndjson') yield* decodeNdjson(stream, ctx, settings);
  else yield* decodeDeliveryFile(stream, ctx, settings);
}

/** Collects records and rejects into batches. */
class BatchBuilder {
  records: SluiceRecord[] = [];
  rejects: Rejection[] = [];
  filtered = 0;
  private chars = 0;

  constructor(
    private readonly ctx: DecodeContext,
    private readonly batchRecords: number,
  ) {}

  get full(): boolean {
    return this.records.length + this.rejects.length >= this.batchRecords || this.chars >= BATCH_TEXT_CHARS;
  }

  get empty(): boolean {
    return this.records.length === 0 && this.rejects.length === 0 && this.filtered === 0;
  }

  take(): RecordBatch {
    const batch: RecordBatch = this.filtered > 0 ? { records: this.records, rejects: this.rejects, filtered: this.filtered } : { records: this.records, rejects: this.rejects };
    this.records = [];
    this.rejects = [];
    this.filtered = 0;
    this.chars = 0;
    return batch;
  }

  reject(line: number, code: string, reason: string, raw: string | undefined): void {
    const rejection: Rejection = { origin: { object: this.ctx.object.uri, line }, code, reason };
    if (raw !== undefined) rejection.raw = raw.length > HEAD_CHARS ? raw.slice(0, HEAD_CHARS) : raw;
    this.rejects.push(rejection);
  }

  /** Adds one parsed event as a record, or rejects it when it is not an object. */
  event(value: unknown, ordinal: number, what: string, text: string): void {
    this.chars += text.length;
    if (!isPlainObject(value)) {
      this.reject(ordinal, CLOUDTRAIL_REJECT_CODES.badRecord, `${what} is ${describeJsonValue(value)}, not a JSON object (a CloudTrail event)`, text);
      return;
    }
    if (!('eventVersion' in value) && !('eventTime' in value)) {
      // Every CloudTrail event (management, data, Insights, network activity) has both.
      const hint = hintForObject(value);
      this.reject(ordinal, CLOUDTRAIL_REJECT_CODES.badRecord, `${what} is not a CloudTrail event (no eventVersion or eventTime): found ${describeJsonValue(value)}${hint ? `; ${hint}` : ''}`, text);
      return;
    }
    const object = this.ctx.object.uri;
    const eventTime = value.eventTime;
    const time = typeof eventTime === 'string' ? Date.parse(eventTime) : Number.NaN;
    this.records.push(
      Number.isNaN(time)
        ? { id: recordId(this.ctx.idPrefix, ordinal), origin: { object, line: ordinal }, fields: value }
        : { id: recordId(this.ctx.idPrefix, ordinal), origin: { object, line: ordinal }, time, fields: value },
    );
  }
}

async function* decodeDeliveryFile(input: AsyncIterable<Uint8Array>, ctx: DecodeContext, settings: Settings): AsyncIterable<RecordBatch> {
  const name = ctx.object.key || ctx.object.uri;
  const batch = new BatchBuilder(ctx, settings.batchRecords);
  const maxSize = formatSize(settings.maxRecordBytes);

  const scanner = new RecordsDocumentScanner(
    {
      element(text: string, ordinal: number): void {
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (err) {
          batch.reject(ordinal, CLOUDTRAIL_REJECT_CODES.badRecord, `record ${ordinal} of the Records array is not valid JSON: ${(err as Error).message}`, text);
          return;
        }
        batch.event(value, ordinal, `record ${ordinal} of the Records array`, text);
      },
      oversizedElement(head: string, ordinal: number, length: number): void {
        batch.reject(
          ordinal,
          CLOUDTRAIL_REJECT_CODES.recordTooLarge,
          `record ${ordinal} of the Records array is ${formatSize(length)}, over the ${maxSize} limit (raw holds its start); raise the cloudtrail maxRecordMb option if such records are expected`,
          head,
        );
      },
      objectWithoutRecords(text: string | undefined, head: string, length: number): void {
        if (text === undefined) {
          batch.reject(
            0,
            CLOUDTRAIL_REJECT_CODES.noRecords,
            `${name}: expected a CloudTrail delivery file ({"Records":[...]}) but found a top-level JSON object of ${formatSize(length)} without a Records array (over the ${maxSize} limit, not parsed)`,
            head,
          );
          return;
        }
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (err) {
          batch.reject(0, CLOUDTRAIL_REJECT_CODES.badJson, `${name}: the top-level JSON object is not valid JSON: ${(err as Error).message}`, head);
          return;
        }
        if (isDigestObject(value)) {
          batch.filtered++;
          return;
        }
        const hint = hintForObject(value);
        const found = isPlainObject(value) && 'Records' in value ? `a Records key holding ${describeJsonValue(value.Records)} instead of an array` : describeJsonValue(value);
        batch.reject(0, CLOUDTRAIL_REJECT_CODES.noRecords, `${name}: expected a CloudTrail delivery file ({"Records":[...]}) but found ${found}${hint ? `; ${hint}` : ''}`, head);
      },
      fatal(problem: ScanProblem): void {
        batch.reject(0, fatalCode(problem), fatalReason(name, problem), problem.raw);
      },
    },
    settings.maxRecordBytes,
  );

  const decoder = new TextDecoder('utf-8');
  for await (const chunk of input) {
    for (let at = 0; at < chunk.byteLength && !scanner.stopped; at += DECODE_PIECE_BYTES) {
      scanner.push(decoder.decode(chunk.subarray(at, Math.min(chunk.byteLength, at + DECODE_PIECE_BYTES)), { stream: true }));
      if (batch.full) yield batch.take();
    }
    if (scanner.stopped) break;
  }
  if (!scanner.stopped) {
    scanner.push(decoder.decode());
    scanner.finish();
  }
  if (!batch.empty) yield batch.take();
}

async function* decodeNdjson(input: AsyncIterable<Uint8Array>, ctx: DecodeContext, settings: Settings): AsyncIterable<RecordBatch> {
  const batch = new BatchBuilder(ctx, settings.batchRecords);
  for await (const { lines, firstLine, oversized } of splitLines(input, { maxLineBytes: settings.maxRecordBytes })) {
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const lineNumber = firstLine + i;
      if (oversized.size > 0 && oversized.has(lineNumber)) {
        batch.reject(
          lineNumber,
          CLOUDTRAIL_REJECT_CODES.recordTooLarge,
          `line ${lineNumber}: longer than ${formatSize(settings.maxRecordBytes)} (raw holds its start); raise the cloudtrail maxRecordMb option if such records are expected`,
          line,
        );
        continue;
      }
      if (isBlank(line)) continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (err) {
        batch.reject(lineNumber, CLOUDTRAIL_REJECT_CODES.badRecord, `line ${lineNumber}: not valid JSON: ${(err as Error).message} (expected one CloudTrail event per line)`, line);
        continue;
      }
      if (isDigestObject(value)) {
        batch.filtered++;
      } else if (isPlainObject(value) && Array.isArray(value.Records)) {
        batch.reject(
          lineNumber,
          CLOUDTRAIL_REJECT_CODES.badRecord,
          `line ${lineNumber}: holds a whole delivery file ({"Records":[...]}) where one event per line was expected; set the cloudtrail \`mode\` option to records (or auto) for such files`,
          line,
        );
      } else {
        batch.event(value, lineNumber, `line ${lineNumber}`, line);
      }
    }
    if (!batch.empty) yield batch.take();
  }
}

/**
 * Decides between a delivery file and NDJSON from the start of the input (see the file comment),
 * reading no more than the first line (capped), and returns the input to decode, replayed from
 * its first byte.
 */
async function detectMode(input: AsyncIterable<Uint8Array>, maxLineBytes: number): Promise<{ mode: 'records' | 'ndjson'; input: AsyncIterable<Uint8Array> }> {
  const iterator = input[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headBytes = 0;
  let start = -1; // offset of the first byte that is not whitespace (or a leading byte-order mark)
  let lineEnd = -1; // offset of the first newline after it
  let exhausted = false;
  let prefix: 'yes' | 'no' | 'more' = 'more';
  let mode: 'records' | 'ndjson' | undefined;

  while (mode === undefined) {
    const next = await iterator.next();
    if (next.done) {
      exhausted = true;
    } else {
      const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
      if (chunk.length === 0) continue;
      const offset = headBytes;
      head.push(chunk);
      headBytes += chunk.length;
      if (start === -1) start = firstContentByte(head, offset);
      if (start !== -1 && lineEnd === -1) {
        const nl = chunk.indexOf(0x0a, Math.max(0, start - offset));
        if (nl !== -1) lineEnd = offset + nl;
      }
    }
    if (start === -1) {
      if (exhausted) mode = 'records'; // nothing but whitespace: the delivery-file reader reports it
      continue;
    }
    if (prefix === 'more') {
      const probe = copyRange(head, start, start + 1 + PREFIX_PROBE_BYTES);
      if (probe[0] !== 0x7b) {
        mode = 'records'; // not an object: the delivery-file reader says what it is
        continue;
      }
      prefix = recordsKeyPrefix(probe, exhausted || probe.length === 1 + PREFIX_PROBE_BYTES);
    }
    if (prefix === 'yes') {
      mode = 'records';
    } else if (lineEnd !== -1 || exhausted) {
      // No leading "Records" key seen: NDJSON if the first line is one complete object.
      const all = Buffer.concat(head, headBytes);
      head.splice(0, head.length, all);
      mode = firstLineIsOneEvent(all.subarray(start, lineEnd === -1 ? all.length : lineEnd)) ? 'ndjson' : 'records';
    } else if (headBytes - start > maxLineBytes) {
      mode = 'records';
    }
  }
  return { mode, input: replay(head, iterator, exhausted) };
}

/** Offset of the first non-whitespace byte from `from` on (skipping a leading UTF-8 BOM), or -1. */
function firstContentByte(head: Buffer[], from: number): number {
  // Only whitespace came before `from`, so this concatenation is short.
  const bytes = head.length === 1 ? head[0] : Buffer.concat(head);
  let i = from;
  if (i < 3) {
    const bomBytes = Math.min(3, bytes.length);
    let isBomPrefix = true;
    for (let k = 0; k < bomBytes; k++) if (bytes[k] !== BYTE_ORDER_MARK[k]) isBomPrefix = false;
    if (isBomPrefix) {
      if (bytes.length < 3) return -1; // cut inside a possible BOM: wait for more bytes
      i = 3;
    }
  }
  for (; i < bytes.length; i++) if (!isSpaceByte(bytes[i])) return i;
  return -1;
}

/** A copy of bytes [from, to) of the chunks (clamped to what is there). */
function copyRange(head: Buffer[], from: number, to: number): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  for (const chunk of head) {
    const end = offset + chunk.length;
    if (end > from && offset < to) parts.push(chunk.subarray(Math.max(0, from - offset), Math.min(chunk.length, to - offset)));
    offset = end;
    if (offset >= to) break;
  }
  return Buffer.concat(parts);
}

/**
 * Whether the bytes after an opening '{' (probe[0]) start with the key "Records" and its ':'.
 * `complete` says no more bytes will come for the probe.
 */
function recordsKeyPrefix(probe: Buffer, complete: boolean): 'yes' | 'no' | 'more' {
  const key = '"Records"';
  let i = 1;
  while (i < probe.length && isSpaceByte(probe[i])) i++;
  for (let k = 0; k < key.length; k++, i++) {
    if (i >= probe.length) return complete ? 'no' : 'more';
    if (probe[i] !== key.charCodeAt(k)) return 'no';
  }
  while (i < probe.length && isSpaceByte(probe[i])) i++;
  if (i >= probe.length) return complete ? 'no' : 'more';
  return probe[i] === 0x3a ? 'yes' : 'no';
}

/** True when the line is by itself one complete JSON object that is not a delivery file. */
function firstLineIsOneEvent(line: Buffer): boolean {
  let value: unknown;
  try {
    value = JSON.parse(line.toString('utf8'));
  } catch {
    return false;
  }
  return isPlainObject(value) && !Array.isArray(value.Records);
}

async function* replay(head: Buffer[], iterator: AsyncIterator<Uint8Array>, exhausted: boolean): AsyncIterable<Uint8Array> {
  let finished = exhausted;
  try {
    for (const chunk of head) yield chunk;
    while (!finished) {
      const next = await iterator.next();
      if (next.done) {
        finished = true;
        break;
      }
      yield next.value;
    }
  } finally {
    // The consumer stopped early (a fatal error): release the source.
    if (!finished) await iterator.return?.();
  }
}

function fatalCode(problem: ScanProblem): string {
  switch (problem.kind) {
    case 'truncated':
      return CLOUDTRAIL_REJECT_CODES.truncated;
    case 'badJson':
      return CLOUDTRAIL_REJECT_CODES.badJson;
    default:
      return CLOUDTRAIL_REJECT_CODES.noRecords;
  }
}

function fatalReason(name: string, problem: ScanProblem): string {
  const kept = problem.elementsBefore === 0 ? 'no record was read' : `the ${problem.elementsBefore === 1 ? 'record' : `${problem.elementsBefore} records`} before it ${problem.elementsBefore === 1 ? 'was' : 'were'} read (any incomplete one is rejected here)`;
  switch (problem.kind) {
    case 'truncated':
      return `${name}: ${problem.detail}; ${kept}; the rest of the file is missing: check the upload or the decompression of this object`;
    case 'badJson':
      return `${name}: invalid JSON: ${problem.detail}; ${kept}; nothing after this point was read`;
    case 'empty':
      return `${name}: ${problem.detail}; expected a CloudTrail delivery file ({"Records":[...]})`;
    default:
      return `${name}: ${problem.detail}`;
  }
}

function isSpaceByte(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

function isBlank(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 13) return false;
  }
  return true;
}

/** "32 MiB", "1.5 MiB", "12 KiB", "900 bytes". */
function formatSize(bytes: number): string {
  const round = (value: number): string => String(value >= 10 ? Math.round(value) : Math.round(value * 10) / 10);
  if (bytes >= 1024 * 1024) return `${round(bytes / (1024 * 1024))} MiB`;
  if (bytes >= 1024) return `${round(bytes / 1024)} KiB`;
  return `${bytes} bytes`;
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new SluiceError(`cloudtrail format: ${name} must be a positive integer, got ${value}`, { code: 'CLOUDTRAIL_BAD_OPTION', stage: 'config' });
  }
  return value;
}

/** The catalog's entry: `format: cloudtrail` or `{ type: cloudtrail, mode, maxRecordMb }`. */
export const cloudtrailFormatComponent = defineFormat({
  type: 'cloudtrail',
  schema: cloudtrailFormatSchema,
  bareName: true,
  create: (config) =>
    cloudtrailFormat({
      mode: config.mode,
      maxRecordBytes: config.maxRecordMb === undefined ? undefined : Math.round(config.maxRecordMb * 1024 * 1024),
    }),
});
