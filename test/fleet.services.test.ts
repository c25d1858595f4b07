/**
 * Whole-process fleet test against the real PostgreSQL: `sluice plan` once, then three
 * `sluice worker` processes share the units. One is SIGKILLed in the middle of a unit, another is
 * SIGSTOPped past its lease (its unit is taken over) and then SIGCONTinued. The run must complete
 * with every input record exactly once in the outputs, and the frozen worker's late result must be
 * refused (fenced): no unit may end up committed by a worker whose lease was taken over.
 *
 * Who committed what is read from the workers' JSON logs (`unit done` / `unit fenced` lines carry
 * the unit key and lease token) and checked against the ledger: a done unit keeps the token of the
 * lease that committed it.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import pg from 'pg';
import { writeFlowLogObjects } from '../src/demo/flow-log-generator.js';
import { buildDemoInventory } from '../src/demo/inventory.js';
import { expectedFlowLogIds, idCountsInOutputs, listFiles } from '../src/testing/output-oracle.js';
import { repoRoot } from '../src/testing/repo-root.js';

const SERVER = 'postgres://postgres@127.0.0.1:5432/test';
const schema = `sluice_fleet_${randomBytes(4).toString('hex')}`;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-fleet-'));
const bin = path.join(repoRoot(), 'bin', 'sluice.js');
const admin = new pg.Pool({ connectionString: SERVER, max: 2 });
admin.on('error', () => undefined);
const LEASE_MS = 2_000;

after(async () => {
  rmSync(tmp, { recursive: true, force: true });
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
});

/** The ledger URL reaches the processes the way a fleet should pass it: through an env: reference. */
const env = { ...process.env, SLUICE_FLEET_LEDGER: `${SERVER}?schema=${schema}`, SLUICE_LOG_LEVEL: 'debug' };

interface LogLine {
  msg: string;
  key?: string;
  token?: number;
}

