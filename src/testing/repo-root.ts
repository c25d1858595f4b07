import path from 'node:path';
import { packageRoot } from '../core/package-root.js';

/** The repository root (the folder holding package.json), found from any compiled or source file. */
export const repoRoot = packageRoot;

export function fixturePath(...parts: string[]): string {
  return path.join(repoRoot(), 'test', 'fixtures', ...parts);
}
