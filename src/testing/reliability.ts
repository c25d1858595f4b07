/**
 * The reliability suite's shared kit (test/reliability/): generated flow-log inputs whose every
 * line has a known record id, the one oracle every scenario uses, `sluice run` as a child process
 * that can be killed, and the scenario results that `npm run test:reliability` gathers into
 * bench/results/reliability.json.
 *
 * The oracle, always the same: every input id is in the outputs exactly once, or in dead letters
 * with a reason (and then only the ids the scenario expects there); nothing else is in either.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { objectIdPrefix, recordId } from '../core/record.js';
import { buildDemoInventory } from '../demo/inventory.js';
import { writeFlowLogObjects } from '../demo/flow-log-generator.js';
import { createDirSource } from '../sources/dir/index.js';
import { expectedFlowLogIds, idCountsInOutputs, listFiles, ndjsonPartLines } from './output-oracle.js';
import { repoRoot } from './repo-root.js';

export interface FlowLogInput {
  dir: string;
  /** Every record id the input holds (good lines and garbage lines alike). */
  ids: Set<string>;
  /** Ids of the lines that are garbage on purpose: they must end in dead letters, nothing else may. */
  garbageIds: Set<string>;
  /** Sum of the `bytes` field over the good lines: outputs must add up to it. */
  bytesSum: number;
}

/**
 * Writes `objects` gzip flow-log objects of `lines` lines (and `big.objects` more of `big.lines`
 * lines, twelve hours later), then replaces line `garbageEvery`, `2 × garbageEvery`, … of every
 * third object with a line no format accepts.
 */
export async function writeFlowLogInput(options: {
  dir: string;
  objects: number;
  lines: number;
  seed: number;
  garbageEvery?: number;
  big?: { objects: number; lines: number };
}): Promise<FlowLogInput> {
  const batches = [{ objects: options.objects, lines: options.lines, hour: 3 }];
  if (options.big) batches.push({ ...options.big, hour: 15 });
  for (const [i, batch] of batches.entries()) {
    await writeFlowLogObjects({
      dir: options.dir,
      inventory: buildDemoInventory(3),
      seed: options.seed + i,
      objects: batch.objects,
      linesPerObject: batch.lines,
      start: new Date(Date.UTC(2024, 2, 26, batch.hour)),
      format: 'v2',
    });
  }
  const garbageIds = new Set<string>();
  let bytesSum = 0;
  let n = 0;
  for await (const page of createDirSource(options.dir).list()) {
    for (const ref of page) {
      const lines = gunzipSync(readFileSync(ref.uri)).toString('utf8').split('\n');
      if (options.garbageEvery && n % 3 === 0) {
        for (let i = options.garbageEvery; i < lines.length - 1; i += options.garbageEvery) lines[i] = `garbage line ${n}/${i} \u0000 not a flow`;
        writeFileSync(ref.uri, gzipSync(lines.join('\n')));
      }
      n++;
    }
  }
  // Ids depend on the object's etag, so read them after the rewrite.
  for await (const page of createDirSource(options.dir).list()) {
    for (const ref of page) {
      const prefix = objectIdPrefix(ref);
      gunzipSync(readFileSync(ref.uri))
        .toString('utf8')
        .split('\n')
        .forEach((line, i) => {
          if (line.startsWith('garbage line')) garbageIds.add(recordId(prefix, i + 1));
          else if (line.trim() !== '' && !line.startsWith('version ')) {
            const bytes = Number(line.split(' ')[9]); // NODATA/SKIPDATA lines have '-'
            if (Number.isFinite(bytes)) bytesSum += bytes;
          }
        });
    }
  }
  return { dir: options.dir, ids: await expectedFlowLogIds(options.dir), garbageIds, bytesSum };
}

/** Record ids (and reasons) in the dead-letter files under `dir`, mapped from object + line. */
export async function deadLetterIds(dir: string, inputDir: string): Promise<Map<string, string>> {
  const prefixes = new Map<string, string>();
  for await (const page of createDirSource(inputDir).list()) for (const ref of page) prefixes.set(ref.uri, objectIdPrefix(ref));
  const found = new Map<string, string>();
  if (!existsSync(dir)) return found;
  for (const file of listFiles(dir)) {
    if (!file.endsWith('.rejected.ndjson')) continue;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line) continue;
      const entry = JSON.parse(line) as { object: string; line: number; reason: string; record?: { id: string } };
      const id = entry.record?.id ?? recordId(prefixes.get(entry.object) ?? `?${entry.object}`, entry.line);
      if (found.has(id)) found.set(id, `${found.get(id)} | DUPLICATE DEAD LETTER`);
      else found.set(id, entry.reason);
    }
  }
  return found;
}

