/**
 * The `parquet` format: Apache Parquet objects read with hyparquet, one row group per batch, so
 * the records of only one row group are alive at a time. The object itself is held whole (the
 * footer that locates the row groups is at its end, and sources stream), bounded by
 * `maxObjectMb`. Record `origin.line` is the 1-based row number in the file.
 *
 * Values: INT64 becomes a number when it is exact, else decimal text; timestamps become RFC 3339
 * text (and, for the `timestamp` column, the record's time); byte arrays that are not UTF-8 text
 * become base64. A file that is not Parquet (bad magic, unreadable footer) is one rejection with
 * the reason; a row group that cannot be decoded rejects its rows' range and the rest goes on.
 */
import { parquetMetadata, parquetReadObjects, parquetSchema, type FileMetaData, type RowGroup, type SchemaTree } from 'hyparquet';
import type { DecodeContext, Format, RecordBatch } from '../../core/component.js';
import { recordId, type Rejection, type SluiceRecord } from '../../core/record.js';
import { compileTimestampPattern } from '../../core/timestamp-pattern.js';
import { defineFormat } from '../../core/component.js';
import { parquetFormatSchema } from './config.js';

export const PARQUET_REJECT_CODES = {
  notParquet: 'PARQUET_INVALID',
  rowGroup: 'PARQUET_ROW_GROUP',
  tooLarge: 'PARQUET_TOO_LARGE',
  badTime: 'PARQUET_BAD_TIME',
} as const;

export interface ParquetOptions {
  columns?: string[];
  timestamp?: { field: string; format?: string };
  maxObjectMb?: number;
}

/** @example parquetFormat({ timestamp: { field: 'start', format: 'epoch' } }) */
export function parquetFormat(options: ParquetOptions = {}): Format {
  const maxBytes = Math.round((options.maxObjectMb ?? 1024) * 1024 * 1024);
  const time = options.timestamp ? compileTimestampPattern(options.timestamp.format ?? 'iso8601') : undefined;
  return {
    name: 'parquet',
    async *decode(input: AsyncIterable<Uint8Array>, ctx: DecodeContext): AsyncIterable<RecordBatch> {
      const object = ctx.object.uri;
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of input) {
        size += chunk.byteLength;
        if (size > maxBytes) {
          yield { records: [], rejects: [{ origin: { object, line: 1 }, code: PARQUET_REJECT_CODES.tooLarge, reason: `object larger than ${maxBytes} bytes (maxObjectMb)` }] };
          return;
        }
        chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      }
      const whole = Buffer.concat(chunks);
      const file = whole.buffer.slice(whole.byteOffset, whole.byteOffset + whole.byteLength) as ArrayBuffer;
      let metadata;
      try {
        metadata = parquetMetadata(file);
      } catch (err) {
        yield { records: [], rejects: [{ origin: { object, line: 1 }, code: PARQUET_REJECT_CODES.notParquet, reason: `not a readable Parquet file: ${(err as Error).message}` }] };
        return;
      }
      // A damaged footer can still parse: its row counts must be whole numbers adding up to the
      // file's, or rows would be skipped without a trace.
      const counts = metadata.row_groups.map((g) => Number(g.num_rows));
      const declared = Number(metadata.num_rows);
      if (counts.some((n) => !Number.isSafeInteger(n) || n < 0) || counts.reduce((a, b) => a + b, 0) !== declared) {
        yield { records: [], rejects: [{ origin: { object, line: 1 }, code: PARQUET_REJECT_CODES.notParquet, reason: `not a readable Parquet file: the footer's row group sizes (${counts.join(', ')}) do not add up to its ${String(metadata.num_rows)} rows` }] };
        return;
      }
      let rowStart = 0;
      for (const group of metadata.row_groups) {
        const rowEnd = rowStart + Number(group.num_rows);
        const records: SluiceRecord[] = [];
        const rejects: Rejection[] = [];
        try {
          checkColumnChunks(metadata, group);
          const rows = await parquetReadObjects({ file, metadata, rowStart, rowEnd, ...(options.columns ? { columns: options.columns } : {}) });
          if (rows.length !== rowEnd - rowStart) throw new Error(`${rows.length} rows decoded, the footer says ${rowEnd - rowStart}`);
          rows.forEach((row, i) => {
            const line = rowStart + i + 1;
            const fields: Record<string, unknown> = {};
            let eventTime: number | undefined;
            for (const key of Object.keys(row)) {
              const value = row[key];
              if (options.timestamp && key === options.timestamp.field) {
                eventTime = value instanceof Date ? value.getTime() : value === null || value === undefined ? undefined : time!(typeof value === 'bigint' ? value.toString() : String(value));
              }
              fields[key] = plain(value);
            }
            if (options.timestamp && eventTime === undefined) {
              rejects.push({ origin: { object, line }, code: PARQUET_REJECT_CODES.badTime, reason: `row ${line}: ${options.timestamp.field} ${JSON.stringify(fields[options.timestamp.field]) ?? 'absent'} is not a time (expected ${time!.expected})` });
              return;
            }
            records.push(eventTime === undefined ? { id: recordId(ctx.idPrefix, line), origin: { object, line }, fields } : { id: recordId(ctx.idPrefix, line), origin: { object, line }, time: eventTime, fields });
          });
        } catch (err) {
          records.length = 0;
          rejects.length = 0;
          for (let line = rowStart + 1; line <= rowEnd; line++) {
            rejects.push({ origin: { object, line }, code: PARQUET_REJECT_CODES.rowGroup, reason: `row ${line}: its row group (rows ${rowStart + 1}-${rowEnd}) cannot be decoded: ${(err as Error).message}` });
          }
        }
        rowStart = rowEnd;
        if (records.length > 0 || rejects.length > 0) yield { records, rejects };
      }
    },
  };
}

