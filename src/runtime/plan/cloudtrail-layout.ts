/**
 * The CloudTrail bucket layout, walked with delimiter listings the way seed 002's Lambda walks it
 * (successively longer prefixes), so a day out of years of trail costs a handful of requests:
 *
 *   [AWSLogs/][o-<org>/]<account>/CloudTrail/<region>/yyyy/mm/dd/<account>_CloudTrail_<region>_<time>_<id>.json.gz
 *                                 CloudTrail-Insight/<region>/yyyy/mm/dd/...   (Insights events: a stream of its own)
 *                                 CloudTrail-Digest/...                        (integrity digests: never read)
 *
 * The source root may be the bucket, `AWSLogs/`, an organization folder or an account folder.
 * Accounts are 12-digit folders, organizations `o-` folders; other folders next to them (other
 * services' logs) are ignored. Every list comes back in key order, and the walk keeps that order,
 * so a plan is the same however often it is made.
 */
import type { FolderPage, Source, TimeWindow } from '../../core/component.js';
import type { ObjectRef } from '../../core/record.js';
import { prefixInWindow } from '../../core/key-dates.js';

/** The streams of an account folder that hold events; `CloudTrail-Digest` is deliberately absent. */
export const CLOUDTRAIL_STREAMS = ['CloudTrail', 'CloudTrail-Insight'] as const;
export type CloudTrailStream = (typeof CLOUDTRAIL_STREAMS)[number];

/** One `<account>/<stream>/<region>/` folder. */
export interface CloudTrailRegionFolder {
  account: string;
  stream: CloudTrailStream;
  region: string;
  /** Key prefix of the region folder, ending in '/'. */
  prefix: string;
}

/** One `yyyy/mm/dd/` folder of a region, with its objects. */
export interface CloudTrailDayFolder {
  /** `yyyy-mm-dd`. */
  day: string;
  /** Key prefix of the day folder, ending in '/'. */
  prefix: string;
  /** In key order. */
  objects: ObjectRef[];
}

const ACCOUNT = /^\d{12}$/;
const ORGANIZATION = /^o-[a-z0-9]{4,32}$/;
const YEAR = /^\d{4}$/;
const TWO_DIGITS = /^\d{2}$/;
/** AWSLogs → organization → account: the deepest a root can sit above an account folder. */
const MAX_DISCOVERY_DEPTH = 3;

/** Every page of one folder level, merged. */
export async function listFolderLevel(source: Source, keyPrefix?: string): Promise<FolderPage> {
  const merged: FolderPage = { objects: [], folders: [] };
  if (!source.listFolder) return merged;
  for await (const page of source.listFolder(keyPrefix)) {
    merged.objects.push(...page.objects);
    merged.folders.push(...page.folders);
  }
  return merged;
}

