/**
 * Lake compaction: rewrites the Parquet files of one OCSF class in one Security Lake partition
 * folder (`region=/accountId=/eventDay=`) into one file, `sluice-compacted-class<uid>-0000.parquet`,
 * with its rows sorted so that "all flows of one IP" reads a few row groups instead of every one
 * (the sort order is explained in sinks/files/compacted-rewrite.ts). The lake may be a local
 * folder or an S3 prefix: inputs are read where they are (local) or downloaded to a private
 * temp folder (S3), DuckDB writes the new file there, and it goes back through the place.
 *
 * Invariants (the lake's, docs/lake.md; the protocol is in sinks/files/compacted-file.ts):
 * - Whatever reads the lake never sees a row twice, and sees every row once whenever no
 *   compaction or commit is in progress or was interrupted: the new file is written and its row
 *   count checked, made durable under a hidden pending name, then the inputs are deleted, then
 *   the pending file is moved over the compacted name. A crash leaves the rows of the deleted
 *   inputs missing (never doubled) until the next compaction or commit into that folder
 *   finishes the move.
 * - The compacted file lists its inputs (name, size, sha256, id prefixes; cumulative). An input
 *   found again under a listed name with the listed sha256 is already inside (it was left by an
 *   older version, or is a copy): it is deleted, not added twice. An input of a unit whose rows
 *   the compacted file holds with other bytes replaces all of them: the compacted rows of that
 *   unit's listed id prefixes are dropped.
 * - Only inputs with record ids (`_id`) are compacted: without them a later re-run could not
 *   take its rows back out. Such a class is left as it is (`no-record-ids`).
 * - Idempotent: a folder holding only its compacted file is left alone (no rewrite).
 * - One folder at a time, holding the folder's lock, so runs that commit into compacted folders
 *   wait for it. A folder's first compaction must not race a run writing that folder (a run
 *   takes the lock only once a folder has a compacted file).
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SluiceError } from '../core/errors.js';
import { crashPoint } from '../core/crash-points.js';
import { joinKey, openPlace, type Place, type PlaceEntry, type S3PlaceOptions } from '../core/place/index.js';
import {
  baseName,
  classPartOf,
  compactedMetadata,
  compactedNameOf,
  DEFAULT_COMPACTED_ROW_GROUP_ROWS,
  finishInterruptedCompactions,
  pendingClassOf,
  pendingNameOf,
  readCompactedManifest,
  sha256OfFile,
  withLakeFolderLock,
  type CompactedInput,
} from '../sinks/files/compacted-file.js';
import { factsOf, openCompactionDb, writeCompactedFile } from '../sinks/files/compacted-rewrite.js';
import type { DuckDBConnection } from '@duckdb/node-api';

export { COMPACTED_FROM_KEY, COMPACTED_STEM } from '../sinks/files/compacted-file.js';

const PARTITION_FOLDER = /(^|\/)eventDay=([^/]+)$/;

export interface CompactOptions {
  /** Only partitions of these days (`yyyymmdd`, the `eventDay` folder); default every day. */
  days?: readonly string[];
  /** Rows per row group of the compacted files (default 16,384). */
  rowGroupRows?: number;
  /** DuckDB threads (default DuckDB's, one per core). */
  threads?: number;
  /** DuckDB memory limit, e.g. '2GB' (beyond it the sort spills to a temp folder). */
  memoryLimit?: string;
  /** How to reach an s3:// lake. */
  s3?: Omit<S3PlaceOptions, 'uri'>;
}

export interface CompactedPartition {
  /** Folder relative to the lake root. */
  folder: string;
  /** `class4001`, … */
  classTag: string;
  /** 'compacted', or why nothing was written. */
  outcome: 'compacted' | 'already-compacted' | 'no-record-ids';
  inputFiles: number;
  inputBytes: number;
  /** Rows read from the inputs (the earlier compacted file included). */
  inputRows: number;
  /** Rows in the compacted file. */
  rows: number;
  bytes: number;
  /** Inputs that the compacted file already held, deleted without being read again. */
  alreadyCompacted: number;
  /** Rows of an earlier compaction replaced by a re-written unit's rows. */
  replacedRows: number;
  seconds: number;
}

export interface CompactReport {
  root: string;
  partitions: CompactedPartition[];
  /** Interrupted compactions finished before this one started. */
  resumed: number;
  filesBefore: number;
  filesAfter: number;
  bytesBefore: number;
  bytesAfter: number;
  rows: number;
  seconds: number;
}

interface PartitionGroup {
  folder: string;
  classTag: string;
  compacted: PlaceEntry | undefined;
  inputs: PlaceEntry[];
}