export interface Reconciliation {
  in: number;
  out: number;
  dead: number;
  lost: number;
  duplicated: number;
  /** Ids in outputs or dead letters that the input does not have. */
  unexpected: number;
  /** Ids in dead letters that the scenario did not expect there (or expected ones that are missing). */
  wrongDead: number;
}

/** The oracle: compares the outputs (id → copies) and dead letters (id → reason) with the input. */
export function reconcile(input: { ids: Set<string>; garbageIds: Set<string> }, outputs: Map<string, number>, dead: Map<string, string>, expectedDead?: Set<string>): Reconciliation {
  const wanted = expectedDead ?? input.garbageIds;
  let lost = 0;
  let duplicated = 0;
  let unexpected = 0;
  let wrongDead = 0;
  for (const id of input.ids) {
    const copies = (outputs.get(id) ?? 0) + (dead.has(id) ? 1 : 0);
    if (copies === 0) lost++;
    if (copies > 1) duplicated++;
  }
  for (const id of outputs.keys()) if (!input.ids.has(id)) unexpected++;
  for (const [id, reason] of dead) {
    if (!input.ids.has(id)) unexpected++;
    else if (!wanted.has(id) || reason.includes('DUPLICATE')) wrongDead++;
  }
  for (const id of wanted) if (!dead.has(id)) wrongDead++;
  let out = 0;
  for (const n of outputs.values()) out += n;
  return { in: input.ids.size, out, dead: dead.size, lost, duplicated, unexpected, wrongDead };
}

/** The oracle's verdict as an assertion: nothing lost, duplicated, made up or wrongly dead-lettered. */
export function assertExactlyOnce(r: Reconciliation): void {
  assert.deepEqual(
    { lost: r.lost, duplicated: r.duplicated, unexpected: r.unexpected, wrongDead: r.wrongDead },
    { lost: 0, duplicated: 0, unexpected: 0, wrongDead: 0 },
  );
}

/** Sum of `bytes` over the NDJSON parts (gzip or plain) under `dir`. */
export function bytesSumInOutputs(dir: string): number {
  let sum = 0;
  for (const file of listFiles(dir)) {
    for (const line of ndjsonPartLines(file) ?? []) {
      if (line) sum += Number((JSON.parse(line) as { bytes?: number }).bytes ?? 0);
    }
  }
  return sum;
}

export { idCountsInOutputs };

export interface SluiceProcess {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** Starts `sluice <args>` as a child process (logs at warn, JSON report on stdout). */
export function startSluice(args: string[], env: Record<string, string> = {}): SluiceProcess {
  const child = spawn(process.execPath, [path.join(repoRoot(), 'bin', 'sluice.js'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SLUICE_LOG_LEVEL: 'warn', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, exited };
}

/** A seeded generator for the suite's random choices (same seed, same kills). */
export function seededInts(seed: number): (below: number) => number {
  let state = seed >>> 0 || 1;
  return (below) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % below;
  };
}

export interface ScenarioResult {
  scenario: string;
  tier: 'quick' | 'long';
  runs: number;
  /** Kills or faults actually injected (not merely scheduled). */
  faultsInjected: number;
  records: { in: number; out: number; dead: number };
  lost: number;
  duplicated: number;
  peakRssBytes?: number;
  elapsedMs: number;
  details?: Record<string, unknown>;
}

/**
 * Keeps a scenario's figures when `SLUICE_RELIABILITY_RESULTS` names a folder (what
 * `npm run test:reliability` does); `scripts/reliability-summary.mjs` gathers them into one file.
 */
export function recordScenario(result: ScenarioResult): void {
  const dir = process.env.SLUICE_RELIABILITY_RESULTS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${result.scenario}.json`), `${JSON.stringify(result, null, 2)}\n`);
}
