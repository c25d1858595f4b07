/**
 * Partition units for the CloudTrail layout (seed 002): instead of one unit per object (4,000
 * tiny files a day), one unit per account × region × stream × day, whose objects are read
 * concurrently and compacted into the day's files; and, when the pipeline has `partition: month`
 * sinks, one unit per account × region × stream × month for those sinks.
 *
 * Why a month unit reads the raw objects again rather than the day units' outputs: it then
 * depends on nothing but the source. It can run beside the day units (any worker of a fleet,
 * in any order), a dead day does not leave a silently short month, record ids (derived from the
 * raw objects' etags) are the same in both outputs, and a month costs ~30 × 96 small GETs per
 * account-region, about a second at the read rates measured in bench/. The price is reading each
 * raw object twice.
 *
 * Invariants:
 * - A unit's identity is its folder key plus a version hashed from its sorted object keys and
 *   etags: a day that gains a file (a late delivery, or a month still in progress) is a new unit
 *   and is redone, writing the same output names (the stem does not depend on the version), so the
 *   newer outputs replace the older ones.
 * - Month units always cover the whole month of every day the window selects, whatever the
 *   window: `--days 1` run daily rebuilds the month so far, never a month of one day.
 * - Objects are sorted by key (the source lists them so), so outputs are deterministic.
 */
