/**
 * Load planning as the Security Lake ETL framework does it (seed 004, scenarios 1-5): a date
 * range cut into periods (months by default, or days or years), one `partition` unit per period
 * holding every source object of that period, processed in parallel and checkpointed in the
 * ledger one by one.
 *
 * The range:
 * - historical, `daysToProcess` N: from N days before today (UTC) to today, inclusive; when
 *   `startDate`/`endDate` are also given they are ignored (scenario 5: days win);
 * - historical, `startDate`..`endDate` (yyyy-MM-dd, both inclusive): the periods between them,
 *   each clipped to the range (2023-05-22..2023-06-22 gives 2023-05 and 2023-06, scenario 3);
 * - daily, `dailyDays` N: the N whole days before today, one day unit each (N = 1: yesterday).
 * A `--from/--to` window on the command line replaces the computed range.
 *
 * Objects are placed by the date in their key (`yyyy/mm/dd[/HH]`, hive `year=/month=/day=`, ...,
 * see sources/key-dates.ts), or by their LastModified time when the key has none.
 *
 * Checkpoints (scenarios 2 and 4): a unit's id is a hash of the pipeline, the period and the
 * objects (key + etag) in it, so re-planning the same data finds the same units. A re-run skips
 * periods that are done, and puts periods that failed or died back to pending: only the months
 * not processed run again, as in the framework. `fullLoad` redoes every period.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Source, TimeWindow } from '../../core/component.js';
import { SluiceError } from '../../core/errors.js';
import type { ObjectRef } from '../../core/record.js';
import { dateFromKey } from '../../core/key-dates.js';
import type { Clock, Ledger, UnitSpec, UnitPayload } from '../ledger/types.js';
import { outputStemFor, unitIdFor } from '../ledger/unit-id.js';
import type { PlanSummary } from './planner.js';
import type { LoadPlan } from '../../pipeline/run-config.js';
import { parseIsoDate } from '../../core/key-dates.js';

export type { LoadPlan } from '../../pipeline/run-config.js';

const DAY_MS = 86_400_000;


export interface Period {
  /** `2023-05`, `2023-05-22` or `2023`: the unit key shown in `status`. */
  key: string;
  /** epoch ms, inclusive */
  from: number;
  /** epoch ms, exclusive */
  to: number;
}

export interface LoadPlanSummary extends PlanSummary {
  /** Periods of the range (units are made only for periods that have objects). */
  periods: Period[];
  /** Periods with no source object. */
  emptyPeriods: string[];
  /** Failed or dead periods put back to pending by this plan (retried alone). */
  retried: number;
}


function utcDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** The time range a load covers at `now` (a command-line window replaces it). */
export function loadRange(load: LoadPlan, now: number, window?: TimeWindow): { from: number; to: number } {
  if (window && (window.from !== undefined || window.to !== undefined)) {
    if (window.from === undefined || window.to === undefined) {
      throw new SluiceError('a load plan needs both --from and --to when either is given', { code: 'BAD_OPTION', stage: 'plan', hint: 'give both, or neither to use the load settings' });
    }
    return { from: window.from, to: window.to };
  }
  const today = utcDay(now);
  if (load.type === 'daily') return { from: today - load.dailyDays * DAY_MS, to: today };
  if (load.daysToProcess !== undefined) return { from: today - load.daysToProcess * DAY_MS, to: today + DAY_MS };
  const from = load.startDate === undefined ? undefined : parseIsoDate(load.startDate);
  const to = load.endDate === undefined ? undefined : parseIsoDate(load.endDate);
  if (from === undefined || to === undefined || from > to) {
    throw new SluiceError(`load: a historical load needs daysToProcess, or startDate <= endDate (got ${load.startDate ?? 'none'} .. ${load.endDate ?? 'none'})`, {
      code: 'CONFIG_INVALID',
      stage: 'config',
      hint: 'set load.daysToProcess, or load.startDate and load.endDate as yyyy-MM-dd',
    });
  }
  return { from, to: to + DAY_MS };
}

/**
 * The periods of a load at `now`, in order, each clipped to the range.
 *
 * @example
 * loadPeriods({ type: 'historical', unit: 'month', startDate: '2023-05-22', endDate: '2023-06-22', dailyDays: 1 }, Date.now())
 * // [{ key: '2023-05', ... }, { key: '2023-06', ... }]
 */