interface Worker {
  name: string;
  child: ChildProcess;
  lines: LogLine[];
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Every test worker, so that a timeout can show what they logged. */
const startedWorkers: Worker[] = [];

function startWorker(name: string, config: string, extraArgs: string[] = []): Worker {
  const child = spawn(process.execPath, [bin, 'worker', '-c', config, '--json', '--poll-ms', '200', ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const worker: Worker = { name, child, lines: [], stderr: [], exited: undefined as never };
  let partial = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    const complete = partial.split('\n');
    partial = complete.pop()!;
    for (const line of complete) {
      worker.stderr.push(line);
      try {
        worker.lines.push(JSON.parse(line) as LogLine);
      } catch {
        // not a log line (a Node warning): kept in stderr for the failure message
      }
    }
  });
  child.stdout!.resume();
  worker.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  startedWorkers.push(worker);
  return worker;
}

function startFollower(name: string, config: string): Worker {
  return startWorker(name, config, ['--follow']);
}

/** The unit a worker has started and not yet finished, if any (each worker runs one unit at a time here). */
function unitInFlight(worker: Worker): { key: string; token: number } | undefined {
  const last = [...worker.lines].reverse().find((l) => l.msg.startsWith('unit '));
  return last?.msg === 'unit started' ? { key: last.key!, token: last.token! } : undefined;
}

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      const logs = startedWorkers.map((w) => `--- worker ${w.name}:\n${w.stderr.slice(-15).join('\n')}`).join('\n');
      throw new Error(`timed out waiting for ${what}\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function unitRow(key: string): Promise<{ state: string; token: number }> {
  const result = await admin.query(`SELECT state, token::int AS token FROM "${schema}".units WHERE key = $1`, [key]);
  return result.rows[0] as { state: string; token: number };
}

test('three workers share a PostgreSQL ledger through SIGKILL and SIGSTOP: every record once, no fenced commit', { timeout: 120_000 }, async (t) => {
  // Prepare: 12 objects of 30k flow-log lines, small parts so that units take a moment
  const logs = path.join(tmp, 'logs');
  const out = path.join(tmp, 'out');
  await writeFlowLogObjects({ dir: logs, inventory: buildDemoInventory(5), seed: 21, objects: 12, linesPerObject: 30_000, start: new Date(Date.UTC(2024, 2, 26, 3)), format: 'v2' });
  const config = path.join(tmp, 'pipeline.yaml');
  writeFileSync(
    config,
    [
      'name: fleet-test',
      `source: { uri: ${logs} }`,
      'format: vpcflow',
      'sinks:',
      `  - { type: files, path: ${out}, format: ndjson, targetSizeMb: 0.5 }`,
      `runtime: { concurrency: 1, workers: 1, state: "env:SLUICE_FLEET_LEDGER", leaseMs: ${LEASE_MS}, maxAttempts: 20, backoffMs: 10 }`,
      '',
    ].join('\n'),
  );
  const expected = await expectedFlowLogIds(logs);
  const planned = spawnSync(process.execPath, [bin, 'plan', '-c', config, '--json'], { env, encoding: 'utf8' });
  assert.equal(planned.status, 0, planned.stderr);
  assert.equal((JSON.parse(planned.stdout) as { plan: { inserted: number } }).plan.inserted, 12);
  const fleetStart = Date.now();

  // Act: three workers; kill one mid-unit, freeze another past its lease, then let it go on
  const [a, b, c] = [startWorker('a', config), startWorker('b', config), startWorker('c', config)];
  const killedUnit = await waitFor('worker c to start a unit', () => unitInFlight(c));
  c.child.kill('SIGKILL');
  const frozenUnit = await waitFor('worker b to start a unit', () => unitInFlight(b));
  b.child.kill('SIGSTOP');
  const frozenAt = Date.now();
  // Another worker takes the frozen unit over once its lease has expired.
  await waitFor('the frozen unit to be taken over', async () => ((await unitRow(frozenUnit.key)).token > frozenUnit.token ? true : undefined), 20_000);
  const frozenForMs = Date.now() - frozenAt;
  b.child.kill('SIGCONT');
  const [aExit, bExit, cExit] = await Promise.all([a.exited, b.exited, c.exited]);
  const elapsedMs = Date.now() - fleetStart;

  // Assess: the processes
  const logsOf = (w: Worker) => `worker ${w.name}:\n${w.stderr.slice(-30).join('\n')}`;
  assert.deepEqual(cExit, { code: null, signal: 'SIGKILL' });
  assert.equal(aExit.code, 0, logsOf(a));
  assert.equal(bExit.code, 0, logsOf(b));
  // The lease runs from b's last renewal, at most a third of a lease before it froze.
  assert.ok(frozenForMs > (LEASE_MS * 2) / 3, `b stayed frozen past its lease (${frozenForMs} ms)`);

  // Assess: the ledger
  const units = (await admin.query(`SELECT key, state, token::int AS token FROM "${schema}".units ORDER BY key`)).rows as Array<{ key: string; state: string; token: number }>;
  assert.equal(units.length, 12);
  assert.deepEqual([...new Set(units.map((u) => u.state))], ['done']);
  assert.ok((await unitRow(killedUnit.key)).token > killedUnit.token, 'the killed worker\'s unit was taken over');

  // Assess: who committed what. Every done unit was committed once, by the holder of its final token.
  const commits = [a, b, c].flatMap((w) => w.lines.filter((l) => l.msg === 'unit done').map((l) => ({ worker: w.name, key: l.key!, token: l.token! })));
  const fenced = [a, b, c].flatMap((w) => w.lines.filter((l) => l.msg.startsWith('unit fenced')).map((l) => ({ worker: w.name, key: l.key!, token: l.token! })));
  for (const unit of units) {
    const committed = commits.filter((k) => k.key === unit.key);
    assert.equal(committed.length, 1, `unit ${unit.key} committed ${committed.length} times: ${JSON.stringify(committed)}`);
    assert.equal(committed[0]!.token, unit.token, `unit ${unit.key} is done under the token of the worker that committed it`);
  }
  assert.deepEqual(
    fenced.filter((f) => f.worker === 'b'),
    [{ worker: 'b', key: frozenUnit.key, token: frozenUnit.token }],
    'the frozen worker was refused its stale result',
  );
  assert.equal(commits.some((k) => k.worker === 'b' && k.key === frozenUnit.key && k.token === frozenUnit.token), false);

  // Assess: the outputs hold every input record exactly once
  const counts = idCountsInOutputs(out);
  const duplicated = [...counts].filter(([, n]) => n > 1).length;
  const unexpected = [...counts.keys()].filter((id) => !expected.has(id)).length;
  const lost = [...expected].filter((id) => !counts.has(id)).length;
  assert.deepEqual({ lost, duplicated, unexpected }, { lost: 0, duplicated: 0, unexpected: 0 });
  assert.equal(expected.size, 12 * 30_000);

  // Assess: status shows the three workers from the shared ledger
  const status = spawnSync(process.execPath, [bin, 'status', '-c', config, '--json'], { env, encoding: 'utf8' });
  assert.equal(status.status, 0, status.stderr);
  const shown = JSON.parse(status.stdout) as { state: string; pipelines: Array<{ workers: Array<{ id: string; state: string }> }> };
  assert.equal(shown.state, 'env:SLUICE_FLEET_LEDGER');
  const workers = shown.pipelines[0]!.workers;
  assert.equal(workers.length, 3);
  assert.equal(workers.filter((w) => w.state === 'stopped').length, 2, 'a and b said goodbye; c was killed');
  assert.ok(existsSync(out) && listFiles(out).length > 0);
  assert.ok(elapsedMs < 60_000, `the fleet finished in ${elapsedMs} ms`);
  t.diagnostic(`fleet: ${elapsedMs} ms from the workers' start to the last exit; b frozen ${frozenForMs} ms; ${fenced.length} fenced result(s)`);
});

