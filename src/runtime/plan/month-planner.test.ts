/**
 * The seed's load-planning scenarios 1-5 (plus daily loads and checkpoints) as table tests: a
 * fake clock says what "today" is, a real folder source holds one object per day, and a real
 * SQLite ledger records the units.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { openSource } from '../../pipeline/open-source.js';
import { createFakeClock } from '../../testing/fake-clock.js';
import { openLedger } from '../ledger/open-ledger.js';
import type { Ledger } from '../ledger/types.js';
import { loadPeriods, planPeriodUnits, type LoadPlan, type PeriodPayload } from './month-planner.js';
import { loadPlanSchema } from '../../pipeline/run-config.js';

const TODAY = Date.UTC(2024, 0, 15, 9, 30);

/** One object per day from 2023-05-01 to 2024-01-20, in yyyy/mm/dd folders. */
function sourceFolder(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-months-'));
  for (let t = Date.UTC(2023, 4, 1); t <= Date.UTC(2024, 0, 20); t += 86_400_000) {
    const day = new Date(t).toISOString().slice(0, 10).split('-');
    const folder = path.join(dir, 'logs', day[0]!, day[1]!, day[2]!);
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, `access-${day.join('')}.log`), 'x\n');
  }
  return dir;
}

async function plan(load: Record<string, unknown>, options: { fullLoad?: boolean; ledger?: Ledger } = {}) {
  const dir = sourceFolder();
  const ledger = options.ledger ?? (await openLedger(path.join(dir, 'state.db')));
  const clock = createFakeClock(TODAY);
  const parsed: LoadPlan = loadPlanSchema.parse(load);
  const source = openSource({ uri: path.join(dir, 'logs') } as Parameters<typeof openSource>[0]);
  const summary = await planPeriodUnits({ ledger, source, pipeline: 'p', load: parsed, clock: clock.now, fullLoad: options.fullLoad });
  const units = await ledger.listUnits('p', { limit: 100 });
  const objectsOf = Object.fromEntries(units.map((u) => [u.key, (u.payload as PeriodPayload).objects.length]));
  return { summary, units, objectsOf, ledger, dir, source, clock, parsed };
}

async function finishAll(ledger: Ledger, failKey?: string): Promise<void> {
  for (;;) {
    const lease = await ledger.leaseNextUnit('p', 'test', 60_000);
    if (!lease) return;
    if (lease.unit.key === failKey) {
      await ledger.failUnit(lease, { message: 'boom', code: 'TEST', stage: 'read', retryable: false }, { maxAttempts: 1, backoffMs: 0, maxBackoffMs: 0, retryable: false });
    } else {
      await ledger.completeUnit(lease, { recordsIn: 1, recordsOut: 1, recordsRejected: 0, recordsFiltered: 0, outputs: [], durationMs: 1 });
    }
  }
}