/** Folders (relative keys) under the lake that hold class-tagged Parquet files or a pending compaction, in key order. */
async function findFolders(place: Place, days: readonly string[] | undefined): Promise<string[]> {
  const folders = new Set<string>();
  for await (const entry of place.listTree()) {
    const at = entry.key.lastIndexOf('/');
    const folder = at < 0 ? '' : entry.key.slice(0, at);
    // Dead letters (`_rejected`) and hidden folders are not the lake's.
    if (folder.split('/').some((segment) => segment.startsWith('.') || segment.startsWith('_'))) continue;
    const day = PARTITION_FOLDER.exec(folder)?.[2];
    if (day === undefined || (days !== undefined && !days.includes(day))) continue;
    const name = baseName(entry.key);
    if (classPartOf(name) || pendingClassOf(name)) folders.add(folder);
  }
  return [...folders].sort();
}

function groupsOf(folder: string, entries: readonly PlaceEntry[]): PartitionGroup[] {
  const byClass = new Map<string, PartitionGroup>();
  for (const entry of entries) {
    const part = classPartOf(baseName(entry.key));
    if (!part) continue;
    const group = byClass.get(part.classTag) ?? { folder, classTag: part.classTag, compacted: undefined, inputs: [] };
    if (part.compacted) group.compacted = entry;
    else group.inputs.push(entry);
    byClass.set(part.classTag, group);
  }
  return [...byClass.values()].sort((a, b) => a.classTag.localeCompare(b.classTag));
}

/** A local file holding the object: the file itself in a local lake, a download into `work` from S3. */
async function localCopy(place: Place, entry: PlaceEntry, work: string): Promise<string> {
  if (place.kind === 'local') return place.uri(entry.key);
  const file = path.join(work, `${createHash('sha256').update(entry.key).digest('hex').slice(0, 16)}-${baseName(entry.key)}`);
  if (!(await place.download(entry.key, file))) {
    throw new SluiceError(`lake: ${place.uri(entry.key)} disappeared while compacting its folder`, {
      code: 'LAKE_INPUT_GONE',
      stage: 'read',
      retryable: true,
      hint: 'a run deleted or replaced it at the same time: compact again once the run is over',
    });
  }
  return file;
}

async function compactPartition(place: Place, connection: DuckDBConnection, group: PartitionGroup, rowGroupRows: number, work: string): Promise<CompactedPartition> {
  const started = performance.now();
  const compactedKey = joinKey(group.folder, compactedNameOf(group.classTag));
  const manifest = group.compacted ? await readCompactedManifest(place, group.compacted.key, group.compacted.size) : undefined;
  const listed = new Map((manifest?.inputs ?? []).map((e) => [e.name, e]));
  const inputBytes = group.inputs.reduce((n, e) => n + e.size, 0) + (group.compacted?.size ?? 0);
  const base = { folder: group.folder, classTag: group.classTag, inputFiles: group.inputs.length + (group.compacted ? 1 : 0), inputBytes };
  const finish = (fields: Omit<CompactedPartition, keyof typeof base | 'seconds'>): CompactedPartition => ({ ...base, ...fields, seconds: (performance.now() - started) / 1000 });

  const local = new Map<string, string>();
  const sha = new Map<string, string>();
  for (const entry of group.inputs) {
    const file = await localCopy(place, entry, work);
    local.set(entry.key, file);
    sha.set(entry.key, await sha256OfFile(file));
  }
  const isInside = (entry: PlaceEntry) => {
    const known = listed.get(baseName(entry.key));
    // Files compacted before sha256 was recorded are recognised by name and size.
    return known !== undefined && (known.sha256 === undefined ? known.bytes === entry.size : known.sha256 === sha.get(entry.key));
  };
  const already = group.inputs.filter(isInside);
  const fresh = group.inputs.filter((e) => !isInside(e));
  const compactedRows = manifest?.rows ?? 0;
  const removeAlready = async () => {
    for (const entry of already) await place.remove(entry.key);
  };

  if (fresh.length === 0) {
    await removeAlready();
    return finish({ outcome: 'already-compacted', inputRows: compactedRows, rows: compactedRows, bytes: group.compacted?.size ?? 0, alreadyCompacted: already.length, replacedRows: 0 });
  }

  const facts = new Map<string, { rows: number; idPrefixes: string[] | undefined }>();
  for (const entry of fresh) facts.set(entry.key, await factsOf(connection, local.get(entry.key)!));
  const compactedFile = group.compacted ? await localCopy(place, group.compacted, work) : undefined;
  const compactedHasIds = compactedFile === undefined || (await factsOf(connection, compactedFile)).idPrefixes !== undefined;
  if (!compactedHasIds || [...facts.values()].some((f) => f.idPrefixes === undefined)) {
    await removeAlready();
    const rows = [...facts.values()].reduce((n, f) => n + f.rows, 0) + compactedRows;
    return finish({ outcome: 'no-record-ids', inputRows: rows, rows, bytes: inputBytes, alreadyCompacted: already.length, replacedRows: 0 });
  }

  // A unit whose rows are inside gives way to its new parts: all its listed inputs go.
  const freshInputs: CompactedInput[] = fresh.map((e) => ({ name: baseName(e.key), bytes: e.size, sha256: sha.get(e.key)!, idPrefixes: facts.get(e.key)!.idPrefixes! }));
  const freshStems = new Map<string, string[]>();
  for (const input of freshInputs) {
    const stem = classPartOf(input.name)!.stem;
    freshStems.set(stem, [...(freshStems.get(stem) ?? []), ...(input.idPrefixes ?? [])]);
  }
  const replaced = (manifest?.inputs ?? []).filter((e) => freshStems.has(classPartOf(e.name)?.stem ?? ''));
  // Inputs listed before id prefixes were recorded: the new parts' prefixes (the same objects' ids).
  const dropPrefixes = [...new Set(replaced.flatMap((e) => e.idPrefixes ?? freshStems.get(classPartOf(e.name)!.stem)!))].sort();
  const inputs = [...(manifest?.inputs ?? []).filter((e) => !replaced.includes(e)), ...freshInputs];
  const inputRows = compactedRows + [...facts.values()].reduce((n, f) => n + f.rows, 0);

  const pendingKey = joinKey(group.folder, pendingNameOf(group.classTag));
  const staged = await place.stage(pendingKey);
  let written: { rows: number; droppedRows: number };
  let bytes: number;
  try {
    written = await writeCompactedFile(connection, {
      sources: [...(compactedFile ? [{ file: compactedFile, dropIdPrefixes: dropPrefixes }] : []), ...fresh.map((e) => ({ file: local.get(e.key)! }))],
      out: staged.localPath,
      metadata: compactedMetadata(inputs, rowGroupRows),
      rowGroupRows,
      where: place.uri(group.folder),
    });
    bytes = (await stat(staged.localPath)).size;
    await staged.seal();
    await staged.publish();
  } catch (err) {
    await staged.discard();
    throw err;
  }
  // The new file is durable and hidden: from here a crash is finished by the next writer of the folder.
  crashPoint('mid-compaction');
  for (const entry of [...already, ...fresh]) {
    await place.remove(entry.key);
    crashPoint('mid-compaction');
  }
  await place.move(pendingKey, compactedKey);
  return finish({ outcome: 'compacted', inputRows, rows: written.rows, bytes, alreadyCompacted: already.length, replacedRows: written.droppedRows });
}

