/**
 * The `json` and `ndjson` formats for sources that are JSON but not one of the AWS shapes Sluice
 * knows by name.
 *
 * - `ndjson`: every non-blank line is one JSON value; with `recordPath` the line is a wrapper and
 *   the records are the array at that path. A line that is not JSON, or has no array at the path,
 *   is rejected with its line number; the rest goes on. Memory is bounded by the line cap.
 * - `json`: each object is one JSON document (parsed whole, so bounded by `maxObjectMb`): an
 *   array of records, a single record, or records at `recordPath`. A document that is not JSON is
 *   one rejection (line 1) naming the parser's message. Records are numbered 1, 2, ... in
 *   document order (their `origin.line`).
 * A record must be a JSON object; anything else (a number, a string) is rejected. `timestamp`
 * reads the event time by pattern from a dotted field.
 */
import type { DecodeContext, Format, RecordBatch } from '../../core/component.js';
import { recordId, type Rejection, type SluiceRecord } from '../../core/record.js';
import { compileTimestampPattern, type TimestampParser } from '../../core/timestamp-pattern.js';
import { splitLines } from '../../core/lines/lines.js';
import { defineFormat } from '../../core/component.js';
import { jsonFormatSchema, ndjsonFormatSchema } from './config.js';

export const JSON_REJECT_CODES = {
  syntax: 'JSON_SYNTAX',
  notObject: 'JSON_NOT_AN_OBJECT',
  noRecords: 'JSON_NO_RECORDS_AT_PATH',
  badTime: 'JSON_BAD_TIME',
  tooLarge: 'JSON_DOCUMENT_TOO_LARGE',
} as const;

const MAX_RAW = 4096;
const BATCH = 2048;

export interface JsonOptions {
  recordPath?: string;
  timestamp?: { field: string; format: string };
  maxObjectMb?: number;
}

interface Reader {
  recordPath?: readonly string[];
  time?: TimestampParser;
  timeField?: readonly string[];
}

function readerOf(options: JsonOptions): Reader {
  return {
    recordPath: options.recordPath ? options.recordPath.split('.') : undefined,
    time: options.timestamp ? compileTimestampPattern(options.timestamp.format) : undefined,
    timeField: options.timestamp ? options.timestamp.field.split('.') : undefined,
  };
}

/** @example ndjsonFormat({ recordPath: 'events', timestamp: { field: 'ts', format: 'epoch' } }) */
export function ndjsonFormat(options: JsonOptions = {}): Format {
  const reader = readerOf(options);
  return { name: 'ndjson', decode: (input, ctx) => decodeNdjson(input, ctx, reader) };
}

/** @example jsonFormat({ recordPath: 'Records' }) */
export function jsonFormat(options: JsonOptions = {}): Format {
  const reader = readerOf(options);
  const maxBytes = Math.round((options.maxObjectMb ?? 256) * 1024 * 1024);
  return { name: 'json', decode: (input, ctx) => decodeDocument(input, ctx, reader, maxBytes) };
}

