/**
 * Writing compacted lake files with DuckDB: read Parquet files (leaving out the rows of given
 * record-id prefixes), sort, `COPY … TO parquet` with the list of inputs in the key-value
 * metadata, and check the row count. Loaded on demand (compacted-file.ts), never at startup.
 *
 * Why this order: per-host questions match `src_endpoint.ip = X OR dst_endpoint.ip = X`, and one
 * sort order can only cluster one key. Sorting by the unordered endpoint pair (the lower address,
 * then the higher, then time) puts every flow between X and a peer P in one run, whichever side
 * logged it and whichever way it went: X's rows sit in X's run plus one short run per lower peer,
 * so a filter on either column skips most row groups (DuckDB skips a row group by its min/max
 * and by its dictionary). Classes without both endpoint addresses are sorted by time. The record
 * id comes last, so rows that tie on everything else still come out in one order: the same
 * inputs give the same file. Columns, their names, order and types stay those of the inputs, so
 * every view reads the compacted file like the files it replaces.
 */
import { open } from 'node:fs/promises';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { SluiceError } from '../../core/errors.js';

/** The record-id column (compacted-file.ts names it too; this file is loaded apart from it). */
const ID_COLUMN = '_id';

export interface CompactionDb {
  connection: DuckDBConnection;
  close(): void;
}

/** An in-memory DuckDB whose sorts spill to `spillDir` (never to the lake). */
export async function openCompactionDb(options: { threads?: number; memoryLimit?: string; spillDir: string }): Promise<CompactionDb> {
  const config: Record<string, string> = {};
  if (options.threads) config['threads'] = String(options.threads);
  if (options.memoryLimit) config['memory_limit'] = options.memoryLimit;
  const instance = await DuckDBInstance.create(':memory:', config);
  const connection = await instance.connect();
  await connection.run(`SET temp_directory = ${sqlString(options.spillDir)}`);
  return {
    connection,
    close: () => {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function readFile(file: string): string {
  return `read_parquet(${sqlString(file)}, hive_partitioning = false)`;
}

/** The id prefix of `_id` in SQL (everything before the last '-'). */
const ID_PREFIX_SQL = `regexp_extract("${ID_COLUMN}", '^(.*)-[^-]*$', 1)`;

export interface ParquetFileFacts {
  rows: number;
  /** Distinct id prefixes of its rows, or undefined when it has no `_id` column. */
  idPrefixes: string[] | undefined;
}

/** Row count and id prefixes of one Parquet file. */
export async function factsOf(connection: DuckDBConnection, file: string): Promise<ParquetFileFacts> {
  const columns = await columnsOf(connection, readFile(file));
  const [row] = (await connection.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM ${readFile(file)}`)).getRowObjectsJson();
  const rows = Number(row?.n ?? 0);
  if (!columns.has(ID_COLUMN)) return { rows, idPrefixes: undefined };
  const prefixes = (await connection.runAndReadAll(`SELECT DISTINCT ${ID_PREFIX_SQL} AS p FROM ${readFile(file)} WHERE "${ID_COLUMN}" IS NOT NULL ORDER BY 1`)).getRowObjectsJson();
  return { rows, idPrefixes: prefixes.map((r) => String(r.p)) };
}

async function columnsOf(connection: DuckDBConnection, source: string): Promise<Map<string, string>> {
  const rows = (await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`)).getRowObjectsJson();
  return new Map(rows.map((r) => [String(r.column_name), String(r.column_type)]));
}

/** Sort key (see the file comment). */
function sortKeyFor(columns: Map<string, string>): string {
  const has = (column: string, field: string) => new RegExp(`(^STRUCT\\(|, )"?${field}"? VARCHAR`).test(columns.get(column) ?? '');
  const keys: string[] = [];
  if (has('src_endpoint', 'ip') && has('dst_endpoint', 'ip')) keys.push('least(src_endpoint.ip, dst_endpoint.ip)', 'greatest(src_endpoint.ip, dst_endpoint.ip)');
  if (columns.has('time')) keys.push('time');
  if (columns.has(ID_COLUMN)) keys.push(`"${ID_COLUMN}"`);
  return keys.join(', ');
}

export interface CompactedSource {
  file: string;
  /** Leave out the rows whose record id has one of these prefixes. */
  dropIdPrefixes?: readonly string[];
}

/**
 * Writes the rows of `sources` (less the dropped ones), sorted, to `out`, with `metadata` as its
 * key-value metadata; fsyncs it. Fails, leaving `out` to the caller to discard, when the rows written are
 * not the rows read.
 */
export async function writeCompactedFile(
  connection: DuckDBConnection,
  options: { sources: readonly CompactedSource[]; out: string; metadata: Readonly<Record<string, string>>; rowGroupRows: number; where: string },
): Promise<{ rows: number; droppedRows: number }> {
  let expected = 0;
  let droppedRows = 0;
  const selects: string[] = [];
  for (const source of options.sources) {
    const [row] = (await connection.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM ${readFile(source.file)}`)).getRowObjectsJson();
    expected += Number(row?.n ?? 0);
    if (source.dropIdPrefixes && source.dropIdPrefixes.length > 0) {
      const list = `[${source.dropIdPrefixes.map(sqlString).join(', ')}]`;
      const dropped = `"${ID_COLUMN}" IS NOT NULL AND list_contains(${list}, ${ID_PREFIX_SQL})`;
      const [gone] = (await connection.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM ${readFile(source.file)} WHERE ${dropped}`)).getRowObjectsJson();
      droppedRows += Number(gone?.n ?? 0);
      selects.push(`SELECT * FROM ${readFile(source.file)} WHERE NOT (${dropped})`);
    } else {
      selects.push(`SELECT * FROM ${readFile(source.file)}`);
    }
  }
  expected -= droppedRows;
  if (expected === 0) return { rows: 0, droppedRows };
  const union = `(${selects.join(' UNION ALL BY NAME ')})`;
  const columns = await columnsOf(connection, union);
  const select = [...columns.keys()].map((c) => `"${c.replaceAll('"', '""')}"`).join(', ');
  const sortKey = sortKeyFor(columns);
  const metadata = Object.entries(options.metadata).map(([k, v]) => `${sqlString(k)}: ${sqlString(v)}`).join(', ');
  await connection.run(
    `COPY (SELECT ${select} FROM ${union} ${sortKey ? `ORDER BY ${sortKey}` : ''}) TO ${sqlString(options.out)}
     (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE ${options.rowGroupRows}, KV_METADATA {${metadata}})`,
  );
  const [written] = (await connection.runAndReadAll(`SELECT coalesce(sum(num_rows), 0)::BIGINT AS n FROM parquet_file_metadata(${sqlString(options.out)})`)).getRowObjectsJson();
  if (Number(written?.n ?? -1) !== expected) {
    throw new SluiceError(`lake ${options.where}: the new compacted file holds ${Number(written?.n)} rows, its inputs ${expected}`, {
      code: 'LAKE_COMPACT_MISMATCH',
      stage: 'sink',
      retryable: true,
      hint: 'nothing was changed (the inputs are in place); check the disk and retry',
    });
  }
  const handle = await open(options.out, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { rows: expected, droppedRows };
}
