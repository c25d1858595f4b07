/**
 * Lake compaction: rewrites the Parquet files of one OCSF class in one Security Lake partition
 * folder (`region=/accountId=/eventDay=`) into one file, `sluice-compacted-class<uid>-0000.parquet`,
 * with its rows sorted so that "all flows of one IP" reads a few row groups instead of every one.
 *
 * Why this order: the question matches `src_endpoint.ip = X OR dst_endpoint.ip = X`, and one sort
 * order can only cluster one key. Sorting by the unordered endpoint pair (the lower address, then
 * the higher, then time) puts every flow between X and a peer P in one run, whichever side logged
 * it and whichever way it went: X's rows sit in X's run plus one short run per lower peer, so a
 * filter on either column skips most row groups (DuckDB skips a row group by its min/max and by
 * its dictionary). Classes without both endpoint addresses are sorted by time. Row groups are
 * small (16,384 rows by default) so skipping is fine-grained. DuckDB does the rewrite (read,
 * sort, `COPY … TO parquet`); the columns, their names, order and types stay those of the input,
 * so the lake's views and every query read the compacted file like the files it replaces.
 *
 * Invariants (one compaction at a time per lake; `sluice run` into the same folders should not
 * run at the same time, see the last point):
 * - Never loses a row: the new file is written aside (a hidden temp name the catalog and the
 *   sources skip), its row count checked against the inputs, fsync'd, and only then renamed over
 *   the compacted name; the inputs are deleted after the rename. A crash before the rename leaves
 *   the inputs as they were (the next run deletes the temp file); a crash after it leaves inputs
 *   that the compacted file already holds, which the next run recognises and deletes.
 * - The compacted file names its inputs (name and size, in its key-value metadata
 *   `sluice.compacted_from`, cumulative over compactions). An input found again under a listed
 *   name and size is already inside (an interrupted run, or a unit re-run that wrote the same
 *   bytes, as the files sink does for the same input and config): it is deleted, not added twice.
 *   An input found again under a listed name but with other bytes (a unit re-run after a config
 *   change) replaces its earlier rows: rows of the compacted file whose record id (`_id`) the new
 *   file holds are dropped (rows whose id the new file no longer has are kept: ids cannot tell a
 *   row the new run dropped from one it never had). Without an id column that case is refused
 *   (nothing is changed).
 * - Idempotent: a folder holding only its compacted file is left alone (no rewrite).
 * - Between the rename and the deletion of the inputs (milliseconds), a reader can see the
 *   inputs' rows twice; between a crash there and the next compaction, too.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { SluiceError } from '../core/errors.js';
import { fsyncDirectory, removeFile, tempPathFor, TEMP_MARKER } from '../core/atomic-file.js';

/** The name stem of a compacted file (the class tag and part number follow, as the catalog expects). */
export const COMPACTED_STEM = 'sluice-compacted';
/** Key-value metadata key listing a compacted file's inputs. */
export const COMPACTED_FROM_KEY = 'sluice.compacted_from';
const DEFAULT_ROW_GROUP_ROWS = 16_384;
const CLASS_FILE = /^(?!\.)(.+)-(class(?:\d+|unknown))-\d{4,}\.parquet$/;
const PARTITION_FOLDER = /(^|\/)eventDay=([^/]+)$/;
const ID_COLUMN = '_id';

export interface CompactOptions {
  /** Only partitions of these days (`yyyymmdd`, the `eventDay` folder); default every day. */
  days?: readonly string[];
  /** Rows per row group of the compacted files (default 16,384). */
  rowGroupRows?: number;
  /** DuckDB threads (default DuckDB's, one per core). */
  threads?: number;
  /** DuckDB memory limit, e.g. '2GB' (beyond it the sort spills to a temp folder). */
  memoryLimit?: string;
}

export interface CompactedPartition {
  /** Folder relative to the lake root. */
  folder: string;
  /** `class4001`, … */
  classTag: string;
  /** 'compacted', or why nothing was written. */
  outcome: 'compacted' | 'already-compacted';
  inputFiles: number;
  inputBytes: number;
  /** Rows read from the inputs (the earlier compacted file included). */
  inputRows: number;
  /** Rows in the compacted file. */
  rows: number;
  bytes: number;
  /** Inputs that the compacted file already held, deleted without being read again. */
  alreadyCompacted: number;
  /** Rows of an earlier compaction replaced by a re-written input's rows (same record ids). */
  replacedRows: number;
  seconds: number;
}

