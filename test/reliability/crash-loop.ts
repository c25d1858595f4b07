/**
 * The crash loop: `sluice run` over a multi-object input is SIGKILLed again and again, at each
 * named crash point in turn (src/runtime/crash-points.ts: mid-read, mid-part-write,
 * mid-sink-commit, before-ledger-commit, mid-ledger-commit) and at seeded random moments from
 * outside, then run to completion. When a run gets to the end before its kill, the next one is a
 * `--full-load`, so every kill lands on work in progress. The oracle then checks every record is
 * in the outputs exactly once or in dead letters (only the planted garbage lines), that the bytes
 * add up, that no temp file is left, and that work really was redone (units with more than one
 * attempt).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CRASH_POINTS } from '../../src/core/crash-points.js';
import { openSqliteLedger } from '../../src/runtime/ledger/sqlite.js';
import { listFiles } from '../../src/testing/output-oracle.js';
import {
  assertExactlyOnce,
  bytesSumInOutputs,
  deadLetterIds,
  idCountsInOutputs,
  reconcile,
  seededInts,
  startSluice,
  writeFlowLogInput,
  type Reconciliation,
  type ScenarioResult,
} from '../../src/testing/reliability.js';

export interface CrashLoopOutcome {
  result: ScenarioResult;
  reconciliation: Reconciliation;
  bytes: { in: number; out: number };
  tempFilesLeft: number;
  /** Kills by where they landed: a named point, or `random` (from outside, while running). */
  killsByPoint: Record<string, number>;
  /** Runs that finished before their kill (the next one was a full load). */
  completedRuns: number;
  unitsRedone: number;
  finalExit: number | null;
  /** Garbage lines planted in the input (they must be exactly the dead letters). */
  planted: number;
}

export async function runCrashLoop(options: { kills: number; seed: number; objects: number; lines: number; tier: 'quick' | 'long' }): Promise<CrashLoopOutcome> {
  const started = performance.now();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-crash-loop-'));
  try {
    const input = await writeFlowLogInput({ dir: path.join(tmp, 'logs'), objects: options.objects, lines: options.lines, seed: options.seed, garbageEvery: 997 });
    const out = path.join(tmp, 'out');
    const dead = path.join(tmp, 'dead');
    const state = path.join(tmp, 'state.db');
    const config = path.join(tmp, 'pipeline.yaml');
    writeFileSync(
      config,
      [
        'name: crash-loop',
        `source: { uri: ${input.dir} }`,
        'format: vpcflow',
        'sinks:',
        `  - { type: files, path: ${out}, format: ndjson, targetSizeMb: 0.75 }`,
        `runtime: { concurrency: 3, workers: 2, state: ${state}, deadLetters: ${dead}, maxAttempts: 100, backoffMs: 10, maxBackoffMs: 50 }`,
        '',
      ].join('\n'),
    );
    const random = seededInts(options.seed);
    const killsByPoint: Record<string, number> = {};
    let completedRuns = 0;
    let fullLoadNext = false;
    let runs = 0;
    for (let i = 0; i < options.kills; ) {
      const args = ['run', '-c', config, '--json', '--no-progress', ...(fullLoadNext ? ['--full-load'] : [])];
      const named = i % 6 < 5 ? CRASH_POINTS[i % 6]! : undefined;
      const run = startSluice(args, named ? { SLUICE_CRASH_AT: `${named}@${1 + random(4)}` } : {});
      runs++;
      let killedFromOutside = false;
      if (!named) {
        const timer = setTimeout(() => {
          killedFromOutside = run.child.exitCode === null;
          run.child.kill('SIGKILL');
        }, 300 + random(1500));
        await run.exited;
        clearTimeout(timer);
      }
      const exit = await run.exited;
      if (exit.signal === 'SIGKILL' && (named || killedFromOutside)) {
        const where = named ?? 'random';
        killsByPoint[where] = (killsByPoint[where] ?? 0) + 1;
        fullLoadNext = false;
        i++;
      } else if (exit.code === 0) {
        // Everything was done before the kill came: start over so the next kill hits work.
        completedRuns++;
        fullLoadNext = true;
        if (completedRuns > options.kills) throw new Error('the crash loop never reaches its crash points');
      } else {
        throw new Error(`run ${runs} ended with code ${exit.code} signal ${exit.signal}: ${exit.stderr.slice(-2000)}`);
      }
    }
    const final = await startSluice(['run', '-c', config, '--json', '--no-progress']).exited;
    runs++;
    const report = final.code === 0 ? (JSON.parse(final.stdout) as { peakRssBytes: number }) : undefined;

    const ledger = openSqliteLedger(state);
    let unitsRedone = 0;
    try {
      for (const unit of await ledger.listUnits('crash-loop', { limit: 100_000 })) if (unit.attempts > 1) unitsRedone++;
    } finally {
      await ledger.close();
    }
    const reconciliation = reconcile(input, idCountsInOutputs(out), await deadLetterIds(dead, input.dir));
    const tempFilesLeft = [out, dead].filter(existsSync).flatMap((d) => listFiles(d)).filter((f) => f.includes('.sluice-tmp')).length;
    const faults = Object.values(killsByPoint).reduce((a, b) => a + b, 0);
    return {
      result: {
        scenario: `crash-loop-${options.tier}`,
        tier: options.tier,
        runs,
        faultsInjected: faults,
        records: { in: reconciliation.in, out: reconciliation.out, dead: reconciliation.dead },
        lost: reconciliation.lost,
        duplicated: reconciliation.duplicated,
        peakRssBytes: report?.peakRssBytes,
        elapsedMs: Math.round(performance.now() - started),
        details: { killsByPoint, completedRuns, unitsRedone, unexpected: reconciliation.unexpected, wrongDead: reconciliation.wrongDead },
      },
      reconciliation,
      bytes: { in: input.bytesSum, out: bytesSumInOutputs(out) },
      tempFilesLeft,
      killsByPoint,
      completedRuns,
      unitsRedone,
      finalExit: final.code,
      planted: input.garbageIds.size,
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** What every crash loop must show, whatever its size: see the file's opening comment. */
export function assertCrashLoopHeld(outcome: CrashLoopOutcome, minKillsPerPoint: number): void {
  assert.equal(outcome.finalExit, 0, 'the final run must succeed');
  assertExactlyOnce(outcome.reconciliation);
  assert.ok(outcome.planted > 0);
  assert.equal(outcome.reconciliation.dead, outcome.planted, 'exactly the planted garbage lines are dead letters');
  assert.equal(outcome.bytes.out, outcome.bytes.in, 'the bytes of the outputs add up to the input');
  assert.equal(outcome.tempFilesLeft, 0);
  // The crashes landed where they matter, and work was redone because of them.
  for (const point of CRASH_POINTS) {
    assert.ok((outcome.killsByPoint[point] ?? 0) >= minKillsPerPoint, `too few kills at ${point}: ${JSON.stringify(outcome.killsByPoint)}`);
  }
  assert.ok(outcome.unitsRedone > 0, 'no unit was ever redone: the kills missed the work');
}
