/**
 * The `alb` format: Application Load Balancer access logs.
 *
 * How a line is read:
 * - Fields are separated by spaces (runs of spaces or tabs count as one). A field is a bare
 *   token or a quoted string kept without its quotes. ALB writes a quote inside a field as
 *   `\x22`, so a quoted string ends at its first `"` (one escaped by a backslash is skipped, as
 *   other tools write them), which must be followed by a space or the line's end: anything else
 *   is a damaged line, rejected rather than read with its fields shifted. Text is kept as logged
 *   (`\x22` and other escapes are not interpreted).
 * - `-` and `"-"` are null for every field. `client:port` and `target:port` are split at their
 *   last colon into `client_ip`/`client_port` and `target_ip`/`target_port` (IPv6 addresses come
 *   unbracketed). `request` is kept whole and, when it has the shape `METHOD URL PROTOCOL`, split
 *   into `request_method`, `request_url`, `request_protocol` (each `-` is null; a request without
 *   two spaces leaves all three null). Processing times are numbers, `-1` (no response, timeout)
 *   kept as -1. Status codes, byte counts and `matched_rule_priority` are integers. `time` is
 *   kept as logged and is the record's `time` (epoch ms, microseconds truncated).
 * - A line needs at least the 18 fields of the original format; fields it lacks are null.
 *   Fields after the 33 documented ones are kept, as text, in `extra_fields` (present only on
 *   such lines).
 * - Every physical line counts for line numbers; blank lines are skipped. Each other line
 *   becomes exactly one record (id `recordId(idPrefix, line)`) or one rejection: too few fields,
 *   an unterminated or misplaced quote, a bad number, address or time, or a line over the splitter's length
 *   cap. Decoding never throws for bad input.
 *
 * Speed: one pass over each line's char codes that finds, converts and stores each field; one
 * generated object literal per record (one hidden class); no regex on the hot path.
 */
import type { DecodeContext, Format, RecordBatch } from '../../core/component.js';
import type { Rejection, SluiceRecord } from '../../core/record.js';
import { recordId } from '../../core/record.js';
import { decodeLineRecords, isSpace, quoteValue, truncateRaw } from '../../core/lines/line-records.js';
import type { SplitLinesOptions } from '../../core/lines/lines.js';
import { ALB_FIELDS, ALB_MIN_FIELDS, ALB_RECORD_KEYS, AlbKind } from './fields.js';
import { compileRecordBuilder } from '../../core/lines/record-builder.js';
import { defineFormat } from '../../core/component.js';
import { albFormatSchema } from './config.js';

export interface AlbOptions {
  /** Passed to the line splitter (line length cap, batch size). */
  lines?: SplitLinesOptions;
}

/** Stable codes of the rejections this format produces. */
export const ALB_REJECT_CODES = {
  fieldCount: 'ALB_FIELD_COUNT',
  badQuote: 'ALB_BAD_QUOTE',
  badNumber: 'ALB_BAD_NUMBER',
  badAddress: 'ALB_BAD_ADDRESS',
  badTime: 'ALB_BAD_TIME',
  lineTooLong: 'LINE_TOO_LONG',
} as const;

/** Rejected lines keep at most this many characters of their text. */

const FIELD_COUNT = ALB_FIELDS.length;
const KINDS = Uint8Array.from(ALB_FIELDS, (f) => f.kind);
/** First value slot of each field. */
const SLOTS = Int32Array.from(ALB_FIELDS, (_, column) => ALB_FIELDS.slice(0, column).reduce((n, f) => n + f.keys.length, 0));
const SLOT_COUNT = ALB_RECORD_KEYS.length;

const QUOTE = 34;
const BACKSLASH = 92;
const DASH = 45;
const COLON = 58;
const SPACE = 32;

/** What the numeric readers return for text that is not a number of their kind. */
const NOT_A_NUMBER = Number.NaN;