/**
 * Throws unless the row group has exactly one column chunk for each leaf column of the schema.
 *
 * hyparquet starts each chunk's read as it walks the row group and assembles rows from the
 * schema's columns: a chunk naming a column the schema lacks makes it throw after the reads of
 * the chunks before it have started, and a chunk no schema column claims is read but never
 * awaited. Either way those reads' own failures (from the same damaged footer) become unhandled
 * rejections, which end the process. Checked before any read starts, so they cannot happen.
 */
function checkColumnChunks(metadata: FileMetaData, group: RowGroup): void {
  const leaves: string[][] = [];
  const walk = (node: SchemaTree) => {
    const names = node.children.map((child) => child.element.name);
    const twice = names.find((name, i) => names.indexOf(name) !== i);
    if (twice !== undefined) throw new Error(`the footer's schema has two columns named ${JSON.stringify([...node.path, twice].join('.'))}`);
    for (const child of node.children) {
      if (child.children.length > 0) walk(child);
      else leaves.push(child.path);
    }
  };
  walk(parquetSchema(metadata));
  const key = (path: readonly string[]) => JSON.stringify(path);
  const expected = new Set(leaves.map(key));
  const chunks = group.columns.map((chunk) => chunk.meta_data?.path_in_schema ?? []);
  const claimed = new Set(chunks.map(key));
  const matches = chunks.length === leaves.length && claimed.size === chunks.length && chunks.every((path) => expected.has(key(path)));
  if (!matches) {
    const show = (paths: unknown[]) => paths.map((path) => (Array.isArray(path) ? path.join('.') : String(path))).join(', ');
    throw new Error(`the footer's column chunks (${show(chunks)}) do not match the schema's columns (${show(leaves)})`);
  }
}

/** Parquet values as JSON-friendly values. */
function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plain(v);
    return out;
  }
  return value;
}

/** The catalog's entry: `format: parquet` or `{ type: parquet, ... }`. */
export const parquetFormatComponent = defineFormat({ type: 'parquet', schema: parquetFormatSchema, bareName: true, create: (config) => parquetFormat(config) });
