/**
 * Loads one configured table, from a file (CSV or JSON) or a SQL query, into rows.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { SluiceError } from '../../core/errors.js';
import type { EnrichTableConfig } from './config.js';
import { parseCsvTable } from './csv-table.js';
import { parseJsonTable } from './json-table.js';
import type { LoadedTable } from './loaded-table.js';
import { loadSqlTable } from './sql-table.js';

/** Reads the table named `name` as its config says. */
export async function loadTable(name: string, table: EnrichTableConfig): Promise<LoadedTable> {
  if (table.sql !== undefined) return loadSqlTable({ table: name, sql: table.sql, url: table.url! });
  const file = table.file!;
  const format = table.format ?? formatFromExtension(name, file);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new SluiceError(`enrich table "${name}": cannot read ${file} (${code})`, {
      code: 'ENRICH_TABLE_UNREADABLE',
      stage: 'transform',
      hint: 'check the path (relative paths are relative to the pipeline file) and that this user may read it',
    });
  }
  if (format === 'csv') return parseCsvTable(text, file, table.delimiter ?? (path.extname(file).toLowerCase() === '.tsv' ? '\t' : ','));
  return parseJsonTable(text, file, format);
}

function formatFromExtension(name: string, file: string): 'csv' | 'json' | 'ndjson' {
  const extension = path.extname(file).toLowerCase();
  if (extension === '.csv' || extension === '.tsv') return 'csv';
  if (extension === '.json') return 'json';
  if (extension === '.ndjson' || extension === '.jsonl') return 'ndjson';
  throw new SluiceError(`enrich table "${name}": cannot tell the format of ${file} from its extension`, {
    code: 'ENRICH_TABLE_FORMAT',
    stage: 'config',
    hint: 'add `format: csv`, `format: json` or `format: ndjson` to the table',
  });
}