/**
 * Compacts every Security Lake partition folder (per OCSF class) under `location`: a local
 * folder, or `s3://bucket/prefix` (with `options.s3`).
 *
 * @example
 * const report = await compactLake('sluice-demo/out/lake', { days: ['20240501'] });
 * // report.partitions: [{ folder: 'region=eu-west-1/accountId=…/eventDay=20240501', classTag: 'class4001', inputFiles: 12, rows: 300000, … }]
 */
export async function compactLake(location: string, options: CompactOptions = {}): Promise<CompactReport> {
  const started = performance.now();
  const rowGroupRows = options.rowGroupRows ?? DEFAULT_COMPACTED_ROW_GROUP_ROWS;
  if (!Number.isInteger(rowGroupRows) || rowGroupRows < 1024) {
    throw new SluiceError(`row group rows must be a whole number ≥ 1024, got ${rowGroupRows}`, { code: 'BAD_OPTION', stage: 'config' });
  }
  const remote = location.startsWith('s3://');
  const root = remote ? location : path.resolve(location);
  if (!remote && !(await stat(root).catch(() => undefined))?.isDirectory()) {
    throw new SluiceError(`lake ${root} is not a folder`, { code: 'LAKE_NOT_FOUND', stage: 'config', hint: 'pass the folder the files sink writes to (--lake)' });
  }
  const place = openPlace(root, remote ? options.s3 : undefined);
  // Downloads (S3) and DuckDB's spill files go to a private temp folder, never into the lake.
  const work = await mkdtemp(path.join(os.tmpdir(), 'sluice-compact-'));
  const db = await openCompactionDb({ threads: options.threads, memoryLimit: options.memoryLimit, spillDir: path.join(work, 'spill') });
  const partitions: CompactedPartition[] = [];
  let resumed = 0;
  try {
    for (const folder of await findFolders(place, options.days)) {
      await withLakeFolderLock(place, folder, async () => {
        resumed += await finishInterruptedCompactions(place, folder);
        for (const group of groupsOf(folder, await place.list(folder))) {
          const downloads = path.join(work, 'objects');
          await mkdir(downloads, { recursive: true });
          try {
            partitions.push(await compactPartition(place, db.connection, group, rowGroupRows, downloads));
          } finally {
            await rm(downloads, { recursive: true, force: true });
          }
        }
      });
    }
  } finally {
    db.close();
    await place.close();
    await rm(work, { recursive: true, force: true });
  }
  return {
    root: place.root,
    partitions,
    resumed,
    filesBefore: partitions.reduce((n, p) => n + p.inputFiles, 0),
    filesAfter: partitions.reduce((n, p) => n + (p.outcome === 'no-record-ids' ? p.inputFiles - p.alreadyCompacted : p.rows > 0 ? 1 : 0), 0),
    bytesBefore: partitions.reduce((n, p) => n + p.inputBytes, 0),
    bytesAfter: partitions.reduce((n, p) => n + p.bytes, 0),
    rows: partitions.reduce((n, p) => n + p.rows, 0),
    seconds: (performance.now() - started) / 1000,
  };
}