/** The last segment of a folder prefix (`a/b/c/` → `c`). */
function folderName(prefix: string): string {
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/**
 * Finds every account/stream/region folder under the source root, in key order. Empty when the
 * root holds no CloudTrail layout (or the source cannot list folders).
 *
 * @example
 * const regions = await findCloudTrailRegions(createS3Source({ uri: 's3://trail/AWSLogs/' }));
 * // [{ account: '111122223333', stream: 'CloudTrail', region: 'us-east-1', prefix: 'AWSLogs/o-…/111122223333/CloudTrail/us-east-1/' }, …]
 */
export async function findCloudTrailRegions(source: Source): Promise<CloudTrailRegionFolder[]> {
  if (!source.listFolder) return [];
  const found: CloudTrailRegionFolder[] = [];
  const root = await listFolderLevel(source);
  // The root may itself be an account folder (its children are the streams).
  if (root.folders.some((f) => isStreamName(folderName(f)))) {
    await collectAccount(source, folderName(source.root) || 'unknown', root.folders, found);
    return found;
  }
  await walk(source, root.folders, 0, found);
  return found;
}

async function walk(source: Source, folders: string[], depth: number, found: CloudTrailRegionFolder[]): Promise<void> {
  for (const folder of folders) {
    const name = folderName(folder);
    if (ACCOUNT.test(name)) {
      const level = await listFolderLevel(source, folder);
      await collectAccount(source, name, level.folders, found);
    } else if ((name === 'AWSLogs' || ORGANIZATION.test(name)) && depth < MAX_DISCOVERY_DEPTH) {
      const level = await listFolderLevel(source, folder);
      await walk(source, level.folders, depth + 1, found);
    }
  }
}

function isStreamName(name: string): name is CloudTrailStream {
  return (CLOUDTRAIL_STREAMS as readonly string[]).includes(name);
}

async function collectAccount(source: Source, account: string, streamFolders: string[], found: CloudTrailRegionFolder[]): Promise<void> {
  for (const streamFolder of streamFolders) {
    const stream = folderName(streamFolder);
    if (!isStreamName(stream)) continue; // CloudTrail-Digest, other services' folders
    const regions = await listFolderLevel(source, streamFolder);
    for (const regionFolder of regions.folders) {
      found.push({ account, stream, region: folderName(regionFolder), prefix: regionFolder });
    }
  }
}

/** Whether any part of the UTC day `[start, start + 1 day)` lies in the window. */
export function dayInWindow(dayStart: number, window: TimeWindow | undefined): boolean {
  if (window === undefined) return true;
  if (window.from !== undefined && dayStart + 86_400_000 <= window.from) return false;
  if (window.to !== undefined && dayStart >= window.to) return false;
  return true;
}

export interface ListDaysOptions {
  /** Days whose objects are listed. */
  window?: TimeWindow;
  /** List every day of each month the window touches (what a month unit reads), not only the window's days. */
  wholeMonths?: boolean;
}

/**
 * Lists the day folders of one region folder (years → months → days, pruning months outside the
 * window) and the objects of each, in key order.
 */
export async function listRegionDays(source: Source, region: CloudTrailRegionFolder, options: ListDaysOptions = {}): Promise<CloudTrailDayFolder[]> {
  const named = daysOfWindow(options.window, options.wholeMonths === true);
  if (named !== undefined) {
    // A bounded window names its day folders: list those alone (no year/month listings, which
    // cost a request each and, on some servers, a walk of everything below them).
    const days: CloudTrailDayFolder[] = [];
    for (const day of named) {
      const prefix = `${region.prefix}${day.replace(/-/g, '/')}/`;
      const listing = await listFolderLevel(source, prefix);
      if (listing.objects.length > 0) days.push({ day, prefix, objects: listing.objects });
    }
    return days;
  }
  const days: CloudTrailDayFolder[] = [];
  const years = await listFolderLevel(source, region.prefix);
  for (const yearFolder of years.folders) {
    const year = folderName(yearFolder);
    if (!YEAR.test(year)) continue;
    const months = await listFolderLevel(source, yearFolder);
    for (const monthFolder of months.folders) {
      const month = folderName(monthFolder);
      if (!TWO_DIGITS.test(month) || !prefixInWindow(monthFolder, options.window)) continue;
      const dayFolders = await listFolderLevel(source, monthFolder);
      for (const dayFolder of dayFolders.folders) {
        const day = folderName(dayFolder);
        if (!TWO_DIGITS.test(day)) continue;
        const dayStart = Date.UTC(Number(year), Number(month) - 1, Number(day));
        if (Number.isNaN(dayStart) || (!options.wholeMonths && !dayInWindow(dayStart, options.window))) continue;
        const listing = await listFolderLevel(source, dayFolder);
        if (listing.objects.length === 0) continue;
        days.push({ day: `${year}-${month}-${day}`, prefix: dayFolder, objects: listing.objects });
      }
    }
  }
  return days;
}

/** Days listed by name rather than discovered: at most this many (about a year and a month). */
const MAX_NAMED_DAYS = 400;

/** The `yyyy-mm-dd` days of a bounded window (whole months of it with `wholeMonths`), or undefined when unbounded or too long. */
function daysOfWindow(window: TimeWindow | undefined, wholeMonths: boolean): string[] | undefined {
  if (window?.from === undefined || window.to === undefined) return undefined;
  const first = new Date(Math.floor(window.from / 86_400_000) * 86_400_000);
  let start = first.getTime();
  let end = window.to;
  if (wholeMonths) {
    start = Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), 1);
    const last = new Date(window.to - 1);
    end = Date.UTC(last.getUTCFullYear(), last.getUTCMonth() + 1, 1);
  }
  if ((end - start) / 86_400_000 > MAX_NAMED_DAYS) return undefined;
  const days: string[] = [];
  for (let t = start; t < end; t += 86_400_000) days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}
