/**
 * The `delimited` format: CSV, TSV, pipe- or whitespace-separated text, with or without a header,
 * quoted fields, bracketed fields (S3-access-style times with spaces inside), a timestamp column
 * read by pattern, and records that span several lines (a start-of-record pattern).
 *
 * How an object is read:
 * - Every physical line counts for line numbers; blank lines and `comment` lines are skipped.
 *   With `header`, the first other line names the columns (per object: each object of a source
 *   carries its own header); a header that cannot be read is rejected and the columns are then
 *   named `column_N`. Otherwise `columns` names them, or `column_1`, `column_2`, ...
 * - Each record becomes one record (id `recordId(idPrefix, firstLine)`, origin = its first
 *   line) or one rejection: fewer fields than columns, an unterminated quote or bracket, a time
 *   that does not match its pattern, a record over `maxRecordKb`. More fields than columns are
 *   kept, as text, in `_extra`. Values stay text (the OCSF mapping converts them); `nulls` turn
 *   into null. Decoding never throws for bad input.
 * - With `multiline`, a line that does not match `start` is appended (after a `\n`) to the record
 *   before it; lines before the first start line are rejected as a fragment.
 */
import type { DecodeContext, Format, RecordBatch } from '../../core/component.js';
import { SluiceError } from '../../core/errors.js';
import { recordId, type Rejection, type SluiceRecord } from '../../core/record.js';
import { splitLines } from '../../core/lines/lines.js';
import type { DelimitedFormatConfig } from './config.js';
import { splitFields, type SplitOptions } from './split-fields.js';
import { compileTimestampPattern, type TimestampParser } from '../../core/timestamp-pattern.js';
import { compileRecordBuilder } from '../../core/lines/record-builder.js';
import { defineFormat } from '../../core/component.js';
import { delimitedFormatSchema } from './config.js';

export { compileTimestampPattern, type TimestampParser } from '../../core/timestamp-pattern.js';
export { splitFields } from './split-fields.js';

export const DELIMITED_REJECT_CODES = {
  fieldCount: 'DELIMITED_FIELD_COUNT',
  unterminated: 'DELIMITED_UNTERMINATED_FIELD',
  badTime: 'DELIMITED_BAD_TIME',
  tooLong: 'DELIMITED_RECORD_TOO_LONG',
  fragment: 'DELIMITED_FRAGMENT',
  badHeader: 'DELIMITED_BAD_HEADER',
} as const;

const MAX_RAW = 4096;

export type DelimitedOptions = Partial<Omit<DelimitedFormatConfig, 'type'>>;

/**
 * @example
 * const format = delimitedFormat({ delimiter: ' ', brackets: true, columns: ['owner', 'bucket', 'time'], timestamp: { field: 'time', format: 'dd/MMM/yyyy:HH:mm:ss Z' } });
 */
export function delimitedFormat(options: DelimitedOptions = {}): Format {
  const delimiter = options.delimiter ?? ',';
  const split: SplitOptions = {
    delimiter: delimiter === ' ' || delimiter.toLowerCase() === 'whitespace' ? null : delimiter === '\\t' ? '\t' : delimiter,
    quote: options.quote === false ? null : (options.quote ?? '"'),
    brackets: options.brackets ?? false,
  };
  const time: TimestampParser | undefined = options.timestamp ? compileTimestampPattern(options.timestamp.format) : undefined;
  let start: RegExp | undefined;
  if (options.multiline) {
    try {
      start = new RegExp(options.multiline.start);
    } catch (err) {
      throw new SluiceError(`delimited format: multiline.start is not a valid regular expression: ${(err as Error).message}`, {
        code: 'CONFIG_INVALID',
        stage: 'config',
        hint: 'for example ^\\d{4}-\\d{2}-\\d{2} for records starting with a date',
      });
    }
  }
  if (options.header !== true && options.timestamp && options.columns && !options.columns.includes(options.timestamp.field)) {
    throw new SluiceError(`delimited format: timestamp.field "${options.timestamp.field}" is not one of the columns (${options.columns.join(', ')})`, {
      code: 'CONFIG_INVALID',
      stage: 'config',
      hint: 'name the column that holds the event time',
    });
  }
  const settings: Settings = {
    split,
    header: options.header ?? false,
    columns: options.columns,
    nulls: new Set(options.nulls ?? []),
    comment: options.comment,
    time,
    timeField: options.timestamp?.field,
    start,
    maxRecordChars: Math.round((options.maxRecordKb ?? 1024) * 1024),
  };
  return {
    name: 'delimited',
    decode: (input, ctx) => decodeDelimited(input, ctx, settings),
  };
}

interface Settings {
  split: SplitOptions;
  header: boolean;
  columns?: readonly string[];
  nulls: ReadonlySet<string>;
  comment?: string;
  time?: TimestampParser;
  timeField?: string;
  start?: RegExp;
  maxRecordChars: number;
}

