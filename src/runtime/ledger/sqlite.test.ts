import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SluiceError } from '../../core/errors.js';
import { createFakeClock } from '../../testing/fake-clock.js';
import { runLedgerConformance } from '../../testing/ledger-conformance.js';
import { LEDGER_MIGRATIONS, LEDGER_SCHEMA_VERSION, openSqliteLedger } from './sqlite.js';
import type { Lease, UnitSpec } from './types.js';
import { unitIdFor } from './unit-id.js';

const tempRoot = mkdtempSync(path.join(os.tmpdir(), 'sluice-ledger-'));
after(() => rmSync(tempRoot, { recursive: true, force: true }));
let fileNumber = 0;
function tempLedgerFile(): string {
  return path.join(tempRoot, `ledger-${++fileNumber}.db`);
}

function specs(pipeline: string, count: number): UnitSpec[] {
  return Array.from({ length: count }, (_, i) => {
    const key = `AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/01/15/obj-${String(i).padStart(7, '0')}.log.gz`;
    return { id: unitIdFor(pipeline, 'object', key), pipeline, kind: 'object', key, payload: { key }, size: 1000 };
  });
}

const ONE_RECORD = { recordsIn: 1, recordsOut: 1, recordsRejected: 0, recordsFiltered: 0, outputs: [], durationMs: 1 };

runLedgerConformance('sqlite file', async (clock) => openSqliteLedger(tempLedgerFile(), { clock: clock.now }));
runLedgerConformance('sqlite :memory:', async (clock) => openSqliteLedger(':memory:', { clock: clock.now }));

