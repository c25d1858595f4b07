/**
 * The `vpcflow` format: AWS VPC (and Transit Gateway) Flow Logs in their plain-text layout.
 *
 * How a line is read:
 * - The field order comes from the last header line seen. A header is a line whose tokens are
 *   all shaped like field names and include at least one known field name (`version
 *   account-id ...`, or any custom order, with or without `version`, dashes or underscores).
 *   A header mid-file replaces the order from its line on. Lines before any header (CloudWatch
 *   Logs delivery has none) use the `fields` option, else the v2 default format.
 * - Fields are separated by runs of spaces/tabs (AWS's own examples contain a double space).
 * - Every line number counts every physical line (headers and blank lines too), so a record id
 *   (`recordId(idPrefix, line)`) and a reject always point at the real line of the object.
 * - Each non-blank, non-header line becomes exactly one record or one rejection: wrong field
 *   count, a non-integer in an integer field, an invalid address in an address field, or a line
 *   over the splitter's length cap. Decoding never throws for bad input.
 *
 * Speed: one compiled plan per header (output keys and a kind code per column), one pass over
 * each line's char codes that splits, parses integers and checks IPv4 by hand; no regex and no
 * per-field closures on the hot path.
 */
import type { DecodeContext, Format, RecordBatch } from '../../core/component.js';
import { SluiceError } from '../../core/errors.js';
import type { Rejection, SluiceRecord } from '../../core/record.js';
import { recordId } from '../../core/record.js';
import { DEFAULT_MAX_LINE_BYTES, splitLines, type SplitLinesOptions } from '../../core/lines/lines.js';
import { awsFieldName, DEFAULT_FIELDS, fieldKind, FieldKind, isFieldNameShaped, KNOWN_FIELDS, recordKey } from './fields.js';
import { isIpv4At, isIpv6At } from '../../core/ip-address.js';
import { compileRecordBuilder } from '../../core/lines/record-builder.js';
import { defineFormat } from '../../core/component.js';
import { vpcflowFormatSchema } from './config.js';

export interface VpcflowOptions {
  /**
   * Space-separated field names (dashes or underscores, optionally written `${name}` as in the
   * flow log's LogFormat) for lines that come before any header, e.g. a custom format delivered
   * through CloudWatch Logs. Default: the v2 default format.
   */
  fields?: string;
  /** Passed to the line splitter (line length cap, batch size). */
  lines?: SplitLinesOptions;
}

/** Stable codes of the rejections this format produces. */
export const VPCFLOW_REJECT_CODES = {
  fieldCount: 'VPCFLOW_FIELD_COUNT',
  badInteger: 'VPCFLOW_BAD_INTEGER',
  badIp: 'VPCFLOW_BAD_IP',
  lineTooLong: 'LINE_TOO_LONG',
} as const;

/** Rejected lines keep at most this many characters of their text. */
export const MAX_RAW_LENGTH = 4096;

/** A field order compiled once per header (or option), used for every line under it. */
interface FieldPlan {
  /** Record keys (`log_status`), by column. */
  readonly keys: readonly string[];
  /** Field names as AWS spells them (`log-status`), by column, for messages. */
  readonly names: readonly string[];
  readonly kinds: Uint8Array;
  /** Scratch row the parser fills for one line and consumes in the same synchronous call. */
  readonly values: unknown[];
  /** Turns a filled row into a record's fields object (see compileRecordBuilder). */
  readonly build: (values: readonly unknown[]) => Record<string, unknown>;
  /** Column of `start` / `end`, or -1. */
  readonly startColumn: number;
  readonly endColumn: number;
  /** Where the order came from, for messages: "header at line 3". */
  readonly origin: string;
  /** Whether the order came from a header line (else a hint about `fields` is useful). */
  readonly fromHeader: boolean;
}

const INTEGER = FieldKind.Integer;
const IP = FieldKind.Ip;
const DASH = 45;
/** Kind code for columns that are only counted (past the header's width, or after an error). */
const SKIP = 255;

/**
 * Creates the `vpcflow` format.
 *
 * @example
 * const format = vpcflowFormat();
 * for await (const { records, rejects } of format.decode(bytes, { object, idPrefix })) { ... }
 *
 * @example
 * // CloudWatch Logs delivery of a custom format (no header line in the data)
 * vpcflowFormat({ fields: 'version interface-id srcaddr dstaddr action log-status' });
 */
export const vpcflowFormat = (options: VpcflowOptions = {}): Format => {
  const initialPlan =
    options.fields === undefined
      ? compilePlan(DEFAULT_FIELDS, 'the v2 default format; no header line seen yet', false)
      : compilePlan(parseFieldsOption(options.fields), 'the format from the `fields` option; no header line seen yet', false);
  const lineOptions = options.lines;

  return {
    name: 'vpcflow',
    decode(input: AsyncIterable<Uint8Array>, ctx: DecodeContext): AsyncIterable<RecordBatch> {
      return decodeFlowLog(input, ctx, initialPlan, lineOptions);
    },
  };
};

