/**
 * `sluice run` as a function: open the ledger, plan the source's objects into units, execute
 * them with bounded concurrency on worker threads, and return the run report. The ledger is the
 * checkpoint: a second call with the same pipeline skips units that are done, and resumes the
 * rest, whatever happened to the previous process.
 *
 * A run is the two halves a fleet runs apart: `planPipeline` (what `sluice plan` does once) and
 * `workPipeline` (what each `sluice worker` does: lease, process, commit, until nothing is left).
 * Both only talk to the ledger, so they may run in different processes on different machines.
 */
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type { TimeWindow } from '../core/component.js';
import type { PipelineConfig } from '../pipeline/config.js';
import type { SluiceError } from '../core/errors.js';
import { createSource } from '../pipeline/catalog.js';
import { deadLetterDirFor, preflightPipeline } from '../pipeline/build-pipeline.js';
import { executeUnits, type ExecutorEvents } from './executor.js';
import type { Clock, FailOutcome, Lease, Ledger, UnitResult } from './ledger/types.js';
import { systemClock } from './ledger/types.js';
import { openLedger } from './ledger/open-ledger.js';
import { newOwnerId, reclaimLeasesOfDeadLocalOwners } from './owner.js';
import { planObjectUnits, type PlanSummary } from './plan/planner.js';
import { TINY_OBJECTS_HINT } from './plan/group-planner.js';
import { planPeriodUnits } from './plan/month-planner.js';
import { createNotifier } from './notify.js';
import { addPartitionResult, detectCloudTrailLayout, planPartitionUnits, type PartitionRunFigures } from './plan/partition-planner.js';
import type { Logger } from '../core/logger.js';
import type { UnitProgress } from './process-unit.js';
import { createUnitRunner, type UnitRunner } from './unit-runner.js';
import { aggregateStageOf, finalizeAggregate, type FinalizeSummary } from './finalize.js';
import { explainEmptyPlan } from './empty-plan.js';

export interface RunReport {
  pipeline: string;
  runId: string;
  /**
   * total = units matching this run; skipped = already done before it; superseded = older
   * versions of changed keys that this run replaced (history in `status`, not dead).
   */
  units: { total: number; done: number; failed: number; dead: number; skipped: number; retried: number; superseded: number };
  records: { in: number; out: number; rejected: number; filtered: number };
  bytesRead: number;
  outputs: string[];
  deadLetters: string;
  deadUnits: Array<{ key: string; attempts: number; error: string; code: string }>;
  elapsedMs: number;
  recordsPerSecond: number;
  peakRssBytes: number;
  interrupted: boolean;
  /** Partition layouts only: figures per step (day, month) and the files skipped as a whole. */
  partitions?: PartitionRunFigures;
  /** Pipelines with an aggregate: what the finalize step did (see finalize.ts). */
  aggregate?: FinalizeSummary;
  /** Set only when the plan found no units: why (empty source, filters, window; see empty-plan.ts). */
  emptyPlan?: string;
}

export interface RunEvents {
  onPlanned?(plan: PlanSummary): void;
  onUnitStart?(lease: Lease): void;
  onUnitProgress?(lease: Lease, progress: UnitProgress): void;
  onUnitDone?(lease: Lease, result: UnitResult): void;
  onUnitFailed?(lease: Lease, error: SluiceError, outcome: FailOutcome): void;
  onWaitingForRetry?(untilMs: number): void;
}

export interface RunOptions {
  window?: TimeWindow;
  fullLoad?: boolean;
  signal?: AbortSignal;
  clock?: Clock;
  events?: RunEvents;
  /** Use an already open ledger (tests, serve); otherwise the config's state file is opened and closed. */
  ledger?: Ledger;
  /** Planning log of partition layouts. */
  log?: Logger;
}

export function defaultWorkerCount(): number {
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}

