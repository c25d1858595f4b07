/**
 * The behaviour every Ledger implementation must show, written once and run against each of them
 * (SQLite now, PostgreSQL later), in the manner of Drizzle's shared driver suite.
 *
 * The ledger under test must take every timestamp from the fake clock it is given, so that lease
 * expiry and retry backoff are checked to the millisecond. Each case uses its own pipeline name
 * (random per suite run), so an implementation backed by a shared database need not be emptied
 * between cases; `makeLedger` may still hand out a fresh store each time.
 *
 * @example
 * runLedgerConformance('sqlite', async (clock) => openSqliteLedger(tempFile(), { clock: clock.now }));
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { SerializedError } from '../core/errors.js';
import { unitIdFor } from '../runtime/ledger/unit-id.js';
import type { Lease, Ledger, RetryPolicy, UnitResult, UnitSpec, UnitState } from '../runtime/ledger/types.js';
import { createFakeClock, type FakeClock } from './fake-clock.js';

interface LedgerCase {
  ledger: Ledger;
  clock: FakeClock;
  /** A pipeline name no other case uses. */
  pipeline: string;
}

const LEASE_MS = 10_000;
const RETRY: RetryPolicy & { retryable: boolean } = { maxAttempts: 5, backoffMs: 1_000, maxBackoffMs: 3_000, retryable: true };
const READ_ERROR: SerializedError = { message: 's3://logs/a.log.gz: connection reset', code: 'ECONNRESET', stage: 'read', retryable: true };

function unitSpecs(pipeline: string, keys: string[]): UnitSpec[] {
  return keys.map((key, i) => ({
    id: unitIdFor(pipeline, 'object', key),
    pipeline,
    kind: 'object',
    key,
    payload: { objects: [{ uri: `s3://logs/${key}`, key }], outputStem: key.replace(/\W/g, '_') },
    size: 1000 + i,
  }));
}

/** One version of `key`: the id hashes the version, the output stem (in the payload) does not. */
function versionSpec(pipeline: string, key: string, version: string, kind: UnitSpec['kind'] = 'object'): UnitSpec {
  return {
    id: unitIdFor(pipeline, kind, key, version),
    pipeline,
    kind,
    key,
    payload: { objects: [{ uri: `s3://logs/${key}`, key, etag: version }], outputStem: key.replace(/\W/g, '_') },
    size: 100,
  };
}

const DEAD_AT_ONCE: RetryPolicy & { retryable: boolean } = { ...RETRY, retryable: false };

function resultOf(recordsIn: number, outputs: string[] = []): UnitResult {
  return { recordsIn, recordsOut: recordsIn, recordsRejected: 0, recordsFiltered: 0, outputs, durationMs: 5 };
}

async function leaseOrFail(ledger: Ledger, pipeline: string, owner: string, leaseMs = LEASE_MS): Promise<Lease> {
  const lease = await ledger.leaseNextUnit(pipeline, owner, leaseMs);
  assert.ok(lease, `expected a claimable unit in pipeline ${pipeline} for ${owner}`);
  return lease;
}