async function* decodeDelimited(input: AsyncIterable<Uint8Array>, ctx: DecodeContext, s: Settings): AsyncIterable<RecordBatch> {
  const object = ctx.object.uri;
  let columns: readonly string[] | undefined = s.header ? undefined : s.columns;
  // A multiline record being gathered: its first line number and text so far.
  let pending: { line: number; text: string } | undefined;
  let records: SluiceRecord[] = [];
  let rejects: Rejection[] = [];
  let build: ((values: readonly unknown[]) => Record<string, unknown>) | undefined;
  let builtFor: readonly string[] | undefined;

  const reject = (line: number, code: string, reason: string, raw: string) => {
    rejects.push({ origin: { object, line }, code, reason: `line ${line}: ${reason}`, raw: raw.length > MAX_RAW ? raw.slice(0, MAX_RAW) : raw });
  };

  // With `header`, the first record line is the header whatever it holds: one that cannot be read
  // is rejected, and the columns are then named column_1, column_2, ...
  let headerPending = s.header;
  const emit = (line: number, text: string, oversized = false) => {
    const tooLong = oversized || text.length > s.maxRecordChars;
    const split = tooLong ? ({ error: `record longer than ${s.maxRecordChars} characters (maxRecordKb)` } as const) : splitFields(text, s.split);
    if (headerPending) {
      headerPending = false;
      if ('error' in split) {
        reject(line, DELIMITED_REJECT_CODES.badHeader, `the header line cannot be read (${split.error}); columns are named column_1, column_2, ...`, text);
        return;
      }
      columns = s.columns ?? headerNames(split.fields);
      return;
    }
    if ('error' in split) {
      reject(line, tooLong ? DELIMITED_REJECT_CODES.tooLong : DELIMITED_REJECT_CODES.unterminated, split.error, text);
      return;
    }
    if (columns === undefined) columns = split.fields.map((_, i) => `column_${i + 1}`);
    const values = split.fields;
    if (values.length < columns.length) {
      reject(
        line,
        DELIMITED_REJECT_CODES.fieldCount,
        `${values.length} fields, expected ${columns.length} (${columns.join(s.split.delimiter === null ? ' ' : s.split.delimiter)})`,
        text,
      );
      return;
    }
    if (s.nulls.size > 0) for (let i = 0; i < columns.length; i++) if (s.nulls.has(values[i]!)) (values as Array<string | null>)[i] = null;
    if (build === undefined || builtFor !== columns) {
      build = compileRecordBuilder(columns);
      builtFor = columns;
    }
    const fields = build(values);
    if (values.length > columns.length) fields._extra = values.slice(columns.length);
    let time: number | undefined;
    if (s.time && s.timeField) {
      const raw = fields[s.timeField];
      time = typeof raw === 'string' ? s.time(raw) : undefined;
      if (time === undefined) {
        reject(line, DELIMITED_REJECT_CODES.badTime, `${s.timeField} ${JSON.stringify(raw)} does not match the timestamp format "${s.time.pattern}" (expected ${s.time.expected})`, text);
        return;
      }
    }
    records.push(time === undefined ? { id: recordId(ctx.idPrefix, line), origin: { object, line }, fields } : { id: recordId(ctx.idPrefix, line), origin: { object, line }, time, fields });
  };

  for await (const batch of splitLines(input, { maxLineBytes: Math.max(s.maxRecordChars * 3, 1024) })) {
    for (let i = 0; i < batch.lines.length; i++) {
      const line = batch.firstLine + i;
      const text = batch.lines[i]!;
      if (batch.oversized.has(line)) {
        // Longer than the splitter's cap: rejected (its text is only the line's start).
        emit(line, text, true);
        continue;
      }
      if (s.start) {
        if (s.start.test(text)) {
          if (pending) emit(pending.line, pending.text);
          pending = { line, text };
        } else if (pending) {
          if (pending.text.length <= s.maxRecordChars) pending.text += `\n${text}`;
        } else if (text.trim() !== '') {
          reject(line, DELIMITED_REJECT_CODES.fragment, `does not match the start-of-record pattern ${s.start.source} and no record started before it`, text);
        }
        continue;
      }
      if (text.trim() === '' || (s.comment !== undefined && text.startsWith(s.comment))) continue;
      emit(line, text);
    }
    if (records.length > 0 || rejects.length > 0) {
      yield { records, rejects };
      records = [];
      rejects = [];
    }
  }
  if (pending) emit(pending.line, pending.text);
  if (records.length > 0 || rejects.length > 0) yield { records, rejects };
}


/** Header names, trimmed; empty or repeated ones get a position suffix so no column is lost. */
function headerNames(fields: readonly string[]): string[] {
  const seen = new Set<string>();
  return fields.map((raw, i) => {
    let name = raw.trim();
    if (name === '' || seen.has(name)) name = `${name || 'column'}_${i + 1}`;
    seen.add(name);
    return name;
  });
}

/** The catalog's entry: `format: delimited` or `{ type: delimited, delimiter, header, columns, ... }`. */
export const delimitedFormatComponent = defineFormat({ type: 'delimited', schema: delimitedFormatSchema, bareName: true, create: (config) => delimitedFormat(config) });