export interface PlanPipelineOptions {
  ledger: Ledger;
  window?: TimeWindow;
  /** Redo units that are done (or dead) instead of skipping them. */
  fullLoad?: boolean;
  /** Called after each listed page is in the ledger, with the running totals. */
  onPage?(summary: PlanSummary): void;
  /** Planning progress of partition layouts (INFO: totals, DEBUG: per account and region). */
  log?: Logger;
  /** "Today" for `load` plans (days back); default the system clock. */
  clock?: Clock;
}

/**
 * Lists the pipeline's source page by page and inserts its units in batches: memory is bounded by
 * the page size, and planning again (after an interruption, or from a second planner at the same
 * time) inserts only what is missing.
 *
 * @example
 * const plan = await planPipeline(config, { ledger });
 * console.log(`${plan.inserted} new units of ${plan.total}`);
 */
export async function planPipeline(config: PipelineConfig, options: PlanPipelineOptions): Promise<PlanSummary> {
  const source = createSource(config.source);
  try {
    // A `load` plan (historical months / daily days, seed 004) groups objects into period units.
    if (config.load) {
      return await planPeriodUnits({ ledger: options.ledger, source, pipeline: config.name, load: config.load, clock: options.clock ?? systemClock, window: options.window, fullLoad: options.fullLoad });
    }
    const regions = await detectCloudTrailLayout(config, source);
    if (regions) {
      const { ledger, window, fullLoad, onPage, log } = options;
      return await planPartitionUnits({ ledger, source, config, regions, window, fullLoad, onPage, log });
    }
    const plan = await planObjectUnits({
      ledger: options.ledger,
      source,
      pipeline: config.name,
      window: options.window,
      fullLoad: options.fullLoad,
      onPage: options.onPage,
      group: config.source.group,
      sinkCount: config.sinks.length,
    });
    if ((plan.tinyObjects ?? 0) >= TINY_OBJECTS_HINT) {
      options.log?.warn(
        { tinyObjects: plan.tinyObjects, units: plan.total },
        `${plan.tinyObjects} of ${plan.total} objects are 64 KiB or smaller, one unit each: set source.group: { by: hour } to read them together (much faster for days of tiny files)`,
      );
    }
    return plan;
  } finally {
    await source.close?.();
  }
}

export interface WorkEvents extends ExecutorEvents {
  /** Nothing claimable now; waiting `pollMs` because other workers hold leases, or to follow new units. */
  onIdle?(info: { othersHoldingLeases: number }): void;
  /** Following with an aggregate: the finalize step ran after the pipeline drained. */
  onFinalized?(summary: FinalizeSummary): void;
}

export interface WorkOptions {
  ledger: Ledger;
  /** Lease owner and worker id (default: a new `host/pid/nonce`). */
  owner?: string;
  /** An already started runner (runPipeline starts its threads before planning); otherwise one is made and closed. */
  runner?: UnitRunner;
  signal?: AbortSignal;
  clock?: Clock;
  events?: WorkEvents;
  /** Keep polling for new units once the pipeline is drained, until the signal aborts (`--follow`). */
  follow?: boolean;
  /**
   * Do not stop while other workers hold leases: one of them may stop (crash, freeze) and its
   * units must then be taken over when its lease expires. What a fleet worker wants.
   */
  waitForOtherWorkers?: boolean;
  /** How often an idle worker looks again (default 1 s). */
  pollMs?: number;
  /** Expire leases of dead local processes before starting (default true). */
  reclaimAtStart?: boolean;
  /** Run an aggregate's finalize step once drained (default true; runPipeline does its own). */
  finalize?: boolean;
  /** Send `runtime.notify` messages for failed and dead units (default true; runPipeline sends its own). */
  notify?: boolean;
}

export interface WorkSummary {
  pipeline: string;
  owner: string;
  /** superseded: attempts that failed after a newer version of their unit was planned. */
  units: { done: number; retried: number; dead: number; fenced: number; superseded: number };
  records: { in: number; out: number; rejected: number; filtered: number };
  bytesRead: number;
  outputs: number;
  interrupted: boolean;
  /** Pipelines with an aggregate: what the finalize step did once the units were drained. */
  aggregate?: FinalizeSummary;
}