/** One object literal per record, so every record shares one hidden class. */
const buildFields = compileRecordBuilder(ALB_RECORD_KEYS);

/**
 * Creates the `alb` format.
 *
 * @example
 * const format = albFormat();
 * for await (const { records, rejects } of format.decode(bytes, { object, idPrefix })) { ... }
 */
export const albFormat = (options: AlbOptions = {}): Format => ({
  name: 'alb',
  decode(input: AsyncIterable<Uint8Array>, ctx: DecodeContext): AsyncIterable<RecordBatch> {
    return decodeLineRecords(input, ctx, new AlbLineParser(ctx.object.uri, ctx.idPrefix), { lines: options.lines, lineTooLongCode: ALB_REJECT_CODES.lineTooLong, expected: 'an ALB access log' });
  },
});

class AlbLineParser {
  /** Scratch row filled for one line and consumed in the same synchronous call. */
  private readonly values: unknown[] = new Array<unknown>(SLOT_COUNT).fill(null);

  constructor(
    private readonly object: string,
    private readonly idPrefix: string,
  ) {}

  /**
   * One pass: find each field, convert it by its column's kind, remember the first conversion
   * error, and count fields to the end so that a wrong field count (the more basic problem) is
   * reported in preference to a bad value.
   */
  parse(line: string, from: number, lineNumber: number, records: SluiceRecord[], rejects: Rejection[]): void {
    const values = this.values;
    const n = line.length;
    let column = 0;
    let i = from;
    let epochMs = Number.NaN;
    let extra: string[] | undefined;
    let errorColumn = -1;
    let errorCode = '';
    let errorDetail = '';
    let errorFrom = 0;
    let errorTo = 0;

    while (i < n) {
      let tokenFrom: number;
      let tokenTo: number;
      if (line.charCodeAt(i) === QUOTE) {
        const close = closingQuote(line, i + 1);
        if (close === -1 || (close + 1 < n && !isSpace(line.charCodeAt(close + 1)))) {
          this.reject(
            rejects,
            lineNumber,
            line,
            ALB_REJECT_CODES.badQuote,
            close === -1
              ? `line ${lineNumber}: ${fieldName(column)} opens a quote at column ${i + 1} that is never closed`
              : `line ${lineNumber}: ${fieldName(column)} opens a quote at column ${i + 1} whose closing quote (column ${close + 1}) is followed by ${quoteValue(line[close + 1])} instead of a space; ALB writes quotes inside fields as \\x22, so the line is damaged`,
          );
          return;
        }
        tokenFrom = i + 1;
        tokenTo = close;
        i = close + 1;
      } else {
        tokenFrom = i;
        while (i < n && !isSpace(line.charCodeAt(i))) i++;
        tokenTo = i;
      }

      if (column >= FIELD_COUNT) {
        (extra ??= []).push(line.slice(tokenFrom, tokenTo));
      } else if (errorColumn === -1) {
        const kind = KINDS[column];
        const slot = SLOTS[column];
        const absent = tokenTo - tokenFrom === 1 && line.charCodeAt(tokenFrom) === DASH;
        switch (kind) {
          case AlbKind.String:
            values[slot] = absent ? null : line.slice(tokenFrom, tokenTo);
            break;
          case AlbKind.Integer:
          case AlbKind.Decimal: {
            if (absent) {
              values[slot] = null;
              break;
            }
            const value = kind === AlbKind.Integer ? parseInteger(line, tokenFrom, tokenTo) : parseDecimal(line, tokenFrom, tokenTo);
            if (Number.isNaN(value)) {
              errorColumn = column;
              errorCode = ALB_REJECT_CODES.badNumber;
              errorDetail = kind === AlbKind.Integer ? 'must be an integer or "-"' : 'must be a number (like 0.001 or -1) or "-"';
            }
            values[slot] = value;
            break;
          }
          case AlbKind.Endpoint: {
            if (absent) {
              values[slot] = null;
              values[slot + 1] = null;
              break;
            }
            const colon = line.lastIndexOf(':', tokenTo - 1);
            const port = colon > tokenFrom ? parseInteger(line, colon + 1, tokenTo) : NOT_A_NUMBER;
            if (Number.isNaN(port) || port < 0 || port > 65535) {
              errorColumn = column;
              errorCode = ALB_REJECT_CODES.badAddress;
              errorDetail = 'must be ip:port or "-"';
            } else {
              values[slot] = line.slice(tokenFrom, colon);
              values[slot + 1] = port;
            }
            break;
          }
          case AlbKind.Request:
            storeRequest(line, tokenFrom, tokenTo, absent, values, slot);
            break;
          default: {
            // AlbKind.Time
            epochMs = absent ? Number.NaN : parseIsoTime(line, tokenFrom, tokenTo);
            if (Number.isNaN(epochMs)) {
              errorColumn = column;
              errorCode = ALB_REJECT_CODES.badTime;
              errorDetail = 'must be an ISO 8601 UTC time like 2018-07-02T22:23:00.186641Z';
            }
            values[slot] = line.slice(tokenFrom, tokenTo);
          }
        }
        if (errorColumn === column) {
          errorFrom = tokenFrom;
          errorTo = tokenTo;
        }
      }
      column++;
      while (i < n && isSpace(line.charCodeAt(i))) i++;
    }

    if (column < ALB_MIN_FIELDS) {
      this.reject(
        rejects,
        lineNumber,
        line,
        ALB_REJECT_CODES.fieldCount,
        `line ${lineNumber}: expected at least ${ALB_MIN_FIELDS} fields (type … trace_id; newer lines have up to ${FIELD_COUNT}) but found ${column}`,
      );
      return;
    }
    if (errorColumn !== -1) {
      this.reject(
        rejects,
        lineNumber,
        line,
        errorCode,
        `line ${lineNumber}: field "${ALB_FIELDS[errorColumn].name}" (field ${errorColumn + 1}) ${errorDetail}, found ${quoteValue(line.slice(errorFrom, errorTo))}`,
      );
      return;
    }
    if (column < FIELD_COUNT) values.fill(null, SLOTS[column]);

    const fields = buildFields(values);
    if (extra !== undefined) fields.extra_fields = extra;
    const origin = { object: this.object, line: lineNumber };
    records.push({ id: recordId(this.idPrefix, lineNumber), origin, time: epochMs, fields });
  }

