/**
 * The Sluice package folder (the one holding package.json), found from this file's compiled
 * (`dist/src/core`) or source location: where data files (the OCSF schema) and sources to bundle live.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest folder holding package.json above `from` (a file URL or path; default: this file). */
export function packageRoot(from: string = import.meta.url): string {
  let dir = path.dirname(from.startsWith('file:') ? fileURLToPath(from) : from);
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
  return dir;
}
