/**
 * Planning turns a source listing into units in the ledger, page by page, so memory stays bounded
 * by the page size however many objects the prefix holds. A unit is identified by its object key
 * and version (etag): re-planning is idempotent, and a re-run finds finished units already done.
 */
import type { Source, TimeWindow } from '../core/component.js';
import type { Ledger, UnitSpec } from './ledger/types.js';
import { outputStemFor, unitIdFor } from './ledger/unit-id.js';
import type { UnitPayload } from './executor.js';

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
  bytes: number;
  /** Bytes of the units left to do (not already done or dead). */
  bytesToDo: number;
}

export interface PlanOptions {
  ledger: Ledger;
  source: Source;
  pipeline: string;
  window?: TimeWindow;
  /** Redo units that are done (or dead) instead of skipping them. */
  fullLoad?: boolean;
  onPage?: (summary: PlanSummary) => void;
}

export async function planObjectUnits(options: PlanOptions): Promise<PlanSummary> {
  const { ledger, source, pipeline } = options;
  const summary: PlanSummary = { total: 0, inserted: 0, alreadyDone: 0, alreadyDead: 0, reset: 0, bytes: 0, bytesToDo: 0 };
  for await (const page of source.list(options.window)) {
    if (page.length === 0) continue;
    const specs: UnitSpec[] = page.map((ref) => {
      const id = unitIdFor(pipeline, 'object', ref.key, ref.versionId ?? ref.etag);
      // Outputs are named after the key alone, so a changed object (new etag, new unit) rewrites
      // the outputs of its previous version instead of adding a second copy beside them.
      const payload: UnitPayload = { objects: [ref], outputStem: outputStemFor(ref.key, unitIdFor(pipeline, 'object', ref.key)) };
      return { id, pipeline, kind: 'object', key: ref.key, payload, size: ref.size };
    });
    const { inserted } = await ledger.planUnits(specs);
    summary.inserted += inserted;
    summary.total += specs.length;
    summary.bytes += page.reduce((n, ref) => n + (ref.size ?? 0), 0);
    let finishedBytes = 0;
    if (inserted < specs.length) {
      const states = await ledger.unitStates(specs.map((s) => s.id));
      const finished = specs.filter((s) => states.get(s.id) === 'done' || states.get(s.id) === 'dead');
      if (options.fullLoad && finished.length > 0) {
        summary.reset += await ledger.resetUnits(pipeline, ['done', 'dead', 'failed'], finished.map((s) => s.id));
      } else {
        for (const s of finished) {
          if (states.get(s.id) === 'done') summary.alreadyDone++;
          else summary.alreadyDead++;
          finishedBytes += s.size ?? 0;
        }
      }
    }
    summary.bytesToDo += page.reduce((n, ref) => n + (ref.size ?? 0), 0) - finishedBytes;
    options.onPage?.(summary);
  }
  return summary;
}