test('a --follow worker picks up units planned after it started, and SIGTERM releases its lease mid-unit', { timeout: 120_000 }, async () => {
  // Prepare: a pipeline with nothing planned yet
  const logs = path.join(tmp, 'follow-logs');
  const out = path.join(tmp, 'follow-out');
  await writeFlowLogObjects({ dir: logs, inventory: buildDemoInventory(6), seed: 31, objects: 4, linesPerObject: 30_000, start: new Date(Date.UTC(2024, 2, 26, 5)), format: 'v2' });
  const config = path.join(tmp, 'follow.yaml');
  writeFileSync(
    config,
    [
      'name: fleet-follow',
      `source: { uri: ${logs} }`,
      'format: vpcflow',
      'sinks:',
      `  - { type: files, path: ${out}, format: ndjson, targetSizeMb: 0.5 }`,
      `runtime: { concurrency: 1, workers: 1, state: "env:SLUICE_FLEET_LEDGER", leaseMs: ${LEASE_MS} }`,
      '',
    ].join('\n'),
  );
  const expected = await expectedFlowLogIds(logs);
  // Act: a follower waits; plan; SIGTERM it in the middle of its first unit; a second follower finishes
  const first = startFollower('first', config);
  await waitFor('the follower to wait for units', () => (first.lines.some((l) => l.msg.includes('following new units')) ? true : undefined));
  const planned = spawnSync(process.execPath, [bin, 'plan', '-c', config, '--json'], { env, encoding: 'utf8' });
  const interrupted = await waitFor('the follower to start a unit', () => unitInFlight(first));
  first.child.kill('SIGTERM');
  const firstExit = await first.exited;
  const released = await unitRow(interrupted.key);
  const attemptsAfterRelease = (await admin.query(`SELECT attempts FROM "${schema}".units WHERE key = $1`, [interrupted.key])).rows[0].attempts as number;
  const second = startFollower('second', config);
  await waitFor('every unit to be done', async () => {
    const done = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".units WHERE pipeline = 'fleet-follow' AND state = 'done'`);
    return done.rows[0].n === 4 ? true : undefined;
  }, 60_000);
  await new Promise((r) => setTimeout(r, 500));
  const stillRunning = second.child.exitCode === null;
  second.child.kill('SIGTERM');
  const secondExit = await second.exited;

  // Assess
  assert.equal(planned.status, 0, planned.stderr);
  assert.equal(firstExit.code, 130, 'interrupted');
  assert.ok(first.lines.some((l) => l.msg.startsWith('stopping')));
  assert.equal(released.state, 'pending', 'the lease was released, not left to expire');
  assert.equal(attemptsAfterRelease, 0, 'a released lease gives its attempt back');
  assert.equal(stillRunning, true, 'a follower keeps running once the pipeline is drained');
  assert.equal(secondExit.code, 130);
  const counts = idCountsInOutputs(out);
  assert.equal(counts.size, expected.size);
  assert.ok([...counts.values()].every((n) => n === 1));
  const workers = await admin.query(`SELECT stopped_at IS NOT NULL AS stopped, units_in_flight FROM "${schema}".workers WHERE pipeline = 'fleet-follow'`);
  assert.deepEqual(workers.rows, [{ stopped: true, units_in_flight: 0 }, { stopped: true, units_in_flight: 0 }]);
});
