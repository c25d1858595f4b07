/**
 * Full disk: the output folder is a small tmpfs (mounted by the test: needs root, as CI has) that
 * fills half way through a run. The run must fail loudly naming the cause, leave no part that
 * looks complete but is not (every visible part is a whole gzip file, no temp file stays), and,
 * once space is freed, `sluice retry --run` must finish with every record exactly once.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { listFiles } from '../../src/testing/output-oracle.js';
import { assertExactlyOnce, deadLetterIds, idCountsInOutputs, reconcile, recordScenario, startSluice, writeFlowLogInput } from '../../src/testing/reliability.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-full-disk-'));
const out = path.join(tmp, 'out');
mkdirSync(out);
let mounted = false;
after(() => {
  if (mounted) execFileSync('umount', [out]);
  rmSync(tmp, { recursive: true, force: true });
});

test('a disk that fills mid-run: clear failure, no partial file, exact completion after space is freed', { timeout: 180_000 }, async () => {
  const started = performance.now();
  // Prepare: ~8 MB of gzip NDJSON to write onto a 2 MB tmpfs.
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', out]);
  mounted = true;
  const input = await writeFlowLogInput({ dir: path.join(tmp, 'logs'), objects: 12, lines: 20_000, seed: 5, garbageEvery: 4999 });
  const config = path.join(tmp, 'pipeline.yaml');
  writeFileSync(
    config,
    [
      'name: full-disk',
      `source: { uri: ${input.dir} }`,
      'format: vpcflow',
      'sinks:',
      `  - { type: files, path: ${out}, format: ndjson, targetSizeMb: 1 }`,
      `runtime: { state: ${path.join(tmp, 'state.db')}, deadLetters: ${path.join(tmp, 'dead')}, workers: 2, maxAttempts: 2, backoffMs: 1, maxBackoffMs: 5 }`,
      '',
    ].join('\n'),
  );

  // Act 1: the disk fills.
  const failed = await startSluice(['run', '-c', config, '--json', '--no-progress']).exited;

  // Assess 1: a loud failure, and nothing on disk that looks complete but is not.
  assert.notEqual(failed.code, 0, 'a run that could not write everything must not exit 0');
  const report = JSON.parse(failed.stdout) as { units: { dead: number; done: number }; deadUnits: Array<{ error: string; code: string }> };
  assert.ok(report.units.dead > 0);
  assert.ok(report.deadUnits.every((u) => /no space left|ENOSPC/i.test(u.error)), JSON.stringify(report.deadUnits.slice(0, 3)));
  const visible = listFiles(out);
  assert.equal(visible.filter((f) => f.includes('.sluice-tmp')).length, 0, 'temp files left on the full disk');
  for (const file of visible) assert.doesNotThrow(() => gunzipSync(readFileSync(file)), `${file} looks complete but is not`);

  // Act 2: free space (a bigger disk), redrive the dead units and run again.
  execFileSync('mount', ['-o', 'remount,size=64m', out]);
  const resumed = await startSluice(['retry', '-c', config, '--run', '--json']).exited;

  // Assess 2: everything exactly once.
  assert.equal(resumed.code, 0, resumed.stderr.slice(-2000));
  const r = reconcile(input, idCountsInOutputs(out), await deadLetterIds(path.join(tmp, 'dead'), input.dir));
  assertExactlyOnce(r);
  recordScenario({
    scenario: 'full-disk',
    tier: 'quick',
    runs: 2,
    faultsInjected: report.units.dead,
    records: { in: r.in, out: r.out, dead: r.dead },
    lost: r.lost,
    duplicated: r.duplicated,
    elapsedMs: Math.round(performance.now() - started),
    details: { unitsDeadOnFullDisk: report.units.dead, unitsDoneBeforeFull: report.units.done },
  });
});