  private reject(rejects: Rejection[], lineNumber: number, line: string, code: string, reason: string): void {
    rejects.push({ origin: { object: this.object, line: lineNumber }, code, reason, raw: truncateRaw(line) });
  }
}

/** Stores `request` and, when it reads `METHOD URL PROTOCOL`, its three parts. */
function storeRequest(line: string, from: number, to: number, absent: boolean, values: unknown[], slot: number): void {
  values[slot + 1] = null;
  values[slot + 2] = null;
  values[slot + 3] = null;
  if (absent) {
    values[slot] = null;
    return;
  }
  values[slot] = line.slice(from, to);
  const firstSpace = line.indexOf(' ', from);
  const lastSpace = line.lastIndexOf(' ', to - 1);
  if (firstSpace === -1 || firstSpace >= to || lastSpace <= firstSpace) return;
  values[slot + 1] = textOrNull(line, from, firstSpace);
  values[slot + 2] = textOrNull(line, firstSpace + 1, lastSpace);
  values[slot + 3] = textOrNull(line, lastSpace + 1, to);
}

function textOrNull(line: string, from: number, to: number): string | null {
  if (to <= from || (to - from === 1 && line.charCodeAt(from) === DASH)) return null;
  return line.slice(from, to);
}

/** Index of the first `"` at or after `from` not escaped by a backslash, or -1. */
function closingQuote(line: string, from: number): number {
  let at = line.indexOf('"', from);
  while (at !== -1) {
    let backslashes = 0;
    for (let b = at - 1; b >= from && line.charCodeAt(b) === BACKSLASH; b--) backslashes++;
    if ((backslashes & 1) === 0) return at;
    at = line.indexOf('"', at + 1);
  }
  return -1;
}

