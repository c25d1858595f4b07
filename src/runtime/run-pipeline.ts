/**
 * `sluice run` as a function: open the ledger, plan the source's objects into units, execute
 * them with bounded concurrency on worker threads, and return the run report. The ledger is the
 * checkpoint: a second call with the same pipeline skips units that are done, and resumes the
 * rest, whatever happened to the previous process.
 */
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type { TimeWindow } from '../core/component.js';
import type { PipelineConfig } from '../core/config.js';
import type { SluiceError } from '../core/errors.js';
import { createSource } from '../core/registry.js';
import { deadLetterDirFor, preflightTransforms } from './build-pipeline.js';
import { executeUnits } from './executor.js';
import type { Clock, FailOutcome, Lease, Ledger, UnitResult } from './ledger/types.js';
import { systemClock } from './ledger/types.js';
import { openSqliteLedger } from './ledger/sqlite.js';
import { newOwnerId, reclaimLeasesOfDeadLocalOwners } from './owner.js';
import { planObjectUnits, type PlanSummary } from './planner.js';
import type { UnitProgress } from './process-unit.js';
import { createUnitRunner } from './unit-runner.js';

export interface RunReport {
  pipeline: string;
  runId: string;
  /** total = units matching this run; skipped = already done before it. */
  units: { total: number; done: number; failed: number; dead: number; skipped: number; retried: number };
  records: { in: number; out: number; rejected: number; filtered: number };
  bytesRead: number;
  outputs: string[];
  deadLetters: string;
  deadUnits: Array<{ key: string; attempts: number; error: string; code: string }>;
  elapsedMs: number;
  recordsPerSecond: number;
  peakRssBytes: number;
  interrupted: boolean;
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
}

export function defaultWorkerCount(): number {
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}

export async function runPipeline(config: PipelineConfig, options: RunOptions = {}): Promise<RunReport> {
  const clock = options.clock ?? systemClock;
  const started = performance.now();
  await preflightTransforms(config);
  const ledger = options.ledger ?? openSqliteLedger(config.runtime.state, { clock });
  const runId = randomUUID();
  const owner = newOwnerId();
  const events = options.events ?? {};
  const report: RunReport = {
    pipeline: config.name,
    runId,
    units: { total: 0, done: 0, failed: 0, dead: 0, skipped: 0, retried: 0 },
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
  try {
    await ledger.startRun({ id: runId, pipeline: config.name, startedAt: clock() });
    await reclaimLeasesOfDeadLocalOwners(ledger, config.name, owner);

    const source = createSource(config.source);
    let plan: PlanSummary;
    try {
      plan = await planObjectUnits({ ledger, source, pipeline: config.name, window: options.window, fullLoad: options.fullLoad });
    } finally {
      await source.close?.();
    }
    report.units.total = plan.total;
    report.units.skipped = plan.alreadyDone;
    report.bytesRead = 0;
    events.onPlanned?.(plan);

    const deadThisRun = new Set<string>();
    await executeUnits({
      ledger,
      pipeline: config.name,
      owner,
      runner,
      concurrency: config.runtime.concurrency,
      leaseMs: config.runtime.leaseMs,
      policy: { maxAttempts: config.runtime.maxAttempts, backoffMs: config.runtime.backoffMs, maxBackoffMs: config.runtime.maxBackoffMs },
      clock,
      signal: options.signal,
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
          events.onUnitDone?.(lease, result);
        },
        onUnitFailed(lease, error, outcome) {
          if (outcome === 'retry') report.units.retried++;
          if (outcome === 'dead') deadThisRun.add(lease.unitId);
          events.onUnitFailed?.(lease, error, outcome);
        },
      },
    });

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
  } finally {
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