function at(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function truncate(text: string): string {
  return text.length > MAX_RAW ? text.slice(0, MAX_RAW) : text;
}

/** Turns one parsed value into records (or rejections) numbered from `ordinal`. */
function collect(
  value: unknown,
  reader: Reader,
  ctx: DecodeContext,
  line: number | ((n: number) => number),
  records: SluiceRecord[],
  rejects: Rejection[],
  raw: () => string,
): void {
  const object = ctx.object.uri;
  let items: unknown[];
  if (reader.recordPath) {
    const found = at(value, reader.recordPath);
    if (!Array.isArray(found)) {
      const l = typeof line === 'number' ? line : line(1);
      rejects.push({
        origin: { object, line: l },
        code: JSON_REJECT_CODES.noRecords,
        reason: `line ${l}: no array at ${reader.recordPath.join('.')} (found ${found === undefined ? 'nothing' : Array.isArray(found) ? 'an array' : typeof found})`,
        raw: truncate(raw()),
      });
      return;
    }
    items = found;
  } else {
    items = Array.isArray(value) && typeof line !== 'number' ? value : [value];
  }
  items.forEach((item, index) => {
    // ndjson: every record of a line shares the line's number, so ids add the index.
    const l = typeof line === 'number' ? line : line(index + 1);
    const id = typeof line === 'number' && items.length > 1 ? `${recordId(ctx.idPrefix, l)}.${index + 1}` : recordId(ctx.idPrefix, l);
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      rejects.push({ origin: { object, line: l }, code: JSON_REJECT_CODES.notObject, reason: `line ${l}: a record must be a JSON object, found ${Array.isArray(item) ? 'an array' : item === null ? 'null' : typeof item}`, raw: truncate(JSON.stringify(item) ?? '') });
      return;
    }
    const fields = item as Record<string, unknown>;
    if (reader.time && reader.timeField) {
      const t = at(fields, reader.timeField);
      const ms = typeof t === 'string' ? reader.time(t) : typeof t === 'number' ? reader.time(String(t)) : undefined;
      if (ms === undefined) {
        rejects.push({
          origin: { object, line: l },
          code: JSON_REJECT_CODES.badTime,
          reason: `line ${l}: ${reader.timeField.join('.')} ${JSON.stringify(t) ?? 'absent'} does not match the timestamp format "${reader.time.pattern}" (expected ${reader.time.expected})`,
          raw: truncate(JSON.stringify(fields)),
        });
        return;
      }
      records.push({ id, origin: { object, line: l }, time: ms, fields });
      return;
    }
    records.push({ id, origin: { object, line: l }, fields });
  });
}

async function* decodeNdjson(input: AsyncIterable<Uint8Array>, ctx: DecodeContext, reader: Reader): AsyncIterable<RecordBatch> {
  for await (const batch of splitLines(input)) {
    const records: SluiceRecord[] = [];
    const rejects: Rejection[] = [];
    for (let i = 0; i < batch.lines.length; i++) {
      const line = batch.firstLine + i;
      const text = batch.lines[i]!;
      if (text.trim() === '') continue;
      if (batch.oversized.has(line)) {
        rejects.push({ origin: { object: ctx.object.uri, line }, code: JSON_REJECT_CODES.tooLarge, reason: `line ${line}: longer than the line cap`, raw: truncate(text) });
        continue;
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        rejects.push({ origin: { object: ctx.object.uri, line }, code: JSON_REJECT_CODES.syntax, reason: `line ${line}: not JSON (${(err as Error).message})`, raw: truncate(text) });
        continue;
      }
      collect(value, reader, ctx, line, records, rejects, () => text);
    }
    if (records.length > 0 || rejects.length > 0) yield { records, rejects };
  }
}

async function* decodeDocument(input: AsyncIterable<Uint8Array>, ctx: DecodeContext, reader: Reader, maxBytes: number): AsyncIterable<RecordBatch> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    size += chunk.byteLength;
    if (size > maxBytes) {
      yield {
        records: [],
        rejects: [{ origin: { object: ctx.object.uri, line: 1 }, code: JSON_REJECT_CODES.tooLarge, reason: `line 1: the document is larger than ${maxBytes} bytes (maxObjectMb); use ndjson for large inputs` }],
      };
      return;
    }
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  let text = Buffer.concat(chunks).toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') return;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    yield { records: [], rejects: [{ origin: { object: ctx.object.uri, line: 1 }, code: JSON_REJECT_CODES.syntax, reason: `line 1: not a JSON document (${(err as Error).message})`, raw: truncate(text) }] };
    return;
  }
  const records: SluiceRecord[] = [];
  const rejects: Rejection[] = [];
  collect(value, reader, ctx, (n) => n, records, rejects, () => text);
  for (let i = 0; i < Math.max(records.length, rejects.length); i += BATCH) {
    yield { records: records.slice(i, i + BATCH), rejects: rejects.slice(i, i + BATCH) };
  }
}

/** The catalog's entries: `format: json` (whole documents) and `format: ndjson` (one document a line). */
export const jsonFormatComponent = defineFormat({ type: 'json', schema: jsonFormatSchema, bareName: true, create: (config) => jsonFormat(config) });
export const ndjsonFormatComponent = defineFormat({ type: 'ndjson', schema: ndjsonFormatSchema, bareName: true, create: (config) => ndjsonFormat(config) });