export function loadPeriods(load: LoadPlan, now: number, window?: TimeWindow): Period[] {
  const range = loadRange(load, now, window);
  const unit = load.type === 'daily' ? 'day' : load.unit;
  const periods: Period[] = [];
  let cursor = range.from;
  while (cursor < range.to) {
    const d = new Date(cursor);
    const y = d.getUTCFullYear();
    const m = d.getUTCMonth();
    let start: number;
    let end: number;
    let key: string;
    if (unit === 'year') {
      start = Date.UTC(y, 0, 1);
      end = Date.UTC(y + 1, 0, 1);
      key = String(y).padStart(4, '0');
    } else if (unit === 'month') {
      start = Date.UTC(y, m, 1);
      end = Date.UTC(y, m + 1, 1);
      key = `${String(y).padStart(4, '0')}-${String(m + 1).padStart(2, '0')}`;
    } else {
      start = utcDay(cursor);
      end = start + DAY_MS;
      key = new Date(start).toISOString().slice(0, 10);
    }
    periods.push({ key, from: Math.max(start, range.from), to: Math.min(end, range.to) });
    cursor = end;
  }
  return periods;
}

export interface PlanLoadOptions {
  ledger: Ledger;
  source: Source;
  pipeline: string;
  load: LoadPlan;
  clock: Clock;
  window?: TimeWindow;
  fullLoad?: boolean;
}

/** What a period unit carries besides its objects. */
export interface PeriodPayload extends UnitPayload {
  period: Period;
}

/** Lists the range's objects, groups them by period and records one unit per non-empty period. */
export async function planPeriodUnits(options: PlanLoadOptions): Promise<LoadPlanSummary> {
  const { ledger, source, pipeline, load } = options;
  const periods = loadPeriods(load, options.clock(), options.window);
  const summary: LoadPlanSummary = { total: 0, inserted: 0, alreadyDone: 0, alreadyDead: 0, reset: 0, superseded: 0, bytes: 0, bytesToDo: 0, periods, emptyPeriods: [], retried: 0 };
  if (periods.length === 0) return summary;
  const range = { from: periods[0]!.from, to: periods[periods.length - 1]!.to };
  const byPeriod = new Map<string, ObjectRef[]>();
  for await (const page of source.list(range)) {
    for (const ref of page) {
      const dated = dateFromKey(ref.key);
      const start = dated?.start ?? (ref.lastModified ? Date.parse(ref.lastModified) : Number.NaN);
      if (Number.isNaN(start)) continue;
      const end = dated?.end ?? start + 1;
      if (end <= range.from || start >= range.to) continue;
      const at = Math.max(start, range.from);
      const period = periods.find((p) => at >= p.from && at < p.to);
      if (!period) continue;
      let list = byPeriod.get(period.key);
      if (!list) byPeriod.set(period.key, (list = []));
      list.push(ref);
    }
  }
  const specs: UnitSpec[] = [];
  for (const period of periods) {
    const objects = byPeriod.get(period.key);
    if (!objects || objects.length === 0) {
      summary.emptyPeriods.push(period.key);
      continue;
    }
    objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const version = createHash('sha256');
    version.update(`${period.from}:${period.to}\n`);
    for (const o of objects) version.update(`${o.key}\0${o.versionId ?? o.etag ?? ''}\n`);
    const id = unitIdFor(pipeline, 'partition', period.key, version.digest('hex').slice(0, 24));
    // Outputs are named after the period alone: a new version of a month replaces the old one's files.
    const payload: PeriodPayload = { objects, outputStem: outputStemFor(`period-${period.key}`, unitIdFor(pipeline, 'partition', period.key)), period };
    specs.push({ id, pipeline, kind: 'partition', key: period.key, payload, size: objects.reduce((n, o) => n + (o.size ?? 0), 0) });
  }
  if (specs.length === 0) return summary;
  const { inserted, superseded } = await ledger.planUnits(specs);
  summary.inserted = inserted;
  summary.superseded = superseded;
  summary.total = specs.length;
  summary.bytes = specs.reduce((n, s) => n + (s.size ?? 0), 0);
  const states = await ledger.unitStates(specs.map((s) => s.id));
  const finished = specs.filter((s) => states.get(s.id) === 'done');
  const unfinished = specs.filter((s) => states.get(s.id) === 'failed' || states.get(s.id) === 'dead');
  if (unfinished.length > 0) summary.retried = await ledger.resetUnits(pipeline, ['failed', 'dead'], unfinished.map((s) => s.id));
  if (options.fullLoad && finished.length > 0) {
    summary.reset = await ledger.resetUnits(pipeline, ['done'], finished.map((s) => s.id));
  } else {
    summary.alreadyDone = finished.length;
  }
  summary.bytesToDo = summary.bytes - (options.fullLoad ? 0 : finished.reduce((n, s) => n + (s.size ?? 0), 0));
  return summary;
}
