/**
 * JSON lookup tables: either one array of objects (`[{"vpc_id": "vpc-1", ...}, ...]`) or NDJSON
 * (one object per line). The columns are the keys of all objects, in first-seen order; a key an
 * object lacks is null there. Values are kept as JSON gives them (strings, numbers, booleans,
 * nested objects). Errors name the file and the line (NDJSON) or array element.
 */
import { SluiceError } from '../../core/errors.js';
import type { LoadedTable } from './loaded-table.js';

export type JsonTableLayout = 'json' | 'ndjson';

/**
 * Parses a JSON or NDJSON table. With layout 'json', text starting with `[` is an array and
 * anything else is read as NDJSON (many `.json` exports are in fact one object per line).
 *
 * @example
 * parseJsonTable('{"id":"vpc-1","name":"prod"}\n', 'vpcs.ndjson', 'ndjson').rows // [['vpc-1', 'prod']]
 */
export function parseJsonTable(text: string, file: string, layout: JsonTableLayout): LoadedTable {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const firstChar = body.trimStart()[0];
  if (layout === 'json' && firstChar === '[') return fromArray(body, file);
  if (firstChar === undefined) {
    throw new SluiceError(`${file}: the table is empty`, {
      code: 'ENRICH_TABLE_EMPTY',
      stage: 'transform',
      hint: 'write a JSON array of objects, or one JSON object per line',
    });
  }
  return fromLines(body, file);
}

function fromArray(text: string, file: string): LoadedTable {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const where = locateArrayError(text);
    throw new SluiceError(
      `${file}${where ? ` line ${where.line} (element ${where.element})` : ''}: not valid JSON (${shortJsonMessage((err as Error).message)})`,
      {
        code: 'ENRICH_TABLE_BAD_ROW',
        stage: 'transform',
        hint: 'fix the JSON syntax at that place (a JSON linter shows it too)',
      },
    );
  }
  if (!Array.isArray(parsed)) {
    throw new SluiceError(`${file}: expected a JSON array of objects`, { code: 'ENRICH_TABLE_BAD_ROW', stage: 'transform', hint: 'wrap the rows in [ ... ]' });
  }
  const objects = parsed.map((element, index) => {
    if (!isPlainObject(element)) {
      throw new SluiceError(`${file} element ${index + 1} (row ${index + 1}): expected an object, found ${describeJsonValue(element)}`, {
        code: 'ENRICH_TABLE_BAD_ROW',
        stage: 'transform',
        hint: 'every element of the array must be an object of column: value',
      });
    }
    return element;
  });
  return toTable(objects, (index) => `${file} element ${index + 1} (row ${index + 1})`);
}

function fromLines(text: string, file: string): LoadedTable {
  const objects: Array<Record<string, unknown>> = [];
  const lines: number[] = [];
  let lineNumber = 0;
  for (const raw of text.split('\n')) {
    lineNumber++;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new SluiceError(`${file} line ${lineNumber} (row ${objects.length + 1}): not valid JSON (${(err as Error).message})`, {
        code: 'ENRICH_TABLE_BAD_ROW',
        stage: 'transform',
        hint: 'write one JSON object per line, or a JSON array of objects in a .json file',
      });
    }
    if (!isPlainObject(value)) {
      throw new SluiceError(`${file} line ${lineNumber} (row ${objects.length + 1}): expected a JSON object, found ${describeJsonValue(value)}`, {
        code: 'ENRICH_TABLE_BAD_ROW',
        stage: 'transform',
        hint: 'write one JSON object per line',
      });
    }
    objects.push(value);
    lines.push(lineNumber);
  }
  return toTable(objects, (index) => `${file} line ${lines[index]} (row ${index + 1})`);
}

function toTable(objects: Array<Record<string, unknown>>, describeRow: (index: number) => string): LoadedTable {
  const columnIndex = new Map<string, number>();
  for (const object of objects) for (const key of Object.keys(object)) if (!columnIndex.has(key)) columnIndex.set(key, columnIndex.size);
  const columns = [...columnIndex.keys()];
  const rows = objects.map((object) => {
    const row: unknown[] = new Array(columns.length).fill(null);
    for (const key of Object.keys(object)) {
      const value = object[key];
      row[columnIndex.get(key)!] = value === undefined || value === '' ? null : value;
    }
    return row;
  });
  return { columns, rows, describeRow };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeJsonValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** V8 quotes the whole input in some messages; keep only the reason. */
function shortJsonMessage(message: string): string {
  const quoted = message.indexOf(', "');
  const reason = quoted > 0 && message.endsWith('is not valid JSON') ? message.slice(0, quoted) : message;
  return reason.length > 200 ? `${reason.slice(0, 200)}…` : reason;
}

/**
 * Finds the first array element that does not parse, with the line it starts on, by splitting
 * the top-level array at commas outside strings and brackets. Undefined when every element
 * parses (the error is in the array's own brackets) or the text is not an array.
 */
function locateArrayError(text: string): { element: number; line: number } | undefined {
  let depth = 0;
  let inString = false;
  let line = 1;
  let start = -1;
  let startLine = 1;
  let element = 0;
  const check = (end: number): { element: number; line: number } | undefined => {
    const slice = text.slice(start, end);
    if (slice.trim() === '') return undefined;
    element++;
    try {
      JSON.parse(slice);
      return undefined;
    } catch {
      // The element starts after the whitespace that follows the comma.
      const lead = slice.length - slice.trimStart().length;
      let at = startLine;
      for (let i = 0; i < lead; i++) if (slice.charCodeAt(i) === 10) at++;
      return { element, line: at };
    }
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') line++;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      depth++;
      if (depth === 1 && c === '[' && start < 0) {
        start = i + 1;
        startLine = line;
      }
    } else if (c === ']' || c === '}') {
      if (depth === 1 && start >= 0) return check(i);
      depth--;
    } else if (c === ',' && depth === 1 && start >= 0) {
      const found = check(i);
      if (found) return found;
      start = i + 1;
      startLine = line;
    }
  }
  return start >= 0 ? check(text.length) : undefined;
}