import type { Source, TimeWindow, UnitPartition } from '../../core/component.js';
import type { PipelineConfig } from '../../pipeline/config.js';
import { SluiceError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { ObjectRef } from '../../core/record.js';
import {
  dayInWindow,
  findCloudTrailRegions,
  listRegionDays,
  type CloudTrailDayFolder,
  type CloudTrailRegionFolder,
} from './cloudtrail-layout.js';

import type { Ledger, UnitResult, UnitSpec, PartitionReadStats, SkippedFile, UnitPayload } from '../ledger/types.js';

export type { PartitionReadStats, SkippedFile } from '../ledger/types.js';
import { objectSetVersion, unitIdFor } from '../ledger/unit-id.js';
import { emptyPlanSummary, recordUnitSpecs, type PlanSummary } from './planner.js';

/** Region folders listed at once while planning. */
const LISTING_CONCURRENCY = 16;
/** Units inserted into the ledger per batch. */
const SPEC_BATCH = 500;

/** Which sinks each step writes: `partition: month` files sinks are the month step's, the rest the day step's. */
export function sinksByStep(config: PipelineConfig): { day: number[]; month: number[] } {
  const day: number[] = [];
  const month: number[] = [];
  config.sinks.forEach((sink, i) => (sink.type === 'files' && sink.partition === 'month' ? month : day).push(i));
  return { day, month };
}

/**
 * Whether the pipeline is planned in partitions, and the region folders found if so. `layout:
 * objects` never is; `layout: cloudtrail` must be (no CloudTrail folder under the root is an
 * error); `auto` is when the format is cloudtrail and the root holds the layout.
 */
export async function detectCloudTrailLayout(config: PipelineConfig, source: Source): Promise<CloudTrailRegionFolder[] | undefined> {
  const layout = config.source.layout ?? 'auto';
  if (layout === 'objects' || (layout === 'auto' && config.format.type !== 'cloudtrail')) return undefined;
  const regions = await findCloudTrailRegions(source);
  if (regions.length > 0) return regions;
  if (layout === 'cloudtrail') {
    throw new SluiceError(`source ${source.root}: no CloudTrail folders found (expected [AWSLogs/][o-org/]<account>/CloudTrail/<region>/yyyy/mm/dd/ under it)`, {
      code: 'LAYOUT_NOT_FOUND',
      stage: 'plan',
      retryable: false,
      hint: 'point source.uri at the bucket, AWSLogs/, the organization or an account folder of a trail; or set source.layout: objects',
    });
  }
  return undefined;
}

export interface PartitionPlanOptions {
  ledger: Ledger;
  source: Source;
  config: PipelineConfig;
  regions: CloudTrailRegionFolder[];
  window?: TimeWindow;
  fullLoad?: boolean;
  log?: Logger;
  onPage?: (summary: PlanSummary) => void;
}

/** What planning found, beside the ledger summary. */
export interface PartitionPlanSummary extends PlanSummary {
  filesListed: number;
  accounts: number;
  regions: number;
  dayUnits: number;
  monthUnits: number;
  listingMs: number;
}

/**
 * Lists the layout and records its day and month units in the ledger.
 *
 * @example
 * const regions = await detectCloudTrailLayout(config, source);
 * if (regions) await planPartitionUnits({ ledger, source, config, regions, window: parseWindow('2024-03-01', '2024-03-31') });
 */
export async function planPartitionUnits(options: PartitionPlanOptions): Promise<PartitionPlanSummary> {
  const { ledger, source, config, regions, window, log } = options;
  const started = performance.now();
  const steps = sinksByStep(config);
  const summary: PartitionPlanSummary = {
    ...emptyPlanSummary(),
    filesListed: 0,
    accounts: new Set(regions.map((r) => r.account)).size,
    regions: regions.length,
    dayUnits: 0,
    monthUnits: 0,
    listingMs: 0,
  };
  log?.info(
    { accounts: summary.accounts, regionFolders: regions.length, from: isoDay(window?.from), to: isoDay(window?.to, true) },
    `retrieving files for ${describeWindow(window)}`,
  );
  const listings = await mapConcurrently(regions, LISTING_CONCURRENCY, (region) =>
    listRegionDays(source, region, { window, wholeMonths: steps.month.length > 0 }),
  );
  summary.listingMs = Math.round(performance.now() - started);

  let pending: UnitSpec[] = [];
  const flush = async () => {
    await recordUnitSpecs(ledger, config.name, pending, options.fullLoad === true, summary);
    pending = [];
    options.onPage?.(summary);
  };
  for (let r = 0; r < regions.length; r++) {
    const region = regions[r]!;
    const days = listings[r]!;
    const windowDays = days.filter((d) => dayInWindow(Date.parse(`${d.day}T00:00:00Z`), window));
    const files = windowDays.reduce((n, d) => n + d.objects.length, 0);
    summary.filesListed += files;
    log?.debug({ account: region.account, region: region.region, stream: region.stream, days: windowDays.length, files }, `${files} files for account ${region.account}, region ${region.region}${region.stream === 'CloudTrail' ? '' : ` (${region.stream})`}`);
    if (steps.day.length > 0) {
      for (const day of windowDays) {
        pending.push(partitionSpec(config.name, region, 'day', day.day, day.prefix, day.objects, steps.day));
        summary.dayUnits++;
      }
    }
    if (steps.month.length > 0) {
      for (const month of monthsOf(days, window)) {
        pending.push(partitionSpec(config.name, region, 'month', month.month, month.prefix, month.objects, steps.month));
        summary.monthUnits++;
      }
    }
    if (pending.length >= SPEC_BATCH) await flush();
  }
  await flush();
  log?.info(
    { files: summary.filesListed, dayUnits: summary.dayUnits, monthUnits: summary.monthUnits, listingMs: summary.listingMs },
    `${summary.filesListed} total files`,
  );
  return summary;
}

/** The months touched by the window's days, each with every object of the month. */
function monthsOf(days: CloudTrailDayFolder[], window: TimeWindow | undefined): Array<{ month: string; prefix: string; objects: ObjectRef[] }> {
  const touched = new Set(days.filter((d) => dayInWindow(Date.parse(`${d.day}T00:00:00Z`), window)).map((d) => d.day.slice(0, 7)));
  const months = new Map<string, { month: string; prefix: string; objects: ObjectRef[] }>();
  for (const day of days) {
    const month = day.day.slice(0, 7);
    if (!touched.has(month)) continue;
    let entry = months.get(month);
    if (!entry) {
      // The month folder: the day folder without its last segment.
      entry = { month, prefix: day.prefix.replace(/[^/]+\/$/, ''), objects: [] };
      months.set(month, entry);
    }
    entry.objects.push(...day.objects);
  }
  return [...months.values()];
}

function partitionSpec(
  pipeline: string,
  region: CloudTrailRegionFolder,
  step: 'day' | 'month',
  period: string,
  prefix: string,
  objects: ObjectRef[],
  sinks: number[],
): UnitSpec {
  // The step is part of the key: a day unit and a month unit never share an identity.
  const key = `${step}:${prefix}`;
  const id = unitIdFor(pipeline, 'partition', key, objectSetVersion(objects));
  const stable = unitIdFor(pipeline, 'partition', key);
  const insight = region.stream === 'CloudTrail' ? '' : '_insight';
  const outputStem = `${safe(region.account)}_${safe(region.region)}${insight}_${period.replace(/-/g, '')}-${stable.slice(0, 8)}`;
  const partition: UnitPartition = { step, sinks, dedupeBy: 'eventID', account: region.account, region: region.region, stream: region.stream, period };
  const payload: UnitPayload = { objects, outputStem, partition };
  return { id, pipeline, kind: 'partition', key, payload, size: objects.reduce((n, o) => n + (o.size ?? 0), 0) };
}

function safe(text: string): string {
  return text.replace(/[^A-Za-z0-9.-]+/g, '_') || 'unknown';
}

function isoDay(ms: number | undefined, exclusiveEnd = false): string | undefined {
  if (ms === undefined) return undefined;
  return new Date(exclusiveEnd ? ms - 1 : ms).toISOString().slice(0, 10);
}

function describeWindow(window: TimeWindow | undefined): string {
  const from = isoDay(window?.from);
  const to = isoDay(window?.to, true);
  if (from === undefined && to === undefined) return 'every day';
  if (from === to) return from!;
  return `${from ?? 'the first day'} .. ${to ?? 'the last day'}`;
}

async function mapConcurrently<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  });
  await Promise.all(lanes);
  return results;
}

