/**
 * The `s3access` format: Amazon S3 server access logs.
 *
 * How a line is read:
 * - Fields are separated by spaces (runs of spaces or tabs count as one; leading and trailing
 *   ones are ignored). A field is a bare token, a quoted string (`"GET /x HTTP/1.1"`, kept
 *   without its quotes), or, for the time, the bracketed `[06/Feb/2019:00:00:38 +0000]`. S3 does
 *   not escape quotes inside quoted fields, so a quoted field ends at the first `"` followed by a
 *   space or the line's end (a user agent ending in `"` or holding `"x"y` reads right), and the
 *   request line at the first such `"` that is followed by an HTTP status. A referer or user
 *   agent holding a quote followed by a space cannot be told apart from a field boundary: its
 *   line reads shifted (usually rejected by a typed field, else with an `extra_fields`).
 * - `-` and `"-"` are null. `http_status`, `bytes_sent`, `object_size`, `total_time` and
 *   `turn_around_time` are integers; `time` becomes RFC 3339 text with the line's own offset
 *   (`2019-02-06T00:00:38Z`, `2021-02-09T14:48:42+02:00`) and the record's `time` (epoch ms).
 *   Everything else is kept as text.
 * - A line needs at least the 18 fields of the original format; fields it lacks (older lines
 *   end at `version_id`, `tls_version` or `acl_required`) are null. Fields after the 27
 *   documented ones are kept, as text, in `extra_fields` (present only on such lines).
 * - Every physical line counts for line numbers; blank lines are skipped. Each other line
 *   becomes exactly one record (id `recordId(idPrefix, line)`) or one rejection: too few fields,
 *   an unterminated quote or bracket, a non-integer where an integer belongs, a bad time, or a
 *   line over the splitter's length cap. Decoding never throws for bad input.
 *
 * Speed: one pass over each line's char codes that finds, converts and stores each field; one
 * generated object literal per record (one hidden class); no regex on the hot path.
 */
import type { Format } from '../../core/component.js';
import { isSpace, lineRecordsFormat } from '../../core/lines/line-records.js';
import { BARE_FIELD, FieldLineParser, fieldLineLayout, isDash } from '../../core/lines/field-line-parser.js';
import type { SplitLinesOptions } from '../../core/lines/lines.js';
import { AccessLogTimeReader } from './access-log-time.js';
import { INTEGER_COLUMNS, S3ACCESS_FIELDS, S3ACCESS_MIN_FIELDS, TIME_COLUMN } from './fields.js';
import { defineFormat } from '../../core/component.js';
import { s3accessFormatSchema } from './config.js';

export interface S3accessOptions {
  /** Passed to the line splitter (line length cap, batch size). */
  lines?: SplitLinesOptions;
}

/** Stable codes of the rejections this format produces. */
export const S3ACCESS_REJECT_CODES = {
  fieldCount: 'S3ACCESS_FIELD_COUNT',
  unterminated: 'S3ACCESS_UNTERMINATED_FIELD',
  badInteger: 'S3ACCESS_BAD_INTEGER',
  badTime: 'S3ACCESS_BAD_TIME',
  lineTooLong: 'LINE_TOO_LONG',
} as const;

const LAYOUT = fieldLineLayout(
  S3ACCESS_FIELDS.map((name) => ({ name, keys: [name] })),
  S3ACCESS_MIN_FIELDS,
  S3ACCESS_REJECT_CODES.fieldCount,
);
const K_STRING = 0;
const K_INTEGER = 1;
const K_TIME = 2;
const KINDS = Uint8Array.from(S3ACCESS_FIELDS, (_, column) => (column === TIME_COLUMN ? K_TIME : INTEGER_COLUMNS.has(column) ? K_INTEGER : K_STRING));

const REQUEST_URI_COLUMN = S3ACCESS_FIELDS.indexOf('request_uri');
const QUOTE = 34;
const RBRACKET = 93;

/**
 * Creates the `s3access` format.
 *
 * @example
 * const format = s3accessFormat();
 * for await (const { records, rejects } of format.decode(bytes, { object, idPrefix })) { ... }
 */
export const s3accessFormat = (options: S3accessOptions = {}): Format =>
  lineRecordsFormat('s3access', (object, idPrefix) => new AccessLineParser(object, idPrefix, LAYOUT), {
    lines: options.lines,
    lineTooLongCode: S3ACCESS_REJECT_CODES.lineTooLong,
    expected: 'an S3 access log',
  });

class AccessLineParser extends FieldLineParser {
  private readonly times = new AccessLogTimeReader();

