/**
 * The oracle used by whole-process tests: which record ids the input holds, and how many times each
 * id appears in the outputs. "Exactly once" means every input id appears once in the outputs or in
 * dead letters, and nothing else appears.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { objectIdPrefix, recordId } from '../core/record.js';
import { createDirSource } from '../sources/dir/index.js';

/** Record ids of every non-blank, non-header line of the flow-log objects under `dir`. */
export async function expectedFlowLogIds(dir: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for await (const page of createDirSource(dir).list()) {
    for (const ref of page) {
      const prefix = objectIdPrefix(ref);
      const text = gunzipSync(readFileSync(ref.uri)).toString('utf8');
      text.split('\n').forEach((line, i) => {
        if (line.trim() === '' || line.startsWith('version ')) return;
        ids.add(recordId(prefix, i + 1));
      });
    }
  }
  return ids;
}

export function listFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) listFiles(p, out);
    else out.push(p);
  }
  return out;
}

/**
 * The lines of an NDJSON part (gzip or plain), or undefined for any other file: dead-letter files
 * (`.rejected.ndjson`) are not parts, and are read separately.
 */
export function ndjsonPartLines(file: string): string[] | undefined {
  if (file.endsWith('.ndjson.gz')) return gunzipSync(readFileSync(file)).toString('utf8').split('\n');
  if (file.endsWith('.ndjson') && !file.endsWith('.rejected.ndjson')) return readFileSync(file, 'utf8').split('\n');
  return undefined;
}

/** Counts of each `_id` in the NDJSON parts (gzip or plain) under `dir`. */
export function idCountsInOutputs(dir: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const file of listFiles(dir)) {
    for (const line of ndjsonPartLines(file) ?? []) {
      if (!line) continue;
      const id = (JSON.parse(line) as { _id: string })._id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  return counts;
}
