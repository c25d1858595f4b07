/**
 * The lake as SQL: a DuckDB connection with one view per OCSF class (`network_activity`,
 * `api_activity`, …) and per flat source folder (`flows`), over the Parquet files the `files`
 * sink wrote. Used by `sluice query`, the dashboard's investigation view and the benchmarks.
 *
 * How files are told apart: the sink tags every Security Lake file with its class
 * (`…-class4001-0000.parquet`), so a class view is a glob over that tag and picks up files written
 * after the view was made. Untagged files (the `date` layout of flat records) are grouped by the
 * first folder under the lake root, which is the sink's own folder (`out/flows/2024/03/26/…`).
 * Views read with `union_by_name`, so files written by different versions (a new enrichment
 * field, say) still read as one table; Security Lake folders add `region`, `accountId` and
 * `eventDay` as VARCHAR columns (account ids keep their leading zeros) that prune whole files.
 *
 * An `s3://` lake is read through a local mirror (mirror.ts): `openLake` downloads every
 * partition (`download: 'all'`, what `sluice query` does) or only those `cover()` asks for
 * (`'on-demand'`: the dashboard covers an investigation's window), and the views read the
 * mirror. Its tables are those of the listing; a view exists once the mirror holds a file of it.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, DuckDBTypeId, type DuckDBConnection, type DuckDBType } from '@duckdb/node-api';
import { SluiceError } from '../core/errors.js';
import type { S3PlaceOptions } from '../core/place/index.js';
import { pendingClassOf } from '../sinks/files/compacted-file.js';
import { createLakeMirror, type LakeListing, type LakeMirror } from './mirror.js';
import { CLASS_VIEWS } from './view-names.js';

const CLASS_TAG = /-class(\d+|unknown)-\d+\.parquet$/;

export interface LakeTable {
  /** The view name used in SQL. */
  name: string;
  /** OCSF class uid, or null for a flat (non-OCSF) source folder. */
  classUid: number | null;
  /** Parquet files seen when the catalog was built. */
  files: number;
  bytes: number;
  /** True when the files sit in `region=/accountId=/eventDay=` folders (the view has those columns). */
  hive: boolean;
  /** The `read_parquet(...)` expression behind the view. */
  source: string;
}

function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function viewNameFor(folder: string): string {
  const name = folder.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '');
  return /^[a-z_]/.test(name) ? name : `t_${name || 'flows'}`;
}

interface FoundFile {
  relative: string;
  bytes: number;
}

/**
 * Every Parquet file under `root`, skipping dead letters (`_rejected`) and hidden folders; and
 * the folders holding an interrupted compaction (its hidden pending file).
 */
function listParquet(root: string): { files: FoundFile[]; interrupted: string[] } {
  const files: FoundFile[] = [];
  const interrupted: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isFile() && pendingClassOf(entry.name) !== undefined) interrupted.push(rel);
      if (entry.name.startsWith('.') || entry.name.startsWith('_')) continue;
      const abs = path.join(dir, entry.name);
      const r = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(abs, r);
      else if (entry.isFile() && entry.name.endsWith('.parquet')) files.push({ relative: r, bytes: statSync(abs).size });
    }
  };
  walk(root, '');
  return { files, interrupted };
}

/**
 * Works out the views a lake folder supports, without opening any file.
 *
 * @example
 * discoverLakeTables('sluice-demo/out') // [{ name: 'network_activity', classUid: 4001, files: 12, … }]
 */
export function discoverLakeTables(root: string): LakeTable[] {
  const abs = path.resolve(root);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) return [];
  return tablesOf(abs, listParquet(abs).files);
}

