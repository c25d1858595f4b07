/**
 * Planning turns a source listing into units in the ledger, page by page, so memory stays bounded
 * by the page size however many objects the prefix holds. A unit is identified by its object key
 * and version (etag): re-planning is idempotent, and a re-run finds finished units already done.
 */
import type { Source, TimeWindow } from '../../core/component.js';
import type { Ledger, UnitSpec } from '../ledger/types.js';
import { createObjectGrouper, objectSpec, TINY_OBJECT_BYTES, type GroupOptions } from './group-planner.js';

export interface PlanSummary {
  /** Units matching this plan (the listing after date pruning). */
  total: number;
  /** Units new to the ledger. */
  inserted: number;
  /** Units already done before this plan (skipped unless a full load resets them). */
  alreadyDone: number;
  /** Units already dead before this plan (left dead; `sluice retry` redrives them). */
  alreadyDead: number;
  /** Units reset to pending by a full load. */
  reset: number;
  /** Older versions of the listed keys (changed objects, groups or days) superseded by this plan. */
  superseded: number;
  bytes: number;
  /** Bytes of the units left to do (not already done or dead). */
  bytesToDo: number;
  /** Ungrouped object plans: objects of at most 64 KiB (many of them: `source.group` would read them faster). */
  tinyObjects?: number;
}

export interface PlanOptions {
  ledger: Ledger;
  source: Source;
  pipeline: string;
  window?: TimeWindow;
  /** Redo units that are done (or dead) instead of skipping them. */
  fullLoad?: boolean;
  onPage?: (summary: PlanSummary) => void;
  /** Plan small objects in groups (`source.group`, see group-planner.ts). */
  group?: GroupOptions;
  /** Sinks of the pipeline (grouped units list the sinks they write). */
  sinkCount?: number;
}

export async function planObjectUnits(options: PlanOptions): Promise<PlanSummary> {
  const { ledger, source, pipeline } = options;
  const summary = emptyPlanSummary();
  const grouper = options.group ? createObjectGrouper(pipeline, options.group, options.sinkCount ?? 1) : undefined;
  let pending: UnitSpec[] = [];
  for await (const page of source.list(options.window)) {
    if (page.length === 0) continue;
    for (const ref of page) {
      if (grouper) {
        pending.push(...grouper.add(ref));
      } else {
        if (ref.size !== undefined && ref.size <= TINY_OBJECT_BYTES) summary.tinyObjects = (summary.tinyObjects ?? 0) + 1;
        pending.push(objectSpec(pipeline, ref));
      }
    }
    // Grouped plans hold a folder's small objects until the listing leaves the folder.
    if (pending.length === 0) continue;
    await recordUnitSpecs(ledger, pipeline, pending, options.fullLoad === true, summary);
    pending = [];
    options.onPage?.(summary);
  }
  if (grouper) {
    await recordUnitSpecs(ledger, pipeline, grouper.finish(), options.fullLoad === true, summary);
    options.onPage?.(summary);
  }
  return summary;
}

export function emptyPlanSummary(): PlanSummary {
  return { total: 0, inserted: 0, alreadyDone: 0, alreadyDead: 0, reset: 0, superseded: 0, bytes: 0, bytesToDo: 0 };
}

/**
 * Inserts one batch of units (those already there are left alone, older versions of their keys
 * are superseded) and adds them to `summary`.
 */
export async function recordUnitSpecs(ledger: Ledger, pipeline: string, specs: UnitSpec[], fullLoad: boolean, summary: PlanSummary): Promise<void> {
  if (specs.length === 0) return;
  const { inserted, superseded } = await ledger.planUnits(specs);
  summary.inserted += inserted;
  summary.superseded += superseded;
  summary.total += specs.length;
  const bytes = specs.reduce((n, s) => n + (s.size ?? 0), 0);
  summary.bytes += bytes;
  let finishedBytes = 0;
  if (inserted < specs.length) {
    const states = await ledger.unitStates(specs.map((s) => s.id));
    const finished = specs.filter((s) => states.get(s.id) === 'done' || states.get(s.id) === 'dead');
    if (fullLoad && finished.length > 0) {
      summary.reset += await ledger.resetUnits(pipeline, ['done', 'dead', 'failed'], finished.map((s) => s.id));
    } else {
      for (const s of finished) {
        if (states.get(s.id) === 'done') summary.alreadyDone++;
        else summary.alreadyDead++;
        finishedBytes += s.size ?? 0;
      }
    }
  }
  summary.bytesToDo += bytes - finishedBytes;
}
