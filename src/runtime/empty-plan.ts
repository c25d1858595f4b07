/**
 * Why a plan found no units, in one sentence for the run report: the source is empty, the
 * include/exclude patterns leave nothing, or the date window (or the `load` period) excludes
 * every object. Only called when a plan is empty, so the extra listings cost nothing otherwise;
 * they stop after LISTING_CAP objects so that a huge prefix is not walked twice.
 */
import type { Source, TimeWindow } from '../core/component.js';
import type { PipelineConfig } from '../pipeline/config.js';
import { createSource } from '../pipeline/catalog.js';
import { dateFromKey } from '../core/key-dates.js';

const LISTING_CAP = 100_000;
const DAY_MS = 86_400_000;

interface Listed {
  count: number;
  /** True when the listing stopped at LISTING_CAP. */
  capped: boolean;
  /** The span of the dates read from the keys (dated keys only). */
  first?: number;
  last?: number;
  undated: number;
}

async function listUpTo(source: Source): Promise<Listed> {
  const listed: Listed = { count: 0, capped: false, undated: 0 };
  try {
    for await (const page of source.list()) {
      for (const ref of page) {
        listed.count++;
        const range = dateFromKey(ref.key);
        if (range === null) listed.undated++;
        else {
          listed.first = Math.min(listed.first ?? Infinity, range.start);
          listed.last = Math.max(listed.last ?? -Infinity, range.end);
        }
        if (listed.count >= LISTING_CAP) {
          listed.capped = true;
          return listed;
        }
      }
    }
  } finally {
    await source.close?.();
  }
  return listed;
}

function isMidnight(ms: number): boolean {
  return ms % DAY_MS === 0;
}

/**
 * A window as a person typed it: whole days as `2023-05-01..2023-07-31` (both days included),
 * times as ISO minutes with the end exclusive.
 *
 * @example
 * formatWindow({ from: Date.UTC(2023, 4, 1), to: Date.UTC(2023, 7, 1) }) // '2023-05-01..2023-07-31'
 */
export function formatWindow(window: TimeWindow): string {
  const days = (window.from === undefined || isMidnight(window.from)) && (window.to === undefined || isMidnight(window.to));
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const minute = (ms: number) => `${new Date(ms).toISOString().slice(0, 16)}Z`;
  if (days) return `${window.from === undefined ? '' : day(window.from)}..${window.to === undefined ? '' : day(window.to - DAY_MS)}`;
  return `${window.from === undefined ? '' : minute(window.from)}..${window.to === undefined ? '' : `${minute(window.to)} (exclusive)`}`;
}

function objects(listed: Listed): string {
  return `${listed.capped ? 'at least ' : ''}${listed.count} object${listed.count === 1 ? '' : 's'}`;
}

function patterns(config: PipelineConfig): string {
  const parts: string[] = [];
  if (config.source.include !== undefined) parts.push(`include /${config.source.include}/`);
  if (config.source.exclude !== undefined) parts.push(`exclude /${config.source.exclude}/`);
  return parts.join(' and ');
}

/**
 * @example
 * await explainEmptyPlan(config, { from: Date.UTC(2023, 4, 1), to: Date.UTC(2023, 7, 1) })
 * // '0 objects under ./logs matched: the window 2023-05-01..2023-07-31 excludes all 12 objects (their keys are dated 2024-03-26..2024-03-26) …'
 */
export async function explainEmptyPlan(config: PipelineConfig, window: TimeWindow | undefined): Promise<string> {
  const root = createSource(config.source).root;
  const local = !config.source.uri.startsWith('s3://');
  const unfiltered = await listUpTo(createSource({ ...config.source, include: undefined, exclude: undefined }));
  if (unfiltered.count === 0) {
    return local
      ? `the folder ${root} holds no files (dot-files and in-progress .sluice-tmp files are not read)`
      : `there are no objects under ${root} (check the bucket, the prefix and the region)`;
  }
  const filters = patterns(config);
  const filtered = filters ? await listUpTo(createSource(config.source)) : unfiltered;
  if (filtered.count === 0) {
    const verb = config.source.include !== undefined && config.source.exclude !== undefined ? 'leave' : 'leaves';
    return `${filters} ${verb} none of the ${objects(unfiltered)} under ${root}`;
  }
  const prefix = `0 of the ${objects(filtered)} under ${root}${filters ? ` (after ${filters})` : ''} matched`;
  if (window && (window.from !== undefined || window.to !== undefined)) {
    const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
    const span = filtered.first === undefined || filtered.last === undefined ? '' : `; their keys are dated ${day(filtered.first)}..${day(filtered.last - 1)}`;
    return `${prefix}: the window ${formatWindow(window)} excludes them all${span} (an object is dated by the date folders and timestamp in its key; keys without a date are always read)`;
  }
  if (config.load) return `${prefix}: none falls in the load period of the pipeline's \`load\` (${JSON.stringify(config.load)})`;
  return `${prefix}, yet no unit was planned: check source.layout (${config.source.layout ?? 'auto'}) against the layout of the keys`;
}
