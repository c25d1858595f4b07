/**
 * The skeleton of the space-separated, fixed-column line formats (`alb`, `s3access`): a line is
 * split into fields, each documented field converted by the format into a row of value slots,
 * the field count checked, and the row built into one record.
 *
 * Invariants:
 * - Fields are separated by runs of spaces, tabs or CRs; leading and trailing ones are ignored. A
 *   field starting with `"` or `[` is offered to the format (`markedFieldEnd`), which says whether
 *   it opens a quoted or bracketed field in that column and where that ends; the text between
 *   the marks is the field. A closing mark must be followed by a separator or the line's end.
 * - A line becomes exactly one record or one rejection, decided in this order: a mark that is
 *   never closed (or closed before anything but a separator) rejects it; then fewer fields than
 *   the layout's minimum; then the first documented field the format cannot convert. Otherwise
 *   the record's missing fields are null, fields past the documented ones are kept as text in
 *   `extra_fields`, and its `time` is the epoch ms the format found (absent when it found none).
 *
 * Speed: one pass over the line's char codes finds each field and has the format convert it
 * (`store`) at once; `markedFieldEnd` is called only for fields that start with a mark; no regex.
 */
import type { Rejection, SluiceRecord } from '../record.js';
import { recordId } from '../record.js';
import { isSpace, quoteValue, truncateRaw, type LineParser } from './line-records.js';
import { compileRecordBuilder, type RecordBuilder } from './record-builder.js';

/** A documented field: its name in the format's documentation and the record keys it fills (one value slot each). */
export interface LineField {
  readonly name: string;
  readonly keys: readonly string[];
}

/** A format's columns, made once per format. */
export interface FieldLineLayout {
  /** Documented field names, in column order. */
  readonly names: readonly string[];
  /** First value slot of each field, then the slot count: field k fills slots firstSlot[k] .. firstSlot[k + 1] - 1. */
  readonly firstSlot: Int32Array;
  /** Fields a line must have. */
  readonly minFields: number;
  /** Rejection code of a line with fewer than `minFields` fields. */
  readonly fieldCountCode: string;
  /** One object literal per record, so every record of the format shares one hidden class. */
  readonly build: RecordBuilder;
}

export function fieldLineLayout(fields: readonly LineField[], minFields: number, fieldCountCode: string): FieldLineLayout {
  const firstSlot = new Int32Array(fields.length + 1);
  fields.forEach((field, k) => (firstSlot[k + 1] = firstSlot[k] + field.keys.length));
  return { names: fields.map((f) => f.name), firstSlot, minFields, fieldCountCode, build: compileRecordBuilder(fields.flatMap((f) => f.keys)) };
}

/** `markedFieldEnd`'s answer when the mark opens no quoted or bracketed field in that column: the field is a bare token. */
export const BARE_FIELD = -2;

const QUOTE = 34;
const LBRACKET = 91;
const DASH = 45;

/** Whether `line[from, to)` is `-`, which these logs write for a field that does not apply. */
export function isDash(line: string, from: number, to: number): boolean {
  return to - from === 1 && line.charCodeAt(from) === DASH;
}

export abstract class FieldLineParser implements LineParser {
  /** Scratch row filled for one line and consumed in the same synchronous call. */
  protected readonly values: unknown[];
  /** The current line's time in epoch ms, set by `store`; NaN: the record has no time. */
  protected epochMs = Number.NaN;
  private readonly fieldCount: number;
  /** The layout's builder, held here rather than read off the layout so the optimiser inlines it into `parse`. */
  private readonly build: RecordBuilder;

  constructor(
    private readonly object: string,
    private readonly idPrefix: string,
    private readonly layout: FieldLineLayout,
  ) {
    this.fieldCount = layout.names.length;
    this.build = layout.build;
    this.values = new Array<unknown>(layout.firstSlot[this.fieldCount]).fill(null);
  }

  /**
   * Converts documented field `column`, `line[from, to)` without its marks, into its value slots
   * (and `epochMs`); false when the text is not a value of that field.
   */
  protected abstract store(line: string, from: number, to: number, column: number): boolean;

