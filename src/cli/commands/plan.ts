/**
 * `sluice plan`: lists the source and records its units in the ledger, and nothing else. Run it
 * once, then start `sluice worker` on as many machines as you like. Planning is a sequence of
 * short batches, so it can be interrupted and run again (it inserts only what is missing), and
 * two planners started by mistake insert every unit once.
 */
import { createLogger } from '../../core/logger.js';
import { windowFromFlags } from '../../core/key-dates.js';
import { describeLedger, openLedger } from '../../runtime/ledger/open-ledger.js';
import { planPipeline } from '../../runtime/run-pipeline.js';
import { explainEmptyPlan } from '../../runtime/empty-plan.js';
import type { PlanSummary } from '../../runtime/plan/planner.js';
import type { UnitState } from '../../runtime/ledger/types.js';
import { loadConfigWithOverrides } from './load-config.js';
import { stateFromOption } from './open-ledger.js';

export interface PlanFlags {
  config: string;
  source?: string;
  state?: string;
  from?: string;
  to?: string;
  /** The last N UTC days, today included. */
  days?: number;
  fullLoad?: boolean;
  json?: boolean;
}

export interface PlanReport {
  pipeline: string;
  ledger: string;
  plan: PlanSummary;
  /** Units of the pipeline by state once planning finished (all planners and workers included). */
  units: Record<UnitState, number>;
  elapsedMs: number;
  unitsPerSecond: number;
  peakRssBytes: number;
  /** Set only when the plan found no units: why. */
  emptyPlan?: string;
}

/** Progress goes to the log at most this often, so a million-object prefix logs a few lines a minute. */
const PROGRESS_EVERY_MS = 5_000;

export async function planCommand(flags: PlanFlags): Promise<void> {
  const config = loadConfigWithOverrides({ config: flags.config, source: flags.source });
  if (flags.state) config.runtime = { ...config.runtime, state: stateFromOption(flags.state) };
  const window = windowFromFlags(flags);
  const log = createLogger();
  const started = performance.now();
  const ledger = await openLedger(config.runtime.state);
  let report: PlanReport;
  try {
    let lastLog = started;
    const plan = await planPipeline(config, {
      ledger,
      window,
      fullLoad: flags.fullLoad,
      log,
      onPage(summary) {
        const now = performance.now();
        if (now - lastLog < PROGRESS_EVERY_MS) return;
        lastLog = now;
        log.info({ listed: summary.total, new: summary.inserted }, `planning: ${summary.total} units listed so far`);
      },
    });
    const elapsedMs = Math.round(performance.now() - started);
    report = {
      pipeline: config.name,
      ledger: describeLedger(config.runtime.state),
      plan,
      units: await ledger.counts(config.name),
      elapsedMs,
      unitsPerSecond: elapsedMs > 0 ? Math.round((plan.total * 1000) / elapsedMs) : 0,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    };
    if (plan.total === 0) report.emptyPlan = await explainEmptyPlan(config, window);
  } finally {
    await ledger.close();
  }
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const p = report.plan;
  const u = report.units;
  process.stdout.write(
    [
      `planned ${report.pipeline} from ${config.source.uri} into ${report.ledger}`,
      `  listed   ${p.total} units (${p.inserted} new · ${p.alreadyDone} already done · ${p.alreadyDead} dead${p.reset ? ` · ${p.reset} reset by --full-load` : ''}${p.superseded ? ` · ${p.superseded} older versions superseded` : ''})`,
      `  ledger   ${u.pending} pending · ${u.leased} leased · ${u.done} done · ${u.failed} waiting to retry · ${u.dead} dead${u.superseded ? ` · ${u.superseded} superseded` : ''}`,
      `  time     ${(report.elapsedMs / 1000).toFixed(1)} s · ${report.unitsPerSecond} units/s · peak RSS ${Math.round(report.peakRssBytes / 1048576)} MB`,
      report.emptyPlan ? `  nothing planned: ${report.emptyPlan}` : `next: sluice worker -c ${flags.config}   (on as many machines as you like)`,
      '',
    ].join('\n'),
  );
}
