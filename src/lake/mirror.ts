/**
 * An S3 lake, read through a local mirror: DuckDB's httpfs extension is not available
 * everywhere Sluice runs, so the partitions a question needs are downloaded into a cache folder
 * (`~/.cache/sluice/lake/<hash of endpoint and location>/` by default) and queried there.
 *
 * Invariants:
 * - The mirror holds only current copies: a cached file whose object is gone or has another
 *   ETag is deleted before anything is downloaded, so the mirror never holds two versions of a
 *   partition (compaction replaces a day's parts with one file; the mirror follows).
 * - A file appears in the mirror complete or not at all (download aside, then rename); the
 *   index (`index.json`: key → ETag) is written after the files, so a crash leaves at worst
 *   files it does not list, which the next sync deletes (and fetches again if still wanted).
 * - A listing is not a snapshot: one taken while a compaction runs can show an input and the
 *   compacted file holding it. An input that a mirrored compacted file lists (by name and size)
 *   is therefore left out, as the writers' rules leave it out of the lake (compacted-file.ts);
 *   the index remembers it (`!<etag>`) so it is not fetched again.
 * - A full disk fails the sync with LAKE_CACHE_FULL, naming the folder and the bytes wanted;
 *   nothing half-downloaded is ever read.
 * - One sync at a time per cache folder (a lock file in it).
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdir, readFile, rename, rm, statfs, writeFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SluiceError } from '../core/errors.js';
import { openPlace, type Place, type S3PlaceOptions } from '../core/place/index.js';
import { baseName, classPartOf, pendingClassOf, readCompactedManifest, withLakeFolderLock } from '../sinks/files/compacted-file.js';

export interface LakeMirrorOptions {
  /** `s3://bucket/prefix`. */
  location: string;
  s3?: Omit<S3PlaceOptions, 'uri'>;
  /** The cache folder (default: under ~/.cache/sluice/lake/, one per endpoint and location). */
  cacheDir?: string;
}

/** One Parquet object of the lake, as listed. */
export interface LakeObject {
  key: string;
  size: number;
  etag: string;
  /** The `eventDay=` folder's value, if it is in one. */
  day?: string;
}

export interface LakeListing {
  objects: LakeObject[];
  /** Folders holding a compaction that a crash interrupted (rows of its inputs are missing until it is finished). */
  interrupted: string[];
}

export interface MirrorSync {
  downloaded: number;
  downloadedBytes: number;
  removed: number;
  /** Inputs left out because a mirrored compacted file holds them. */
  skipped: number;
}

const DAY_FOLDER = /(?:^|\/)eventDay=([^/]+)\//;
const INDEX = 'index.json';
/** Index mark of an input left out because a compacted file holds it. */
const SKIPPED = '!';

/** The default cache folder of a lake location. */
export function defaultMirrorDir(location: string, endpoint: string | undefined): string {
  const base = process.env.XDG_CACHE_HOME ? path.join(process.env.XDG_CACHE_HOME, 'sluice') : path.join(os.homedir(), '.cache', 'sluice');
  const id = createHash('sha256').update(`${endpoint ?? 'aws'}\n${location}`).digest('hex').slice(0, 16);
  return path.join(base, 'lake', id);
}

/** Keys of the lake itself: not dead letters (`_rejected/`), not hidden or temp names. */
function isLakeKey(key: string): boolean {
  return key.endsWith('.parquet') && !key.split('/').some((segment) => segment.startsWith('.') || segment.startsWith('_'));
}

export interface LakeMirror {
  /** The lake's location (`s3://bucket/prefix/`). */
  readonly root: string;
  /** The local folder the mirrored files are in (same keys as the lake). */
  readonly dir: string;
  list(): Promise<LakeListing>;
  /** Makes the mirror hold every listed object `wanted` accepts, current, and nothing stale. */
  sync(listing: LakeListing, wanted: (object: LakeObject) => boolean): Promise<MirrorSync>;
  close(): Promise<void>;
}

/**
 * @example
 * const mirror = createLakeMirror({ location: 's3://lake/ext/', s3: { region: 'eu-west-1' } });
 * const listing = await mirror.list();
 * await mirror.sync(listing, (o) => o.day === '20240501'); // then query files under mirror.dir
 */