  /** Why field `column` could not be read: the rejection code and what the field must be (`must be an integer or "-"`). */
  protected abstract badValue(column: number): { code: string; expected: string };

  /**
   * The index of the mark closing the field that `line[open]` (a `"` or `[`) opens in `column`,
   * -1 when nothing closes it, or BARE_FIELD when that char opens no marked field there.
   */
  protected abstract markedFieldEnd(line: string, open: number, column: number): number;

  /**
   * The rejection of a line whose field `column` opens a mark at `open` that is never closed
   * (`close` is -1) or closed at `close` by a mark followed by something other than a separator.
   * The reason follows `line N: `.
   */
  protected abstract badMark(line: string, open: number, close: number, column: number): { code: string; reason: string };

  /**
   * One pass: find each field, convert it, remember the first field that cannot be read, and
   * count fields to the end so that a wrong field count (the more basic problem) is reported in
   * preference to a bad value.
   */
  parse(line: string, from: number, lineNumber: number, records: SluiceRecord[], rejects: Rejection[]): void {
    const fieldCount = this.fieldCount;
    const n = line.length;
    let column = 0;
    let i = from;
    let extra: string[] | undefined;
    let errorColumn = -1;
    let errorFrom = 0;
    let errorTo = 0;
    this.epochMs = Number.NaN;

    while (i < n) {
      let fieldFrom: number;
      let fieldTo: number;
      const c = line.charCodeAt(i);
      const close = c === QUOTE || c === LBRACKET ? this.markedFieldEnd(line, i, column) : BARE_FIELD;
      if (close === BARE_FIELD) {
        fieldFrom = i;
        while (i < n && !isSpace(line.charCodeAt(i))) i++;
        fieldTo = i;
      } else if (close === -1 || (close + 1 < n && !isSpace(line.charCodeAt(close + 1)))) {
        const { code, reason } = this.badMark(line, i, close, column);
        this.reject(rejects, lineNumber, line, code, `line ${lineNumber}: ${reason}`);
        return;
      } else {
        fieldFrom = i + 1;
        fieldTo = close;
        i = close + 1;
      }

      if (column >= fieldCount) {
        (extra ??= []).push(line.slice(fieldFrom, fieldTo));
      } else if (errorColumn === -1 && !this.store(line, fieldFrom, fieldTo, column)) {
        errorColumn = column;
        errorFrom = fieldFrom;
        errorTo = fieldTo;
      }
      column++;
      while (i < n && isSpace(line.charCodeAt(i))) i++;
    }

    const layout = this.layout;
    if (column < layout.minFields) {
      const required = `${layout.names[0]} … ${layout.names[layout.minFields - 1]}`;
      this.reject(rejects, lineNumber, line, layout.fieldCountCode, `line ${lineNumber}: expected at least ${layout.minFields} fields (${required}; newer lines have up to ${fieldCount}) but found ${column}`);
      return;
    }
    if (errorColumn !== -1) {
      const { code, expected } = this.badValue(errorColumn);
      this.reject(rejects, lineNumber, line, code, `line ${lineNumber}: ${this.fieldName(errorColumn)} ${expected}, found ${quoteValue(line.slice(errorFrom, errorTo))}`);
      return;
    }
    if (column < fieldCount) this.values.fill(null, layout.firstSlot[column]);

    const fields = this.build(this.values);
    if (extra !== undefined) fields.extra_fields = extra;
    const id = recordId(this.idPrefix, lineNumber);
    const origin = { object: this.object, line: lineNumber };
    records.push(Number.isNaN(this.epochMs) ? { id, origin, fields } : { id, origin, time: this.epochMs, fields });
  }

  /** `field "name" (field 3)`, or `field 40` past the documented fields. */
  protected fieldName(column: number): string {
    return column < this.fieldCount ? `field "${this.layout.names[column]}" (field ${column + 1})` : `field ${column + 1}`;
  }

  private reject(rejects: Rejection[], lineNumber: number, line: string, code: string, reason: string): void {
    rejects.push({ origin: { object: this.object, line: lineNumber }, code, reason, raw: truncateRaw(line) });
  }
}