async function* decodeFlowLog(
  input: AsyncIterable<Uint8Array>,
  ctx: DecodeContext,
  initialPlan: FieldPlan,
  lineOptions: SplitLinesOptions | undefined,
): AsyncIterable<RecordBatch> {
  const object = ctx.object.uri;
  const idPrefix = ctx.idPrefix;
  const maxLineBytes = lineOptions?.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  let plan = initialPlan;

  for await (const { lines, firstLine, oversized } of splitLines(input, lineOptions)) {
    const records: SluiceRecord[] = [];
    const rejects: Rejection[] = [];
    const checkOversized = oversized.size > 0;

    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const lineNumber = firstLine + i;
      if (checkOversized && oversized.has(lineNumber)) {
        rejects.push({
          origin: { object, line: lineNumber },
          code: VPCFLOW_REJECT_CODES.lineTooLong,
          reason: `line ${lineNumber}: longer than ${maxLineBytes} bytes; no flow log line is this long, so this object is not flow log data or is corrupt (raw holds the line's start)`,
          raw: truncateRaw(line),
        });
        continue;
      }
      const first = firstNonSpace(line);
      if (first === -1) continue; // blank line: neither a record nor a reject

      // Only a line starting with a lower-case letter can be a header; data lines usually start
      // with a digit (version) or '-'.
      const c = line.charCodeAt(first);
      if (c >= 97 && c <= 122) {
        const header = headerFields(line, first);
        if (header !== undefined) {
          plan = compilePlan(header, `header at line ${lineNumber}`, true);
          continue;
        }
      }
      parseRecordLine(line, first, lineNumber, plan, object, idPrefix, records, rejects);
    }

    if (records.length > 0 || rejects.length > 0) yield { records, rejects };
  }
}

/**
 * Parses one data line into `records` or `rejects`. One pass: find each token, convert it by its
 * column's kind, remember the first conversion error, and count tokens to the end so that a wrong
 * field count (the more basic problem) is reported in preference to a bad value.
 */
function parseRecordLine(
  line: string,
  from: number,
  lineNumber: number,
  plan: FieldPlan,
  object: string,
  idPrefix: string,
  records: SluiceRecord[],
  rejects: Rejection[],
): void {
  const { kinds, startColumn, endColumn, values } = plan;
  const width = kinds.length;
  const n = line.length;
  let startSeconds: number | null = null;
  let endSeconds: number | null = null;
  let column = 0;
  let errorColumn = -1;
  let errorFrom = 0;
  let errorTo = 0;
  let errorDetail = '';
  let i = from;

  while (i < n) {
    const tokenFrom = i;
    // Columns past the header's width, or after an error, are only counted.
    const kind = column < width && errorColumn === -1 ? kinds[column] : SKIP;
    let value: unknown = null;

    if (kind === INTEGER) {
      // Parse while looking for the token's end, so each character is read once.
      let number = 0;
      let digitsOnly = true;
      const negative = line.charCodeAt(i) === DASH;
      if (negative) i++;
      while (i < n) {
        const c = line.charCodeAt(i);
        const digit = c - 48;
        if (digit >= 0 && digit <= 9) number = number * 10 + digit;
        else if (isSpace(c)) break;
        else digitsOnly = false;
        i++;
      }
      const length = i - tokenFrom;
      if (negative && length === 1) {
        // "-": the field does not apply to this record; value stays null.
      } else if (!digitsOnly) {
        errorColumn = column;
        errorDetail = 'must be an integer or "-"';
      } else if (length > 15 && !Number.isSafeInteger(number)) {
        errorColumn = column;
        errorDetail = `must be an integer of at most ${Number.MAX_SAFE_INTEGER}`;
      } else {
        value = negative ? -number : number;
        if (column === startColumn) startSeconds = number;
        else if (column === endColumn) endSeconds = number;
      }
    } else {
      i++;
      while (i < n) {
        const c = line.charCodeAt(i);
        if (isSpace(c)) break;
        i++;
      }
      if (kind !== SKIP && !(i - tokenFrom === 1 && line.charCodeAt(tokenFrom) === DASH)) {
        if (kind !== IP || isIpv4At(line, tokenFrom, i) || isIpv6At(line, tokenFrom, i)) {
          value = line.slice(tokenFrom, i);
        } else {
          errorColumn = column;
          errorDetail = 'must be an IPv4 or IPv6 address or "-"';
        }
      }
    }

    if (errorColumn === column) {
      errorFrom = tokenFrom;
      errorTo = i;
    } else if (kind !== SKIP) {
      values[column] = value;
    }
    column++;

    // Skip the separator run.
    while (i < n) {
      const c = line.charCodeAt(i);
      if (!isSpace(c)) break;
      i++;
    }
  }

  if (column !== width) {
    rejects.push({
      origin: { object, line: lineNumber },
      code: VPCFLOW_REJECT_CODES.fieldCount,
      reason: fieldCountReason(lineNumber, plan, column),
      raw: truncateRaw(line),
    });
    return;
  }
  if (errorColumn !== -1) {
    const code = kinds[errorColumn] === IP ? VPCFLOW_REJECT_CODES.badIp : VPCFLOW_REJECT_CODES.badInteger;
    rejects.push({
      origin: { object, line: lineNumber },
      code,
      reason:
        `line ${lineNumber}: field "${plan.names[errorColumn]}" (column ${errorColumn + 1}) ${errorDetail}, ` +
        `found ${quoteValue(line.slice(errorFrom, errorTo))} (field order from ${plan.origin})`,
      raw: truncateRaw(line),
    });
    return;
  }

  const fields = plan.build(values);
  const seconds = startSeconds ?? endSeconds;
  records.push(
    seconds === null
      ? { id: recordId(idPrefix, lineNumber), origin: { object, line: lineNumber }, fields }
      : { id: recordId(idPrefix, lineNumber), origin: { object, line: lineNumber }, time: seconds * 1000, fields },
  );
}

