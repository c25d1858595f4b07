/**
 * The compacted files of a Security Lake partition folder, and the rules that keep each row of
 * the lake in exactly one visible file (docs/lake.md). Both writers of such a folder follow them:
 * the files sink (a unit's commit, index.ts) and `sluice compact` (src/lake/compact.ts).
 *
 * A folder `region=/accountId=/eventDay=` holds, per OCSF class, the parts units wrote
 * (`<stem>-class<uid>-<NNNN>.parquet`) and at most one compacted file
 * (`sluice-compacted-class<uid>-0000.parquet`) whose key-value metadata `sluice.compacted_from`
 * lists every part it took in: name, size, sha256 of its bytes and the record-id prefixes of its
 * rows (a record id is `<object prefix>-<ordinal>`, core/record.ts, so a prefix names one version
 * of one source object). Invariants, for whatever reads the folder (a glob, Athena, `sluice
 * query`):
 *
 * - A part listed in the compacted file is never visible beside it. A unit whose new part has
 *   the listed name and sha256 (a re-run, a retry, a `--full-load` of the same input and config)
 *   does not publish it: its rows are already there. A unit whose compacted rows differ (another
 *   sha256: the object was replaced, the config changed) first rewrites the compacted file
 *   without them (the rows of the listed id prefixes), publishes that, and only then its parts.
 * - Compaction makes its new file durable under a hidden name (`.sluice-compacted-…pending`,
 *   which no glob of `*.parquet` and no Athena table reads), then deletes its inputs, then moves
 *   the pending file over the compacted name. The next writer of the folder (sink or
 *   compaction) that finds a pending file finishes that move first: the pending file holds every
 *   input still visible under a listed name and size, which are deleted.
 * - So a reader may miss rows while a commit or a compaction is in progress, or after a crash
 *   in one until the next writer of that folder, never see a row twice.
 * - Writers of a folder holding a compacted or pending file take the folder's lock
 *   (`.sluice-compacted.lock`, created where nothing is, see Place.create) for their whole
 *   commit, so rewrites of the compacted file never interleave. A lock carries its holder and
 *   an expiry that the holder renews; a lock past its expiry, or of a process of this host that
 *   is gone, is broken (its holder died).
 *   Compaction takes the lock too; a folder without compacted files is committed to without it,
 *   which is why a folder must not be compacted for the first time while a run writes to it.
 *
 * Nothing here loads DuckDB: deciding what a commit does reads only the compacted file's footer
 * (hyparquet, a few KB by range). Rewriting loads compacted-rewrite.ts on demand.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { parquetMetadataAsync } from 'hyparquet';
import { SluiceError } from '../../core/errors.js';
import { crashPoint } from '../../core/crash-points.js';
import { joinKey, type Place, type PlaceEntry } from '../../core/place/index.js';

/** The name stem of a compacted file (the class tag and part number follow, as the catalog expects). */
export const COMPACTED_STEM = 'sluice-compacted';
/** Key-value metadata key listing a compacted file's inputs. */
export const COMPACTED_FROM_KEY = 'sluice.compacted_from';
/** Key-value metadata key holding the rows per row group a compacted file was written with. */
export const ROW_GROUP_ROWS_KEY = 'sluice.row_group_rows';
/** The record-id column; compacted rows are told apart by it. */
export const ID_COLUMN = '_id';
export const DEFAULT_COMPACTED_ROW_GROUP_ROWS = 16_384;
const PENDING_SUFFIX = '.pending';
const LOCK_NAME = `.${COMPACTED_STEM}.lock`;
const CLASS_PART = /^(?!\.)(.+)-(class(?:\d+|unknown))-\d{4,}\.parquet$/;
const PENDING_NAME = new RegExp(`^\\.${COMPACTED_STEM}-(class(?:\\d+|unknown))-0000\\.parquet\\${PENDING_SUFFIX}$`);

/** One part a compacted file took in. Files written before sha256 and prefixes were recorded list name and size only. */
export interface CompactedInput {
  name: string;
  bytes: number;
  sha256?: string;
  idPrefixes?: string[];
}

export interface CompactedManifest {
  inputs: CompactedInput[];
  rows: number;
  rowGroupRows: number;
}

/** The compacted file of a class: `sluice-compacted-class4001-0000.parquet`. */
export function compactedNameOf(classTag: string): string {
  return `${COMPACTED_STEM}-${classTag}-0000.parquet`;
}

/** The hidden name a compaction's new file waits under until its inputs are gone. */
export function pendingNameOf(classTag: string): string {
  return `.${compactedNameOf(classTag)}${PENDING_SUFFIX}`;
}