/** The views of a set of files (relative to `abs`, which the views read). */
function tablesOf(abs: string, found: readonly FoundFile[]): LakeTable[] {
  const groups = new Map<string, { classUid: number | null; files: FoundFile[]; glob?: string }>();
  for (const file of found) {
    const tag = CLASS_TAG.exec(file.relative);
    let name: string;
    let classUid: number | null = null;
    let glob: string | undefined;
    if (tag) {
      const uid = tag[1]!;
      name = CLASS_VIEWS[uid] ?? `class_${uid}`;
      classUid = uid === 'unknown' ? null : Number(uid);
      glob = path.join(abs, '**', `*-class${uid}-*.parquet`);
    } else {
      const first = file.relative.split('/')[0]!;
      // Files straight in the root, or in date folders right under it, are "flows".
      name = file.relative.includes('/') && !/^\d+$/.test(first) ? viewNameFor(first) : 'flows';
    }
    const group = groups.get(name) ?? { classUid, files: [], glob };
    group.files.push(file);
    groups.set(name, group);
  }
  const tables: LakeTable[] = [];
  for (const [name, group] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    const hive = group.files.every((f) => /(^|\/)eventDay=[^/]+\//.test(f.relative));
    const files = group.glob !== undefined ? sqlString(group.glob) : `[${group.files.map((f) => sqlString(path.join(abs, f.relative))).join(', ')}]`;
    const options = hive ? 'union_by_name = true, hive_partitioning = true, hive_types_autocast = false' : 'union_by_name = true, hive_partitioning = false';
    tables.push({
      name,
      classUid: group.classUid,
      files: group.files.length,
      bytes: group.files.reduce((n, f) => n + f.bytes, 0),
      hive,
      source: `read_parquet(${files}, ${options})`,
    });
  }
  return tables;
}

export interface Lake {
  /** The lake's folder, or its `s3://bucket/prefix/`. */
  readonly root: string;
  /** True for an S3 lake, read through a local mirror. */
  readonly remote: boolean;
  readonly connection: DuckDBConnection;
  tables(): LakeTable[];
  table(name: string): LakeTable | undefined;
  /** True when the view can be queried (an S3 lake's view exists once its mirror holds a file of it). */
  hasView(name: string): boolean;
  /** eventDay partitions the lake has (`yyyymmdd`), sorted. */
  days(): string[];
  /** Folders where a compaction was interrupted: their inputs' rows are missing until `sluice compact` finishes it. */
  interrupted(): string[];
  /**
   * Makes the partitions of a time window readable (all of them without one): an S3 lake
   * downloads them into its mirror; a local lake has them all (it refreshes if stale).
   */
  cover(window?: { from: Date; to: Date }): Promise<void>;
  /** Re-lists the folder and re-creates the views (new classes or source folders appear). */
  refresh(): Promise<LakeTable[]>;
  /** `refresh()` unless one ran less than `maxAgeMs` ago (2 s; 30 s for an S3 lake): a page load should not re-walk a big lake. */
  refreshIfStale(maxAgeMs?: number): Promise<LakeTable[]>;
  /** Another connection to the same database and views, for queries that may run concurrently. */
  connect(): Promise<DuckDBConnection>;
  close(): void;
}

export interface OpenLakeOptions {
  /** DuckDB worker threads (default: DuckDB's, one per core). */
  threads?: number;
  /** How to reach an `s3://` lake (endpoint, region, credentials). */
  s3?: Omit<S3PlaceOptions, 'uri'>;
  /** The mirror folder of an `s3://` lake (default under ~/.cache/sluice/lake/). */
  cacheDir?: string;
  /** An `s3://` lake: download every partition up front (default), or only those `cover()` asks for. */
  download?: 'all' | 'on-demand';
}

/** UTC days `yyyymmdd` from the day of `from` to the day of `to`, inclusive. */
export function daysOfWindow(window: { from: Date; to: Date }): string[] {
  const days: string[] = [];
  const start = Date.UTC(window.from.getUTCFullYear(), window.from.getUTCMonth(), window.from.getUTCDate());
  for (let t = start; t <= window.to.getTime() && days.length < 100_000; t += 86_400_000) days.push(new Date(t).toISOString().slice(0, 10).replaceAll('-', ''));
  return days;
}

const DAY_OF = /(?:^|\/)eventDay=(\d{8})\//;

/**
 * Opens an in-memory DuckDB with the lake's views. The lake folder may not exist yet (a demo not
 * run): the catalog is then empty and `refresh()` finds the files later. An `s3://` lake is read
 * through its local mirror (see the file comment).
 *
 * @example
 * const lake = await openLake('sluice-demo/out');
 * const rows = await lake.connection.runAndReadAll('select count(*) from network_activity');
 * const s3 = await openLake('s3://lake/ext/sluice/', { s3: { region: 'eu-west-1' }, download: 'on-demand' });
 * await s3.cover({ from: new Date('2024-05-01'), to: new Date('2024-05-02') });
 */
export async function openLake(root: string, options: OpenLakeOptions = {}): Promise<Lake> {
  const mirror: LakeMirror | undefined = root.startsWith('s3://') ? createLakeMirror({ location: root, s3: options.s3, cacheDir: options.cacheDir }) : undefined;
  const abs = mirror ? mirror.dir : path.resolve(root);
  const instance = await DuckDBInstance.create(':memory:', options.threads ? { threads: String(options.threads) } : {});
  const connection = await instance.connect();
  // A lake is many files queried again and again (the dashboard, second hops): keeping each
  // file's footer in memory saves re-reading it; DuckDB re-validates it by modification time.
  await connection.run('SET parquet_metadata_cache = true');
  let current: LakeTable[] = [];
  let viewed = new Set<string>();
  let days: string[] = [];
  let interrupted: string[] = [];
  let refreshedAt = 0;
  // What the mirror of an S3 lake is asked to hold: every partition, or these days.
  let covered: 'all' | Set<string> = mirror && options.download === 'on-demand' ? new Set() : 'all';
  const localFiles = () => (existsSync(abs) && statSync(abs).isDirectory() ? listParquet(abs) : { files: [], interrupted: [] });
  const makeViews = async (tables: readonly LakeTable[]) => {
    for (const old of viewed) {
      if (!tables.some((t) => t.name === old)) await connection.run(`DROP VIEW IF EXISTS "${old}"`);
    }
    for (const table of tables) {
      try {
        await connection.run(`CREATE OR REPLACE VIEW "${table.name}" AS SELECT * FROM ${table.source}`);
      } catch (err) {
        throw new SluiceError(`lake ${mirror?.root ?? abs}: cannot make view ${table.name} over ${table.files} Parquet file(s): ${(err as Error).message}`, {
          code: 'LAKE_VIEW_FAILED',
          stage: 'read',
          hint: 'check that the files are complete Parquet files written by the files sink',
          cause: err,
        });
      }
    }
    viewed = new Set(tables.map((t) => t.name));
  };
  const dayList = (keys: Iterable<string>) => [...new Set([...keys].map((k) => DAY_OF.exec(k)?.[1]).filter((d): d is string => d !== undefined))].sort();
  const refresh = async (): Promise<LakeTable[]> => {
    if (mirror === undefined) {
      const found = localFiles();
      current = tablesOf(abs, found.files);
      await makeViews(current);
      days = dayList(found.files.map((f) => f.relative));
      interrupted = found.interrupted.sort();
    } else {
      const listing: LakeListing = await mirror.list();
      const wanted = covered;
      await mirror.sync(listing, (o) => wanted === 'all' || o.day === undefined || wanted.has(o.day));
      // Tables and their sizes are the lake's; views read what the mirror holds.
      const mirrored = new Map(tablesOf(abs, localFiles().files).map((t) => [t.name, t]));
      current = tablesOf(abs, listing.objects.map((o) => ({ relative: o.key, bytes: o.size }))).map((t) => ({ ...t, source: mirrored.get(t.name)?.source ?? t.source }));
      await makeViews([...mirrored.values()]);
      days = dayList(listing.objects.map((o) => o.key));
      interrupted = listing.interrupted;
    }
    refreshedAt = Date.now();
    return current;
  };
  // Listing a whole S3 lake costs requests: a page load re-lists it at most every 30 s.
  const defaultMaxAge = mirror ? 30_000 : 2000;
  const refreshIfStale = (maxAgeMs = defaultMaxAge) => (Date.now() - refreshedAt >= maxAgeMs ? refresh() : Promise.resolve(current));
  await refresh();
  return {
    root: mirror?.root ?? abs,
    remote: mirror !== undefined,
    connection,
    tables: () => current,
    table: (name) => current.find((t) => t.name === name),
    hasView: (name) => viewed.has(name),
    days: () => days,
    interrupted: () => interrupted,
    async cover(window) {
      if (covered === 'all') {
        await refreshIfStale();
        return;
      }
      const before = covered.size;
      if (window === undefined) covered = 'all';
      else for (const day of daysOfWindow(window)) covered.add(day);
      if (covered === 'all' || covered.size > before) await refresh();
      else await refreshIfStale();
    },
    refresh,
    refreshIfStale,
    connect: () => instance.connect(),
    close: () => {
      connection.closeSync();
      instance.closeSync();
      void mirror?.close();
    },
  };
}

/** One column of a view, nested struct fields as their own rows (what `sluice query --describe` prints). */
export interface ViewColumn {
  /** The column as SQL names it: `src_endpoint.ip`; `[]` stands for the elements of a list. */
  path: string;
  /** The DuckDB type; a struct is `STRUCT` (or `STRUCT[]` for a list of them) with its fields after it. */
  type: string;
  /** 0 for a top-level column, 1 for a field of it, and so on. */
  depth: number;
}

export interface ViewDescription {
  name: string;
  rows: number;
  columns: ViewColumn[];
}

function sqlName(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : `"${name.replaceAll('"', '""')}"`;
}

/** The element type of lists (and fixed-size arrays), however deep: `STRUCT[][]` is a struct. */
function elementOf(type: DuckDBType): { type: DuckDBType; suffix: string } {
  let suffix = '';
  let inner = type;
  while (inner.typeId === DuckDBTypeId.LIST || inner.typeId === DuckDBTypeId.ARRAY) {
    suffix += '[]';
    inner = inner.valueType;
  }
  return { type: inner, suffix };
}

function addColumns(out: ViewColumn[], prefix: string, type: DuckDBType, depth: number): void {
  const { type: inner, suffix } = elementOf(type);
  if (inner.typeId !== DuckDBTypeId.STRUCT) {
    out.push({ path: prefix, type: type.toString(), depth });
    return;
  }
  out.push({ path: prefix, type: `STRUCT${suffix}`, depth });
  inner.entryNames.forEach((name, i) => addColumns(out, `${prefix}${suffix}.${sqlName(name)}`, inner.entryTypes[i]!, depth + 1));
}

/**
 * A view's row count and columns, every nested struct field included, from DuckDB's own types
 * (nothing is shortened, however deep the struct).
 *
 * @example
 * const d = await describeView(lake, 'network_activity');
 * // { name: 'network_activity', rows: 300000, columns: [{ path: 'src_endpoint', type: 'STRUCT', depth: 0 }, { path: 'src_endpoint.ip', type: 'VARCHAR', depth: 1 }, …] }
 */
export async function describeView(lake: Lake, name: string): Promise<ViewDescription> {
  if (!lake.table(name) || !lake.hasView(name)) {
    const views = lake.tables().map((t) => t.name);
    throw new SluiceError(`no view "${name}" in the lake ${lake.root}`, {
      code: 'NO_SUCH_VIEW',
      stage: 'config',
      hint: views.length ? `the lake's views: ${views.join(', ')}` : 'the lake has no Parquet files yet',
    });
  }
  const view = `"${name}"`;
  const count = (await lake.connection.runAndReadAll(`SELECT count(*) AS n FROM ${view}`)).getRows()[0]![0];
  const shape = await lake.connection.runAndReadAll(`SELECT * FROM ${view} LIMIT 0`);
  const types = shape.columnTypes();
  const columns: ViewColumn[] = [];
  shape.columnNames().forEach((column, i) => addColumns(columns, sqlName(column), types[i]!, 0));
  return { name, rows: Number(count), columns };
}