function fieldCountReason(lineNumber: number, plan: FieldPlan, found: number): string {
  const expected = plan.kinds.length;
  const base = `line ${lineNumber}: expected ${expected} field${expected === 1 ? '' : 's'} (${plan.origin}) but found ${found}`;
  if (plan.fromHeader) return base;
  return `${base}; if these lines use a custom format, keep the header line or set the vpcflow \`fields\` option to the format's field names`;
}

/** Index of the first non-whitespace character, or -1 for a blank line. */
function firstNonSpace(line: string): number {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (!isSpace(c)) return i;
  }
  return -1;
}

/**
 * The field names if `line` is a header line, else undefined: every token shaped like a field
 * name and at least one of them a known field (so a data line of plain words such as
 * `eni-0abc ingress` is not taken for a header). Data lines of custom formats can start with a
 * lower-case letter (`i-0abc...`), so the shape check runs first, without allocating, and stops
 * at the first token that cannot be a field name.
 */
function headerFields(line: string, from: number): string[] | undefined {
  const n = line.length;
  let i = from;
  while (i < n) {
    const tokenFrom = i;
    while (i < n && !isSpace(line.charCodeAt(i))) i++;
    if (!isFieldNameShaped(line, tokenFrom, i)) return undefined;
    while (i < n && isSpace(line.charCodeAt(i))) i++;
  }
  const tokens = splitOnWhitespace(line, from);
  return tokens.some((token) => KNOWN_FIELDS.has(awsFieldName(token))) ? tokens : undefined;
}

/** Field separators: space, tab, and the rarer \v \f \r. */
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

function splitOnWhitespace(text: string, from = 0): string[] {
  const tokens: string[] = [];
  const n = text.length;
  let i = from;
  while (i < n) {
    let c = text.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    const start = i;
    while (i < n) {
      c = text.charCodeAt(i);
      if (isSpace(c)) break;
      i++;
    }
    tokens.push(text.slice(start, i));
  }
  return tokens;
}

function compilePlan(tokens: readonly string[], origin: string, fromHeader: boolean): FieldPlan {
  const names = tokens.map(awsFieldName);
  const kinds = new Uint8Array(names.length);
  names.forEach((name, column) => (kinds[column] = fieldKind(name)));
  const keys = names.map(recordKey);
  return {
    keys,
    names,
    kinds,
    values: new Array<unknown>(names.length).fill(null),
    build: compileRecordBuilder(keys),
    startColumn: names.indexOf('start'),
    endColumn: names.indexOf('end'),
    origin,
    fromHeader,
  };
}


function parseFieldsOption(fields: string): string[] {
  // Accept the flow log's LogFormat string as AWS shows it (`${version} ${account-id} ...`).
  const tokens = splitOnWhitespace(fields).map((token) => (token.startsWith('${') && token.endsWith('}') ? token.slice(2, -1) : token));
  const bad = tokens.filter((token) => !isFieldNameShaped(token));
  if (tokens.length === 0 || bad.length > 0) {
    throw new SluiceError(
      tokens.length === 0
        ? 'vpcflow format: the `fields` option is empty'
        : `vpcflow format: the \`fields\` option has ${bad.map((t) => JSON.stringify(t)).join(', ')}, which ${bad.length === 1 ? 'is not a field name' : 'are not field names'}`,
      {
        code: 'VPCFLOW_BAD_FIELDS_OPTION',
        stage: 'config',
        hint: 'list the flow log\'s field names separated by spaces, as in its format string, e.g. "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"',
      },
    );
  }
  return tokens;
}

function truncateRaw(line: string): string {
  return line.length > MAX_RAW_LENGTH ? line.slice(0, MAX_RAW_LENGTH) : line;
}

function quoteValue(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}

/** The catalog's entry: `format: vpcflow` or `{ type: vpcflow, fields }`. */
export const vpcflowFormatComponent = defineFormat({
  type: 'vpcflow',
  schema: vpcflowFormatSchema,
  bareName: true,
  create: (config) => vpcflowFormat(config.fields === undefined ? {} : { fields: config.fields }),
});