/** A class-tagged Parquet part or compacted file name: its stem and class tag. */
export function classPartOf(name: string): { stem: string; classTag: string; compacted: boolean } | undefined {
  const match = CLASS_PART.exec(name);
  return match ? { stem: match[1]!, classTag: match[2]!, compacted: match[1] === COMPACTED_STEM } : undefined;
}

/** The class tag of a pending compaction's file name, if it is one. */
export function pendingClassOf(name: string): string | undefined {
  return PENDING_NAME.exec(name)?.[1];
}

/** The key-value metadata of a compacted file listing `inputs` (in name order, so the same inputs give the same bytes). */
export function compactedMetadata(inputs: readonly CompactedInput[], rowGroupRows: number): Record<string, string> {
  return {
    [COMPACTED_FROM_KEY]: JSON.stringify([...inputs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))),
    [ROW_GROUP_ROWS_KEY]: String(rowGroupRows),
  };
}

export function baseName(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

/** The id prefix of a record id (`<prefix>-<ordinal>`). */
export function idPrefixOf(id: string): string {
  const at = id.lastIndexOf('-');
  return at < 0 ? id : id.slice(0, at);
}

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function parseInputs(text: string | undefined): CompactedInput[] {
  if (text === undefined) return [];
  const parsed = JSON.parse(text) as unknown;
  if (!Array.isArray(parsed)) return [];
  return parsed
    .filter((e): e is CompactedInput => typeof e?.name === 'string' && typeof e?.bytes === 'number')
    .map((e) => ({
      name: e.name,
      bytes: e.bytes,
      ...(typeof e.sha256 === 'string' ? { sha256: e.sha256 } : {}),
      ...(Array.isArray(e.idPrefixes) ? { idPrefixes: e.idPrefixes.filter((p): p is string => typeof p === 'string') } : {}),
    }));
}

/**
 * The inputs a compacted (or pending) file lists, read from its footer alone (two range reads).
 *
 * @example
 * await readCompactedManifest(place, 'region=…/eventDay=20240501/sluice-compacted-class4001-0000.parquet', 7_340_032)
 * // { inputs: [{ name: 'x-1a2b3c4d-class4001-0000.parquet', bytes: 1048576, sha256: '9f…', idPrefixes: ['0f3c…'] }], rows: 25000, rowGroupRows: 16384 }
 */
export async function readCompactedManifest(place: Place, key: string, size: number): Promise<CompactedManifest> {
  const buffer = {
    byteLength: size,
    slice: async (start: number, end?: number) => {
      const bytes = await place.readRange(key, start, (end ?? size) - start);
      if (bytes === undefined) throw new Error('the object is gone');
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
    },
  };
  let metadata;
  try {
    metadata = await parquetMetadataAsync(buffer, { initialFetchSize: 64 * 1024 });
  } catch (err) {
    throw new SluiceError(`lake: cannot read the footer of ${place.uri(key)}: ${(err as Error).message}`, {
      code: 'LAKE_COMPACTED_UNREADABLE',
      stage: 'sink',
      retryable: true,
      hint: 'a compacted file is replaced whole, so this is a read that failed or a file not written by sluice compact; check the object, and move it aside if it is not a complete Parquet file',
      cause: err,
    });
  }
  const kv = new Map((metadata.key_value_metadata ?? []).map((e) => [e.key, e.value]));
  const rowGroupRows = Number(kv.get(ROW_GROUP_ROWS_KEY));
  return {
    inputs: parseInputs(kv.get(COMPACTED_FROM_KEY)),
    rows: Number(metadata.num_rows),
    rowGroupRows: Number.isSafeInteger(rowGroupRows) && rowGroupRows > 0 ? rowGroupRows : DEFAULT_COMPACTED_ROW_GROUP_ROWS,
  };
}

/** Folder entries of the lake's own bookkeeping: compacted, pending and lock files. */
export async function compactedEntriesOf(place: Place, folder: string): Promise<PlaceEntry[]> {
  const out: PlaceEntry[] = [];
  for (const prefix of [`${COMPACTED_STEM}-`, `.${COMPACTED_STEM}`]) {
    for await (const entry of place.listTree(joinKey(folder, prefix))) if (!entry.key.slice(folder.length + 1).includes('/')) out.push(entry);
  }
  return out;
}

// --- the folder lock -------------------------------------------------------------------------

export interface LakeLockOptions {
  /** How long a lock holds without renewal (default 60 s); renewed every quarter of it. */
  ttlMs?: number;
  /** Give up waiting after this long (default 30 minutes), with a retryable error. */
  maxWaitMs?: number;
}

interface LockBody {
  owner: string;
  expiresAt: number;
}

const DEFAULT_LOCK_TTL_MS = 60_000;
const DEFAULT_LOCK_WAIT_MS = 30 * 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A lock of a process on this host that no longer exists (killed, crashed): no need to wait for its expiry. */
function holderIsGone(owner: string): boolean {
  const [host, pid] = owner.split(':');
  if (host !== os.hostname() || pid === undefined || !/^\d+$/.test(pid) || Number(pid) === process.pid) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function parseLock(bytes: Buffer | undefined): LockBody | undefined {
  if (bytes === undefined) return undefined;
  try {
    const body = JSON.parse(bytes.toString('utf8')) as LockBody;
    return typeof body.owner === 'string' && typeof body.expiresAt === 'number' ? body : { owner: 'unreadable', expiresAt: 0 };
  } catch {
    // A lock is created whole (Place.create); unreadable bytes are no live holder's.
    return { owner: 'unreadable', expiresAt: 0 };
  }
}

/**
 * Runs `work` holding the folder's lock (see the file comment). Waits while another writer
 * holds it; breaks a lock whose holder stopped renewing it.
 */
export async function withLakeFolderLock<T>(place: Place, folder: string, work: () => Promise<T>, options: LakeLockOptions = {}): Promise<T> {
  const ttl = options.ttlMs ?? DEFAULT_LOCK_TTL_MS;
  const key = joinKey(folder, LOCK_NAME);
  const owner = `${os.hostname()}:${process.pid}:${threadId}:${randomBytes(4).toString('hex')}`;
  const body = () => Buffer.from(JSON.stringify({ owner, expiresAt: Date.now() + ttl } satisfies LockBody));
  const deadline = Date.now() + (options.maxWaitMs ?? DEFAULT_LOCK_WAIT_MS);
  let pause = 10;
  for (;;) {
    if (await place.create(key, body())) break;
    const raw = await place.read(key);
    const held = parseLock(raw);
    if (held !== undefined && (held.expiresAt < Date.now() || holderIsGone(held.owner))) {
      // Its holder died. Break it only if it is still the same lock (another waiter may have broken it and taken a new one).
      const again = await place.read(key);
      if (again !== undefined && raw !== undefined && again.equals(raw)) await place.remove(key);
      continue;
    }
    if (Date.now() > deadline) {
      throw new SluiceError(`lake folder ${place.uri(folder)} has been locked by ${held?.owner ?? 'another writer'} for longer than ${Math.round((options.maxWaitMs ?? DEFAULT_LOCK_WAIT_MS) / 1000)} s`, {
        code: 'LAKE_FOLDER_LOCKED',
        stage: 'sink',
        retryable: true,
        hint: `another sluice run or compaction is rewriting this folder's compacted file; if none is, delete ${place.uri(key)}`,
      });
    }
    await sleep(pause + Math.floor(Math.random() * pause));
    pause = Math.min(1000, Math.ceil(pause * 1.5));
  }
  let renewing: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    renewing = renewing.then(async () => {
      if (parseLock(await place.read(key))?.owner === owner) await place.put(key, body());
    }).catch(() => undefined);
  }, Math.max(10, Math.floor(ttl / 4)));
  timer.unref();
  try {
    return await work();
  } finally {
    clearInterval(timer);
    await renewing;
    if (parseLock(await place.read(key).catch(() => undefined))?.owner === owner) await place.remove(key).catch(() => undefined);
  }
}

