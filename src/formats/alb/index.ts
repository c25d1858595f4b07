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
import type { Format } from '../../core/component.js';
import { lineRecordsFormat, quoteValue } from '../../core/lines/line-records.js';
import { BARE_FIELD, FieldLineParser, fieldLineLayout, isDash } from '../../core/lines/field-line-parser.js';
import { daysInMonth, digitsAt, utcEpochMs } from '../../core/lines/date-text.js';
import type { SplitLinesOptions } from '../../core/lines/lines.js';
import { ALB_FIELDS, ALB_MIN_FIELDS, AlbKind } from './fields.js';
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

const LAYOUT = fieldLineLayout(ALB_FIELDS, ALB_MIN_FIELDS, ALB_REJECT_CODES.fieldCount);
const KINDS = Uint8Array.from(ALB_FIELDS, (f) => f.kind);
/** First value slot of each field. */
const SLOTS = LAYOUT.firstSlot;

const QUOTE = 34;
const BACKSLASH = 92;
const DASH = 45;
const COLON = 58;

/** What the numeric readers return for text that is not a number of their kind. */
const NOT_A_NUMBER = Number.NaN;

/**
 * Creates the `alb` format.
 *
 * @example
 * const format = albFormat();
 * for await (const { records, rejects } of format.decode(bytes, { object, idPrefix })) { ... }
 */
export const albFormat = (options: AlbOptions = {}): Format =>
  lineRecordsFormat('alb', (object, idPrefix) => new AlbLineParser(object, idPrefix, LAYOUT), { lines: options.lines, lineTooLongCode: ALB_REJECT_CODES.lineTooLong, expected: 'an ALB access log' });

class AlbLineParser extends FieldLineParser {
  protected override store(line: string, from: number, to: number, column: number): boolean {
    const values = this.values;
    const kind = KINDS[column];
    const slot = SLOTS[column];
    if (isDash(line, from, to)) {
      // Null for every key of every kind; only the time must be there.
      for (let k = slot; k < SLOTS[column + 1]; k++) values[k] = null;
      return kind !== AlbKind.Time;
    }
    switch (kind) {
      case AlbKind.String:
        values[slot] = line.slice(from, to);
        return true;
      case AlbKind.Integer:
      case AlbKind.Decimal: {
        const value = kind === AlbKind.Integer ? parseInteger(line, from, to) : parseDecimal(line, from, to);
        values[slot] = value;
        return !Number.isNaN(value);
      }
      case AlbKind.Endpoint:
        return storeEndpoint(line, from, to, values, slot);
      case AlbKind.Request:
        storeRequest(line, from, to, values, slot);
        return true;
      default: {
        // AlbKind.Time
        const epochMs = parseIsoTime(line, from, to);
        this.epochMs = epochMs;
        values[slot] = line.slice(from, to);
        return !Number.isNaN(epochMs);
      }
    }
  }

  protected override badValue(column: number): { code: string; expected: string } {
    switch (KINDS[column]) {
      case AlbKind.Integer:
        return { code: ALB_REJECT_CODES.badNumber, expected: 'must be an integer or "-"' };
      case AlbKind.Decimal:
        return { code: ALB_REJECT_CODES.badNumber, expected: 'must be a number (like 0.001 or -1) or "-"' };
      case AlbKind.Endpoint:
        return { code: ALB_REJECT_CODES.badAddress, expected: 'must be ip:port or "-"' };
      default:
        return { code: ALB_REJECT_CODES.badTime, expected: 'must be an ISO 8601 UTC time like 2018-07-02T22:23:00.186641Z' };
    }
  }

  protected override markedFieldEnd(line: string, open: number): number {
    return line.charCodeAt(open) === QUOTE ? closingQuote(line, open + 1) : BARE_FIELD;
  }

  protected override badMark(line: string, open: number, close: number, column: number): { code: string; reason: string } {
    const opens = `${this.fieldName(column)} opens a quote at column ${open + 1}`;
    return {
      code: ALB_REJECT_CODES.badQuote,
      reason:
        close === -1
          ? `${opens} that is never closed`
          : `${opens} whose closing quote (column ${close + 1}) is followed by ${quoteValue(line[close + 1])} instead of a space; ALB writes quotes inside fields as \\x22, so the line is damaged`,
    };
  }
}

/** Stores `ip:port` as its two keys; false when it has no port of 0-65535 after its last colon. */
function storeEndpoint(line: string, from: number, to: number, values: unknown[], slot: number): boolean {
  const colon = line.lastIndexOf(':', to - 1);
  const port = colon > from ? parseInteger(line, colon + 1, to) : NOT_A_NUMBER;
  if (Number.isNaN(port) || port < 0 || port > 65535) return false;
  values[slot] = line.slice(from, colon);
  values[slot + 1] = port;
  return true;
}

/** Stores `request` and, when it reads `METHOD URL PROTOCOL`, its three parts. */
function storeRequest(line: string, from: number, to: number, values: unknown[], slot: number): void {
  values[slot] = line.slice(from, to);
  values[slot + 1] = null;
  values[slot + 2] = null;
  values[slot + 3] = null;
  const firstSpace = line.indexOf(' ', from);
  const lastSpace = line.lastIndexOf(' ', to - 1);
  if (firstSpace === -1 || firstSpace >= to || lastSpace <= firstSpace) return;
  values[slot + 1] = textOrNull(line, from, firstSpace);
  values[slot + 2] = textOrNull(line, firstSpace + 1, lastSpace);
  values[slot + 3] = textOrNull(line, lastSpace + 1, to);
}

function textOrNull(line: string, from: number, to: number): string | null {
  if (to <= from || isDash(line, from, to)) return null;
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
  return utcEpochMs(year, month, day, hour, minute, second, ms);
}

/** The catalog's entry: `format: alb`. */
export const albFormatComponent = defineFormat({ type: 'alb', schema: albFormatSchema, bareName: true, create: () => albFormat() });