export function runLedgerConformance(name: string, makeLedger: (clock: FakeClock) => Promise<Ledger>): void {
  const suiteId = randomUUID().slice(0, 8);
  let caseNumber = 0;

  /** Runs one case with a fresh clock, ledger and pipeline, and always closes the ledger. */
  async function withLedger(work: (c: LedgerCase) => Promise<void>): Promise<void> {
    const clock = createFakeClock();
    const ledger = await makeLedger(clock);
    const pipeline = `conformance-${suiteId}-${++caseNumber}`;
    try {
      await work({ ledger, clock, pipeline });
    } finally {
      await ledger.close();
    }
  }

  describe(`${name}: Ledger conformance`, () => {
    describe('planning', () => {
      it('inserts new units as pending, and re-planning inserts nothing and keeps their state', () =>
        withLedger(async ({ ledger, clock, pipeline }) => {
          // Prepare
          const specs = unitSpecs(pipeline, ['a.log.gz', 'b.log.gz', 'c.log.gz']);

          // Act
          const first = await ledger.planUnits(specs);
          const lease = await leaseOrFail(ledger, pipeline, 'worker-1');
          await ledger.completeUnit(lease, resultOf(3));
          clock.advance(1_000);
          const again = await ledger.planUnits([...specs, ...unitSpecs(pipeline, ['d.log.gz'])]);

          // Assess
          assert.deepEqual(first, { inserted: 3, existing: 0, superseded: 0 });
          assert.deepEqual(again, { inserted: 1, existing: 3, superseded: 0 });
          assert.equal((await ledger.getUnit(lease.unitId))?.state, 'done');
          const fresh = await ledger.getUnit(specs[1]!.id);
          assert.deepEqual(fresh, {
            ...specs[1],
            state: 'pending',
            attempts: 0,
            token: 0,
            leaseOwner: null,
            leaseExpiresAt: null,
            nextAttemptAt: null,
            lastError: null,
            recordsIn: 0,
            recordsOut: 0,
            recordsRejected: 0,
            recordsFiltered: 0,
            supersededBy: null,
            outputs: [],
            durationMs: null,
            createdAt: clock.now() - 1_000,
            updatedAt: clock.now() - 1_000,
          });
        }));

      it('counts a unit listed twice in one plan once', () =>
        withLedger(async ({ ledger, pipeline }) => {
          // Prepare
          const [spec] = unitSpecs(pipeline, ['twice.log.gz']);

          // Act
          const planned = await ledger.planUnits([spec!, { ...spec! }]);

          // Assess
          assert.deepEqual(planned, { inserted: 1, existing: 1, superseded: 0 });
          assert.equal((await ledger.counts(pipeline)).pending, 1);
        }));
    });

    describe('versions of a key', () => {
      it('supersedes the dead, failed and pending versions of a key when a newer one is planned, keeping them as history', () =>
        withLedger(async ({ ledger, clock, pipeline }) => {
          // Prepare: version 1 of a dead, b failed (backing off), c pending, d done.
          const v1 = ['a', 'b', 'c', 'd'].map((key) => versionSpec(pipeline, key, '"v1"'));
          await ledger.planUnits(v1);
          await ledger.failUnit(await leaseOrFail(ledger, pipeline, 'w'), READ_ERROR, DEAD_AT_ONCE);
          await ledger.failUnit(await leaseOrFail(ledger, pipeline, 'w'), READ_ERROR, { ...RETRY, backoffMs: 60_000, maxBackoffMs: 60_000 });
          const [cLease, dLease] = [await leaseOrFail(ledger, pipeline, 'w'), await leaseOrFail(ledger, pipeline, 'w')];
          await ledger.releaseLease(cLease);
          await ledger.completeUnit(dLease, resultOf(4, ['d-out']));
          clock.advance(1_000);
          const v2 = ['a', 'b', 'c', 'd'].map((key) => versionSpec(pipeline, key, '"v2"'));

          // Act
          const planned = await ledger.planUnits(v2);
          const replanned = await ledger.planUnits(v2);
          const redriven = await ledger.resetUnits(pipeline, ['dead']);
          const leased: string[] = [];
          for (let lease = await ledger.leaseNextUnit(pipeline, 'w', LEASE_MS); lease; lease = await ledger.leaseNextUnit(pipeline, 'w', LEASE_MS)) {
            leased.push(lease.unitId);
          }

          // Assess
          assert.deepEqual(planned, { inserted: 4, existing: 0, superseded: 3 });
          assert.deepEqual(replanned, { inserted: 0, existing: 4, superseded: 0 }, 'planning the same versions again changes nothing');
          assert.equal(redriven, 0, 'a superseded unit is not redriven as dead');
          assert.deepEqual(leased, v2.map((u) => u.id), 'only the new versions are leased');
          const oldA = await ledger.getUnit(v1[0]!.id);
          assert.equal(oldA?.state, 'superseded');
          assert.equal(oldA?.supersededBy, v2[0]!.id);
          assert.equal(oldA?.attempts, 1, 'the history keeps its attempts');
          assert.deepEqual(oldA?.lastError, READ_ERROR, 'and why it died');
          assert.equal(oldA?.updatedAt, clock.now());
          const oldB = await ledger.getUnit(v1[1]!.id);
          assert.deepEqual([oldB?.state, oldB?.supersededBy, oldB?.nextAttemptAt], ['superseded', v2[1]!.id, null]);
          assert.deepEqual([(await ledger.getUnit(v1[2]!.id))?.state, (await ledger.getUnit(v1[2]!.id))?.supersededBy], ['superseded', v2[2]!.id]);
          const oldD = await ledger.getUnit(v1[3]!.id);
          assert.deepEqual([oldD?.state, oldD?.supersededBy, oldD?.outputs], ['done', null, ['d-out']], 'a done version stays done');
          assert.deepEqual(await ledger.counts(pipeline), { pending: 0, leased: 4, done: 1, failed: 0, dead: 0, superseded: 3 });
          assert.deepEqual(await ledger.listUnits(pipeline, { states: ['dead'] }), []);
          assert.deepEqual((await ledger.listUnits(pipeline, { states: ['superseded'] })).map((u) => u.id), v1.slice(0, 3).map((u) => u.id));
          assert.equal(await ledger.nextRetryAt(pipeline), null, 'the superseded failed unit waits for no retry');
        }));

      it('leaves a leased older version to its holder, and ends it superseded when that attempt fails, is released or is reset', () =>
        withLedger(async ({ ledger, pipeline }) => {
          // Prepare: version 1 of w, x, y, z all leased.
          const keys = ['w', 'x', 'y', 'z'];
          const v1 = keys.map((key) => versionSpec(pipeline, key, '1'));
          const v2 = keys.map((key) => versionSpec(pipeline, key, '2'));
          await ledger.planUnits(v1);
          const [w, x, y, z] = [await leaseOrFail(ledger, pipeline, 'old'), await leaseOrFail(ledger, pipeline, 'old'), await leaseOrFail(ledger, pipeline, 'old'), await leaseOrFail(ledger, pipeline, 'old')];

          // Act
          const planned = await ledger.planUnits(v2);
          const marked = await ledger.getUnit(x!.unitId);
          const renewed = await ledger.renewLease(x!, LEASE_MS);
          const completed = await ledger.completeUnit(w!, resultOf(1, ['w-out']));
          const retryable = await ledger.failUnit(x!, READ_ERROR, RETRY);
          const fatal = await ledger.failUnit(y!, READ_ERROR, DEAD_AT_ONCE);
          await ledger.releaseLease(z!);
          const zReleased = await ledger.getUnit(z!.unitId);

          // Assess
          assert.deepEqual(planned, { inserted: 4, existing: 0, superseded: 4 });
          assert.deepEqual([marked?.state, marked?.supersededBy, marked?.leaseOwner], ['leased', v2[1]!.id, 'old'], 'the lease is left alone');
          assert.equal(renewed, true);
          assert.equal(completed, true);
          const wDone = await ledger.getUnit(w!.unitId);
          assert.deepEqual([wDone?.state, wDone?.supersededBy], ['done', null]);
          assert.equal(retryable, 'superseded', 'a superseded unit is not retried');
          assert.equal(fatal, 'superseded', 'nor dead');
          const xRow = await ledger.getUnit(x!.unitId);
          assert.deepEqual([xRow?.state, xRow?.supersededBy, xRow?.nextAttemptAt, xRow?.leaseOwner], ['superseded', v2[1]!.id, null, null]);
          assert.deepEqual(xRow?.lastError, READ_ERROR);
          assert.deepEqual([zReleased?.state, zReleased?.attempts, zReleased?.supersededBy], ['superseded', 0, v2[3]!.id]);
          assert.deepEqual(await ledger.counts(pipeline), { pending: 4, leased: 0, done: 1, failed: 0, dead: 0, superseded: 3 });
          assert.equal(await ledger.failUnit(x!, READ_ERROR, RETRY), 'fenced', 'a finished attempt cannot fail twice');
        }));

      it('ends a reset leased older version superseded, and puts a reset superseded unit back to pending', () =>
        withLedger(async ({ ledger, pipeline }) => {
          // Prepare
          const [old, current] = [versionSpec(pipeline, 'k', '1'), versionSpec(pipeline, 'k', '2')];
          const [other, otherNew] = [versionSpec(pipeline, 'm', '1'), versionSpec(pipeline, 'm', '2')];
          await ledger.planUnits([old, other]);
          const holder = await leaseOrFail(ledger, pipeline, 'w');
          await ledger.planUnits([current, otherNew]);

          // Act
          const resetLeased = await ledger.resetUnits(pipeline, ['leased']);
          const afterLeasedReset = await ledger.getUnit(old.id);
          const resetSuperseded = await ledger.resetUnits(pipeline, ['superseded'], [other.id]);
          const afterSupersededReset = await ledger.getUnit(other.id);

          // Assess
          assert.equal(holder.unitId, old.id);
          assert.equal(resetLeased, 1);
          assert.deepEqual([afterLeasedReset?.state, afterLeasedReset?.supersededBy], ['superseded', current.id]);
          assert.equal(await ledger.completeUnit(holder, resultOf(1)), false, 'the reset fenced the holder');
          assert.equal(resetSuperseded, 1);
          assert.deepEqual([afterSupersededReset?.state, afterSupersededReset?.supersededBy, afterSupersededReset?.attempts], ['pending', null, 0]);
        }));

      it('makes a superseded version current again when it is planned again, superseding the one that replaced it', () =>
        withLedger(async ({ ledger, pipeline }) => {
          // Prepare: version 1 dead, then superseded by version 2 (still pending).
          const [v1, v2] = [versionSpec(pipeline, 'back.log.gz', '1'), versionSpec(pipeline, 'back.log.gz', '2')];
          await ledger.planUnits([v1]);
          await ledger.failUnit(await leaseOrFail(ledger, pipeline, 'w'), READ_ERROR, DEAD_AT_ONCE);
          await ledger.planUnits([v2]);

          // Act: the object went back to version 1.
          const planned = await ledger.planUnits([v1]);

          // Assess
          assert.deepEqual(planned, { inserted: 0, existing: 1, superseded: 1 });
          const revived = await ledger.getUnit(v1.id);
          assert.deepEqual([revived?.state, revived?.attempts, revived?.supersededBy], ['pending', 0, null]);
          const replaced = await ledger.getUnit(v2.id);
          assert.deepEqual([replaced?.state, replaced?.supersededBy], ['superseded', v1.id]);
          assert.equal((await leaseOrFail(ledger, pipeline, 'w')).unitId, v1.id);
          assert.deepEqual(await ledger.counts(pipeline), { pending: 0, leased: 1, done: 0, failed: 0, dead: 0, superseded: 1 });
        }));

      it('takes the last of several versions of a key listed in one plan as the current one', () =>
        withLedger(async ({ ledger, pipeline }) => {
          // Prepare
          const versions = ['1', '2', '3'].map((v) => versionSpec(pipeline, 'twice', v));

          // Act
          const planned = await ledger.planUnits([versions[0]!, versions[2]!, versions[1]!]);

          // Assess
          assert.deepEqual(planned, { inserted: 3, existing: 0, superseded: 2 });
          const states = await ledger.unitStates(versions.map((v) => v.id));
          assert.deepEqual(versions.map((v) => states.get(v.id)), ['superseded', 'pending', 'superseded']);
          assert.equal((await ledger.getUnit(versions[0]!.id))?.supersededBy, versions[1]!.id);
        }));

      it('supersedes only versions of the same pipeline, kind and key (groups and partitions by their key)', () =>
        withLedger(async ({ ledger, pipeline }) => {
          // Prepare: dead units of one group's key as a partition, as an object, in another pipeline, and of a longer key.
          const group = 'AWSLogs/111122223333/vpcflowlogs/eu-west-1/2024/03/26/*2024-03-26T13';
          const olds = [
            versionSpec(pipeline, group, 'objects-1', 'partition'),
            versionSpec(pipeline, group, 'objects-1', 'object'),
            versionSpec(`${pipeline}-other`, group, 'objects-1', 'partition'),
            versionSpec(pipeline, `${group}0`, 'objects-1', 'partition'),
          ];
          await ledger.planUnits(olds);
          for (const p of [pipeline, pipeline, pipeline, `${pipeline}-other`]) {
            await ledger.failUnit(await leaseOrFail(ledger, p, 'w'), READ_ERROR, DEAD_AT_ONCE);
          }

          // Act: the group gained an object.
          const planned = await ledger.planUnits([versionSpec(pipeline, group, 'objects-2', 'partition')]);

          // Assess
          assert.deepEqual(planned, { inserted: 1, existing: 0, superseded: 1 });
          const states = await ledger.unitStates(olds.map((u) => u.id));
          assert.deepEqual(olds.map((u) => states.get(u.id)), ['superseded', 'dead', 'dead', 'dead']);
          assert.deepEqual(await ledger.counts(pipeline), { pending: 1, leased: 0, done: 0, failed: 0, dead: 2, superseded: 1 });
        }));
    });

    describe('leasing', () => {
      it('leases pending units in key order, each once, and only from its own pipeline', () =>
        withLedger(async ({ ledger, clock, pipeline }) => {
          // Prepare
          await ledger.planUnits(unitSpecs(pipeline, ['c', 'a', 'e', 'b', 'd']));
          await ledger.planUnits(unitSpecs(`${pipeline}-other`, ['0', '00']));

          // Act
          const leases: Lease[] = [];
          for (let lease = await ledger.leaseNextUnit(pipeline, 'worker-1', LEASE_MS); lease; ) {
            leases.push(lease);
            lease = await ledger.leaseNextUnit(pipeline, 'worker-1', LEASE_MS);
          }

          // Assess
          assert.deepEqual(leases.map((l) => l.unit.key), ['a', 'b', 'c', 'd', 'e']);
          const first = leases[0]!;
          assert.equal(first.owner, 'worker-1');
          assert.equal(first.token, 1);
          assert.equal(first.expiresAt, clock.now() + LEASE_MS);
          assert.equal(first.unitId, first.unit.id);
          assert.equal(first.unit.state, 'leased');
          assert.equal(first.unit.attempts, 1);
          assert.equal(first.unit.leaseOwner, 'worker-1');
          assert.equal(first.unit.leaseExpiresAt, first.expiresAt);
          assert.equal((await ledger.counts(`${pipeline}-other`)).pending, 2);
        }));

      it('never hands out a live lease again, and lets another worker take over an expired one with a higher token', () =>
        withLedger(async ({ ledger, clock, pipeline }) => {
          // Prepare
          await ledger.planUnits(unitSpecs(pipeline, ['only']));
          const first = await leaseOrFail(ledger, pipeline, 'worker-1', 1_000);

          // Act
          const whileLive = await ledger.leaseNextUnit(pipeline, 'worker-2', 1_000);
          clock.advance(1_000);
          const atExpiry = await ledger.leaseNextUnit(pipeline, 'worker-2', 1_000);
          clock.advance(1);
          const takeover = await ledger.leaseNextUnit(pipeline, 'worker-2', 1_000);

          // Assess
          assert.equal(whileLive, null);
          assert.equal(atExpiry, null, 'a lease is live up to and including its expiry instant');
          assert.ok(takeover);
          assert.equal(takeover.unitId, first.unitId);
          assert.equal(takeover.owner, 'worker-2');
          assert.ok(takeover.token > first.token);
          assert.equal(takeover.unit.attempts, 2);
          assert.equal(takeover.expiresAt, clock.now() + 1_000);
        }));

      it('leases a due retry and an expired lease in key order among pending units', () =>
        withLedger(async ({ ledger, clock, pipeline }) => {
          // Prepare
          await ledger.planUnits(unitSpecs(pipeline, ['k1', 'k2', 'k3', 'k4']));
          const k1 = await leaseOrFail(ledger, pipeline, 'worker-1', 500);
          const k2 = await leaseOrFail(ledger, pipeline, 'worker-1', 60_000);
          await ledger.failUnit(k2, READ_ERROR, { ...RETRY, backoffMs: 100 });
          clock.advance(1_000);

          // Act
          const keys: string[] = [];
          for (let i = 0; i < 4; i++) keys.push((await leaseOrFail(ledger, pipeline, 'worker-2')).unit.key);

          // Assess
          assert.equal(k1.unit.key, 'k1');
          assert.deepEqual(keys, ['k1', 'k2', 'k3', 'k4']);
          assert.equal(await ledger.leaseNextUnit(pipeline, 'worker-2', LEASE_MS), null);
        }));

      it('gives many concurrent callers distinct units, every unit exactly once', () =>
        withLedger(async ({ ledger, pipeline }) => {
          // Prepare
          const keys = Array.from({ length: 60 }, (_, i) => `obj-${String(i).padStart(3, '0')}`);
          await ledger.planUnits(unitSpecs(pipeline, keys));
          const leasedBy = new Map<string, number>();

          // Act
          await Promise.all(
            Array.from({ length: 16 }, async (_, worker) => {
              for (;;) {
                const lease = await ledger.leaseNextUnit(pipeline, `worker-${worker}`, LEASE_MS);
                if (!lease) return;
                leasedBy.set(lease.unitId, (leasedBy.get(lease.unitId) ?? 0) + 1);
                assert.equal(await ledger.completeUnit(lease, resultOf(1)), true);
              }
            }),
          );

          // Assess
          assert.equal(leasedBy.size, keys.length);
          assert.ok([...leasedBy.values()].every((n) => n === 1), 'no unit was leased twice');
          assert.equal((await ledger.counts(pipeline)).done, keys.length);
        }));
    });

    describe('fencing', () => {
      it('refuses renew, complete, fail and release from a stale holder, leaving the unit unchanged', () =>
        withLedger(async ({ ledger, clock, pipeline }) => {
          // Prepare
          await ledger.planUnits(unitSpecs(pipeline, ['fenced']));
          const stale = await leaseOrFail(ledger, pipeline, 'frozen-worker', 1_000);
          clock.advance(1_001);
          const current = await leaseOrFail(ledger, pipeline, 'worker-2', LEASE_MS);
          const before = await ledger.getUnit(stale.unitId);

          // Act
          clock.advance(10);
          const renewed = await ledger.renewLease(stale, LEASE_MS);
          const completed = await ledger.completeUnit(stale, resultOf(99, ['stale-output']));
          const failed = await ledger.failUnit(stale, READ_ERROR, { ...RETRY, retryable: false });
          await ledger.releaseLease(stale);
          const after = await ledger.getUnit(stale.unitId);
          const currentCompleted = await ledger.completeUnit(current, resultOf(7, ['good-output']));

          // Assess
          assert.equal(renewed, false);
          assert.equal(completed, false);
          assert.equal(failed, 'fenced');
          assert.deepEqual(after, before);
          assert.equal(currentCompleted, true);
          const done = await ledger.getUnit(stale.unitId);
          assert.equal(done?.state, 'done');
          assert.deepEqual(done?.outputs, ['good-output']);
          assert.equal(done?.recordsIn, 7);
        }));

      it('lets the holder of an expired lease that nobody took over still renew and complete', () =>
        withLedger(async ({ ledger, clock, pipeline }) => {
          // Prepare
          await ledger.planUnits(unitSpecs(pipeline, ['slow']));
          const lease = await leaseOrFail(ledger, pipeline, 'slow-worker', 1_000);
          clock.advance(5_000);

          // Act
          const renewed = await ledger.renewLease(lease, 1_000);
          const renewedUnit = await ledger.getUnit(lease.unitId);
          const completed = await ledger.completeUnit(lease, resultOf(1));

          // Assess
          assert.equal(renewed, true);
          assert.equal(renewedUnit?.leaseExpiresAt, clock.now() + 1_000);
          assert.equal(completed, true);
          assert.equal((await ledger.getUnit(lease.unitId))?.state, 'done');
        }));

      it('keeps a renewed lease away from other workers past its first expiry', () =>
        withLedger(async ({ ledger, clock, pipeline }) => {
          // Prepare
          await ledger.planUnits(unitSpecs(pipeline, ['long']));
          const lease = await leaseOrFail(ledger, pipeline, 'worker-1', 1_000);
          clock.advance(800);

          // Act
          const renewed = await ledger.renewLease(lease, 1_000);
          clock.advance(800);
          const other = await ledger.leaseNextUnit(pipeline, 'worker-2', 1_000);

          // Assess
          assert.equal(renewed, true);
          assert.equal(other, null);
          assert.equal((await ledger.getUnit(lease.unitId))?.leaseExpiresAt, clock.now() - 800 + 1_000);
          assert.equal(await ledger.completeUnit(lease, resultOf(1)), true);
        }));
    });

    describe('completion and failure', () => {
      it('stores the result on completion and clears the lease and the last error', () =>
        withLedger(async ({ ledger, clock, pipeline }) => {
          // Prepare
          await ledger.planUnits(unitSpecs(pipeline, ['work']));
          const first = await leaseOrFail(ledger, pipeline, 'worker-1');
          await ledger.failUnit(first, READ_ERROR, RETRY);
          clock.advance(RETRY.backoffMs);
          const second = await leaseOrFail(ledger, pipeline, 'worker-1');
          clock.advance(250);

          // Act
          const completed = await ledger.completeUnit(second, {
            recordsIn: 10,
            recordsOut: 7,
            recordsRejected: 2,
            recordsFiltered: 1,
            outputs: ['out/part-0001.ndjson.gz', 'out/part-0002.ndjson.gz'],
            durationMs: 1_234,
          });

          // Assess
          assert.equal(completed, true);
          const unit = await ledger.getUnit(second.unitId);
          assert.ok(unit);
          assert.equal(unit.state, 'done');
          assert.equal(unit.attempts, 2);
          assert.deepEqual(
            [unit.recordsIn, unit.recordsOut, unit.recordsRejected, unit.recordsFiltered],
            [10, 7, 2, 1],
          );
          assert.deepEqual(unit.outputs, ['out/part-0001.ndjson.gz', 'out/part-0002.ndjson.gz']);
          assert.equal(unit.durationMs, 1_234);
          assert.equal(unit.leaseOwner, null);
          assert.equal(unit.leaseExpiresAt, null);
          assert.equal(unit.nextAttemptAt, null);
          assert.equal(unit.lastError, null);
          assert.equal(unit.updatedAt, clock.now());
          assert.equal(await ledger.leaseNextUnit(pipeline, 'worker-2', LEASE_MS), null, 'a done unit is never leased');
        }));

      it('retries a retryable failure only after its backoff, doubling the delay up to the cap', () =>
        withLedger(async ({ ledger, clock, pipeline }) => {
          // Prepare
          await ledger.planUnits(unitSpecs(pipeline, ['flaky']));
          const delays: number[] = [];
          const earlyLeases: Array<Lease | null> = [];
          let lease = await leaseOrFail(ledger, pipeline, 'worker-1');

          // Act
          for (let attempt = 1; attempt <= 3; attempt++) {
            const outcome = await ledger.failUnit(lease, READ_ERROR, RETRY);
            assert.equal(outcome, 'retry');
            const unit = await ledger.getUnit(lease.unitId);
            assert.equal(unit?.state, 'failed');
            assert.deepEqual(unit?.lastError, READ_ERROR);
            assert.equal(await ledger.nextRetryAt(pipeline), unit?.nextAttemptAt);
            const delay = unit!.nextAttemptAt! - clock.now();
            delays.push(delay);
            clock.advance(delay - 1);
            earlyLeases.push(await ledger.leaseNextUnit(pipeline, 'worker-1', LEASE_MS));
            clock.advance(1);
            lease = await leaseOrFail(ledger, pipeline, 'worker-1');
          }

          // Assess
          assert.deepEqual(delays, [1_000, 2_000, 3_000], 'backoffMs * 2^(attempts-1), capped at maxBackoffMs');
          assert.deepEqual(earlyLeases, [null, null, null]);
          assert.equal(lease.unit.attempts, 4);
          assert.equal(lease.token, 4);
          assert.equal(lease.unit.nextAttemptAt, null);
        }));

      it('makes a unit dead after maxAttempts and never leases it again', () =>
        withLedger(async ({ ledger, clock, pipeline }) => {
          // Prepare
          await ledger.planUnits(unitSpecs(pipeline, ['poison']));
          const policy = { ...RETRY, maxAttempts: 2 };

          // Act
          const firstOutcome = await ledger.failUnit(await leaseOrFail(ledger, pipeline, 'worker-1'), READ_ERROR, policy);
          clock.advance(policy.maxBackoffMs);
          const secondLease = await leaseOrFail(ledger, pipeline, 'worker-1');
          const secondOutcome = await ledger.failUnit(secondLease, READ_ERROR, policy);
          clock.advance(24 * 3_600_000);

          // Assess
          assert.equal(firstOutcome, 'retry');
          assert.equal(secondOutcome, 'dead');
          const unit = await ledger.getUnit(secondLease.unitId);
          assert.equal(unit?.state, 'dead');
          assert.equal(unit?.attempts, 2);
          assert.deepEqual(unit?.lastError, READ_ERROR);
          assert.equal(unit?.leaseOwner, null);
          assert.equal(await ledger.leaseNextUnit(pipeline, 'worker-1', LEASE_MS), null);
          assert.equal(await ledger.nextRetryAt(pipeline), null);
          assert.equal((await ledger.counts(pipeline)).dead, 1);
        }));

      it('makes a unit dead at once on a non-retryable failure', () =>
        withLedger(async ({ ledger, pipeline }) => {
          // Prepare
          await ledger.planUnits(unitSpecs(pipeline, ['garbage']));
          const lease = await leaseOrFail(ledger, pipeline, 'worker-1');
          const error: SerializedError = { message: 'not gzip', code: 'DECODE_BAD_MAGIC', stage: 'decode', retryable: false, hint: 'check the format' };

          // Act
          const outcome = await ledger.failUnit(lease, error, { ...RETRY, retryable: false });

          // Assess
          assert.equal(outcome, 'dead');
          const unit = await ledger.getUnit(lease.unitId);
          assert.equal(unit?.state, 'dead');
          assert.equal(unit?.attempts, 1);
          assert.deepEqual(unit?.lastError, error);
        }));

      it('gives the attempt back on release, and the unit to the next worker', () =>
        withLedger(async ({ ledger, pipeline }) => {
          // Prepare
          await ledger.planUnits(unitSpecs(pipeline, ['interrupted']));
          const first = await leaseOrFail(ledger, pipeline, 'stopping-worker');

          // Act
          await ledger.releaseLease(first);
          const released = await ledger.getUnit(first.unitId);
          const second = await leaseOrFail(ledger, pipeline, 'worker-2');
          await ledger.releaseLease(first); // a second, stale release must not undo worker-2's lease

          // Assess
          assert.equal(released?.state, 'pending');
          assert.equal(released?.attempts, 0);
          assert.equal(released?.leaseOwner, null);
          assert.equal(released?.leaseExpiresAt, null);
          assert.equal(second.unit.attempts, 1);
          assert.ok(second.token > first.token);
          const unit = await ledger.getUnit(first.unitId);
          assert.equal(unit?.state, 'leased');
          assert.equal(unit?.leaseOwner, 'worker-2');
        }));
    });

    describe('reset and lost owners', () => {
      it('puts done and dead units back to pending with attempts reset (full load, redrive)', () =>
        withLedger(async ({ ledger, pipeline }) => {
          // Prepare: a done, b dead, c failed (backing off), d pending
          const specs = unitSpecs(pipeline, ['a', 'b', 'c', 'd']);
          await ledger.planUnits(specs);
          await ledger.completeUnit(await leaseOrFail(ledger, pipeline, 'w'), resultOf(5, ['out-a']));
          await ledger.failUnit(await leaseOrFail(ledger, pipeline, 'w'), READ_ERROR, { ...RETRY, retryable: false });
          await ledger.failUnit(await leaseOrFail(ledger, pipeline, 'w'), READ_ERROR, { ...RETRY, backoffMs: 60_000, maxBackoffMs: 60_000 });

          // Act
          const nothing = await ledger.resetUnits(pipeline, []);
          const reset = await ledger.resetUnits(pipeline, ['done', 'dead']);
          const order: string[] = [];
          for (let lease = await ledger.leaseNextUnit(pipeline, 'w', LEASE_MS); lease; ) {
            order.push(lease.unit.key);
            lease = await ledger.leaseNextUnit(pipeline, 'w', LEASE_MS);
          }

          // Assess
          assert.equal(nothing, 0);
          assert.equal(reset, 2);
          assert.deepEqual(order, ['a', 'b', 'd'], 'c still waits for its retry');
          const a = await ledger.getUnit(specs[0]!.id);
          assert.equal(a?.attempts, 1, 'attempts restarted from 0 before this lease');
          assert.deepEqual(a?.outputs, []);
          assert.equal(a?.recordsIn, 0);
          assert.equal((await ledger.getUnit(specs[2]!.id))?.state, 'failed');
        }));

      it('resets only the listed units that are in the given states', () =>
        withLedger(async ({ ledger, pipeline }) => {
          // Prepare
          const specs = unitSpecs(pipeline, ['a', 'b', 'c']);
          await ledger.planUnits(specs);
          for (let i = 0; i < 3; i++) {
            await ledger.failUnit(await leaseOrFail(ledger, pipeline, 'w'), READ_ERROR, { ...RETRY, retryable: false });
          }

          // Act
          const reset = await ledger.resetUnits(pipeline, ['dead'], [specs[0]!.id, specs[2]!.id, 'no-such-unit']);
          const wrongState = await ledger.resetUnits(pipeline, ['done'], [specs[1]!.id]);
          const otherPipeline = await ledger.resetUnits(`${pipeline}-other`, ['dead'], [specs[1]!.id]);

          // Assess
          assert.equal(reset, 2);
          assert.equal(wrongState, 0);
          assert.equal(otherPipeline, 0);
          const states = await ledger.unitStates(specs.map((s) => s.id));
          assert.deepEqual([...states.entries()].sort(), [
            [specs[0]!.id, 'pending'],
            [specs[1]!.id, 'dead'],
            [specs[2]!.id, 'pending'],
          ].sort());
          const redriven = await ledger.getUnit(specs[0]!.id);
          assert.equal(redriven?.attempts, 0);
          assert.equal(redriven?.nextAttemptAt, null);
        }));

      it('fences the holder of a leased unit that is reset', () =>
        withLedger(async ({ ledger, pipeline }) => {
          // Prepare
          await ledger.planUnits(unitSpecs(pipeline, ['busy']));
          const holder = await leaseOrFail(ledger, pipeline, 'worker-1');

          // Act
          const reset = await ledger.resetUnits(pipeline, ['leased']);
          const holderCompleted = await ledger.completeUnit(holder, resultOf(1));
          const next = await leaseOrFail(ledger, pipeline, 'worker-2');

          // Assess
          assert.equal(reset, 1);
          assert.equal(holderCompleted, false);
          assert.equal(await ledger.renewLease(holder, LEASE_MS), false);
          assert.ok(next.token > holder.token);
          assert.equal(await ledger.completeUnit(next, resultOf(1)), true);
        }));

      it("expires a gone owner's leases so that they are claimable at once, and lists lease owners", () =>
        withLedger(async ({ ledger, pipeline }) => {
          // Prepare
          await ledger.planUnits(unitSpecs(pipeline, ['u1', 'u2', 'u3', 'u4']));
          const gone1 = await leaseOrFail(ledger, pipeline, 'host/111/dead');
          const gone2 = await leaseOrFail(ledger, pipeline, 'host/111/dead');
          await leaseOrFail(ledger, pipeline, 'host/222/alive');
          const ownersBefore = await ledger.leaseOwners(pipeline);

          // Act
          const expired = await ledger.expireLeasesOf('host/111/dead');
          const takenOver = [await leaseOrFail(ledger, pipeline, 'host/333/new'), await leaseOrFail(ledger, pipeline, 'host/333/new')];
          const fresh = await leaseOrFail(ledger, pipeline, 'host/333/new');

          // Assess
          assert.deepEqual([...ownersBefore].sort(), ['host/111/dead', 'host/222/alive']);
          assert.equal(expired, 2);
          assert.deepEqual(takenOver.map((l) => l.unitId), [gone1.unitId, gone2.unitId]);
          assert.ok(takenOver.every((l) => l.unit.attempts === 2));
          assert.equal(fresh.unit.key, 'u4');
          assert.equal(await ledger.leaseNextUnit(pipeline, 'host/333/new', LEASE_MS), null, "the live owner's lease stays");
          assert.equal(await ledger.completeUnit(gone1, resultOf(1)), false);
          assert.deepEqual([...(await ledger.leaseOwners(pipeline))].sort(), ['host/222/alive', 'host/333/new']);
          assert.equal(await ledger.expireLeasesOf('host/444/never-seen'), 0);
        }));
    });

    describe('reading', () => {
      it('counts every state, zero-filled, per pipeline', () =>
        withLedger(async ({ ledger, pipeline }) => {
          // Prepare
          const empty = await ledger.counts(pipeline);
          await ledger.planUnits(unitSpecs(pipeline, ['k1', 'k2', 'k3', 'k4', 'k5']));
          await ledger.planUnits(unitSpecs(`${pipeline}-other`, ['x']));

          // Act
          await ledger.completeUnit(await leaseOrFail(ledger, pipeline, 'w'), resultOf(1));
          await ledger.failUnit(await leaseOrFail(ledger, pipeline, 'w'), READ_ERROR, { ...RETRY, retryable: false });
          await ledger.failUnit(await leaseOrFail(ledger, pipeline, 'w'), READ_ERROR, RETRY);
          await leaseOrFail(ledger, pipeline, 'w');
          const counts = await ledger.counts(pipeline);

          // Assess
          assert.deepEqual(empty, { pending: 0, leased: 0, done: 0, failed: 0, dead: 0, superseded: 0 });
          assert.deepEqual(counts, { pending: 1, leased: 1, done: 1, failed: 1, dead: 1, superseded: 0 });
        }));

      it('reports the earliest retry time of failed units, or null', () =>
        withLedger(async ({ ledger, clock, pipeline }) => {
          // Prepare
          await ledger.planUnits(unitSpecs(pipeline, ['a', 'b', 'c']));
          const none = await ledger.nextRetryAt(pipeline);

          // Act
          await ledger.failUnit(await leaseOrFail(ledger, pipeline, 'w'), READ_ERROR, { ...RETRY, backoffMs: 5_000, maxBackoffMs: 5_000 });
          const firstFailedAt = clock.now();
          clock.advance(100);
          await ledger.failUnit(await leaseOrFail(ledger, pipeline, 'w'), READ_ERROR, { ...RETRY, backoffMs: 1_000 });
          const secondFailedAt = clock.now();
          await ledger.failUnit(await leaseOrFail(ledger, pipeline, 'w'), READ_ERROR, { ...RETRY, retryable: false });

          // Assess
          assert.equal(none, null);
          assert.equal(await ledger.nextRetryAt(pipeline), Math.min(firstFailedAt + 5_000, secondFailedAt + 1_000));
          assert.equal(await ledger.nextRetryAt(`${pipeline}-other`), null);
        }));

      it('lists units in key order, filtered by state, with limit and offset', () =>
        withLedger(async ({ ledger, pipeline }) => {
          // Prepare
          await ledger.planUnits(unitSpecs(pipeline, ['e', 'd', 'c', 'b', 'a']));
          await ledger.completeUnit(await leaseOrFail(ledger, pipeline, 'w'), resultOf(1)); // a
          await ledger.failUnit(await leaseOrFail(ledger, pipeline, 'w'), READ_ERROR, { ...RETRY, retryable: false }); // b
          await leaseOrFail(ledger, pipeline, 'w'); // c

          // Act
          const all = await ledger.listUnits(pipeline);
          const finished = await ledger.listUnits(pipeline, { states: ['done', 'dead'] });
          const pending = await ledger.listUnits(pipeline, { states: ['pending'] });
          const page = await ledger.listUnits(pipeline, { limit: 2, offset: 1 });
          const tail = await ledger.listUnits(pipeline, { offset: 3 });
          const mixedPage = await ledger.listUnits(pipeline, { states: ['pending', 'done', 'pending'], limit: 2, offset: 1 });
          const none = await ledger.listUnits(pipeline, { states: [] });

          // Assess
          const keys = (rows: Array<{ key: string }>) => rows.map((r) => r.key);
          assert.deepEqual(keys(all), ['a', 'b', 'c', 'd', 'e']);
          assert.deepEqual(all.map((u) => u.state), ['done', 'dead', 'leased', 'pending', 'pending']);
          assert.deepEqual(keys(finished), ['a', 'b']);
          assert.deepEqual(keys(pending), ['d', 'e']);
          assert.deepEqual(keys(page), ['b', 'c']);
          assert.deepEqual(keys(tail), ['d', 'e']);
          assert.deepEqual(keys(mixedPage), ['d', 'e'], 'a (done), d, e (pending), from the second on');
          assert.deepEqual(none, []);
        }));

      it('reads single units, the states of many, and the pipelines that have units', () =>
        withLedger(async ({ ledger, pipeline }) => {
          // Prepare
          const specs = unitSpecs(pipeline, ['a', 'b']);
          await ledger.planUnits(specs);
          await ledger.planUnits(unitSpecs(`${pipeline}-second`, ['z']));
          await ledger.completeUnit(await leaseOrFail(ledger, pipeline, 'w'), resultOf(1));

          // Act
          const unit = await ledger.getUnit(specs[1]!.id);
          const missing = await ledger.getUnit('no-such-unit');
          const states = await ledger.unitStates([specs[0]!.id, specs[1]!.id, 'no-such-unit']);
          const noStates = await ledger.unitStates([]);
          const pipelines = await ledger.pipelines();

          // Assess
          assert.equal(unit?.key, 'b');
          assert.deepEqual(unit?.payload, specs[1]!.payload);
          assert.equal(missing, null);
          assert.deepEqual(states, new Map<string, UnitState>([[specs[0]!.id, 'done'], [specs[1]!.id, 'pending']]));
          assert.equal(noStates.size, 0);
          assert.ok(pipelines.includes(pipeline), `pipelines() lists ${pipeline}`);
          assert.ok(pipelines.includes(`${pipeline}-second`));
          assert.equal(new Set(pipelines).size, pipelines.length, 'each pipeline once');
        }));
    });

    describe('worker registry', () => {
      it('records worker heartbeats per pipeline, newest first, and marks a worker that stopped', () =>
        withLedger(async ({ ledger, clock, pipeline }) => {
          // Prepare
          const startedAt = clock.now();
          const beat = (id: string, unitsInFlight: number, stopped?: boolean) =>
            ledger.recordWorker({ id, pipeline, host: id.split('/')[0]!, pid: Number(id.split('/')[1]), startedAt, unitsInFlight, stopped });
          await beat('host-a/101/aa', 0);
          clock.advance(1_000);
          await beat('host-b/202/bb', 3);
          await ledger.recordWorker({ id: 'host-c/303/cc', pipeline: `${pipeline}-other`, host: 'host-c', pid: 303, startedAt, unitsInFlight: 1 });

          // Act
          clock.advance(1_000);
          await beat('host-a/101/aa', 2);
          clock.advance(500);
          await beat('host-b/202/bb', 0, true);
          const workers = await ledger.listWorkers(pipeline);
          const newest = await ledger.listWorkers(pipeline, 1);

          // Assess
          assert.deepEqual(workers, [
            { id: 'host-b/202/bb', pipeline, host: 'host-b', pid: 202, startedAt, lastHeartbeatAt: clock.now(), unitsInFlight: 0, stoppedAt: clock.now() },
            { id: 'host-a/101/aa', pipeline, host: 'host-a', pid: 101, startedAt, lastHeartbeatAt: clock.now() - 500, unitsInFlight: 2, stoppedAt: null },
          ]);
          assert.deepEqual(newest.map((w) => w.id), ['host-b/202/bb']);
          assert.deepEqual((await ledger.listWorkers(`${pipeline}-other`)).map((w) => w.unitsInFlight), [1]);
        }));
    });

    describe('runs', () => {
      it('records runs and their reports, newest first, per pipeline', () =>
        withLedger(async ({ ledger, clock, pipeline }) => {
          // Prepare
          const t0 = clock.now();
          const report = { units: { total: 3, done: 3 }, records: { in: 10, out: 9 }, outputs: ['a', 'b'] };

          // Act
          await ledger.startRun({ id: `${pipeline}-run-1`, pipeline, startedAt: t0 });
          await ledger.finishRun(`${pipeline}-run-1`, t0 + 500, report);
          await ledger.startRun({ id: `${pipeline}-run-2`, pipeline, startedAt: t0 + 1_000 });
          await ledger.startRun({ id: `${pipeline}-run-3`, pipeline: `${pipeline}-other`, startedAt: t0 + 2_000 });
          const runs = await ledger.listRuns(pipeline);
          const latest = await ledger.listRuns(pipeline, 1);
          const everyPipeline = await ledger.listRuns();

          // Assess
          assert.deepEqual(runs, [
            { id: `${pipeline}-run-2`, pipeline, startedAt: t0 + 1_000, finishedAt: null, report: null },
            { id: `${pipeline}-run-1`, pipeline, startedAt: t0, finishedAt: t0 + 500, report },
          ]);
          assert.deepEqual(latest.map((r) => r.id), [`${pipeline}-run-2`]);
          const ours = everyPipeline.filter((r) => r.id.startsWith(`${pipeline}-run-`)).map((r) => r.id);
          assert.deepEqual(ours, [`${pipeline}-run-3`, `${pipeline}-run-2`, `${pipeline}-run-1`]);
        }));
    });
  });
}
