/**
 * Whole-process crash test: `sluice run` is SIGKILLed at different points (while a part is being
 * written, after some units committed, at seeded random moments), then run to completion. The
 * outputs must hold every input record exactly once, and no temp file may remain.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildDemoInventory } from '../src/demo/inventory.js';
import { writeFlowLogObjects } from '../src/demo/flow-log-generator.js';
import { openSqliteLedger } from '../src/runtime/ledger/sqlite.js';
import { expectedFlowLogIds, idCountsInOutputs, listFiles } from '../src/testing/output-oracle.js';
import { repoRoot } from '../src/testing/repo-root.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-kill-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const bin = path.join(repoRoot(), 'bin', 'sluice.js');

function startRun(config: string): { child: ChildProcess; exited: Promise<{ code: number | null; stdout: string }> } {
  const child = spawn(process.execPath, [bin, 'run', '-c', config, '--json', '--no-progress'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' },
  });
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.resume();
  const exited = new Promise<{ code: number | null; stdout: string }>((resolve) => child.on('exit', (code) => resolve({ code, stdout })));
  return { child, exited };
}

function hasTempFile(dir: string): boolean {
  return existsSync(dir) && listFiles(dir).some((f) => f.includes('.sluice-tmp'));
}

async function doneUnits(state: string): Promise<number> {
  if (!existsSync(state)) return 0;
  const ledger = openSqliteLedger(state);
  try {
    return (await ledger.counts('kill-test')).done;
  } finally {
    await ledger.close();
  }
}

/** Polls until the trigger holds or the process ends; returns true when it was killed while running. */
async function killWhen(run: ReturnType<typeof startRun>, trigger: () => boolean | Promise<boolean>): Promise<boolean> {
  let ended = false;
  void run.exited.then(() => (ended = true));
  while (!ended) {
    if (await trigger()) {
      const wasRunning = run.child.exitCode === null;
      run.child.kill('SIGKILL');
      await run.exited;
      return wasRunning;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return false;
}

test('SIGKILL at several points, then resume: every record exactly once, no temp files left', { timeout: 240_000 }, async () => {
  // Prepare: 8 objects of 30k flow-log lines, small parts so that renames happen all the time.
  const logs = path.join(tmp, 'logs');
  const out = path.join(tmp, 'out');
  const state = path.join(tmp, 'state.db');
  await writeFlowLogObjects({ dir: logs, inventory: buildDemoInventory(3), seed: 7, objects: 8, linesPerObject: 30_000, start: new Date(Date.UTC(2024, 2, 26, 3)), format: 'v2' });
  const config = path.join(tmp, 'pipeline.yaml');
  writeFileSync(
    config,
    [
      'name: kill-test',
      `source: { uri: ${logs} }`,
      'format: vpcflow',
      'sinks:',
      `  - { type: files, path: ${out}, format: ndjson, targetSizeMb: 0.5 }`,
      `runtime: { concurrency: 3, workers: 2, state: ${state}, maxAttempts: 100, backoffMs: 10 }`,
      '',
    ].join('\n'),
  );
  const expected = await expectedFlowLogIds(logs);
  assert.equal(expected.size, 8 * 30_000);

  // Act: kill at named points, then at seeded moments, then run to the end.
  const kills: boolean[] = [];
  kills.push(await killWhen(startRun(config), () => hasTempFile(out))); // mid-write of a part
  kills.push(await killWhen(startRun(config), async () => (await doneUnits(state)) >= 2)); // after some commits
  kills.push(await killWhen(startRun(config), () => hasTempFile(out)));
  let seed = 12345;
  for (let i = 0; i < 3; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const at = performance.now() + 400 + (seed % 900);
    kills.push(await killWhen(startRun(config), () => performance.now() >= at));
  }
  const doneBeforeFinal = await doneUnits(state);
  const final = await startRun(config).exited;

  // Assess
  assert.ok(kills.filter(Boolean).length >= 4, `expected most kills to hit a running process, got ${JSON.stringify(kills)}`);
  assert.ok(doneBeforeFinal > 0 && doneBeforeFinal < 8, `the final run must have had work left to resume (done before: ${doneBeforeFinal})`);
  assert.equal(final.code, 0, `final run failed: ${final.stdout}`);
  const report = JSON.parse(final.stdout) as { units: { total: number; done: number; skipped: number; dead: number } };
  assert.equal(report.units.total, 8);
  assert.equal(report.units.dead, 0);
  assert.equal(report.units.skipped, doneBeforeFinal);
  assert.equal(report.units.done + report.units.skipped, 8);

  const counts = idCountsInOutputs(out);
  const duplicated = [...counts].filter(([, n]) => n > 1).length;
  const unexpected = [...counts.keys()].filter((id) => !expected.has(id)).length;
  const lost = [...expected].filter((id) => !counts.has(id)).length;
  assert.deepEqual({ lost, duplicated, unexpected }, { lost: 0, duplicated: 0, unexpected: 0 });
  assert.equal(hasTempFile(out), false, 'temp files left behind');
});
