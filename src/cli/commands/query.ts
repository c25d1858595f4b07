/**
 * `sluice query "SQL"`: SQL over the Parquet lake with DuckDB. The lake's views are named after
 * OCSF classes (`network_activity`, `api_activity`, …) and flat source folders (`flows`); run it
 * without SQL to list them. Output as an aligned table, CSV or JSON; `--explain` prints the plan.
 */
import path from 'node:path';
import { SluiceError } from '../../core/errors.js';
import { openLake, type Lake } from '../../lake/catalog.js';
import { DEMO_LAKE } from '../demo-paths.js';

export interface QueryFlags {
  lake: string;
  format: 'table' | 'csv' | 'json';
  explain?: boolean;
  maxRows?: number;
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function tableCell(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > 60 ? `${flat.slice(0, 59)}…` : flat;
}

export function formatTable(columns: string[], rows: unknown[][]): string {
  const cells = rows.map((r) => r.map(tableCell));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const numeric = columns.map((_, i) => cells.length > 0 && rows.every((r) => r[i] === null || typeof r[i] === 'number' || (typeof r[i] === 'string' && /^-?\d+(\.\d+)?$/.test(r[i] as string))));
  const line = (r: string[]) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(columns), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n') + '\n';
}

async function runQuery(lake: Lake, sql: string): Promise<{ columns: string[]; rows: unknown[][]; objects: Record<string, unknown>[] }> {
  try {
    const reader = await lake.connection.runAndReadAll(sql);
    return { columns: reader.columnNames(), rows: reader.getRowsJson() as unknown[][], objects: reader.getRowObjectsJson() };
  } catch (err) {
    const views = lake.tables().map((t) => t.name);
    throw new SluiceError(`query failed: ${(err as Error).message}`, {
      code: 'QUERY_FAILED',
      stage: 'read',
      hint: views.length ? `the lake's views: ${views.join(', ')}` : `no Parquet files under ${lake.root} (run sluice demo, or pass --lake)`,
      cause: err,
    });
  }
}

export async function queryCommand(sql: string | undefined, flags: QueryFlags): Promise<void> {
  const lake = await openLake(path.resolve(flags.lake || DEMO_LAKE));
  try {
    if (sql === undefined || sql.trim() === '') {
      const tables = lake.tables();
      if (tables.length === 0) {
        process.stdout.write(`no Parquet files under ${lake.root}\n`);
        return;
      }
      process.stdout.write(formatTable(['view', 'ocsf_class', 'files', 'bytes', 'partitions'], tables.map((t) => [t.name, t.classUid, t.files, t.bytes, t.hive ? 'region, accountId, eventDay' : ''])));
      return;
    }
    if (flags.explain) {
      const plan = await runQuery(lake, `EXPLAIN ${sql}`);
      for (const row of plan.objects) process.stdout.write(`${String(row.explain_value ?? Object.values(row).pop())}\n`);
      return;
    }
    const started = performance.now();
    const result = await runQuery(lake, sql);
    const ms = performance.now() - started;
    const max = flags.maxRows ?? Infinity;
    const rows = result.rows.slice(0, max);
    if (flags.format === 'json') process.stdout.write(`${JSON.stringify(result.objects.slice(0, max), null, 2)}\n`);
    else if (flags.format === 'csv') process.stdout.write([result.columns.map(csvCell).join(','), ...rows.map((r) => r.map(csvCell).join(','))].join('\r\n') + '\r\n');
    else {
      process.stdout.write(formatTable(result.columns, rows));
      process.stderr.write(`${result.rows.length} row(s) in ${ms.toFixed(0)} ms${rows.length < result.rows.length ? ` (first ${rows.length} shown)` : ''}\n`);
    }
  } finally {
    lake.close();
  }
}