/**
 * Leases units of the pipeline and runs them with the configured concurrency, worker threads and
 * sinks until none is left (or, with `follow`, until the signal aborts). On abort it stops
 * leasing, aborts the units in flight and releases their leases. While it works it beats in the
 * ledger's worker registry, which is what `status` shows per worker.
 */
export async function workPipeline(config: PipelineConfig, options: WorkOptions): Promise<WorkSummary> {
  const { ledger, signal } = options;
  const clock = options.clock ?? systemClock;
  const owner = options.owner ?? newOwnerId();
  const events = options.events ?? {};
  const pollMs = options.pollMs ?? 1_000;
  const summary: WorkSummary = {
    pipeline: config.name,
    owner,
    units: { done: 0, retried: 0, dead: 0, fenced: 0, superseded: 0 },
    records: { in: 0, out: 0, rejected: 0, filtered: 0 },
    bytesRead: 0,
    outputs: 0,
    interrupted: false,
  };
  let inFlight = 0;
  const runner = options.runner ?? createUnitRunner(config, config.runtime.workers ?? defaultWorkerCount());
  const registration = startWorkerBeats(ledger, config, owner, clock, () => inFlight);
  const notifier = options.notify !== false && config.runtime.notify ? createNotifier(config.runtime.notify) : undefined;
  const finalizes = options.finalize !== false && aggregateStageOf(config) !== undefined;
  let doneAtFinalize = 0;
  try {
    if (options.reclaimAtStart !== false) await reclaimLeasesOfDeadLocalOwners(ledger, config.name, owner);
    for (;;) {
      await executeUnits({
        ledger,
        pipeline: config.name,
        owner,
        runner,
        concurrency: config.runtime.concurrency,
        leaseMs: config.runtime.leaseMs,
        policy: { maxAttempts: config.runtime.maxAttempts, backoffMs: config.runtime.backoffMs, maxBackoffMs: config.runtime.maxBackoffMs },
        clock,
        signal,
        events: {
          onUnitProgress: events.onUnitProgress,
          onWaitingForRetry: events.onWaitingForRetry,
          onUnitStart(lease) {
            inFlight++;
            events.onUnitStart?.(lease);
          },
          onUnitDone(lease, result) {
            inFlight--;
            summary.units.done++;
            summary.records.in += result.recordsIn;
            summary.records.out += result.recordsOut;
            summary.records.rejected += result.recordsRejected;
            summary.records.filtered += result.recordsFiltered;
            summary.bytesRead += lease.unit.size ?? 0;
            summary.outputs += result.outputs.length;
            events.onUnitDone?.(lease, result);
          },
          onUnitFailed(lease, error, outcome) {
            inFlight--;
            if (outcome === 'retry') summary.units.retried++;
            if (outcome === 'dead') summary.units.dead++;
            if (outcome === 'fenced') summary.units.fenced++;
            if (outcome === 'superseded') summary.units.superseded++;
            // A superseded unit needs nobody: its newer version is planned and runs in its place.
            if (outcome === 'retry' || outcome === 'dead') {
              notifier?.send({
                event: outcome === 'dead' ? 'unit_dead' : 'unit_failed',
                pipeline: config.name,
                unit: { id: lease.unitId, key: lease.unit.key, attempt: lease.unit.attempts },
                error: { message: error.message, code: error.code },
                counts: { unitsDone: summary.units.done, unitsRetried: summary.units.retried, unitsDead: summary.units.dead, recordsIn: summary.records.in },
                at: new Date(clock()).toISOString(),
              });
            }
            events.onUnitFailed?.(lease, error, outcome);
          },
          onUnitFenced(lease) {
            inFlight--;
            summary.units.fenced++;
            events.onUnitFenced?.(lease);
          },
        },
      });
      if (signal?.aborted || (!options.follow && !options.waitForOtherWorkers)) break;
      const others = (await ledger.leaseOwners(config.name)).filter((o) => o !== owner);
      if (others.length === 0 && !options.follow) break;
      // Following, an aggregate is finalized each time the pipeline drains after new work: the
      // finalize unit's id covers the units done so far, so an unchanged set sends nothing again.
      if (others.length === 0 && finalizes && summary.units.done !== doneAtFinalize) {
        doneAtFinalize = summary.units.done;
        summary.aggregate = await finalizeAggregate(config, { ledger, owner, clock, signal });
        events.onFinalized?.(summary.aggregate);
        continue;
      }
      // A crashed worker on this machine need not wait for its leases to expire.
      if (others.length > 0 && (await reclaimLeasesOfDeadLocalOwners(ledger, config.name, owner)) > 0) continue;
      events.onIdle?.({ othersHoldingLeases: others.length });
      await sleep(pollMs, signal);
    }
  } finally {
    await notifier?.flush();
    await registration.stop();
    if (!options.runner) await runner.close();
  }
  // Fleet workers (`sluice worker`) finalize an aggregate too: its unit's lease lets one of them do it.
  if (finalizes && !options.follow && !signal?.aborted) {
    summary.aggregate = await finalizeAggregate(config, { ledger, owner, clock, signal });
  }
  summary.interrupted = signal?.aborted ?? false;
  return summary;
}

