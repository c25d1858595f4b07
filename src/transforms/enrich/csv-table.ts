/**
 * CSV lookup tables (RFC 4180): a header row naming the columns, then one row per line; fields
 * separated by a delimiter (`,` by default); a field may be quoted with `"`, and then may hold
 * delimiters, line breaks and doubled quotes (`""` for one `"`). Line ends are LF or CRLF; a
 * leading UTF-8 BOM is dropped; empty lines are skipped; an empty field is null.
 *
 * Strictness, so that a broken table fails loudly instead of shifting columns: every row has the
 * header's field count, a quote may not appear inside an unquoted field, a closing quote must be
 * followed by a delimiter or a line end, and a quote left open fails with the line it opened on.
 * Every error names the file and the line (and the data row number).
 */
import { SluiceError } from '../../core/errors.js';
import type { LoadedTable } from './loaded-table.js';

const QUOTE = 34;
const LF = 10;
const CR = 13;

/**
 * Parses CSV text into a table. `file` is only used in messages.
 *
 * @example
 * parseCsvTable('id,name\ni-1,"web, 1"\n', 'tables/instances.csv').rows // [['i-1', 'web, 1']]
 */
export function parseCsvTable(text: string, file: string, delimiter = ','): LoadedTable {
  const sep = delimiter.charCodeAt(0);
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let columns: string[] | undefined;
  const rows: Array<Array<string | null>> = [];
  const rowLines: number[] = [];

  const fail = (message: string, at: number, hint: string): never => {
    const row = columns ? ` (row ${rows.length + 1})` : ' (header row)';
    throw new SluiceError(`${file} line ${at}${row}: ${message}`, { code: 'ENRICH_TABLE_BAD_ROW', stage: 'transform', hint });
  };

  while (i < n) {
    // Skip empty lines between rows.
    const c0 = text.charCodeAt(i);
    if (c0 === LF) {
      i++;
      line++;
      continue;
    }
    if (c0 === CR && text.charCodeAt(i + 1) === LF) {
      i += 2;
      line++;
      continue;
    }
    const rowLine = line;
    const fields: Array<string | null> = [];
    // One row: fields until a line end outside quotes, or the end of the text.
    for (;;) {
      let value: string;
      if (text.charCodeAt(i) === QUOTE) {
        const openedOn = line;
        let parts = '';
        let from = i + 1;
        let j = from;
        for (;;) {
          if (j >= n) fail(`a quoted field opened on line ${openedOn} is never closed`, openedOn, 'close the quote, or double the quotes inside the field ("")');
          const c = text.charCodeAt(j);
          if (c === QUOTE) {
            if (text.charCodeAt(j + 1) === QUOTE) {
              parts += text.slice(from, j + 1);
              j += 2;
              from = j;
              continue;
            }
            break;
          }
          if (c === LF) line++;
          j++;
        }
        value = parts + text.slice(from, j);
        i = j + 1;
        const after = i < n ? text.charCodeAt(i) : LF;
        if (after !== sep && after !== LF && !(after === CR && text.charCodeAt(i + 1) === LF)) {
          fail(`field ${fields.length + 1} has text after its closing quote`, line, 'quote the whole field, and double the quotes inside it ("")');
        }
      } else {
        const from = i;
        for (; i < n; i++) {
          const c = text.charCodeAt(i);
          if (c === sep || c === LF || (c === CR && text.charCodeAt(i + 1) === LF)) break;
          if (c === QUOTE) fail(`field ${fields.length + 1} has a quote but does not start with one`, line, 'quote the whole field, and double the quotes inside it ("")');
        }
        value = text.slice(from, i);
      }
      fields.push(value);
      if (i >= n) break;
      const c = text.charCodeAt(i);
      if (c === sep) {
        i++;
        continue;
      }
      // A line end closes the row.
      i += c === CR ? 2 : 1;
      line++;
      break;
    }

    if (!columns) {
      columns = checkHeader(fields as string[], file, rowLine);
      continue;
    }
    if (fields.length !== columns.length) {
      fail(
        `expected ${columns.length} fields as in the header, found ${fields.length}`,
        rowLine,
        'every row needs one value per header column (an empty value is written as nothing between two delimiters); quote values that contain the delimiter',
      );
    }
    for (let k = 0; k < fields.length; k++) if (fields[k] === '') fields[k] = null;
    rows.push(fields);
    rowLines.push(rowLine);
  }

  if (!columns) {
    throw new SluiceError(`${file}: the table is empty; expected a header row naming the columns`, {
      code: 'ENRICH_TABLE_EMPTY',
      stage: 'transform',
      hint: 'write the column names on the first line, e.g. "subnet_id,subnet_name,cidr"',
    });
  }
  return {
    columns,
    rows,
    describeRow: (index) => `${file} line ${rowLines[index]} (row ${index + 1})`,
  };
}

function checkHeader(names: string[], file: string, line: number): string[] {
  const seen = new Set<string>();
  names.forEach((name, index) => {
    if (name.trim() === '') {
      throw new SluiceError(`${file} line ${line} (header row): column ${index + 1} has no name`, {
        code: 'ENRICH_TABLE_BAD_HEADER',
        stage: 'transform',
        hint: 'the first line must name every column',
      });
    }
    if (seen.has(name)) {
      throw new SluiceError(`${file} line ${line} (header row): column "${name}" appears twice`, {
        code: 'ENRICH_TABLE_BAD_HEADER',
        stage: 'transform',
        hint: 'give every column a distinct name',
      });
    }
    seen.add(name);
  });
  return names;
}
