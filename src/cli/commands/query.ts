/**
 * `sluice query "SQL"`: SQL over the Parquet lake with DuckDB. The lake's views are named after
 * the OCSF classes and flat source folders it holds (view-names.ts); without SQL it lists them
 * with their row counts and columns, and `--describe <view>` prints every nested field. Output as
 * an aligned table, CSV or JSON; `--explain` prints the plan.
 */
import { DuckDBTypeId, JsonDuckDBValueConverter, type DuckDBValueConverter, type Json } from '@duckdb/node-api';
import { SluiceError } from '../../core/errors.js';
import { describeView, openLake, type Lake, type ViewDescription } from '../../lake/catalog.js';
import { locateLake } from '../default-paths.js';

export interface QueryFlags {
  config?: string;
  lake?: string;
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  cache?: string;
  describe?: string;
  format: 'table' | 'csv' | 'json';
  explain?: boolean;
  maxRows?: number;
}

const WHOLE_NUMBER_TYPES: ReadonlySet<DuckDBTypeId> = new Set([DuckDBTypeId.BIGINT, DuckDBTypeId.UBIGINT, DuckDBTypeId.HUGEINT, DuckDBTypeId.UHUGEINT]);
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * DuckDB's JSON conversion, except that 64- and 128-bit integers are JSON numbers when a
 * JavaScript reader can hold them exactly (|n| ≤ 2^53 − 1), and strings only beyond that: counts
 * and ports stay numbers, nested ones too.
 */
export const jsonWithNumbers: DuckDBValueConverter<Json> = (value, type, converter) => {
  if (typeof value === 'bigint' && WHOLE_NUMBER_TYPES.has(type.typeId)) return value >= -SAFE && value <= SAFE ? Number(value) : value.toString();
  return JsonDuckDBValueConverter(value, type, converter);
};

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
    return { columns: reader.columnNames(), rows: reader.getRowsJson() as unknown[][], objects: reader.convertRowObjects(jsonWithNumbers) };
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

/** Words joined with `sep`, wrapped at `width` characters, each line starting with `indent`. */
function wrap(words: string[], sep: string, indent: string, width = 100): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    const next = line ? `${line}${sep}${word}` : word;
    if (line && indent.length + next.length > width) {
      lines.push(`${indent}${line}${sep.trimEnd()}`);
      line = word;
    } else line = next;
  }
  if (line) lines.push(`${indent}${line}`);
  return lines;
}

/** Rows missing because a compaction was interrupted: say so rather than answer short without a word. */
export function warnInterrupted(lake: Lake): void {
  const folders = lake.interrupted();
  if (folders.length === 0) return;
  process.stderr.write(
    `warning: a compaction was interrupted in ${folders.length} folder(s) of ${lake.root} (${folders.slice(0, 3).join(', ')}${folders.length > 3 ? ', …' : ''}): their inputs' rows are missing until \`sluice compact\` finishes it\n`,
  );
}

/** Every view with its row count, then each view's top-level columns. */
async function listViews(lake: Lake): Promise<string> {
  const tables = lake.tables();
  if (tables.length === 0) return `no Parquet files under ${lake.root}: no views yet (a files sink with format: parquet writes them)\n`;
  const described: ViewDescription[] = [];
  for (const t of tables) described.push(await describeView(lake, t.name));
  const out = [
    `lake ${lake.root}`,
    formatTable(
      ['view', 'ocsf_class', 'rows', 'files', 'bytes', 'partitions'],
      tables.map((t, i) => [t.name, t.classUid, described[i]!.rows, t.files, t.bytes, t.hive ? 'region, accountId, eventDay' : '']),
    ).trimEnd(),
  ];
  for (const d of described) {
    out.push('', `${d.name} columns:`, ...wrap(d.columns.filter((c) => c.depth === 0).map((c) => `${c.path} ${c.type}`), ', ', '  '));
  }
  out.push('', 'nested fields: sluice query --describe <view>');
  return `${out.join('\n')}\n`;
}

/** A view's columns one per line, struct fields indented under their struct, types whole. */
function formatDescription(d: ViewDescription, root: string): string {
  const width = Math.max(...d.columns.map((c) => c.depth * 2 + c.path.length));
  const lines = d.columns.map((c) => `  ${' '.repeat(c.depth * 2)}${c.path.padEnd(width - c.depth * 2)}  ${c.type}`);
  return [`${d.name}: ${d.rows} rows in ${root}`, ...lines, ''].join('\n');
}

export async function queryCommand(sql: string | undefined, flags: QueryFlags): Promise<void> {
  const found = locateLake(flags);
  const lake = await openLake(found.value, { s3: found.s3, cacheDir: flags.cache });
  try {
    warnInterrupted(lake);
    if (flags.describe !== undefined) {
      process.stdout.write(formatDescription(await describeView(lake, flags.describe), lake.root));
      return;
    }
    if (sql === undefined || sql.trim() === '') {
      process.stdout.write(await listViews(lake));
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