  protected override store(line: string, from: number, to: number, column: number): boolean {
    const kind = KINDS[column];
    let value: unknown = null;
    if (isDash(line, from, to)) {
      // "-": the field does not apply to this request.
    } else if (kind === K_STRING) {
      value = line.slice(from, to);
    } else if (kind === K_INTEGER) {
      value = parseNonNegativeInteger(line, from, to);
      if (value === -1) return false;
    } else {
      const time = this.times.read(line, from, to);
      if (time === undefined) return false;
      value = time.iso;
      this.epochMs = time.epochMs;
    }
    this.values[column] = value;
    return true;
  }

  protected override badValue(column: number): { code: string; expected: string } {
    return KINDS[column] === K_TIME
      ? { code: S3ACCESS_REJECT_CODES.badTime, expected: 'must be a time like [06/Feb/2019:00:00:38 +0000]' }
      : { code: S3ACCESS_REJECT_CODES.badInteger, expected: 'must be a non-negative integer or "-"' };
  }

  protected override markedFieldEnd(line: string, open: number, column: number): number {
    if (line.charCodeAt(open) === QUOTE) return column === REQUEST_URI_COLUMN ? closingQuoteBeforeStatus(line, open + 1) : closingMark(line, open + 1, QUOTE);
    return column === TIME_COLUMN ? closingMark(line, open + 1, RBRACKET) : BARE_FIELD;
  }

  protected override badMark(line: string, open: number, _close: number, column: number): { code: string; reason: string } {
    const quote = line.charCodeAt(open) === QUOTE;
    return {
      code: S3ACCESS_REJECT_CODES.unterminated,
      reason: `${this.fieldName(column)} opens ${quote ? 'a quote' : 'a bracket'} at column ${open + 1} that is never closed (a closing ${quote ? '"' : ']'} followed by a space or the line's end)`,
    };
  }
}

/**
 * Index of the `mark` that closes a quoted or bracketed field opened before `from`: the first one
 * followed by a separator or the end of the line (an inner `"` followed by anything else is part
 * of the value). -1 when there is none.
 */
function closingMark(line: string, from: number, mark: number): number {
  const char = mark === QUOTE ? '"' : ']';
  let at = line.indexOf(char, from);
  while (at !== -1) {
    if (at + 1 === line.length || isSpace(line.charCodeAt(at + 1))) return at;
    at = line.indexOf(char, at + 1);
  }
  return -1;
}

/**
 * The closing quote of the request line, which S3 does not escape (`"GET /a" b HTTP/1.1"`): the
 * first `"` followed by a space and a three-digit HTTP status; failing that (a status of `-`, or
 * a damaged line), the ordinary rule.
 */
function closingQuoteBeforeStatus(line: string, from: number): number {
  let at = line.indexOf('"', from);
  while (at !== -1) {
    // The status must leave room for the 8 fields that follow it (error_code … version_id): a
    // quote before a 3-digit field near the end (`"x" 901`) is inside the referer or user agent.
    if (line.charCodeAt(at + 1) === 32 && isStatusAt(line, at + 2) && hasChunksAfter(line, at + 5, FIELDS_AFTER_STATUS)) return at;
    at = line.indexOf('"', at + 1);
  }
  return closingMark(line, from, QUOTE);
}

/** Fields of every access log line after http_status: error_code, bytes_sent, …, version_id. */
const FIELDS_AFTER_STATUS = 8;

/**
 * Whether at least `count` space-separated chunks follow `from`. Quoted fields with spaces only add
 * chunks, so this never rules out the real closing quote.
 */
function hasChunksAfter(line: string, from: number, count: number): boolean {
  let chunks = 0;
  let inChunk = false;
  for (let i = from; i < line.length; i++) {
    if (isSpace(line.charCodeAt(i))) inChunk = false;
    else if (!inChunk) {
      inChunk = true;
      if (++chunks >= count) return true;
    }
  }
  return false;
}

/** Three digits at `at`, then a separator or the line's end. */
function isStatusAt(line: string, at: number): boolean {
  for (let k = at; k < at + 3; k++) {
    const d = line.charCodeAt(k) - 48;
    if (!(d >= 0 && d <= 9)) return false;
  }
  return at + 3 === line.length || isSpace(line.charCodeAt(at + 3));
}

/** The value of line[from, to) if it is only decimal digits (and a safe integer), else -1. */
function parseNonNegativeInteger(line: string, from: number, to: number): number {
  if (to === from || to - from > 16) return -1;
  let value = 0;
  for (let i = from; i < to; i++) {
    const d = line.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return Number.isSafeInteger(value) ? value : -1;
}

/** The catalog's entry: `format: s3access`. */
export const s3accessFormatComponent = defineFormat({ type: 's3access', schema: s3accessFormatSchema, bareName: true, create: () => s3accessFormat() });
