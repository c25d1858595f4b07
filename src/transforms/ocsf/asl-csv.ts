/**
 * A small RFC 4180 reader for the Security Lake ETL framework's configuration CSVs (mapping and
 * metadata files). Config files are small, so a file is read whole. Quoted cells may hold commas,
 * newlines and `""`; unquoted cells are trimmed (spreadsheets add stray spaces); a leading byte-order mark
 * is dropped. Each row keeps the 1-based line it starts on, which is what every message names.
 */
import { readFileSync } from 'node:fs';
import { SluiceError } from '../../core/errors.js';

export interface CsvRow {
  /** 1-based line of the file where the row starts (the header is line 1). */
  line: number;
  cells: string[];
}

/** Reads a CSV file, or throws a config error naming the file. */
export function readCsvFile(file: string, what: string): CsvRow[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SluiceError(`cannot read the ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      code: 'ASL_FILE_UNREADABLE',
      stage: 'config',
      hint: `pass the path of the ${what}`,
    });
  }
  return parseCsv(text, file);
}

/**
 * @example
 * parseCsv('a,b\n"x, y",z\n', 'm.csv') // [{ line: 1, cells: ['a', 'b'] }, { line: 2, cells: ['x, y', 'z'] }]
 */
export function parseCsv(text: string, file: string): CsvRow[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const rows: CsvRow[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const rowLine = line;
    const cells: string[] = [];
    for (;;) {
      let cell = '';
      let quoted = false;
      // Leading spaces before a quote are allowed (`a, "b"`).
      let j = i;
      while (j < n && (text[j] === ' ' || text[j] === '\t')) j++;
      if (text[j] === '"') {
        quoted = true;
        j++;
        for (;;) {
          const q = text.indexOf('"', j);
          if (q === -1) {
            throw new SluiceError(`${file} line ${rowLine}: a quoted cell is never closed`, {
              code: 'ASL_CSV_SYNTAX',
              stage: 'config',
              hint: 'close the quote; a quote inside a quoted cell is written ""',
            });
          }
          const chunk = text.slice(j, q);
          for (const ch of chunk) if (ch === '\n') line++;
          cell += chunk;
          if (text[q + 1] === '"') {
            cell += '"';
            j = q + 2;
            continue;
          }
          j = q + 1;
          break;
        }
        while (j < n && text[j] !== ',' && text[j] !== '\n' && text[j] !== '\r') {
          if (text[j] !== ' ' && text[j] !== '\t') {
            throw new SluiceError(`${file} line ${line}: text after a closing quote ("${text.slice(j, j + 10)}")`, {
              code: 'ASL_CSV_SYNTAX',
              stage: 'config',
              hint: 'quote the whole cell; a quote inside a quoted cell is written ""',
            });
          }
          j++;
        }
      } else {
        const end = nextBreak(text, j);
        cell = text.slice(j, end);
        j = end;
      }
      // A quoted cell is kept as written (a delimiter cell of " " is one space).
      cells.push(quoted ? cell : cell.trim());
      i = j;
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '\r') i++;
      if (text[i] === '\n') {
        i++;
        line++;
      }
      break;
    }
    if (!(cells.length === 1 && cells[0] === '')) rows.push({ line: rowLine, cells });
  }
  return rows;
}

function nextBreak(text: string, from: number): number {
  for (let k = from; k < text.length; k++) {
    const c = text[k];
    if (c === ',' || c === '\n' || c === '\r') return k;
  }
  return text.length;
}