describe('load planning: the seed\'s scenarios', () => {
  const cases: Array<{ name: string; load: Record<string, unknown>; periods: string[]; objects: Record<string, number> }> = [
    {
      name: 'scenario 1: days_to_process 35, dates empty -> the months between today-35d and today',
      load: { type: 'historical', daysToProcess: 35 },
      periods: ['2023-12', '2024-01'],
      objects: { '2023-12': 21, '2024-01': 15 },
    },
    {
      name: 'scenario 3: start 2023-05-22, end 2023-06-22 -> two month units, clipped to the dates',
      load: { type: 'historical', startDate: '2023-05-22', endDate: '2023-06-22' },
      periods: ['2023-05', '2023-06'],
      objects: { '2023-05': 10, '2023-06': 22 },
    },
    {
      name: 'scenario 5: days_to_process and dates both given -> days win, dates ignored',
      load: { type: 'historical', daysToProcess: 35, startDate: '2023-05-22', endDate: '2023-06-22' },
      periods: ['2023-12', '2024-01'],
      objects: { '2023-12': 21, '2024-01': 15 },
    },
    {
      name: 'daily load, 3 days back -> one unit per whole day before today',
      load: { type: 'daily', dailyDays: 3 },
      periods: ['2024-01-12', '2024-01-13', '2024-01-14'],
      objects: { '2024-01-12': 1, '2024-01-13': 1, '2024-01-14': 1 },
    },
    {
      name: 'batch_load_type daily on a historical range -> day units',
      load: { type: 'historical', unit: 'day', startDate: '2023-06-29', endDate: '2023-07-02' },
      periods: ['2023-06-29', '2023-06-30', '2023-07-01', '2023-07-02'],
      objects: { '2023-06-29': 1, '2023-06-30': 1, '2023-07-01': 1, '2023-07-02': 1 },
    },
    {
      name: 'batch_load_type yearly -> year units',
      load: { type: 'historical', unit: 'year', startDate: '2023-12-30', endDate: '2024-01-02' },
      periods: ['2023', '2024'],
      objects: { '2023': 2, '2024': 2 },
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { summary, objectsOf, parsed } = await plan(c.load);
      assert.deepEqual(summary.periods.map((p) => p.key), c.periods);
      assert.deepEqual(loadPeriods(parsed, TODAY).map((p) => p.key), c.periods);
      assert.deepEqual(objectsOf, c.objects);
      assert.equal(summary.total, c.periods.length);
      assert.equal(summary.inserted, c.periods.length);
    });
  }

  it('scenarios 1 and 3 (full_load false): a re-run skips the months already done and re-plans nothing new', async () => {
    for (const load of [{ type: 'historical', daysToProcess: 35 }, { type: 'historical', startDate: '2023-05-22', endDate: '2023-06-22' }]) {
      const first = await plan(load);
      await finishAll(first.ledger);
      const again = await planPeriodUnits({ ledger: first.ledger, source: first.source, pipeline: 'p', load: first.parsed, clock: first.clock.now });
      assert.equal(again.inserted, 0);
      assert.equal(again.alreadyDone, 2);
      assert.equal(again.reset, 0);
      assert.equal((await first.ledger.counts('p')).pending, 0);
    }
  });

  it('scenarios 2 and 4 (full_load true): every month is reloaded whatever the checkpoints say', async () => {
    for (const load of [{ type: 'historical', daysToProcess: 35 }, { type: 'historical', startDate: '2023-05-22', endDate: '2023-06-22' }]) {
      const first = await plan(load);
      await finishAll(first.ledger);
      const again = await planPeriodUnits({ ledger: first.ledger, source: first.source, pipeline: 'p', load: first.parsed, clock: first.clock.now, fullLoad: true });
      assert.equal(again.reset, 2);
      assert.equal(again.alreadyDone, 0);
      assert.equal((await first.ledger.counts('p')).pending, 2);
    }
  });

  it('a failed month is the only one planned again', async () => {
    const first = await plan({ type: 'historical', startDate: '2023-05-22', endDate: '2023-07-10' });
    await finishAll(first.ledger, '2023-06');
    assert.equal((await first.ledger.counts('p')).dead, 1);
    const again = await planPeriodUnits({ ledger: first.ledger, source: first.source, pipeline: 'p', load: first.parsed, clock: first.clock.now });
    assert.equal(again.retried, 1);
    assert.equal(again.alreadyDone, 2);
    const pending = await first.ledger.listUnits('p', { states: ['pending'] });
    assert.deepEqual(pending.map((u) => u.key), ['2023-06']);
  });

  it('the clock decides "today": the next day, days_to_process moves the window and the new day joins a new unit version', async () => {
    const first = await plan({ type: 'historical', daysToProcess: 35 });
    first.clock.advance(86_400_000);
    const next = await planPeriodUnits({ ledger: first.ledger, source: first.source, pipeline: 'p', load: first.parsed, clock: first.clock.now });
    assert.deepEqual(next.periods.map((p) => [p.key, new Date(p.from).toISOString().slice(0, 10)]), [['2023-12', '2023-12-12'], ['2024-01', '2024-01-01']]);
    assert.equal(next.inserted, 2, 'both months hold different objects now: new unit versions');
  });

  it('refuses a historical load without days or dates, and dates in the wrong order', () => {
    assert.throws(() => loadPlanSchema.parse({ type: 'historical' }), /needs daysToProcess, or both startDate and endDate/);
    assert.throws(() => loadPlanSchema.parse({ type: 'historical', startDate: '2023-07-01', endDate: '2023-06-01' }), /endDate 2023-06-01 is before startDate 2023-07-01/);
    assert.throws(() => loadPlanSchema.parse({ type: 'historical', startDate: '2023-02-30', endDate: '2023-06-01' }), /a date that exists/);
  });
});
