/**
 * `/metrics` in Prometheus text format, with Vector's names (STYLE.md), computed from the ledger
 * at scrape time so every process writing the ledger (runs, fleet workers) is counted once:
 *
 * - component_received_events_total{component_id}    records read by done units
 * - component_sent_events_total{component_id}        records delivered by done units
 * - component_discarded_events_total{component_id,intentional}
 *       intentional="true": filtered out on purpose; "false": rejected to dead letters
 * - component_errors_total{component_id,error_type,stage}
 *       units whose latest attempt failed (failed or dead), by error code and stage
 * - sluice_units{component_id,state}                  units per ledger state
 * - sluice_workers_running{component_id}              workers that have not said they stopped
 *
 * `component_id` is the pipeline name. The counters come from durable ledger rows, so they only
 * go down when someone resets units (a full load), which Prometheus reads as a counter reset.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { Ledger, UnitRow } from '../runtime/ledger/types.js';
import { UNIT_STATES } from '../runtime/ledger/types.js';

interface LedgerFigures {
  pipeline: string;
  counts: Record<string, number>;
  received: number;
  sent: number;
  filtered: number;
  rejected: number;
  errors: Map<string, { errorType: string; stage: string; count: number }>;
  workersRunning: number;
}

async function readFigures(ledger: Ledger): Promise<LedgerFigures[]> {
  const out: LedgerFigures[] = [];
  for (const pipeline of await ledger.pipelines()) {
    const [counts, units, workers] = await Promise.all([
      ledger.counts(pipeline),
      ledger.listUnits(pipeline, { limit: 1_000_000 }),
      ledger.listWorkers(pipeline, 1000),
    ]);
    const f: LedgerFigures = { pipeline, counts, received: 0, sent: 0, filtered: 0, rejected: 0, errors: new Map(), workersRunning: 0 };
    for (const u of units as UnitRow[]) {
      if (u.state === 'done') {
        f.received += u.recordsIn;
        f.sent += u.recordsOut;
        f.filtered += u.recordsFiltered;
        f.rejected += u.recordsRejected;
      } else if ((u.state === 'failed' || u.state === 'dead') && u.lastError) {
        const key = `${u.lastError.code}\u0000${u.lastError.stage}`;
        const e = f.errors.get(key) ?? { errorType: u.lastError.code, stage: u.lastError.stage, count: 0 };
        e.count++;
        f.errors.set(key, e);
      }
    }
    f.workersRunning = workers.filter((w) => w.stoppedAt === null).length;
    out.push(f);
  }
  return out;
}

/**
 * A registry whose metrics are read from the ledger on every scrape.
 *
 * @example
 * const registry = createLedgerMetrics(ledger);
 * const text = await registry.metrics(); // 'component_received_events_total{component_id="vpc-demo"} 300000\n…'
 */
export function createLedgerMetrics(ledger: Ledger): Registry {
  const registry = new Registry();
  // One ledger read per scrape, shared by every metric's collect().
  let pending: Promise<LedgerFigures[]> | null = null;
  const figures = () => (pending ??= readFigures(ledger).finally(() => setTimeout(() => (pending = null), 0)));

  const setCounter = (c: Counter<string>, labels: Record<string, string>, value: number) => {
    if (value > 0) c.inc(labels, value);
    else c.inc(labels, 0);
  };
  new Counter({
    name: 'component_received_events_total',
    help: 'Records read from source objects by finished units.',
    labelNames: ['component_id'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const f of await figures()) setCounter(this, { component_id: f.pipeline }, f.received);
    },
  });
  new Counter({
    name: 'component_sent_events_total',
    help: 'Records delivered to every sink by finished units.',
    labelNames: ['component_id'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const f of await figures()) setCounter(this, { component_id: f.pipeline }, f.sent);
    },
  });
  new Counter({
    name: 'component_discarded_events_total',
    help: 'Records not delivered: intentional="true" filtered on purpose, "false" rejected to dead letters.',
    labelNames: ['component_id', 'intentional'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const f of await figures()) {
        setCounter(this, { component_id: f.pipeline, intentional: 'true' }, f.filtered);
        setCounter(this, { component_id: f.pipeline, intentional: 'false' }, f.rejected);
      }
    },
  });
  new Counter({
    name: 'component_errors_total',
    help: 'Units whose latest attempt failed (waiting to retry or dead), by error code and stage.',
    labelNames: ['component_id', 'error_type', 'stage'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const f of await figures()) for (const e of f.errors.values()) setCounter(this, { component_id: f.pipeline, error_type: e.errorType, stage: e.stage }, e.count);
    },
  });
  new Gauge({
    name: 'sluice_units',
    help: 'Units in the ledger by state.',
    labelNames: ['component_id', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const f of await figures()) for (const state of UNIT_STATES) this.set({ component_id: f.pipeline, state }, f.counts[state] ?? 0);
    },
  });
  new Gauge({
    name: 'sluice_workers_running',
    help: 'Workers of the pipeline that have not reported stopping.',
    labelNames: ['component_id'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const f of await figures()) this.set({ component_id: f.pipeline }, f.workersRunning);
    },
  });
  return registry;
}
