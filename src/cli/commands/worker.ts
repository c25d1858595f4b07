/**
 * `sluice worker`: one member of a fleet. It leases units of a pipeline from the shared ledger and
 * runs them with the same concurrency, worker threads and sinks as `sluice run`, until none is
 * left (it stays while other workers hold leases, to take over their units should they stop), or
 * for good with `--follow`. SIGTERM or Ctrl-C stops it gracefully: nothing new is leased, units in
 * flight are aborted and their leases released so that other workers take them at once.
 *
 * It logs one JSON line per unit (`unit done`, `unit fenced`, …) with the unit's key and lease
 * token, so a fleet's logs say who committed what.
 */
import { randomUUID } from 'node:crypto';
import { createLogger } from '../../core/logger.js';
import { preflightPipeline } from '../../pipeline/build-pipeline.js';
import { describeLedger, openLedger } from '../../runtime/ledger/open-ledger.js';
import type { UnitState } from '../../runtime/ledger/types.js';
import { newOwnerId } from '../../runtime/owner.js';
import { workPipeline, type WorkSummary } from '../../runtime/run-pipeline.js';
import { loadConfigWithOverrides } from './load-config.js';
import { stateFromOption } from './open-ledger.js';

export interface WorkerFlags {
  config: string;
  source?: string;
  output?: string;
  state?: string;
  concurrency?: number;
  workers?: number;
  follow?: boolean;
  pollMs?: number;
  json?: boolean;
}

export interface WorkerReport extends WorkSummary {
  ledger: string;
  elapsedMs: number;
  recordsPerSecond: number;
  peakRssBytes: number;
  /** The whole pipeline's units by state when this worker stopped. */
  pipelineUnits: Record<UnitState, number> | null;
}

export async function workerCommand(flags: WorkerFlags): Promise<void> {
  const config = loadConfigWithOverrides({
    config: flags.config,
    source: flags.source,
    output: flags.output,
    concurrency: flags.concurrency,
    workers: flags.workers,
  });
  if (flags.state) config.runtime = { ...config.runtime, state: stateFromOption(flags.state) };
  const log = createLogger();
  const started = performance.now();
  await preflightPipeline(config);

  const owner = newOwnerId();
  const ledger = await openLedger(config.runtime.state, {
    postgres: {
      onConnectionLost(e) {
        // One line when the connection goes, then one every ten attempts: an outage must not flood the log.
        if (e.attempt === 1 || e.attempt % 10 === 0) {
          log.warn({ attempt: e.attempt, retryInMs: e.delayMs, error: e.error }, 'ledger connection lost: not leasing until it is back');
        }
      },
      onConnectionRestored(action, downForMs) {
        log.warn({ downForMs }, `ledger connection restored (${action})`);
      },
    },
  });

  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    log.warn({ signal }, 'stopping: leasing nothing new, aborting units in flight and releasing their leases (signal again to quit at once)');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const runId = randomUUID();
  let summary: WorkSummary | undefined;
  let report: WorkerReport | undefined;
  try {
    await ledger.startRun({ id: runId, pipeline: config.name, startedAt: Date.now() });
    log.info(
      { worker: owner, pipeline: config.name, ledger: describeLedger(config.runtime.state), concurrency: config.runtime.concurrency, follow: flags.follow === true },
      'worker started',
    );
    let waiting = false;
    summary = await workPipeline(config, {
      ledger,
      owner,
      signal: controller.signal,
      follow: flags.follow,
      waitForOtherWorkers: true,
      pollMs: flags.pollMs,
      events: {
        onUnitStart(lease) {
          waiting = false;
          log.debug({ key: lease.unit.key, token: lease.token, attempt: lease.unit.attempts }, 'unit started');
        },
        onUnitDone(lease, result) {
          log.info(
            { key: lease.unit.key, token: lease.token, records: result.recordsIn, rejected: result.recordsRejected, ms: result.durationMs },
            'unit done',
          );
        },
        onUnitFailed(lease, error, outcome) {
          log.warn(
            { key: lease.unit.key, token: lease.token, attempt: lease.unit.attempts, code: error.code, outcome },
            outcome === 'dead'
              ? `unit dead: ${error.message}`
              : outcome === 'fenced'
                ? 'unit fenced: another worker holds it now'
                : outcome === 'superseded'
                  ? `unit superseded: a newer version of it was planned meanwhile (this attempt failed: ${error.message})`
                  : `unit failed, will retry: ${error.message}`,
          );
        },
        onUnitFenced(lease) {
          log.warn({ key: lease.unit.key, token: lease.token }, 'unit fenced: its lease was taken over by another worker, result not committed');
        },
        onWaitingForRetry(until) {
          log.info({ until: new Date(until).toISOString() }, 'waiting for the next retry');
        },
        onFinalized(aggregate) {
          log.info({ state: aggregate.state, units: aggregate.units, records: aggregate.records }, `aggregate finalize: ${aggregate.state}${aggregate.reason ? ` (${aggregate.reason})` : ''}`);
        },
        onIdle({ othersHoldingLeases }) {
          if (waiting) return;
          waiting = true;
          log.info(
            { othersHoldingLeases },
            othersHoldingLeases > 0 ? 'nothing to lease now: waiting while other workers hold leases' : 'nothing to lease now: following new units',
          );
        },
      },
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // After a failure (the ledger gone for good, say) the run record is left open rather than
    // waiting on a database that does not answer: `status` shows it as "running or killed".
    if (summary) {
      const counts = await ledger.counts(config.name).catch(() => null);
      const elapsedMs = Math.round(performance.now() - started);
      report = {
        ...summary,
        ledger: describeLedger(config.runtime.state),
        elapsedMs,
        recordsPerSecond: elapsedMs > 0 ? Math.round((summary.records.in * 1000) / elapsedMs) : 0,
        peakRssBytes: process.resourceUsage().maxRSS * 1024,
        pipelineUnits: counts,
      };
      await ledger.finishRun(runId, Date.now(), report).catch(() => undefined);
    }
    await ledger.close();
  }
  if (!report) return;
  if (flags.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else printWorkerReport(report);
  if (report.interrupted) process.exitCode = 130;
  else if ((report.pipelineUnits?.dead ?? 0) > 0) process.exitCode = 2;
}

function printWorkerReport(report: WorkerReport): void {
  const u = report.units;
  const r = report.records;
  const p = report.pipelineUnits;
  const lines = [
    `worker ${report.owner} — pipeline ${report.pipeline} — ${report.interrupted ? 'STOPPED (leases released)' : 'nothing left to do'}`,
    `  units    ${u.done} done · ${u.retried} retries · ${u.dead} dead · ${u.fenced} fenced (taken over by another worker)${u.superseded ? ` · ${u.superseded} superseded by a newer version` : ''}`,
    `  records  ${r.in} in · ${r.out} out · ${r.rejected} rejected · ${r.filtered} filtered`,
    `  time     ${(report.elapsedMs / 1000).toFixed(1)} s · ${report.recordsPerSecond} records/s · peak RSS ${Math.round(report.peakRssBytes / 1048576)} MB`,
  ];
  if (p) lines.push(`  pipeline ${p.pending} pending · ${p.leased} leased · ${p.done} done · ${p.failed} waiting to retry · ${p.dead} dead${p.superseded ? ` · ${p.superseded} superseded` : ''} (${report.ledger})`);
  if (p && p.dead > 0) lines.push('  `sluice status` shows the dead units; fix the cause, then `sluice retry` redrives them');
  process.stdout.write(lines.join('\n') + '\n');
}
