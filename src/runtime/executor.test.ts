import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SluiceError } from '../core/errors.js';
import { executeUnits, type UnitPayload } from './executor.js';
import { openSqliteLedger } from './ledger/sqlite.js';
import type { Ledger, UnitResult } from './ledger/types.js';
import type { UnitRunner } from './unit-runner.js';

const policy = { maxAttempts: 3, backoffMs: 5, maxBackoffMs: 20 };

async function ledgerWithUnits(n: number): Promise<Ledger> {
  const ledger = openSqliteLedger(':memory:');
  const payload: UnitPayload = { objects: [], outputStem: 'x' };
  await ledger.planUnits(
    Array.from({ length: n }, (_, i) => ({ id: `u${i}`, pipeline: 'p', kind: 'object' as const, key: `k${String(i).padStart(3, '0')}`, payload })),
  );
  return ledger;
}

const ok = (): UnitResult => ({ recordsIn: 1, recordsOut: 1, recordsRejected: 0, recordsFiltered: 0, outputs: [], durationMs: 1 });

function runnerFrom(run: UnitRunner['run']): UnitRunner {
  return { run, close: async () => undefined };
}

describe('executeUnits', () => {
  it('never has more than `concurrency` units in flight and finishes them all', async () => {
    const ledger = await ledgerWithUnits(30);
    let inFlight = 0;
    let peak = 0;
    const runner = runnerFrom(async () => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 2));
      inFlight--;
      return ok();
    });
    await executeUnits({ ledger, pipeline: 'p', owner: 'o', runner, concurrency: 4, leaseMs: 60_000, policy });
    assert.equal(peak, 4);
    assert.equal((await ledger.counts('p')).done, 30);
  });

  it('retries a retryable failure with backoff, and kills a non-retryable one at once', async () => {
    const ledger = await ledgerWithUnits(2);
    const calls = new Map<string, number>();
    const outcomes: string[] = [];
    const runner = runnerFrom(async (unit) => {
      const n = (calls.get(unit.id) ?? 0) + 1;
      calls.set(unit.id, n);
      if (unit.id === 'u0' && n < 3) throw new SluiceError('flaky', { code: 'FLAKY', stage: 'read', retryable: true });
      if (unit.id === 'u1') throw new SluiceError('broken for good', { code: 'BROKEN', stage: 'decode', retryable: false });
      return ok();
    });
    await executeUnits({
      ledger, pipeline: 'p', owner: 'o', runner, concurrency: 2, leaseMs: 60_000, policy,
      events: { onUnitFailed: (_l, e, outcome) => outcomes.push(`${e.code}:${outcome}`) },
    });
    assert.equal(calls.get('u0'), 3);
    assert.equal(calls.get('u1'), 1);
    assert.deepEqual(outcomes.sort(), ['BROKEN:dead', 'FLAKY:retry', 'FLAKY:retry']);
    assert.equal((await ledger.getUnit('u0'))!.state, 'done');
    assert.equal((await ledger.getUnit('u1'))!.lastError!.code, 'BROKEN');
  });

  it('declares dead a unit whose holders kept dying (attempts past the limit through takeovers)', async () => {
    const ledger = await ledgerWithUnits(1);
    for (let i = 0; i < policy.maxAttempts; i++) {
      assert.ok(await ledger.leaseNextUnit('p', `crashed-${i}`, 1));
      await new Promise((r) => setTimeout(r, 3));
    }
    let ran = false;
    await executeUnits({ ledger, pipeline: 'p', owner: 'o', runner: runnerFrom(async () => ((ran = true), ok())), concurrency: 1, leaseMs: 60_000, policy });
    const unit = (await ledger.getUnit('u0'))!;
    assert.equal(ran, false);
    assert.equal(unit.state, 'dead');
    assert.equal(unit.lastError!.code, 'UNIT_ABANDONED');
  });

  it('on abort, stops leasing and gives in-flight units back without counting the attempt', async () => {
    const ledger = await ledgerWithUnits(5);
    const controller = new AbortController();
    const runner = runnerFrom(
      (_unit, { signal }) =>
        new Promise((_resolve, reject) => {
          setTimeout(() => controller.abort(), 5);
          signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
        }),
    );
    await executeUnits({ ledger, pipeline: 'p', owner: 'o', runner, concurrency: 2, leaseMs: 60_000, policy, signal: controller.signal });
    const units = await ledger.listUnits('p');
    assert.deepEqual(units.map((u) => [u.state, u.attempts]), Array(5).fill(['pending', 0]));
  });

  it('aborts a unit whose lease is lost to another worker and does not commit it', async () => {
    const ledger = await ledgerWithUnits(1);
    let fenced = 0;
    let calls = 0;
    const runner = runnerFrom(
      (_unit, { signal }) =>
        new Promise((resolve, reject) => {
          if (++calls > 1) return resolve(ok());
          // Another worker takes the unit over (as after a pause past the lease).
          void ledger.resetUnits('p', ['leased']);
          signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
        }),
    );
    const running = executeUnits({
      ledger, pipeline: 'p', owner: 'o', runner, concurrency: 1, leaseMs: 1000, policy,
      events: { onUnitFenced: () => fenced++ },
    });
    await running;
    assert.equal(fenced, 1);
    assert.equal(calls, 2, 'the unit is run again by its new holder');
    assert.equal((await ledger.getUnit('u0'))!.state, 'done');
  });
});