/** A decimal integer (optionally negative, safe range), or NaN. */
function parseInteger(line: string, from: number, to: number): number {
  const negative = line.charCodeAt(from) === DASH;
  let i = negative ? from + 1 : from;
  if (i === to || to - i > 15) return NOT_A_NUMBER;
  let value = 0;
  for (; i < to; i++) {
    const d = line.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NOT_A_NUMBER;
    value = value * 10 + d;
  }
  return negative ? -value : value;
}

const POWERS_OF_TEN = Array.from({ length: 16 }, (_, k) => 10 ** k);

/**
 * `[-]digits[.digits]` as a number, or NaN. The digits are read as one integer and divided once
 * by a power of ten: both are exact below 2^53, so the result is the correctly rounded value,
 * the same as `Number(text)`.
 */
function parseDecimal(line: string, from: number, to: number): number {
  const negative = line.charCodeAt(from) === DASH;
  let i = negative ? from + 1 : from;
  let mantissa = 0;
  let digits = 0;
  let fractionDigits = -1;
  for (; i < to; i++) {
    const c = line.charCodeAt(i);
    if (c === 46 && fractionDigits === -1) {
      fractionDigits = 0;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9) return NOT_A_NUMBER;
    mantissa = mantissa * 10 + d;
    digits++;
    if (fractionDigits !== -1) fractionDigits++;
  }
  if (digits === 0 || digits > 15 || fractionDigits === 0) return NOT_A_NUMBER;
  const value = fractionDigits > 0 ? mantissa / POWERS_OF_TEN[fractionDigits] : mantissa;
  return negative ? -value : value;
}

/** `YYYY-MM-DDTHH:MM:SS[.fraction]Z` as epoch ms (fraction truncated to ms), or NaN. */
function parseIsoTime(line: string, from: number, to: number): number {
  if (to - from < 20 || line.charCodeAt(to - 1) !== 90 /* Z */) return Number.NaN;
  const at = (k: number): number => line.charCodeAt(from + k);
  if (at(4) !== DASH || at(7) !== DASH || at(10) !== 84 /* T */ || at(13) !== COLON || at(16) !== COLON) return Number.NaN;
  const year = digitsAt(line, from, 4);
  const month = digitsAt(line, from + 5, 2);
  const day = digitsAt(line, from + 8, 2);
  const hour = digitsAt(line, from + 11, 2);
  const minute = digitsAt(line, from + 14, 2);
  const second = digitsAt(line, from + 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) {
    return Number.NaN;
  }
  let ms = 0;
  const fractionEnd = to - 1;
  if (fractionEnd > from + 19) {
    if (at(19) !== 46 /* . */ || fractionEnd === from + 20) return Number.NaN;
    for (let k = from + 20; k < fractionEnd; k++) {
      const d = line.charCodeAt(k) - 48;
      if (d < 0 || d > 9) return Number.NaN;
      if (k < from + 23) ms = ms * 10 + d;
    }
    for (let k = Math.min(fractionEnd, from + 23); k < from + 23; k++) ms *= 10;
  }
  const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second, ms));
  date.setUTCFullYear(year); // Date.UTC maps years 0-99 to 1900-1999
  return date.getTime();
}

function digitsAt(line: string, from: number, count: number): number {
  let value = 0;
  for (let i = from; i < from + count; i++) {
    const d = line.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function fieldName(column: number): string {
  return column < FIELD_COUNT ? `field "${ALB_FIELDS[column].name}" (field ${column + 1})` : `field ${column + 1}`;
}

/** Field separators: space and tab (and a stray \r). */

/** The catalog's entry: `format: alb`. */
export const albFormatComponent = defineFormat({ type: 'alb', schema: albFormatSchema, bareName: true, create: () => albFormat() });