export function createLakeMirror(options: LakeMirrorOptions): LakeMirror {
  const place = openPlace(options.location, options.s3);
  const cache = options.cacheDir ? path.resolve(options.cacheDir) : defaultMirrorDir(place.root, options.s3?.endpoint);
  const dir = path.join(cache, 'files');
  const cachePlace = openPlace(cache);
  const fileOf = (key: string) => path.join(dir, ...key.split('/'));

  async function readIndex(): Promise<Map<string, string>> {
    try {
      const parsed = JSON.parse(await readFile(path.join(cache, INDEX), 'utf8')) as Record<string, string>;
      return new Map(Object.entries(parsed).filter(([, v]) => typeof v === 'string'));
    } catch {
      return new Map();
    }
  }

  async function writeIndex(index: Map<string, string>): Promise<void> {
    const temp = path.join(cache, `.${INDEX}.${process.pid}.tmp`);
    try {
      await writeFile(temp, JSON.stringify(Object.fromEntries([...index].sort(([a], [b]) => (a < b ? -1 : 1)))));
      await rename(temp, path.join(cache, INDEX));
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  const cacheFull = (err: unknown, wanted: number): SluiceError =>
    new SluiceError(`the lake cache ${cache} has no room for the ${(wanted / 1e6).toFixed(1)} MB of ${place.root} this needs: ${(err as Error).message}`, {
      code: 'LAKE_CACHE_FULL',
      stage: 'read',
      hint: 'free space there, or pass --cache <folder> on a larger disk (or ask for fewer days); nothing was read from a partial download',
      cause: err,
    });

  async function syncUnderLock(listing: LakeListing, wanted: (object: LakeObject) => boolean, wants: (bytes: number) => void): Promise<MirrorSync> {
    await mkdir(dir, { recursive: true });
    return withLakeFolderLock(cachePlace, '', async () => {
      const index = await readIndex();
      const remote = new Map(listing.objects.map((o) => [o.key, o]));
      let removed = 0;
      const current = async (key: string, object: LakeObject) =>
        index.get(key) === `${SKIPPED}${object.etag}` || (index.get(key) === object.etag && (await stat(fileOf(key)).catch(() => undefined))?.size === object.size);
      // Stale copies go first: the mirror never holds an old and a new version together. Files
      // the index does not know (a download whose index write a full disk stopped) go too.
      for (const key of filesUnder(dir)) {
        if (!index.has(key)) {
          await rm(fileOf(key), { force: true });
          removed++;
        }
      }
      for (const [key, etag] of [...index]) {
        const object = remote.get(key);
        if (object === undefined || object.etag !== etag.replace(SKIPPED, '')) {
          await rm(fileOf(key), { force: true });
          index.delete(key);
          removed++;
        }
      }
      await writeIndex(index);
      const missing: LakeObject[] = [];
      for (const object of listing.objects) if (wanted(object) && !(await current(object.key, object))) missing.push(object);
      const wantedBytes = missing.reduce((n, o) => n + o.size, 0);
      wants(wantedBytes);
      if (wantedBytes > 0) {
        const free = await statfs(dir).then((s) => s.bavail * s.bsize, () => Infinity);
        if (wantedBytes > free) throw cacheFull(new Error(`${(free / 1e6).toFixed(1)} MB free`), wantedBytes);
      }
      let downloadedBytes = 0;
      try {
        for (const object of missing) {
          await mkdir(path.dirname(fileOf(object.key)), { recursive: true });
          if (!(await place.download(object.key, fileOf(object.key)))) continue; // deleted since the listing
          index.set(object.key, object.etag);
          downloadedBytes += object.size;
        }
      } finally {
        // What did arrive is kept (a full disk may keep the index from being written: then it is fetched again).
        await writeIndex(index).catch(() => undefined);
      }
      const skipped = await dropInputsOfCompacted(cachePlace, index, fileOf);
      if (skipped > 0) await writeIndex(index);
      return { downloaded: missing.length, downloadedBytes, removed, skipped };
    });
  }

  return {
    root: place.root,
    dir,
    async list() {
      const objects: LakeObject[] = [];
      const interrupted = new Set<string>();
      for await (const entry of place.listTree()) {
        const name = baseName(entry.key);
        if (pendingClassOf(name) !== undefined) interrupted.add(entry.key.slice(0, entry.key.length - name.length - 1));
        if (!isLakeKey(entry.key)) continue;
        objects.push({ key: entry.key, size: entry.size, etag: entry.etag, day: DAY_FOLDER.exec(entry.key)?.[1] });
      }
      return { objects, interrupted: [...interrupted].sort() };
    },
    async sync(listing, wanted) {
      let wantedBytes = 0;
      try {
        return await syncUnderLock(listing, wanted, (bytes) => (wantedBytes = bytes));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOSPC' || code === 'EDQUOT') throw cacheFull(err, wantedBytes);
        throw err;
      }
    },
    async close() {
      await place.close();
    },
  };

}

/** Keys of the files under `dir` ('/'-separated), none when it does not exist. */
function filesUnder(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { recursive: true, withFileTypes: true });
  } catch {
    return [];
  }
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath ?? e.path, e.name)).split(path.sep).join('/'));
}

/** See the file comment: mirrored inputs that a mirrored compacted file lists are left out. */
async function dropInputsOfCompacted(cachePlace: Place, index: Map<string, string>, fileOf: (key: string) => string): Promise<number> {
  const byFolder = new Map<string, string[]>();
  for (const [key, etag] of index) {
    if (etag.startsWith(SKIPPED)) continue;
    const folder = key.slice(0, Math.max(0, key.lastIndexOf('/')));
    byFolder.set(folder, [...(byFolder.get(folder) ?? []), key]);
  }
  let skipped = 0;
  for (const keys of byFolder.values()) {
    const compacted = keys.filter((k) => classPartOf(baseName(k))?.compacted);
    if (compacted.length === 0) continue;
    const inside = new Map<string, number>();
    for (const key of compacted) {
      const size = (await stat(fileOf(key))).size;
      for (const input of (await readCompactedManifest(cachePlace, `files/${key}`, size)).inputs) inside.set(input.name, input.bytes);
    }
    for (const key of keys) {
      const part = classPartOf(baseName(key));
      if (!part || part.compacted) continue;
      const size = (await stat(fileOf(key)).catch(() => undefined))?.size;
      if (size !== undefined && inside.get(baseName(key)) === size) {
        await rm(fileOf(key), { force: true });
        index.set(key, `${SKIPPED}${index.get(key)}`);
        skipped++;
      }
    }
  }
  return skipped;
}
