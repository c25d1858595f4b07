/**
 * A local folder as a source. Keys are paths relative to the root with '/' separators, listed in
 * the byte order of their UTF-8 keys (the order S3 lists in), so a folder and a bucket holding the
 * same files plan the same units in the same order.
 *
 * Order across nesting: a folder `a` is walked where the key `a/` sorts, which is after `a-b` and
 * `a.txt` but before `a0`; sorting entries by name with '/' appended to folders gives exactly the
 * order of the full keys.
 *
 * Skipped: dot-files and dot-folders (state, editors' droppings) and our own in-progress files
 * (names containing `.sluice-tmp`). A date window prunes whole folders by their date before
 * reading them, and files by the date in their key.
 */
import type { Dirent, Stats } from 'node:fs';
import { open, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { FolderPage, Source, TimeWindow } from '../../core/component.js';
import { SluiceError, toSluiceError } from '../../core/errors.js';
import type { ObjectRef } from '../../core/record.js';
import { isWindowSet, keyInWindow, prefixInWindow } from '../../core/key-dates.js';

export interface DirSourceOptions {
  /** A key must match to be listed. */
  include?: RegExp;
  /** Keys matching this are not listed. */
  exclude?: RegExp;
  /** Refs per page (default 1000). */
  pageSize?: number;
}

const READ_CHUNK_BYTES = 256 * 1024;
/** Stats issued at once while listing a folder: enough to hide latency, few enough for fds. */
const STAT_BATCH = 64;
const IN_PROGRESS_MARK = '.sluice-tmp';

/**
 * Creates a source over a local folder (or a single file).
 *
 * @example
 * const source = createDirSource('./logs', { exclude: /CloudTrail-Digest\// });
 * for await (const page of source.list({ from: Date.UTC(2024, 0, 1) })) console.log(page.length);
 */
export function createDirSource(root: string, options: DirSourceOptions = {}): Source {
  const rootPath = path.resolve(root);
  const pageSize = options.pageSize ?? 1000;

  function wanted(key: string): boolean {
    if (options.include && !options.include.test(key)) return false;
    if (options.exclude && options.exclude.test(key)) return false;
    return true;
  }

  async function* list(window?: TimeWindow): AsyncIterable<ObjectRef[]> {
    const rootStats = await statRoot(rootPath);
    if (!rootStats.isDirectory()) {
      // A single file: its key is its name.
      const key = path.basename(rootPath);
      if (wanted(key) && keyInWindow(key, window)) yield [toRef(rootPath, key, rootStats)];
      return;
    }
    let page: ObjectRef[] = [];
    const realRoot = await realpath(rootPath);
    for await (const ref of walk(rootPath, realRoot, '', window, new Set([realRoot]))) {
      if (!wanted(ref.key)) continue;
      page.push(ref);
      if (page.length >= pageSize) {
        yield page;
        page = [];
      }
    }
    if (page.length > 0) yield page;
  }

  /** `ancestors` holds the real paths of the folders being walked: a link to one would loop. */
  async function* walk(
    dir: string,
    realDir: string,
    keyPrefix: string,
    window: TimeWindow | undefined,
    ancestors: Set<string>,
  ): AsyncGenerator<ObjectRef> {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      throw listingError(err, dir);
    }
    const candidates = entries.filter((e) => !e.name.startsWith('.') && !e.name.includes(IN_PROGRESS_MARK));
    const resolved = await resolveEntries(dir, candidates);
    resolved.sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));

    for (const entry of resolved) {
      const full = path.join(dir, entry.name);
      const key = keyPrefix + entry.name;
      if (entry.stats.directory) {
        if (isWindowSet(window) && !prefixInWindow(`${key}/`, window)) continue;
        const real = entry.symlink ? await realpath(full) : path.join(realDir, entry.name);
        if (ancestors.has(real)) continue;
        ancestors.add(real);
        yield* walk(full, real, `${key}/`, window, ancestors);
        ancestors.delete(real);
      } else {
        if (keyInWindow(key, window)) yield toRef(full, key, entry.stats);
      }
    }
  }

  async function openObject(ref: ObjectRef, signal?: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
    let handle;
    try {
      handle = await open(ref.uri, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        throw new SluiceError(`${ref.uri} does not exist (any more)`, {
          code: 'OBJECT_NOT_FOUND',
          stage: 'read',
          retryable: false,
          hint: 'the file was moved or deleted after it was listed; re-run to plan the current files',
          cause: err,
        });
      }
      throw new SluiceError(`cannot open ${ref.uri}: ${(err as Error).message}`, {
        code: code ?? 'READ_FAILED',
        stage: 'read',
        retryable: code === 'EMFILE' || code === 'ENFILE' || code === 'EBUSY' || code === 'EAGAIN',
        cause: err,
      });
    }
    if (ref.etag !== undefined) {
      // Record ids derive from the etag: reading different bytes under the listed etag would
      // give new records old ids.
      const now = await handle.stat().catch(async (err: unknown) => {
        await handle.close();
        throw toSluiceError(err, 'read', `cannot stat ${ref.uri}`);
      });
      if (versionOf(now) !== ref.etag) {
        await handle.close();
        throw new SluiceError(`${ref.uri} changed after it was listed (was ${ref.etag}, now ${versionOf(now)})`, {
          code: 'OBJECT_CHANGED',
          stage: 'read',
          retryable: false,
          hint: 're-run to plan the file as it is now',
        });
      }
    }
    return handle.createReadStream({ highWaterMark: READ_CHUNK_BYTES, signal });
  }

  /** One folder level: files (wanted ones) and sub-folders, each in key order, as one page. */
  async function* listFolder(keyPrefix = ''): AsyncIterable<FolderPage> {
    const rootStats = await statRoot(rootPath);
    if (!rootStats.isDirectory()) return;
    const dir = path.join(rootPath, ...keyPrefix.split('/').filter((s) => s !== ''));
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw listingError(err, dir);
    }
    const candidates = entries.filter((e) => !e.name.startsWith('.') && !e.name.includes(IN_PROGRESS_MARK));
    const resolved = await resolveEntries(dir, candidates);
    resolved.sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));
    const page: FolderPage = { objects: [], folders: [] };
    for (const entry of resolved) {
      const key = keyPrefix + entry.name;
      if (entry.stats.directory) page.folders.push(`${key}/`);
      else if (wanted(key)) page.objects.push(toRef(path.join(dir, entry.name), key, entry.stats));
    }
    yield page;
  }

  return {
    root: rootPath,
    list,
    open: openObject,
    listFolder,
  };
}