export interface CompactReport {
  root: string;
  partitions: CompactedPartition[];
  filesBefore: number;
  filesAfter: number;
  bytesBefore: number;
  bytesAfter: number;
  rows: number;
  seconds: number;
}

interface SourceEntry {
  name: string;
  bytes: number;
}

interface PartitionGroup {
  folder: string;
  classTag: string;
  compacted: string | undefined;
  inputs: string[];
}

function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Every Security Lake partition folder with class-tagged Parquet files, grouped by class. */
function findPartitions(root: string, days: readonly string[] | undefined): PartitionGroup[] {
  const groups: PartitionGroup[] = [];
  const walk = (dir: string, rel: string) => {
    const entries = readdirSync(dir, { withFileTypes: true });
    const day = PARTITION_FOLDER.exec(rel)?.[2];
    const byClass = new Map<string, PartitionGroup>();
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name.startsWith('_')) continue;
      if (entry.isDirectory()) {
        walk(path.join(dir, entry.name), rel ? `${rel}/${entry.name}` : entry.name);
        continue;
      }
      const match = entry.isFile() && day !== undefined ? CLASS_FILE.exec(entry.name) : null;
      if (!match || (days !== undefined && !days.includes(day!))) continue;
      const classTag = match[2]!;
      const group = byClass.get(classTag) ?? { folder: rel, classTag, compacted: undefined, inputs: [] };
      if (match[1] === COMPACTED_STEM) group.compacted = entry.name;
      else group.inputs.push(entry.name);
      byClass.set(classTag, group);
    }
    groups.push(...[...byClass.values()].sort((a, b) => a.classTag.localeCompare(b.classTag)));
  };
  walk(root, '');
  return groups.sort((a, b) => a.folder.localeCompare(b.folder) || a.classTag.localeCompare(b.classTag));
}

async function rowsOf(connection: DuckDBConnection, files: readonly string[]): Promise<number> {
  if (files.length === 0) return 0;
  const list = files.map(sqlString).join(', ');
  const reader = await connection.runAndReadAll(`SELECT coalesce(sum(num_rows), 0)::BIGINT AS n FROM parquet_file_metadata([${list}])`);
  return Number(reader.getRowObjectsJson()[0]?.n ?? 0);
}

/** The inputs a compacted file lists (empty for a file without the key). */
async function compactedSources(connection: DuckDBConnection, file: string): Promise<SourceEntry[]> {
  const reader = await connection.runAndReadAll(
    `SELECT decode(value) AS v FROM parquet_kv_metadata(${sqlString(file)}) WHERE decode(key) = ${sqlString(COMPACTED_FROM_KEY)}`,
  );
  const text = reader.getRowObjectsJson()[0]?.v;
  if (typeof text !== 'string') return [];
  const parsed = JSON.parse(text) as unknown;
  return Array.isArray(parsed) ? (parsed as SourceEntry[]).filter((e) => typeof e?.name === 'string' && typeof e?.bytes === 'number') : [];
}