describe('sqlite ledger', () => {
  it('creates its parent folders and keeps its state when reopened', async () => {
    // Prepare
    const file = path.join(tempRoot, 'nested', 'deeper', 'state.db');
    const clock = createFakeClock();
    const first = openSqliteLedger(file, { clock: clock.now });
    await first.planUnits(specs('flows', 3));
    const lease = await first.leaseNextUnit('flows', 'worker-1', 60_000);
    await first.completeUnit(lease!, ONE_RECORD);
    await first.startRun({ id: 'run-1', pipeline: 'flows', startedAt: clock.now() });
    await first.close();

    // Act
    const reopened = openSqliteLedger(file, { clock: clock.now });
    const counts = await reopened.counts('flows');
    const runs = await reopened.listRuns('flows');
    const replanned = await reopened.planUnits(specs('flows', 3));
    await reopened.close();

    // Assess
    assert.deepEqual(counts, { pending: 2, leased: 0, done: 1, failed: 0, dead: 0, superseded: 0 });
    assert.deepEqual(runs.map((r) => r.id), ['run-1']);
    assert.deepEqual(replanned, { inserted: 0, existing: 3, superseded: 0 });
  });

  it('uses WAL, a busy timeout and a versioned schema, and re-applies no migration on reopen', async () => {
    // Prepare
    const file = tempLedgerFile();
    await openSqliteLedger(file).close();

    // Act
    await openSqliteLedger(file).close();
    const ledger = openSqliteLedger(file, { busyTimeoutMs: 4_321 });
    const inspect = new Database(file, { readonly: true });
    const migrations = inspect.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Array<{ version: number }>;
    const journalMode = inspect.pragma('journal_mode', { simple: true });
    const userVersion = inspect.pragma('user_version', { simple: true });
    inspect.close();
    await ledger.close();

    // Assess
    assert.deepEqual(migrations.map((m) => m.version), Array.from({ length: LEDGER_SCHEMA_VERSION }, (_, i) => i + 1));
    assert.equal(journalMode, 'wal');
    assert.equal(userVersion, LEDGER_SCHEMA_VERSION);
  });

  it('migrates a version 3 file keeping every unit and count, and the next plan supersedes the dead older version', async () => {
    // Prepare: a file as Sluice left it before superseded versions (schema 3): an object that died,
    // was replaced, and whose new version is done; beside it an unrelated pending unit.
    const file = tempLedgerFile();
    const old = new Database(file);
    old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT');
    for (const migration of LEDGER_MIGRATIONS.filter((m) => m.version <= 3)) {
      old.exec(migration.sql);
      old.prepare('INSERT INTO schema_migrations VALUES (?, ?, 0)').run(migration.version, migration.name);
    }
    old.pragma('user_version = 3');
    const key = 'AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/01/15/replaced.log.gz';
    const [deadId, doneId, otherId] = [unitIdFor('flows', 'object', key, '10-1'), unitIdFor('flows', 'object', key, '20-2'), unitIdFor('flows', 'object', 'other.log.gz', '5-5')];
    const insert = old.prepare(`INSERT INTO units (id, pipeline, kind, key, payload, size, state, attempts, token, last_error, records_in, outputs, created_at, updated_at)
      VALUES (?, 'flows', 'object', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    insert.run(deadId, key, JSON.stringify({ objects: [{ key, etag: '10-1' }] }), 10, 'dead', 1, 1, JSON.stringify({ message: `${key}: unexpected end of file`, code: 'CORRUPT_GZIP' }), 0, '[]', 1_000, 2_000);
    insert.run(doneId, key, JSON.stringify({ objects: [{ key, etag: '20-2' }] }), 20, 'done', 1, 1, null, 7, '["out/replaced.ndjson.gz"]', 3_000, 4_000);
    insert.run(otherId, 'other.log.gz', '{}', 5, 'pending', 0, 0, null, 0, '[]', 3_000, 3_000);
    old.close();

    // Act
    const ledger = openSqliteLedger(file, { clock: () => 9_000 });
    const migratedCounts = await ledger.counts('flows');
    const migratedDead = await ledger.getUnit(deadId);
    const migratedDone = await ledger.getUnit(doneId);
    const listed = { id: doneId, pipeline: 'flows', kind: 'object' as const, key, payload: {}, size: 20 };
    const planned = await ledger.planUnits([listed]);
    const afterPlan = await ledger.counts('flows');
    await ledger.close();
    const inspect = new Database(file, { readonly: true });
    const schemaObjects = (inspect.prepare("SELECT type, name FROM sqlite_master WHERE tbl_name = 'units' AND type IN ('index', 'trigger') AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ type: string; name: string }>).map((r) => `${r.type} ${r.name}`);
    const truth = inspect.prepare("SELECT state, COUNT(*) AS n FROM units WHERE pipeline = 'flows' GROUP BY state ORDER BY state").all();
    const kept = inspect.prepare("SELECT state, n FROM unit_counts WHERE pipeline = 'flows' AND n > 0 ORDER BY state").all();
    inspect.close();

    // Assess
    assert.deepEqual(migratedCounts, { pending: 1, leased: 0, done: 1, failed: 0, dead: 1, superseded: 0 });
    assert.deepEqual(
      [migratedDead?.state, migratedDead?.attempts, migratedDead?.lastError?.code, migratedDead?.supersededBy, migratedDead?.createdAt, migratedDead?.updatedAt],
      ['dead', 1, 'CORRUPT_GZIP', null, 1_000, 2_000],
    );
    assert.deepEqual([migratedDone?.state, migratedDone?.recordsIn, migratedDone?.outputs], ['done', 7, ['out/replaced.ndjson.gz']]);
    assert.deepEqual(planned, { inserted: 0, existing: 1, superseded: 1 });
    assert.deepEqual(afterPlan, { pending: 1, leased: 0, done: 1, failed: 0, dead: 0, superseded: 1 });
    assert.deepEqual(schemaObjects, [
      'trigger unit_counts_delete',
      'trigger unit_counts_insert',
      'trigger unit_counts_update',
      'index units_by_key',
      'index units_by_state',
      'index units_claimable',
      'index units_leased_by_owner',
      'index units_retry',
    ]);
    assert.deepEqual(kept, truth, 'the kept counts still follow the units after the rebuild');
  });

  it('keeps the per-state counts equal to the units through every kind of change', async () => {
    // Prepare: two pipelines, units planned twice (the second time inserts nothing).
    const file = tempLedgerFile();
    const clock = createFakeClock();
    const ledger = openSqliteLedger(file, { clock: clock.now });
    await ledger.planUnits(specs('a', 20));
    await ledger.planUnits(specs('a', 25));
    await ledger.planUnits(specs('b', 5));
    // Act: lease, complete, fail (retry and dead), release, expire, reset, supersede.
    const leases: Lease[] = [];
    for (let i = 0; i < 12; i++) leases.push((await ledger.leaseNextUnit('a', 'w1', 60_000))!);
    for (const lease of leases.slice(0, 5)) await ledger.completeUnit(lease, ONE_RECORD);
    const error = { message: 'boom', code: 'X', stage: 'read' as const, retryable: true };
    await ledger.failUnit(leases[5]!, error, { maxAttempts: 5, backoffMs: 1, maxBackoffMs: 1, retryable: true });
    await ledger.failUnit(leases[6]!, error, { maxAttempts: 5, backoffMs: 1, maxBackoffMs: 1, retryable: false });
    await ledger.releaseLease(leases[7]!);
    await ledger.resetUnits('a', ['done'], []);
    // Newer versions of the first ten keys: the failed, dead and pending older ones are superseded,
    // the leased ones when their attempt ends; the done ones stay done.
    await ledger.planUnits(specs('a', 10).map((spec) => ({ ...spec, id: unitIdFor('a', 'object', spec.key, 'v2') })));
    await ledger.releaseLease(leases[8]!);
    await ledger.failUnit(leases[9]!, error, { maxAttempts: 5, backoffMs: 1, maxBackoffMs: 1, retryable: true });
    // Assess: the kept counts match a count over the units themselves.
    const db = new Database(file, { readonly: true });
    try {
      for (const pipeline of ['a', 'b']) {
        const truth = Object.fromEntries(
          (db.prepare('SELECT state, COUNT(*) AS n FROM units WHERE pipeline = ? GROUP BY state').all(pipeline) as Array<{ state: string; n: number }>).map((r) => [r.state, r.n]),
        );
        const kept = Object.fromEntries(Object.entries(await ledger.counts(pipeline)).filter(([, n]) => n > 0));
        assert.deepEqual(kept, truth, pipeline);
      }
      assert.deepEqual(await ledger.counts('a'), { pending: 23, leased: 2, done: 5, failed: 0, dead: 0, superseded: 5 });
    } finally {
      db.close();
      await ledger.close();
    }
  });

  it('refuses a ledger file written by a newer Sluice', async () => {
    // Prepare
    const file = tempLedgerFile();
    await openSqliteLedger(file).close();
    const raw = new Database(file);
    raw.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(LEDGER_SCHEMA_VERSION + 1, 'future', 0);
    raw.close();

    // Act
    const open = () => openSqliteLedger(file);

    // Assess
    assert.throws(open, (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'LEDGER_SCHEMA_TOO_NEW');
      assert.equal(err.stage, 'ledger');
      assert.match(err.message, new RegExp(`${path.basename(file)}.*schema version ${LEDGER_SCHEMA_VERSION + 1}`));
      return true;
    });
  });

  it('names the file in the error when it cannot be opened, and after close', async () => {
    // Prepare
    const notAFolder = path.join(tempRoot, 'plain-file');
    writeFileSync(notAFolder, 'not a folder');
    const notALedger = path.join(tempRoot, 'garbage.db');
    writeFileSync(notALedger, 'this is not an SQLite database, just text that is long enough to have a header'.repeat(20));
    const closed = openSqliteLedger(tempLedgerFile());
    await closed.close();

    // Act
    const underAFile = () => openSqliteLedger(path.join(notAFolder, 'state.db'));
    const garbage = () => openSqliteLedger(notALedger);
    const afterClose = closed.counts('flows');

    // Assess
    assert.throws(underAFile, (err: unknown) => err instanceof SluiceError && err.code === 'LEDGER_OPEN_FAILED' && err.message.includes(notAFolder));
    assert.throws(garbage, (err: unknown) => err instanceof SluiceError && err.code === 'LEDGER_CORRUPT' && err.message.includes(notALedger));
    await assert.rejects(afterClose, (err: unknown) => err instanceof SluiceError && err.code === 'LEDGER_CLOSED');
    await closed.close(); // closing twice is harmless
  });

  it('refuses durations that would leave a unit unclaimable forever', async () => {
    // Prepare
    const ledger = openSqliteLedger(':memory:');
    await ledger.planUnits(specs('flows', 1));

    // Act
    const nanLease = ledger.leaseNextUnit('flows', 'worker-1', Number.NaN);
    const zeroLease = ledger.leaseNextUnit('flows', 'worker-1', 0);
    const lease = (await ledger.leaseNextUnit('flows', 'worker-1', 60_000))!;
    const infiniteBackoff = ledger.failUnit(lease, { message: 'x', code: 'X', stage: 'read', retryable: true }, {
      maxAttempts: 5,
      backoffMs: Number.POSITIVE_INFINITY,
      maxBackoffMs: Number.POSITIVE_INFINITY,
      retryable: true,
    });

    // Assess
    const badArgument = (err: unknown) => err instanceof SluiceError && err.code === 'LEDGER_BAD_ARGUMENT';
    await assert.rejects(nanLease, badArgument);
    await assert.rejects(zeroLease, badArgument);
    await assert.rejects(infiniteBackoff, badArgument);
    assert.equal((await ledger.getUnit(lease.unitId))?.state, 'leased', 'the refused failure changed nothing');
    await assert.rejects(ledger.listUnits('flows', { limit: -1 }), (err: unknown) => err instanceof SluiceError && err.code === 'LEDGER_BAD_QUERY');
    await ledger.close();
  });

  it('never leases the same unit through two connections to one file, and fences across them', async () => {
    // Prepare
    const file = tempLedgerFile();
    const clock = createFakeClock();
    const a = openSqliteLedger(file, { clock: clock.now });
    const b = openSqliteLedger(file, { clock: clock.now });
    await a.planUnits(specs('flows', 200));
    const leasedBy = new Map<string, string>();

    // Act: eight workers, alternating connections, racing each other
    await Promise.all(
      Array.from({ length: 8 }, async (_, worker) => {
        const ledger = worker % 2 === 0 ? a : b;
        for (;;) {
          const lease = await ledger.leaseNextUnit('flows', `worker-${worker}`, 60_000);
          if (!lease) return;
          assert.equal(leasedBy.has(lease.unitId), false, `unit ${lease.unit.key} leased twice`);
          leasedBy.set(lease.unitId, lease.owner);
          assert.equal(await ledger.completeUnit(lease, ONE_RECORD), true);
        }
      }),
    );
    await a.planUnits(specs('fencing', 1));
    const stale = (await a.leaseNextUnit('fencing', 'frozen', 1_000))!;
    clock.advance(1_001);
    const takeover = await b.leaseNextUnit('fencing', 'worker-b', 1_000);
    const staleCompleted = await a.completeUnit(stale, ONE_RECORD);

    // Assess
    assert.equal(leasedBy.size, 200);
    assert.deepEqual(await b.counts('flows'), { pending: 0, leased: 0, done: 200, failed: 0, dead: 0, superseded: 0 });
    assert.ok(takeover && takeover.token === stale.token + 1);
    assert.equal(staleCompleted, false);
    await a.close();
    await b.close();
  });

  it('lets three processes share one file: every unit is done exactly once', { timeout: 120_000 }, async () => {
    // Prepare
    const file = tempLedgerFile();
    const units = specs('multi', 3_000);
    const planner = openSqliteLedger(file);
    await planner.planUnits(units);
    await planner.close();

    // Act
    const results = await runLedgerProcesses(file, ['proc-a', 'proc-b', 'proc-c']);

    // Assess
    const completedIds = results.flatMap((r) => r.completed);
    assert.equal(completedIds.length, units.length, 'completions across processes');
    assert.equal(new Set(completedIds).size, units.length, 'no unit completed twice');
    assert.ok(results.filter((r) => r.completed.length > 0).length >= 2, `processes overlapped: ${results.map((r) => r.completed.length).join(', ')}`);
    const check = openSqliteLedger(file);
    assert.deepEqual(await check.counts('multi'), { pending: 0, leased: 0, done: units.length, failed: 0, dead: 0, superseded: 0 });
    const byUnit = new Map(results.flatMap((r) => r.completed.map((id) => [id, r.owner] as const)));
    for (const unit of await check.listUnits('multi', { limit: 50 })) {
      assert.deepEqual(unit.outputs, [byUnit.get(unit.id)], 'the recorded result is the one its completer wrote');
      assert.equal(unit.attempts, 1);
    }
    await check.close();
  });

  it('applies the migrations once when several processes open a fresh file at once', { timeout: 60_000 }, async () => {
    // Prepare
    const file = tempLedgerFile();

    // Act
    const results = await runLedgerProcesses(file, ['open-1', 'open-2', 'open-3', 'open-4'], { openOnly: true });

    // Assess
    assert.equal(results.length, 4);
    const inspect = new Database(file, { readonly: true });
    const migrations = inspect.prepare('SELECT version FROM schema_migrations').all();
    inspect.close();
    assert.equal(migrations.length, LEDGER_SCHEMA_VERSION);
  });

  it('measures planning, leasing and completing at scale (reported, not asserted)', { timeout: 600_000 }, async (t) => {
    // Prepare: SLUICE_LEDGER_BENCH_UNITS=1000000 SLUICE_LEDGER_BENCH_WORKED=20000 reproduces the reported figures.
    const total = Number(process.env.SLUICE_LEDGER_BENCH_UNITS ?? 20_000);
    const worked = Math.min(total, Number(process.env.SLUICE_LEDGER_BENCH_WORKED ?? 5_000));
    const ledger = openSqliteLedger(tempLedgerFile());
    const units = specs('bench', total);

    // Act
    const planStart = performance.now();
    const planned = await ledger.planUnits(units);
    const planMs = performance.now() - planStart;
    let leaseMs = 0;
    let completeMs = 0;
    let done = 0;
    while (done < worked) {
      // Twenty in flight, as with the default concurrency: leasing skips the live leases.
      const inFlight: Lease[] = [];
      let start = performance.now();
      for (let i = 0; i < 20 && done + inFlight.length < worked; i++) {
        const lease = await ledger.leaseNextUnit('bench', 'bench-worker', 60_000);
        if (lease) inFlight.push(lease);
      }
      leaseMs += performance.now() - start;
      start = performance.now();
      for (const lease of inFlight) if (await ledger.completeUnit(lease, ONE_RECORD)) done++;
      completeMs += performance.now() - start;
    }
    const countsStart = performance.now();
    const counts = await ledger.counts('bench');
    const countsMs = performance.now() - countsStart;
    await ledger.close();

    // Assess
    assert.deepEqual(planned, { inserted: total, existing: 0, superseded: 0 });
    assert.equal(counts.done, worked);
    assert.equal(counts.pending, total - worked);
    const perSecond = (n: number, ms: number) => Math.round((n / ms) * 1000);
    t.diagnostic(`plan ${total} units: ${Math.round(planMs)} ms (${perSecond(total, planMs)} units/s)`);
    t.diagnostic(`lease: ${perSecond(worked, leaseMs)}/s, complete: ${perSecond(worked, completeMs)}/s over ${worked} units`);
    t.diagnostic(`counts over ${total} units: ${countsMs.toFixed(1)} ms`);
  });
});

interface ProcessResult {
  owner: string;
  completed: string[];
}

/**
 * Starts one Node process per owner on the same ledger file. Each opens the ledger, says it is
 * ready, waits for everyone to be ready (so that they really compete), then leases and completes
 * units of pipeline `multi` until none is left and prints the ids it completed. With `openOnly`,
 * the processes wait before opening instead, so that they all create and migrate a fresh file at once.
 */
async function runLedgerProcesses(file: string, owners: string[], options: { openOnly?: boolean } = {}): Promise<ProcessResult[]> {
  const ledgerModule = new URL('./sqlite.js', import.meta.url).href;
  const childCode = `
    const [moduleUrl, file, owner, openOnly] = process.argv.slice(1);
    const { openSqliteLedger } = await import(moduleUrl);
    const waitForGo = async () => {
      process.stdout.write('ready\\n');
      await new Promise((resolve) => process.stdin.once('data', resolve));
      process.stdin.destroy();
    };
    // Opening only: race on creating and migrating the file. Working: race on leasing.
    if (openOnly === 'true') await waitForGo();
    const ledger = openSqliteLedger(file);
    if (openOnly !== 'true') await waitForGo();
    const completed = [];
    while (openOnly !== 'true') {
      const lease = await ledger.leaseNextUnit('multi', owner, 60000);
      if (!lease) break;
      const result = { recordsIn: 1, recordsOut: 1, recordsRejected: 0, recordsFiltered: 0, outputs: [owner], durationMs: 0 };
      if (!(await ledger.completeUnit(lease, result))) throw new Error('fenced out of ' + lease.unitId);
      completed.push(lease.unitId);
    }
    await ledger.close();
    process.stdout.write(JSON.stringify(completed) + '\\n');
  `;
  const children = owners.map((owner) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', childCode, ledgerModule, file, owner, String(options.openOnly ?? false)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    const ready = new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: string) => {
        stdout += chunk;
        if (stdout.startsWith('ready\n')) resolve();
      });
    });
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<ProcessResult>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) => {
        if (code !== 0) return reject(new Error(`ledger process ${owner} exited with ${code}: ${stderr}`));
        const lines = stdout.trim().split('\n');
        resolve({ owner, completed: JSON.parse(lines[lines.length - 1]!) as string[] });
      });
    });
    return { child, ready: Promise.race([ready, exited.then(() => undefined)]), exited };
  });
  await Promise.all(children.map((c) => c.ready));
  for (const { child } of children) child.stdin.end('go\n');
  return Promise.all(children.map((c) => c.exited));
}