// --- interrupted compactions -----------------------------------------------------------------

/**
 * Finishes compactions of `folder` that a crash interrupted (call holding the folder's lock):
 * deletes the inputs each pending file already holds, then moves it over the compacted name.
 * Also removes what crashed rewrites left (temp files, incomplete uploads). Returns how many
 * compactions it finished.
 */
export async function finishInterruptedCompactions(place: Place, folder: string): Promise<number> {
  for (const prefix of [`${COMPACTED_STEM}-`, `.${COMPACTED_STEM}-`]) await place.removeLeftovers(joinKey(folder, prefix));
  const bookkeeping = await compactedEntriesOf(place, folder);
  const pending = bookkeeping.filter((e) => pendingClassOf(baseName(e.key)) !== undefined);
  if (pending.length === 0) return 0;
  const entries = await place.list(folder);
  for (const file of pending) {
    const classTag = pendingClassOf(baseName(file.key))!;
    const manifest = await readCompactedManifest(place, file.key, file.size);
    const inside = new Map(manifest.inputs.map((e) => [e.name, e.bytes]));
    for (const entry of entries) {
      const name = baseName(entry.key);
      const part = classPartOf(name);
      if (part && !part.compacted && part.classTag === classTag && inside.get(name) === entry.size) await place.remove(entry.key);
    }
    await place.move(file.key, joinKey(folder, compactedNameOf(classTag)));
  }
  return pending.length;
}

// --- what a unit's commit does about a compacted file ----------------------------------------

/** A part a unit is about to publish into a folder. */
export interface UnitPartFacts {
  name: string;
  sha256: string | undefined;
}