async function columnsOf(connection: DuckDBConnection, source: string): Promise<Map<string, string>> {
  const rows = (await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`)).getRowObjectsJson();
  return new Map(rows.map((r) => [String(r.column_name), String(r.column_type)]));
}

/** Sort key: the unordered endpoint pair then time when the class has both addresses, else time. */
function sortKeyFor(columns: Map<string, string>): string {
  const has = (column: string, field: string) => new RegExp(`(^STRUCT\\(|, )"?${field}"? VARCHAR`).test(columns.get(column) ?? '');
  const time = columns.has('time') ? ', time' : '';
  if (has('src_endpoint', 'ip') && has('dst_endpoint', 'ip')) {
    return `least(src_endpoint.ip, dst_endpoint.ip), greatest(src_endpoint.ip, dst_endpoint.ip)${time}`;
  }
  return columns.has('time') ? 'time' : '';
}

async function fsyncFile(file: string): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Temp files of earlier, interrupted compactions of this folder. */
function removeLeftovers(dir: string): Promise<void>[] {
  return readdirSync(dir)
    .filter((name) => name.startsWith(`.${COMPACTED_STEM}-`) && name.includes(TEMP_MARKER))
    .map((name) => removeFile(path.join(dir, name)));
}

async function compactPartition(connection: DuckDBConnection, root: string, group: PartitionGroup, rowGroupRows: number): Promise<CompactedPartition> {
  const started = performance.now();
  const dir = path.join(root, group.folder);
  await Promise.all(removeLeftovers(dir));
  const finalPath = path.join(dir, `${COMPACTED_STEM}-${group.classTag}-0000.parquet`);
  const previous = group.compacted === undefined ? undefined : path.join(dir, group.compacted);
  const listed = previous === undefined ? [] : await compactedSources(connection, previous);
  const listedByName = new Map(listed.map((e) => [e.name, e]));
  const inputs: SourceEntry[] = group.inputs.map((name) => ({ name, bytes: statSync(path.join(dir, name)).size }));
  const already = inputs.filter((e) => listedByName.get(e.name)?.bytes === e.bytes);
  const fresh = inputs.filter((e) => listedByName.get(e.name)?.bytes !== e.bytes);
  const rewritten = fresh.filter((e) => listedByName.has(e.name));
  const base = { folder: group.folder, classTag: group.classTag, inputFiles: inputs.length + (previous ? 1 : 0), alreadyCompacted: already.length };
  const inputBytes = inputs.reduce((n, e) => n + e.bytes, 0) + (previous ? statSync(previous).size : 0);

  if (fresh.length === 0) {
    // Nothing new: delete inputs the compacted file already holds (an interrupted run's), keep it.
    for (const e of already) await removeFile(path.join(dir, e.name));
    if (already.length > 0) await fsyncDirectory(dir);
    const rows = previous ? await rowsOf(connection, [previous]) : 0;
    const bytes = previous ? statSync(previous).size : 0;
    return { ...base, outcome: 'already-compacted', inputBytes, inputRows: rows, rows, bytes, replacedRows: 0, seconds: (performance.now() - started) / 1000 };
  }

  const freshPaths = fresh.map((e) => path.join(dir, e.name));
  const readList = [...(previous ? [previous] : []), ...freshPaths];
  const inputRows = await rowsOf(connection, readList);
  const files = (list: readonly string[]) => `read_parquet([${list.map(sqlString).join(', ')}], union_by_name = true, hive_partitioning = false)`;
  let source = files(readList);
  let replacedRows = 0;
  if (rewritten.length > 0 && previous) {
    const columns = await columnsOf(connection, source);
    if (!columns.has(ID_COLUMN)) {
      throw new SluiceError(`lake ${dir}: ${rewritten.map((e) => e.name).join(', ')} changed since ${group.compacted} took it in, and the files have no ${ID_COLUMN} column to tell its rows apart`, {
        code: 'LAKE_COMPACT_CONFLICT',
        stage: 'sink',
        hint: `nothing was changed; move the changed file(s) aside, or delete ${group.compacted} and re-run the day's units, then compact again`,
      });
    }
    // The earlier compaction's rows of a re-written input give way to the input's new rows.
    const newerIds = `SELECT "${ID_COLUMN}" FROM ${files(rewritten.map((e) => path.join(dir, e.name)))} WHERE "${ID_COLUMN}" IS NOT NULL`;
    const kept = `"${ID_COLUMN}" IS NULL OR "${ID_COLUMN}" NOT IN (${newerIds})`;
    const [row] = (await connection.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM ${files([previous])} WHERE NOT (${kept})`)).getRowObjectsJson();
    replacedRows = Number(row?.n ?? 0);
    source = `(SELECT * FROM ${files([previous])} WHERE ${kept} UNION ALL BY NAME SELECT * FROM ${files(freshPaths)})`;
  }
  const columns = await columnsOf(connection, source);
  const expectedRows = inputRows - replacedRows;
  const sortKey = sortKeyFor(columns);
  const sources: SourceEntry[] = [...listed.filter((e) => !fresh.some((f) => f.name === e.name)), ...fresh].sort((a, b) => a.name.localeCompare(b.name));
  const select = [...columns.keys()].map((c) => `"${c.replaceAll('"', '""')}"`).join(', ');
  const tempPath = tempPathFor(finalPath);
  try {
    await connection.run(
      `COPY (SELECT ${select} FROM ${source} ${sortKey ? `ORDER BY ${sortKey}` : ''}) TO ${sqlString(tempPath)}
       (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE ${rowGroupRows}, KV_METADATA {${sqlString(COMPACTED_FROM_KEY)}: ${sqlString(JSON.stringify(sources))}})`,
    );
    const written = await rowsOf(connection, [tempPath]);
    if (written !== expectedRows) {
      throw new SluiceError(`lake ${dir}: the compacted ${group.classTag} file holds ${written} rows, its inputs ${expectedRows}`, {
        code: 'LAKE_COMPACT_MISMATCH',
        stage: 'sink',
        hint: 'nothing was changed (the inputs are in place); check the disk and retry',
      });
    }
    await fsyncFile(tempPath);
    await rename(tempPath, finalPath);
  } catch (err) {
    await removeFile(tempPath).catch(() => undefined);
    throw err;
  }
  await fsyncDirectory(dir);
  for (const e of inputs) await removeFile(path.join(dir, e.name));
  if (previous && previous !== finalPath) await removeFile(previous);
  await fsyncDirectory(dir);
  return {
    ...base,
    outcome: 'compacted',
    inputBytes,
    inputRows,
    rows: expectedRows,
    bytes: statSync(finalPath).size,
    replacedRows,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Compacts every Security Lake partition folder (per OCSF class) under `root`.
 *
 * @example
 * const report = await compactLake('sluice-demo/out', { days: ['20240501'] });
 * // report.partitions: [{ folder: 'region=eu-west-1/accountId=…/eventDay=20240501', classTag: 'class4001', inputFiles: 12, rows: 300000, … }]
 */
export async function compactLake(root: string, options: CompactOptions = {}): Promise<CompactReport> {
  const started = performance.now();
  const abs = path.resolve(root);
  const rowGroupRows = options.rowGroupRows ?? DEFAULT_ROW_GROUP_ROWS;
  if (!Number.isInteger(rowGroupRows) || rowGroupRows < 1024) {
    throw new SluiceError(`row group rows must be a whole number ≥ 1024, got ${rowGroupRows}`, { code: 'BAD_OPTION', stage: 'config' });
  }
  if (!existsSync(abs) || !statSync(abs).isDirectory()) {
    throw new SluiceError(`lake ${abs} is not a folder`, { code: 'LAKE_NOT_FOUND', stage: 'config', hint: 'pass the folder the files sink writes to (--lake)' });
  }
  const groups = findPartitions(abs, options.days);
  const config: Record<string, string> = {};
  if (options.threads) config['threads'] = String(options.threads);
  if (options.memoryLimit) config['memory_limit'] = options.memoryLimit;
  const instance = await DuckDBInstance.create(':memory:', config);
  const connection = await instance.connect();
  // A day of a class can outgrow memory: the sort spills to a private temp folder, not the lake.
  const spill = path.join(os.tmpdir(), `sluice-compact-${process.pid}-${Date.now()}`);
  await connection.run(`SET temp_directory = ${sqlString(spill)}`);
  const partitions: CompactedPartition[] = [];
  try {
    for (const group of groups) partitions.push(await compactPartition(connection, abs, group, rowGroupRows));
  } finally {
    connection.closeSync();
    instance.closeSync();
    await rm(spill, { recursive: true, force: true });
  }
  return {
    root: abs,
    partitions,
    filesBefore: partitions.reduce((n, p) => n + p.inputFiles, 0),
    filesAfter: partitions.filter((p) => p.rows > 0).length,
    bytesBefore: partitions.reduce((n, p) => n + p.inputBytes, 0),
    bytesAfter: partitions.reduce((n, p) => n + p.bytes, 0),
    rows: partitions.reduce((n, p) => n + p.rows, 0),
    seconds: (performance.now() - started) / 1000,
  };
}
