/**
 * What the dashboard shows, read from the ledger in one pass: per pipeline the unit counts, the
 * most recently changed units, every failed and dead unit with its full error, the runs, the
 * workers, and throughput over time. The ledger is the only source: a `sluice run` or a fleet of
 * `sluice worker`s in other processes write it, the dashboard only reads it (and redrives).
 *
 * Throughput is derived from finished units (each done unit's records, at the ledger time it was
 * committed), so the chart also covers work done before the dashboard started.
 */
import type { Ledger, RunRecord, UnitRow, UnitState, WorkerRow } from '../runtime/ledger/types.js';
import { UNIT_STATES } from '../runtime/ledger/types.js';

/** How many units of a pipeline the snapshot reads at most (throughput and the tables). */
const MAX_UNITS_READ = 50_000;
/** Rows in the live unit table (most recently changed first). */
const UNIT_ROWS = 60;
const PROBLEM_ROWS = 200;
/** Candidate bucket widths for the throughput chart; the smallest giving ≤ 60 buckets wins. */
const BUCKET_WIDTHS_S = [1, 2, 5, 10, 30, 60, 300, 600, 1800, 3600, 21_600, 86_400];

export interface ThroughputPoint {
  /** Bucket start, epoch ms. */
  at: number;
  recordsPerSecond: number;
  unitsPerMinute: number;
}

export interface RunSummary {
  id: string;
  startedAt: number;
  finishedAt: number | null;
  units: { total: number; done: number; dead: number; skipped: number } | null;
  records: { in: number; out: number; rejected: number } | null;
  recordsPerSecond: number | null;
  interrupted: boolean;
}

export interface PipelineSnapshot {
  name: string;
  counts: Record<UnitState, number>;
  totals: { recordsIn: number; recordsOut: number; recordsRejected: number; recordsFiltered: number };
  /** Most recently changed units first. */
  units: UnitRow[];
  /** Failed (waiting to retry) and dead units, dead first. */
  problems: UnitRow[];
  runs: RunSummary[];
  workers: WorkerRow[];
  throughput: { bucketSeconds: number; points: ThroughputPoint[] };
  /** Units read for this snapshot (capped). */
  unitsRead: number;
}

export interface DashboardSnapshot {
  takenAt: number;
  pipelines: PipelineSnapshot[];
}

function summarizeRun(run: RunRecord): RunSummary {
  const report = (run.report ?? null) as {
    units?: { total: number; done: number; dead: number; skipped: number };
    records?: { in: number; out: number; rejected: number };
    recordsPerSecond?: number;
    interrupted?: boolean;
  } | null;
  return {
    id: run.id,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    units: report?.units ?? null,
    records: report?.records ?? null,
    recordsPerSecond: report?.recordsPerSecond ?? null,
    interrupted: report?.interrupted === true,
  };
}

/** Records/s and units/min per bucket, from done units' commit times. */
export function throughputOf(units: UnitRow[]): { bucketSeconds: number; points: ThroughputPoint[] } {
  const done = units.filter((u) => u.state === 'done');
  if (done.length === 0) return { bucketSeconds: 10, points: [] };
  let lo = Infinity;
  let hi = -Infinity;
  for (const u of done) {
    lo = Math.min(lo, u.updatedAt);
    hi = Math.max(hi, u.updatedAt);
  }
  const spanS = Math.max(1, (hi - lo) / 1000);
  const bucketSeconds = BUCKET_WIDTHS_S.find((w) => spanS / w <= 60) ?? 86_400;
  const width = bucketSeconds * 1000;
  const first = Math.floor(lo / width) * width;
  const count = Math.floor((hi - first) / width) + 1;
  const records = new Array<number>(count).fill(0);
  const finished = new Array<number>(count).fill(0);
  for (const u of done) {
    const i = Math.floor((u.updatedAt - first) / width);
    records[i]! += u.recordsIn;
    finished[i]! += 1;
  }
  return {
    bucketSeconds,
    points: records.map((r, i) => ({ at: first + i * width, recordsPerSecond: r / bucketSeconds, unitsPerMinute: (finished[i]! * 60) / bucketSeconds })),
  };
}

const PROBLEM_ORDER: Record<UnitState, number> = { dead: 0, failed: 1, leased: 2, pending: 3, done: 4, superseded: 5 };

export async function readPipelineSnapshot(ledger: Ledger, pipeline: string): Promise<PipelineSnapshot> {
  const [counts, all, runs, workers] = await Promise.all([
    ledger.counts(pipeline),
    ledger.listUnits(pipeline, { limit: MAX_UNITS_READ }),
    ledger.listRuns(pipeline, 8),
    ledger.listWorkers(pipeline, 20),
  ]);
  const totals = { recordsIn: 0, recordsOut: 0, recordsRejected: 0, recordsFiltered: 0 };
  for (const u of all) {
    if (u.state !== 'done') continue;
    totals.recordsIn += u.recordsIn;
    totals.recordsOut += u.recordsOut;
    totals.recordsRejected += u.recordsRejected;
    totals.recordsFiltered += u.recordsFiltered;
  }
  const byRecent = [...all].sort((a, b) => b.updatedAt - a.updatedAt || a.key.localeCompare(b.key));
  const problems = all
    .filter((u) => u.state === 'dead' || u.state === 'failed')
    .sort((a, b) => PROBLEM_ORDER[a.state] - PROBLEM_ORDER[b.state] || a.key.localeCompare(b.key))
    .slice(0, PROBLEM_ROWS);
  return {
    name: pipeline,
    counts,
    totals,
    units: byRecent.slice(0, UNIT_ROWS),
    problems,
    runs: runs.map(summarizeRun),
    workers,
    throughput: throughputOf(all),
    unitsRead: all.length,
  };
}

/**
 * Reads every pipeline of the ledger.
 *
 * @example
 * const snapshot = await readSnapshot(ledger);
 * snapshot.pipelines[0].counts.dead // 1
 */
export async function readSnapshot(ledger: Ledger, now: number = Date.now()): Promise<DashboardSnapshot> {
  const names = await ledger.pipelines();
  const pipelines: PipelineSnapshot[] = [];
  for (const name of names.sort()) pipelines.push(await readPipelineSnapshot(ledger, name));
  return { takenAt: now, pipelines };
}

export function emptyCounts(): Record<UnitState, number> {
  return Object.fromEntries(UNIT_STATES.map((s) => [s, 0])) as Record<UnitState, number>;
}
