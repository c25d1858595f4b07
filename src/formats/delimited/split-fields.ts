/**
 * Splits one delimited record into its fields. Two modes:
 * - a delimiter string (`,`, `|`, a tab, `::`): fields are between delimiters, CSV style; a field
 *   that starts with the quote is quoted, `""` inside it is one quote, and it ends at a quote
 *   followed by the delimiter or the end of the record;
 * - whitespace (`delimiter: " "` or `whitespace`): runs of spaces and tabs separate fields, leading
 *   and trailing ones are ignored; a quoted field ends at a quote followed by whitespace or the
 *   end (S3 access logs do not escape quotes inside quoted fields), and with `brackets` a field
 *   opening with `[` runs to the `]` followed by whitespace or the end, spaces included (the
 *   framework's `source_log_ts_and_delimiter_as_whitespaces`: `[06/Feb/2019:00:00:38 +0000]`).
 * Quotes and brackets are removed from the field's value.
 */

export interface SplitOptions {
  /** The delimiter, or null for runs of whitespace. */
  delimiter: string | null;
  /** Quote character, or null for none. */
  quote: string | null;
  /** `[...]` is one field (whitespace mode and delimiter mode alike). */
  brackets: boolean;
}

export type SplitResult = { fields: string[] } | { error: string };

const SPACE = 32;
const TAB = 9;

function isBlank(code: number): boolean {
  return code === SPACE || code === TAB;
}

/**
 * @example
 * splitFields('a "b c" [d e]', { delimiter: null, quote: '"', brackets: true }) // { fields: ['a', 'b c', 'd e'] }
 */
export function splitFields(text: string, options: SplitOptions): SplitResult {
  return options.delimiter === null ? splitWhitespace(text, options) : splitDelimited(text, options.delimiter, options);
}

function splitWhitespace(text: string, options: SplitOptions): SplitResult {
  const fields: string[] = [];
  const n = text.length;
  const quote = options.quote;
  let i = 0;
  for (;;) {
    while (i < n && isBlank(text.charCodeAt(i))) i++;
    if (i >= n) return { fields };
    const c = text[i]!;
    const close = c === quote ? quote : options.brackets && c === '[' ? ']' : null;
    if (close !== null) {
      let j = i + 1;
      for (;;) {
        j = text.indexOf(close, j);
        if (j === -1) return { error: `field ${fields.length + 1} opens ${close === ']' ? 'a bracket' : 'a quote'} at column ${i + 1} that is never closed (a closing ${close} followed by whitespace or the end)` };
        if (j + 1 >= n || isBlank(text.charCodeAt(j + 1))) break;
        j++;
      }
      fields.push(text.slice(i + 1, j));
      i = j + 1;
      continue;
    }
    let j = i;
    while (j < n && !isBlank(text.charCodeAt(j))) j++;
    fields.push(text.slice(i, j));
    i = j;
  }
}

function splitDelimited(text: string, delimiter: string, options: SplitOptions): SplitResult {
  const fields: string[] = [];
  const n = text.length;
  const quote = options.quote;
  const dl = delimiter.length;
  let i = 0;
  for (;;) {
    const c = text[i];
    const close = c !== undefined && c === quote ? quote : options.brackets && c === '[' ? ']' : null;
    if (close !== null) {
      let value = '';
      let j = i + 1;
      for (;;) {
        const k = text.indexOf(close, j);
        if (k === -1) return { error: `field ${fields.length + 1} opens ${close === ']' ? 'a bracket' : 'a quote'} at column ${i + 1} that is never closed` };
        if (close === quote && text[k + 1] === quote) {
          // "" inside a quoted field is one quote.
          value += text.slice(j, k + 1);
          j = k + 2;
          continue;
        }
        if (k + 1 === n || text.startsWith(delimiter, k + 1)) {
          value += text.slice(j, k);
          fields.push(value);
          if (k + 1 === n) return { fields };
          i = k + 1 + dl;
          break;
        }
        return { error: `field ${fields.length + 1}: the ${close === ']' ? 'bracket' : 'quote'} closed at column ${k + 1} is followed by "${text[k + 1]}", not the delimiter` };
      }
      if (i === n) {
        fields.push('');
        return { fields };
      }
      continue;
    }
    const k = text.indexOf(delimiter, i);
    if (k === -1) {
      fields.push(text.slice(i));
      return { fields };
    }
    fields.push(text.slice(i, k));
    i = k + dl;
  }
}
