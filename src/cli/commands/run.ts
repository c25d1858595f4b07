import type { PipelineConfig } from '../../pipeline/config.js';
import { createLogger } from '../../core/logger.js';
import { windowFromFlags, type parseWindow } from '../../core/key-dates.js';
import { runPipeline, type RunReport } from '../../runtime/run-pipeline.js';
import { ProgressBar, type ProgressState } from '../progress.js';
import { printReport } from '../report-text.js';
import { loadConfigWithOverrides, type ConfigOverrides } from './load-config.js';
import { logPartitionSteps } from '../../runtime/plan/partition-planner.js';

export interface RunFlags extends ConfigOverrides {
  from?: string;
  to?: string;
  /** The last N UTC days, today included. */
  days?: number;
  fullLoad?: boolean;
  json?: boolean;
  progress?: boolean;
}

export async function runCommand(flags: RunFlags): Promise<void> {
  const config = loadConfigWithOverrides(flags);
  const window = windowFromFlags(flags);
  const report = await runWithProgress(config, { window, fullLoad: flags.fullLoad, progress: flags.progress !== false });
  finish(report, flags.json === true);
}

/** Exit status: 0 all done, 2 some units dead, 130 interrupted. */
export function finish(report: RunReport, json: boolean): void {
  if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else printReport(report, process.stdout);
  if (report.interrupted) process.exitCode = 130;
  else if (report.units.dead > 0) process.exitCode = 2;
}

export async function runWithProgress(
  config: PipelineConfig,
  options: { window?: ReturnType<typeof parseWindow>; fullLoad?: boolean; progress: boolean },
): Promise<RunReport> {
  const log = createLogger();
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    say(() => log.warn({ signal }, 'stopping: finishing nothing new, releasing leases (press Ctrl-C again to quit at once)'));
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const state: ProgressState = { unitsDone: 0, unitsTotal: 0, unitsDead: 0, records: 0, inFlight: 0, bytesDone: 0, bytesTotal: 0 };
  const progressOf = new Map<string, { records: number; bytes: number }>();
  let committedRecords = 0;
  let finishedBytes = 0;
  const refresh = () => {
    let records = committedRecords;
    let bytes = finishedBytes;
    for (const p of progressOf.values()) {
      records += p.records;
      bytes += p.bytes;
    }
    state.records = records;
    state.bytesDone = bytes;
  };
  const bar = options.progress && process.stderr.isTTY ? new ProgressBar(process.stderr, state) : undefined;
  const say = (fn: () => void) => (bar ? bar.say(fn) : fn());
  try {
    const report = await runPipeline(config, {
      window: options.window,
      fullLoad: options.fullLoad,
      log,
      signal: controller.signal,
      events: {
        onPlanned(plan) {
          state.unitsTotal = plan.total - plan.alreadyDone - plan.alreadyDead;
          state.unitsAlreadyDone = plan.alreadyDone;
          state.bytesTotal = plan.bytesToDo;
          log.info(
            { pipeline: config.name, units: plan.total, new: plan.inserted, alreadyDone: plan.alreadyDone, reset: plan.reset, superseded: plan.superseded, bytes: plan.bytes },
            `planned ${plan.total} units from ${config.source.uri}`,
          );
          bar?.start();
        },
        onUnitStart(lease) {
          state.inFlight++;
          log.debug({ key: lease.unit.key, attempt: lease.unit.attempts }, 'unit started');
        },
        onUnitProgress(lease, p) {
          progressOf.set(lease.unitId, p);
          refresh();
        },
        onUnitDone(lease, result) {
          state.inFlight--;
          state.unitsDone++;
          progressOf.delete(lease.unitId);
          committedRecords += result.recordsIn;
          finishedBytes += lease.unit.size ?? 0;
          refresh();
          if (!bar) {
            log.info(
              { key: lease.unit.key, records: result.recordsIn, rejected: result.recordsRejected, ms: result.durationMs },
              `unit done (${state.unitsDone}/${state.unitsTotal})`,
            );
          }
        },
        onUnitFailed(lease, error, outcome) {
          state.inFlight--;
          progressOf.delete(lease.unitId);
          if (outcome === 'dead') state.unitsDead++;
          if (outcome === 'dead' || outcome === 'superseded') finishedBytes += lease.unit.size ?? 0;
          refresh();
          say(() =>
            log.warn(
              { key: lease.unit.key, attempt: lease.unit.attempts, code: error.code, outcome },
              outcome === 'dead'
                ? `unit dead: ${error.message}`
                : outcome === 'superseded'
                  ? `unit superseded: a newer version of it was planned meanwhile (this attempt failed: ${error.message})`
                  : `unit failed, will retry: ${error.message}`,
            ),
          );
        },
        onWaitingForRetry(until) {
          say(() => log.info({ until: new Date(until).toISOString() }, 'waiting for the next retry'));
        },
      },
    });
    bar?.clear();
    logPartitionSteps(log, report);
    return report;
  } finally {
    bar?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