// ---------------------------------------------------------------------------------------------
// Per-step figures for the run report


/** Figures of one step (day or month) over a run. */
export interface StepFigures {
  units: number;
  filesListed: number;
  filesRead: number;
  records: number;
  recordsOut: number;
  duplicates: number;
  bytes: number;
  /** Sum of the units' processing times (they overlap). */
  unitMs: number;
}

export interface PartitionRunFigures {
  day: StepFigures;
  month: StepFigures;
  /** Files rejected as a whole (corrupt gzip, invalid JSON, no Records), with the reason. */
  skippedFiles: SkippedFile[];
}

function emptyStep(): StepFigures {
  return { units: 0, filesListed: 0, filesRead: 0, records: 0, recordsOut: 0, duplicates: 0, bytes: 0, unitMs: 0 };
}

/**
 * Adds a finished unit to the run's partition figures; object units leave them untouched.
 * Returns the figures (created on the first partition unit).
 */
export function addPartitionResult(
  figures: PartitionRunFigures | undefined,
  payload: unknown,
  result: UnitResult,
): PartitionRunFigures | undefined {
  const partition = (payload as UnitPayload | undefined)?.partition;
  if (!partition) return figures;
  const out = figures ?? { day: emptyStep(), month: emptyStep(), skippedFiles: [] };
  const step = out[partition.step];
  const reads = (result as UnitResult & { reads?: PartitionReadStats }).reads;
  step.units++;
  step.filesListed += (payload as UnitPayload).objects.length;
  step.records += result.recordsIn;
  step.recordsOut += result.recordsOut;
  step.unitMs += result.durationMs;
  if (reads) {
    step.filesRead += reads.filesRead;
    step.bytes += reads.bytesRead;
    step.duplicates += reads.duplicates;
    // Both steps read the same files: list a bad one once.
    const known = new Set(out.skippedFiles.map((f) => f.object));
    for (const skipped of reads.skippedFiles) if (!known.has(skipped.object)) out.skippedFiles.push(skipped);
  }
  return out;
}

/** INFO per step at the end of a run: files listed and read, records, duplicates, bytes, time; WARN per skipped file. */
export function logPartitionSteps(log: Logger, report: { partitions?: PartitionRunFigures; elapsedMs: number }): void {
  const parts = report.partitions;
  if (!parts) return;
  for (const step of ['day', 'month'] as const) {
    const f = parts[step];
    if (f.units === 0) continue;
    log.info(
      { step, partitions: f.units, filesListed: f.filesListed, filesRead: f.filesRead, records: f.records, recordsOut: f.recordsOut, duplicates: f.duplicates, bytes: f.bytes, unitMs: f.unitMs, runMs: report.elapsedMs },
      `${step} step: ${f.recordsOut} records from ${f.filesRead} files in ${f.units} partitions`,
    );
  }
  for (const skipped of parts.skippedFiles) log.warn({ object: skipped.object, code: skipped.code }, `skipped file: ${skipped.reason}`);
}