/** What a listing keeps of a file's stat: a folder of 100,000 files must not hold 100,000 Stats objects. */
interface FileFacts {
  directory: boolean;
  size: number;
  mtimeMs: number;
}

interface ResolvedEntry {
  name: string;
  stats: FileFacts;
  symlink: boolean;
  sortKey: Buffer;
}

async function resolveEntries(dir: string, entries: Dirent[]): Promise<ResolvedEntry[]> {
  const out: ResolvedEntry[] = [];
  for (let i = 0; i < entries.length; i += STAT_BATCH) {
    const batch = entries.slice(i, i + STAT_BATCH);
    const stats = await Promise.all(
      batch.map((e) =>
        stat(path.join(dir, e.name)).catch((err: NodeJS.ErrnoException) => {
          // Deleted between readdir and stat, or a dangling link: nothing to read there.
          if (err.code === 'ENOENT') return undefined;
          throw listingError(err, path.join(dir, e.name));
        }),
      ),
    );
    batch.forEach((entry, j) => {
      const s = stats[j];
      if (!s || (!s.isDirectory() && !s.isFile())) return;
      out.push({
        name: entry.name,
        stats: { directory: s.isDirectory(), size: s.size, mtimeMs: s.mtimeMs },
        symlink: entry.isSymbolicLink(),
        sortKey: Buffer.from(s.isDirectory() ? `${entry.name}/` : entry.name),
      });
    });
  }
  return out;
}

/** A stand-in for an etag: changes whenever the file's content plausibly changed. */
function versionOf(stats: Pick<FileFacts, 'size' | 'mtimeMs'>): string {
  return `${stats.size}-${stats.mtimeMs}`;
}

function toRef(fullPath: string, key: string, stats: Pick<FileFacts, 'size' | 'mtimeMs'>): ObjectRef {
  return {
    uri: fullPath,
    key,
    size: stats.size,
    etag: versionOf(stats),
    lastModified: new Date(stats.mtimeMs).toISOString(),
  };
}

async function statRoot(rootPath: string): Promise<Stats> {
  try {
    return await stat(rootPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SluiceError(`source folder ${rootPath} does not exist`, {
        code: 'SOURCE_NOT_FOUND',
        stage: 'plan',
        retryable: false,
        hint: 'check source.uri in the pipeline (relative paths are resolved against the pipeline file\'s folder)',
        cause: err,
      });
    }
    throw listingError(err, rootPath);
  }
}

function listingError(err: unknown, where: string): SluiceError {
  const code = (err as NodeJS.ErrnoException).code;
  return new SluiceError(`cannot list ${where}: ${(err as Error).message}`, {
    code: code ?? 'LIST_FAILED',
    stage: 'plan',
    retryable: code === 'EMFILE' || code === 'ENFILE' || code === 'EAGAIN',
    hint: code === 'EACCES' || code === 'EPERM' ? 'check the permissions of that folder' : undefined,
    cause: err,
  });
}