/**
 * Beats in the worker registry now, every third of a lease (1–10 s) while working, and a last
 * time on stop. Beats are best effort: a missed one only makes `status` look older.
 */
function startWorkerBeats(
  ledger: Ledger,
  config: PipelineConfig,
  owner: string,
  clock: Clock,
  unitsInFlight: () => number,
): { stop(): Promise<void> } {
  const base = { id: owner, pipeline: config.name, host: os.hostname(), pid: process.pid, startedAt: clock() };
  const beat = (stopped: boolean) =>
    ledger.recordWorker({ ...base, unitsInFlight: stopped ? 0 : Math.max(0, unitsInFlight()), stopped }).catch(() => undefined);
  let pending = beat(false);
  const timer = setInterval(() => {
    pending = pending.then(() => beat(false));
  }, Math.min(10_000, Math.max(1_000, Math.floor(config.runtime.leaseMs / 3))));
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await pending;
      await beat(true);
    },
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export async function runPipeline(config: PipelineConfig, options: RunOptions = {}): Promise<RunReport> {
  const clock = options.clock ?? systemClock;
  const started = performance.now();
  await preflightPipeline(config);
  const ledger = options.ledger ?? (await openLedger(config.runtime.state, { clock }));
  const runId = randomUUID();
  const owner = newOwnerId();
  const events = options.events ?? {};
  const report: RunReport = {
    pipeline: config.name,
    runId,
    units: { total: 0, done: 0, failed: 0, dead: 0, skipped: 0, retried: 0, superseded: 0 },
    records: { in: 0, out: 0, rejected: 0, filtered: 0 },
    bytesRead: 0,
    outputs: [],
    deadLetters: deadLetterDirFor(config),
    deadUnits: [],
    elapsedMs: 0,
    recordsPerSecond: 0,
    peakRssBytes: 0,
    interrupted: false,
  };
  const runner = createUnitRunner(config, config.runtime.workers ?? defaultWorkerCount());
  const notifier = config.runtime.notify ? createNotifier(config.runtime.notify, options.log) : undefined;
  try {
    await ledger.startRun({ id: runId, pipeline: config.name, startedAt: clock() });
    await reclaimLeasesOfDeadLocalOwners(ledger, config.name, owner);

    const plan = await planPipeline(config, { ledger, window: options.window, fullLoad: options.fullLoad, log: options.log, clock });
    report.units.total = plan.total;
    report.units.skipped = plan.alreadyDone;
    report.units.superseded = plan.superseded;
    report.bytesRead = 0;
    if (plan.total === 0) report.emptyPlan = await explainEmptyPlan(config, options.window).catch((err: Error) => `the source could not be listed again to tell why: ${err.message}`);
    events.onPlanned?.(plan);

    await workPipeline(config, {
      ledger,
      owner,
      runner,
      clock,
      signal: options.signal,
      reclaimAtStart: false,
      finalize: false,
      notify: false,
      events: {
        onUnitStart: events.onUnitStart,
        onUnitProgress: events.onUnitProgress,
        onWaitingForRetry: events.onWaitingForRetry,
        onUnitDone(lease, result) {
          report.units.done++;
          report.records.in += result.recordsIn;
          report.records.out += result.recordsOut;
          report.records.rejected += result.recordsRejected;
          report.records.filtered += result.recordsFiltered;
          report.bytesRead += lease.unit.size ?? 0;
          report.outputs.push(...result.outputs);
          report.partitions = addPartitionResult(report.partitions, lease.unit.payload, result);
          events.onUnitDone?.(lease, result);
        },
        onUnitFailed(lease, error, outcome) {
          if (outcome === 'retry') report.units.retried++;
          if (outcome === 'superseded') report.units.superseded++;
          if (outcome === 'retry' || outcome === 'dead') {
            notifier?.send({
              event: outcome === 'dead' ? 'unit_dead' : 'unit_failed',
              pipeline: config.name,
              runId,
              unit: { id: lease.unitId, key: lease.unit.key, attempt: lease.unit.attempts },
              error: { message: error.message, code: error.code },
              counts: { unitsTotal: report.units.total, unitsDone: report.units.done, unitsRetried: report.units.retried, recordsIn: report.records.in, recordsRejected: report.records.rejected },
              at: new Date(clock()).toISOString(),
            });
          }
          events.onUnitFailed?.(lease, error, outcome);
        },
      },
    });

    // Cross-unit results (the aggregate transform): merged and delivered once every unit is done.
    if (aggregateStageOf(config)) {
      report.aggregate = await finalizeAggregate(config, { ledger, owner, clock, signal: options.signal });
      report.outputs.push(...report.aggregate.outputs);
    }

    report.interrupted = options.signal?.aborted ?? false;
    const counts = await ledger.counts(config.name);
    report.units.failed = counts.failed;
    const dead = await ledger.listUnits(config.name, { states: ['dead'], limit: 1000 });
    report.units.dead = counts.dead;
    report.deadUnits = dead.map((u) => ({
      key: u.key,
      attempts: u.attempts,
      error: u.lastError?.message ?? 'unknown error',
      code: u.lastError?.code ?? 'UNKNOWN',
    }));
    if (notifier && (report.units.dead > 0 || report.units.failed > 0)) {
      notifier.send({
        event: 'run_failed',
        pipeline: config.name,
        runId,
        counts: { unitsTotal: report.units.total, unitsDone: report.units.done, unitsFailed: report.units.failed, unitsDead: report.units.dead, recordsIn: report.records.in, recordsOut: report.records.out, recordsRejected: report.records.rejected },
        deadUnits: report.deadUnits.slice(0, 20).map((u) => ({ key: u.key, error: u.error })),
        at: new Date(clock()).toISOString(),
      });
    }
  } finally {
    await notifier?.flush();
    await runner.close();
    report.elapsedMs = Math.round(performance.now() - started);
    report.recordsPerSecond = report.elapsedMs > 0 ? Math.round((report.records.in * 1000) / report.elapsedMs) : 0;
    report.peakRssBytes = process.resourceUsage().maxRSS * 1024;
    report.outputs.sort();
    await ledger.finishRun(runId, clock(), { ...report, outputs: report.outputs.length }).catch(() => undefined);
    if (!options.ledger) await ledger.close();
  }
  return report;
}
