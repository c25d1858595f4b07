/** A local folder as a place: temp file beside the final name, rename at publish, folders fsync'd (atomic-file.ts). */
import { copyFile, link, open, readdir, readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { fsyncDirectory, listFolder, makeFolder, probeWritableFolder, removeFile, TEMP_MARKER, tempPathFor, writeFully } from '../atomic-file.js';
import { SluiceError } from '../errors.js';
import type { Place, PlaceEntry, PublishedObject, StagedObject } from './place.js';

export function createLocalPlace(folder: string): Place {
  const root = path.resolve(folder);
  const fileOf = (key: string) => path.join(root, ...key.split('/'));
  const keyOf = (file: string) => path.relative(root, file).split(path.sep).join('/');

  async function stage(key: string): Promise<StagedObject> {
    const finalPath = fileOf(key);
    const dir = path.dirname(finalPath);
    // New folders must survive a power loss too: fsync the parents whose entries changed.
    for (const changed of await makeFolder(dir)) await fsyncDirectory(changed);
    const localPath = tempPathFor(finalPath);
    let state: 'staged' | 'published' | 'discarded' = 'staged';
    return {
      key,
      localPath,
      async seal() {},
      async publish(): Promise<PublishedObject> {
        if (state !== 'staged') throw new SluiceError(`cannot publish ${finalPath}: it was ${state}`, { code: 'PLACE_STATE', stage: 'sink' });
        await rename(localPath, finalPath);
        await fsyncDirectory(dir);
        state = 'published';
        return { uri: finalPath, key };
      },
      async discard() {
        if (state === 'published') return;
        state = 'discarded';
        await removeFile(localPath).catch(() => undefined);
      },
    };
  }

  async function entriesOf(dir: string): Promise<PlaceEntry[]> {
    const out: PlaceEntry[] = [];
    for (const name of (await listFolder(dir)).sort()) {
      if (name.includes(TEMP_MARKER)) continue;
      const file = path.join(dir, name);
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) continue;
      out.push({ key: keyOf(file), size: info.size, etag: `${info.size}-${Math.floor(info.mtimeMs)}` });
    }
    return out;
  }

  /** Objects under `dir`, in key order; at its top only names starting with `namePrefix`. */
  async function* walk(dir: string, namePrefix = ''): AsyncIterable<PlaceEntry> {
    let names: Array<{ name: string; isDirectory(): boolean; isFile(): boolean }>;
    try {
      names = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw err;
    }
    // Key order: compare names as keys compare (a folder's contents sort after "name/").
    names.sort((a, b) => Buffer.compare(Buffer.from(a.isDirectory() ? `${a.name}/` : a.name), Buffer.from(b.isDirectory() ? `${b.name}/` : b.name)));
    for (const entry of names) {
      if (entry.name.includes(TEMP_MARKER) || !entry.name.startsWith(namePrefix)) continue;
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) yield* walk(file);
      else if (entry.isFile()) {
        const info = await stat(file).catch(() => undefined);
        if (info) yield { key: keyOf(file), size: info.size, etag: `${info.size}-${Math.floor(info.mtimeMs)}` };
      }
    }
  }

  return {
    root,
    kind: 'local',
    uri: fileOf,
    stage,
    async put(key, bytes) {
      const staged = await stage(key);
      try {
        const handle = await open(staged.localPath, 'w');
        try {
          await writeFully(handle, bytes);
          await handle.sync();
        } finally {
          await handle.close();
        }
        return await staged.publish();
      } catch (err) {
        await staged.discard();
        throw err;
      }
    },
    async create(key, bytes) {
      const finalPath = fileOf(key);
      const dir = path.dirname(finalPath);
      for (const changed of await makeFolder(dir)) await fsyncDirectory(changed);
      // Complete before it has its name: a hard link fails when the name exists, a rename would not.
      const temp = tempPathFor(finalPath);
      try {
        const handle = await open(temp, 'wx');
        try {
          await writeFully(handle, bytes);
          await handle.sync();
        } finally {
          await handle.close();
        }
        try {
          await link(temp, finalPath);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
          throw err;
        }
        await fsyncDirectory(dir);
        return { uri: finalPath, key };
      } finally {
        await removeFile(temp);
      }
    },
    async read(key) {
      try {
        return await readFile(fileOf(key));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    async readRange(key, offset, length) {
      let handle;
      try {
        handle = await open(fileOf(key), 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
      try {
        const buffer = Buffer.alloc(length);
        let filled = 0;
        while (filled < length) {
          const { bytesRead } = await handle.read(buffer, filled, length - filled, offset + filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        return buffer.subarray(0, filled);
      } finally {
        await handle.close();
      }
    },
    async download(key, file) {
      if (!(await stat(fileOf(key)).catch(() => undefined))?.isFile()) return false;
      const temp = tempPathFor(file);
      try {
        await copyFile(fileOf(key), temp);
        await rename(temp, file);
      } catch (err) {
        await removeFile(temp);
        throw err;
      }
      return true;
    },
    async move(fromKey, toKey) {
      const from = fileOf(fromKey);
      const to = fileOf(toKey);
      for (const changed of await makeFolder(path.dirname(to))) await fsyncDirectory(changed);
      await rename(from, to);
      await fsyncDirectory(path.dirname(to));
      if (path.dirname(from) !== path.dirname(to)) await fsyncDirectory(path.dirname(from));
      return { uri: to, key: toKey };
    },
    list: (folder) => entriesOf(folder === '' ? root : fileOf(folder)),
    listTree: (prefix = '') => {
      // A prefix is a folder ('a/b/'), or a folder and the start of names in it ('a/b/x-').
      if (prefix === '' || prefix.replace(/\/+$/, '') === '') return walk(root);
      if (prefix.endsWith('/')) return walk(fileOf(prefix.replace(/\/+$/, '')));
      return filterTree(walk(path.dirname(fileOf(prefix)), path.basename(fileOf(prefix))), prefix);
    },
    remove: (key) => removeFile(fileOf(key)),
    async removeLeftovers(keyPrefix, nameFilter) {
      const file = fileOf(keyPrefix);
      const dir = keyPrefix.endsWith('/') ? file : path.dirname(file);
      const namePrefix = keyPrefix.endsWith('/') ? '' : path.basename(file);
      let removed = 0;
      for (const name of await listFolder(dir)) {
        const marker = name.indexOf(TEMP_MARKER);
        if (name.startsWith(`.${namePrefix}`) && marker > 0 && (nameFilter === undefined || nameFilter(name.slice(1, marker)))) {
          await removeFile(path.join(dir, name));
          removed += 1;
        }
      }
      return removed;
    },
    probe: () => probeWritableFolder(root),
    async close() {},
  };
}

async function* filterTree(entries: AsyncIterable<PlaceEntry>, prefix: string): AsyncIterable<PlaceEntry> {
  for await (const entry of entries) if (entry.key.startsWith(prefix)) yield entry;
}