export type CompactedDecision =
  /** The compacted file holds none of the unit's rows: publish the parts. */
  | { kind: 'publish' }
  /** It holds exactly the parts the unit made (same names and bytes): publish nothing. */
  | { kind: 'already-inside' }
  /** It holds rows of an earlier attempt that differ: rewrite it without `drop`'s rows, then publish. */
  | { kind: 'replace'; drop: CompactedInput[] };

/**
 * What a unit with output stem `stem`, making `parts` of this class, does about a compacted file
 * listing `inputs`.
 *
 * @example
 * decideForCompacted(manifest.inputs, 'x-1a2b3c4d', [{ name: 'x-1a2b3c4d-class4001-0000.parquet', sha256: '9f…' }])
 * // { kind: 'already-inside' } when the file lists that name with that sha256
 */
export function decideForCompacted(inputs: readonly CompactedInput[], stem: string, parts: readonly UnitPartFacts[]): CompactedDecision {
  const mine = inputs.filter((e) => classPartOf(e.name)?.stem === stem);
  if (mine.length === 0) return { kind: 'publish' };
  const made = new Map(parts.map((p) => [p.name, p.sha256]));
  const same = mine.length === parts.length && mine.every((e) => e.sha256 !== undefined && made.get(e.name) === e.sha256);
  return same ? { kind: 'already-inside' } : { kind: 'replace', drop: mine };
}

type Rewriter = typeof import('./compacted-rewrite.js');
let rewriter: Promise<Rewriter> | undefined;

/** DuckDB, loaded only when a compacted file must be rewritten (the Lambda bundle leaves it out). */
export function loadCompactedRewriter(where: string): Promise<Rewriter> {
  rewriter ??= import('./compacted-rewrite.js');
  return rewriter.catch((err: unknown) => {
    rewriter = undefined;
    throw new SluiceError(`${where}: rewriting a compacted lake file needs DuckDB, which cannot be loaded here: ${(err as Error).message}`, {
      code: 'LAKE_REWRITE_UNAVAILABLE',
      stage: 'sink',
      hint: 'run this unit with the sluice CLI (`sluice retry -c <pipeline.yaml> --run`), where DuckDB is installed; the Lambda bundle leaves DuckDB out',
      cause: err,
    });
  });
}

/**
 * Rewrites the compacted file `entry` of `folder` without the rows of the inputs in `drop` (by
 * their id prefixes; `fallbackPrefixes` for inputs listed without them), or deletes it when
 * nothing else is left. Call holding the folder's lock.
 */
export async function dropFromCompacted(
  place: Place,
  entry: PlaceEntry,
  manifest: CompactedManifest,
  drop: readonly CompactedInput[],
  fallbackPrefixes: readonly string[],
): Promise<void> {
  const dropped = new Set(drop.map((e) => e.name));
  const kept = manifest.inputs.filter((e) => !dropped.has(e.name));
  const prefixes = [...new Set(drop.flatMap((e) => e.idPrefixes ?? fallbackPrefixes))].sort();
  if (kept.length === 0) {
    await place.remove(entry.key);
    crashPoint('mid-lake-rewrite');
    return;
  }
  const { openCompactionDb, writeCompactedFile } = await loadCompactedRewriter(`lake ${place.uri(entry.key)}`);
  const work = await mkdtemp(path.join(os.tmpdir(), 'sluice-lake-rewrite-'));
  // Units rewrite in worker threads side by side: each DuckDB keeps to a small share of memory (its sort spills).
  const db = await openCompactionDb({ threads: 2, memoryLimit: '256MB', spillDir: work });
  try {
    let source = place.uri(entry.key);
    if (place.kind !== 'local') {
      source = path.join(work, baseName(entry.key));
      if (!(await place.download(entry.key, source))) throw new SluiceError(`lake: ${place.uri(entry.key)} disappeared while this unit held its folder's lock`, { code: 'LAKE_COMPACTED_GONE', stage: 'sink', retryable: true });
    }
    const staged = await place.stage(entry.key);
    try {
      const { rows } = await writeCompactedFile(db.connection, {
        sources: [{ file: source, dropIdPrefixes: prefixes }],
        out: staged.localPath,
        metadata: compactedMetadata(kept, manifest.rowGroupRows),
        rowGroupRows: manifest.rowGroupRows,
        where: place.uri(entry.key),
      });
      if (rows === 0) {
        await staged.discard();
        await place.remove(entry.key);
      } else {
        await staged.seal();
        await staged.publish();
      }
    } catch (err) {
      await staged.discard();
      throw err;
    }
    crashPoint('mid-lake-rewrite');
  } finally {
    db.close();
    await rm(work, { recursive: true, force: true });
  }
}
