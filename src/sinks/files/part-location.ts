/**
 * Where a record's part goes: a folder under the sink root and an optional tag in the file
 * name, combined into one slot key (one open part per slot).
 *
 * - `date` layout: the event-time partition folders of `partition.ts` (`yyyy/mm/dd[/HH]`), no
 *   tag. The key is the folder string itself.
 * - `security-lake` layout: `region=<r>/accountId=<a>/eventDay=<yyyymmdd>` (as Amazon Security
 *   Lake lays out a source), and the tag `class<class_uid>` in the file name, so one file never
 *   mixes OCSF classes (each class has its own schema) while the folder layout stays exactly
 *   Security Lake's. Region and account come from OCSF `cloud.region` / `cloud.account.uid`,
 *   else from flat `region` / `account_id` (VPC flow records); a missing or unusable value is
 *   `unknown`, as is a record without a time (`eventDay=unknown`) or without a numeric
 *   `class_uid` (`classunknown`). Values are made path-safe: characters other than letters,
 *   digits, `.`, `_` and `-` become `_`.
 *
 * This runs once per record, so both locators answer from a cache while consecutive records
 * share their slot, which they do for long stretches of an object.
 */
import type { SluiceRecord } from '../../core/record.js';
import { PartitionNamer, type PartitionScheme } from './partition.js';

export type FilesLayout = 'date' | 'security-lake';

export interface PartLocator {
  /** The slot of a record; equal slots return the same string. */
  keyOf(record: SluiceRecord): string;
  /** The folder (relative, `/`-separated, '' for the root) and file-name tag ('' for none) of a slot. */
  describe(key: string): { folder: string; tag: string };
}

/** Separates folder and tag in a security-lake slot key (never part of a path-safe value). */
const KEY_SEPARATOR = '\n';
const UNKNOWN = 'unknown';
const DAY_MS = 86_400_000;
/** Dates outside years 0000-9999 cannot be written as `yyyy`. */
const MIN_TIME = Date.parse('0000-01-01T00:00:00Z');
const MAX_TIME = Date.UTC(10000, 0, 1);

/**
 * Creates the locator of a layout (one per unit: it caches).
 *
 * @example
 * const locate = createPartLocator('security-lake', 'day');
 * locate.describe(locate.keyOf(ocsfRecord));
 * // { folder: 'region=eu-west-1/accountId=111122223333/eventDay=20240501', tag: 'class4001' }
 */
export function createPartLocator(layout: FilesLayout, partition: PartitionScheme): PartLocator {
  return layout === 'security-lake' ? new SecurityLakeLocator() : new DateLocator(partition);
}

class DateLocator implements PartLocator {
  private readonly namer: PartitionNamer;

  constructor(partition: PartitionScheme) {
    this.namer = new PartitionNamer(partition);
  }

  keyOf(record: SluiceRecord): string {
    return this.namer.folderOf(record.time);
  }

  describe(key: string): { folder: string; tag: string } {
    return { folder: key, tag: '' };
  }
}

class SecurityLakeLocator implements PartLocator {
  private lastRegion: unknown = undefined;
  private lastAccount: unknown = undefined;
  private lastClass: unknown = undefined;
  private lastDay = '';
  private lastKey = '';
  /** The UTC day [start, end) whose `yyyymmdd` was formatted last. */
  private dayStart = 1;
  private dayEnd = 0;
  private dayText = UNKNOWN;

  keyOf(record: SluiceRecord): string {
    const fields = record.fields;
    let region: unknown;
    let account: unknown;
    const cloud = fields.cloud;
    if (typeof cloud === 'object' && cloud !== null) {
      region = (cloud as Record<string, unknown>).region;
      const cloudAccount = (cloud as Record<string, unknown>).account;
      if (typeof cloudAccount === 'object' && cloudAccount !== null) account = (cloudAccount as Record<string, unknown>).uid;
    }
    region ??= fields.region;
    account ??= fields.account_id;
    const classUid = fields.class_uid;
    const day = this.dayOf(record.time);
    if (region === this.lastRegion && account === this.lastAccount && classUid === this.lastClass && day === this.lastDay && this.lastKey !== '') {
      return this.lastKey;
    }
    this.lastRegion = region;
    this.lastAccount = account;
    this.lastClass = classUid;
    this.lastDay = day;
    const tag = typeof classUid === 'number' && Number.isSafeInteger(classUid) && classUid >= 0 ? `class${classUid}` : `class${UNKNOWN}`;
    this.lastKey = `region=${pathSafe(region)}/accountId=${pathSafe(account)}/eventDay=${day}${KEY_SEPARATOR}${tag}`;
    return this.lastKey;
  }

  describe(key: string): { folder: string; tag: string } {
    const at = key.indexOf(KEY_SEPARATOR);
    return { folder: key.slice(0, at), tag: key.slice(at + 1) };
  }

  private dayOf(time: number | undefined): string {
    if (time === undefined) return UNKNOWN;
    if (time >= this.dayStart && time < this.dayEnd) return this.dayText;
    if (!(time >= MIN_TIME && time < MAX_TIME)) return UNKNOWN;
    const start = time - (((time % DAY_MS) + DAY_MS) % DAY_MS);
    const date = new Date(start);
    this.dayStart = start;
    this.dayEnd = start + DAY_MS;
    this.dayText =
      String(date.getUTCFullYear()).padStart(4, '0') +
      String(date.getUTCMonth() + 1).padStart(2, '0') +
      String(date.getUTCDate()).padStart(2, '0');
    return this.dayText;
  }
}

/** A folder-name-safe rendering of a partition value; `unknown` when there is none. */
function pathSafe(value: unknown): string {
  if (typeof value !== 'string' && typeof value !== 'number') return UNKNOWN;
  const text = String(value).replace(/[^A-Za-z0-9._-]/g, '_');
  return text === '' || text === '.' || text === '..' ? UNKNOWN : text;
}
