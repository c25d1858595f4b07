/**
 * Write-aside-then-rename, the way every Sluice output file appears.
 *
 * Invariants: a file under its final name is always complete. Content is written to a temp
 * file in the same folder (so the rename is atomic, never a cross-device copy), fsync'd and
 * closed; only then is it renamed over the final name, and the folder is fsync'd so the rename
 * itself survives a power loss. Temp names contain `.sluice-tmp` (sources skip such names) and
 * start with a dot followed by the final name, so leftovers of a crashed attempt can be found by
 * the final name's prefix and removed by the next attempt of the same unit.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rm, rmdir, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

/** Marker in every temp file name; sources skip names containing it. */
export const TEMP_MARKER = '.sluice-tmp';

/** Tells this process's temp files from those of processes with the same pid on other hosts. */
const processTag = `${process.pid}-${randomBytes(3).toString('hex')}`;
let tempSequence = 0;

/**
 * A temp path beside `finalPath`, unique to this process and call, so two attempts of the same
 * unit running at once (a worker presumed dead that is still writing, maybe on another host of
 * a shared file system) never share a temp file. Temp names never become output names, so they
 * may differ between runs.
 */
export function tempPathFor(finalPath: string): string {
  tempSequence += 1;
  return path.join(path.dirname(finalPath), `.${path.basename(finalPath)}${TEMP_MARKER}-${processTag}-${tempSequence}`);
}

/** fsyncs a folder so renames and deletions in it are durable. */
export async function fsyncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    // Some platforms (Windows) and file systems cannot open or fsync a folder: nothing to do there.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF' && code !== 'ENOTSUP') throw err;
  } finally {
    await handle?.close();
  }
}

/**
 * Creates `dir` (and parents) and returns the folders whose entries changed, that must be
 * fsync'd for the new folder to survive a power loss: the parent of the first folder created up
 * to `dir` itself. Empty when `dir` already existed.
 */
export async function makeFolder(dir: string): Promise<string[]> {
  const firstCreated = await mkdir(dir, { recursive: true });
  if (firstCreated === undefined) return [];
  const changed: string[] = [];
  for (let d = dir; ; d = path.dirname(d)) {
    changed.push(d);
    if (d === firstCreated || path.dirname(d) === d) break;
  }
  changed.push(path.dirname(firstCreated));
  return changed;
}

/**
 * Writes all of `data`. FileHandle.write makes one write(2), which may write less than asked: on
 * a disk that fills, the first call writes what fits and only the next one fails with ENOSPC.
 * Ignoring the count would drop the tail of a part silently and rename a truncated file into place.
 */
export async function writeFully(handle: FileHandle, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    if (bytesWritten === 0) throw Object.assign(new Error('write made no progress (is the disk full?)'), { code: 'EIO' });
    offset += bytesWritten;
  }
}

/** Deletes a file, ignoring one that is already gone. */
export async function removeFile(file: string): Promise<void> {
  await rm(file, { force: true });
}

/**
 * Proves that files can be created, written and deleted in `dir`, by doing so with a probe (a
 * temp name, so sources skip it), creating the folder for the probe and removing what it created.
 * Throws the file system's error (EACCES, EROFS, ENOTDIR, ENOSPC...).
 */
export async function probeWritableFolder(dir: string): Promise<void> {
  const firstCreated = await mkdir(dir, { recursive: true });
  // A probe left by a process killed mid-preflight would stay forever: remove such leftovers (a
  // probe of a live process is gone within milliseconds, and its own rm ignores a missing file).
  for (const name of await listFolder(dir)) if (name.startsWith(`.preflight${TEMP_MARKER}-`)) await rm(path.join(dir, name), { force: true });
  try {
    tempSequence += 1;
    const probe = path.join(dir, `.preflight${TEMP_MARKER}-${processTag}-${tempSequence}`);
    const handle = await openProbe(dir, probe);
    try {
      await handle.write('sluice preflight\n');
    } finally {
      await handle.close();
      await rm(probe, { force: true });
    }
  } finally {
    // Leave no trace: folders the probe created go again (only while empty; units create them for real).
    if (firstCreated !== undefined) {
      for (let d = dir; ; d = path.dirname(d)) {
        await rmdir(d).catch(() => undefined);
        if (d === firstCreated || path.dirname(d) === d) break;
      }
    }
  }
}

/**
 * Opens the probe file. Another process probing the same new folder at the same moment removes
 * it again when its own probe is done (leave no trace): the folder can vanish between our mkdir
 * and our open, so an ENOENT there means "make it again", a few times, not "unwritable".
 */
async function openProbe(dir: string, probe: string): Promise<FileHandle> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await open(probe, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 5) throw err;
      await mkdir(dir, { recursive: true });
    }
  }
}

/** Names in `dir`, or none when the folder does not exist. */
export async function listFolder(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
