/**
 * Dates read from object keys alone, so a date window prunes a listing without fetching anything.
 *
 * Recognised layouts (the first one found, left to right, wins):
 *   - AWS folders      `.../yyyy/mm/dd/...`, `.../yyyy/mm/dd/HH/...` (also `.../yyyy/mm/...`)
 *   - hive             `year=yyyy/month=mm/day=dd/hour=HH/...` (any prefix of that chain)
 *   - day folders      `dt=yyyy-mm-dd/`, `date=yyyy-mm-dd/`, `eventDay=yyyymmdd/` (Security Lake),
 *                      `yyyy-mm-dd/`
 *   - file names       `..._20180620T1620Z_...` (VPC Flow Logs, CloudTrail, ALB),
 *                      `...2024-01-02-03-04-05-<id>` (S3 access logs, Firehose): hour precision.
 * URL-encoded keys (`year%3D2024`, as S3 event notifications write them) are decoded per segment.
 *
 * Invariant that makes pruning during listing safe: the range found for a folder prefix always
 * contains the range found for every key under it. That holds because only folder segments count
 * for the layouts above (a key's last segment is its file name), the first match wins, a match
 * only ever narrows as deeper folders are added, and a file-name timestamp only refines a folder
 * date it falls inside. A bare `yyyy/` folder is deliberately not a date (too easily something
 * else); its `mm/` child is.
 *
 * Key dates are delivery dates for AWS layouts: a file delivered at 00:05 can hold records from
 * 23:55 the day before. Use `slackMs` when the window must catch such edge records.
 */
import type { TimeWindow } from './component.js';
import { SluiceError } from './errors.js';

/** A UTC time range in epoch ms: `start` inclusive, `end` exclusive. */
export interface KeyDateRange {
  start: number;
  end: number;
}

const MIN_YEAR = 1970;
const MAX_YEAR = 2200;
const HOUR_MS = 3_600_000;

/**
 * The day (or hour, or month) a key belongs to, read from the key alone; null when it has none.
 *
 * @example
 * dateFromKey('AWSLogs/1/vpcflowlogs/us-east-1/2024/01/02/x.log.gz')
 * // { start: Date.UTC(2024, 0, 2), end: Date.UTC(2024, 0, 3) }
 */
export function dateFromKey(key: string): KeyDateRange | null {
  return rangeFromSegments(keySegments(key), true);
}

/** The range every key under a folder prefix (ending in '/') falls into; null when undated. */
export function prefixDateRange(prefix: string): KeyDateRange | null {
  const segments = keySegments(prefix);
  // A prefix not ending in '/' stops mid-segment: only its complete folders tell anything.
  if (segments[segments.length - 1] !== '') segments[segments.length - 1] = '';
  return rangeFromSegments(segments, false);
}

export interface WindowOptions {
  /** Widen the window by this much on both sides (edge records delivered late or early). */
  slackMs?: number;
}

/** Whether a key may hold data of the window. Keys with no date are always kept. */
export function keyInWindow(key: string, window: TimeWindow | undefined, options?: WindowOptions): boolean {
  if (!window || (window.from === undefined && window.to === undefined)) return true;
  const range = dateFromKey(key);
  return range === null || rangeOverlapsWindow(range, window, options?.slackMs ?? 0);
}

/** Whether any key under a folder prefix may hold data of the window (false = skip the folder). */
export function prefixInWindow(prefix: string, window: TimeWindow | undefined, options?: WindowOptions): boolean {
  if (!window || (window.from === undefined && window.to === undefined)) return true;
  const range = prefixDateRange(prefix);
  return range === null || rangeOverlapsWindow(range, window, options?.slackMs ?? 0);
}

/** Whether a window restricts anything. */
export function isWindowSet(window: TimeWindow | undefined): window is TimeWindow {
  return window !== undefined && (window.from !== undefined || window.to !== undefined);
}

function rangeOverlapsWindow(range: KeyDateRange, window: TimeWindow, slackMs: number): boolean {
  if (window.from !== undefined && range.end <= window.from - slackMs) return false;
  if (window.to !== undefined && range.start >= window.to + slackMs) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Key parsing

function keySegments(key: string): string[] {
  const raw = key.split('/');
  if (!key.includes('%')) return raw;
  const out: string[] = [];
  for (const segment of raw) {
    if (!segment.includes('%')) {
      out.push(segment);
      continue;
    }
    let decoded = segment;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      // Not valid percent-encoding: the segment is taken literally.
    }
    if (decoded.includes('/')) out.push(...decoded.split('/'));
    else out.push(decoded);
  }
  return out;
}

const FOUR_DIGITS = /^\d{4}$/;
const TWO_DIGITS = /^\d{2}$/;
const HIVE_YEAR = /^year=(\d{4})$/i;
const HIVE_MONTH = /^month=(\d{1,2})$/i;
const HIVE_DAY = /^day=(\d{1,2})$/i;
const HIVE_HOUR = /^hour=(\d{1,2})$/i;
const DAY_FOLDER = /^(?:(?:dt|date)=)?(\d{4})-(\d{2})-(\d{2})$/i;
const EVENT_DAY_FOLDER = /^eventDay=(\d{4})(\d{2})(\d{2})$/i;
const COMPACT_TIMESTAMP = /(?:^|[_.-])(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(?:\d{2})?Z(?=$|[_.-])/;
const DASHED_TIMESTAMP = /(?:^|\D)(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-[0-9A-Za-z]/;

/** Date parts found in folders; undefined parts widen the range. */
interface DateParts {
  year: number;
  month?: number;
  day?: number;
  hour?: number;
}

function rangeFromSegments(segments: string[], isKey: boolean): KeyDateRange | null {
  // Only folders count: the last segment is a file name (or '' for a prefix).
  const folderCount = segments.length - 1;
  let parts: DateParts | null = null;
  for (let i = 0; i < folderCount && parts === null; i++) {
    parts = datePartsAt(segments, i, folderCount);
  }
  const fileHour = isKey ? hourFromFileName(segments[segments.length - 1]!) : null;
  if (parts === null) return fileHour;
  const range = rangeOfParts(parts);
  if (parts.hour === undefined && fileHour !== null && fileHour.start >= range.start && fileHour.end <= range.end) {
    return fileHour;
  }
  return range;
}

/** The date starting at folder `i`, as deep as the folders go; null when none starts there. */
function datePartsAt(segments: string[], i: number, folderCount: number): DateParts | null {
  const segment = segments[i]!;
  const at = (j: number): string | undefined => (j < folderCount ? segments[j] : undefined);

  if (FOUR_DIGITS.test(segment)) {
    const year = Number(segment);
    const monthText = at(i + 1);
    if (!isYear(year) || monthText === undefined || !TWO_DIGITS.test(monthText)) return null;
    const month = Number(monthText);
    if (!isMonth(month)) return null;
    const parts: DateParts = { year, month };
    const dayText = at(i + 2);
    if (dayText === undefined || !TWO_DIGITS.test(dayText) || !isDay(year, month, Number(dayText))) return parts;
    parts.day = Number(dayText);
    const hourText = at(i + 3);
    if (hourText !== undefined && TWO_DIGITS.test(hourText) && Number(hourText) <= 23) parts.hour = Number(hourText);
    return parts;
  }

  const hiveYear = HIVE_YEAR.exec(segment);
  if (hiveYear) {
    const year = Number(hiveYear[1]);
    if (!isYear(year)) return null;
    const parts: DateParts = { year };
    const month = matchNumber(HIVE_MONTH, at(i + 1));
    if (month === undefined || !isMonth(month)) return parts;
    parts.month = month;
    const day = matchNumber(HIVE_DAY, at(i + 2));
    if (day === undefined || !isDay(year, month, day)) return parts;
    parts.day = day;
    const hour = matchNumber(HIVE_HOUR, at(i + 3));
    if (hour !== undefined && hour <= 23) parts.hour = hour;
    return parts;
  }

  const dayFolder = DAY_FOLDER.exec(segment) ?? EVENT_DAY_FOLDER.exec(segment);
  if (dayFolder) {
    const year = Number(dayFolder[1]);
    const month = Number(dayFolder[2]);
    const day = Number(dayFolder[3]);
    if (!isYear(year) || !isMonth(month) || !isDay(year, month, day)) return null;
    const parts: DateParts = { year, month, day };
    const hour = matchNumber(HIVE_HOUR, at(i + 1));
    if (hour !== undefined && hour <= 23) parts.hour = hour;
    return parts;
  }
  return null;
}

function hourFromFileName(name: string): KeyDateRange | null {
  const m = COMPACT_TIMESTAMP.exec(name) ?? DASHED_TIMESTAMP.exec(name);
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  if (!isYear(year) || !isMonth(month) || !isDay(year, month, day) || hour > 23 || minute > 59) return null;
  return rangeOfParts({ year, month, day, hour });
}

function rangeOfParts(p: DateParts): KeyDateRange {
  if (p.month === undefined) return { start: Date.UTC(p.year, 0, 1), end: Date.UTC(p.year + 1, 0, 1) };
  if (p.day === undefined) return { start: Date.UTC(p.year, p.month - 1, 1), end: Date.UTC(p.year, p.month, 1) };
  if (p.hour === undefined) {
    return { start: Date.UTC(p.year, p.month - 1, p.day), end: Date.UTC(p.year, p.month - 1, p.day + 1) };
  }
  const start = Date.UTC(p.year, p.month - 1, p.day, p.hour);
  return { start, end: start + HOUR_MS };
}

function matchNumber(re: RegExp, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = re.exec(text);
  return m ? Number(m[1]) : undefined;
}

function isYear(year: number): boolean {
  return year >= MIN_YEAR && year <= MAX_YEAR;
}

function isMonth(month: number): boolean {
  return month >= 1 && month <= 12;
}

function isDay(year: number, month: number, day: number): boolean {
  return day >= 1 && day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

// ---------------------------------------------------------------------------------------------
// Command-line windows

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})$/i;
const EXPECTED_FORMS =
  'expected YYYY-MM-DD (a whole UTC day) or a UTC time like 2024-01-02T03Z, 2024-01-02T03:04Z, 2024-01-02T03:04:05Z (or with an offset such as +02:00)';

/**
 * Turns `--from` / `--to` values into a window. A date alone means whole UTC days: `--from` starts
 * at its midnight and `--to` includes its whole day. A time is exact, and `--to` is exclusive.
 *
 * @example
 * parseWindow('2024-01-02', '2024-01-02') // the whole of 2 January 2024, UTC
 * parseWindow('2024-01-02T03Z', '2024-01-02T04Z') // one hour
 */
export function parseWindow(from?: string, to?: string): TimeWindow {
  const window: TimeWindow = {};
  if (from !== undefined) window.from = parseWindowEdge(from, '--from');
  if (to !== undefined) window.to = parseWindowEdge(to, '--to');
  if (window.from !== undefined && window.to !== undefined && window.from >= window.to) {
    throw new SluiceError(
      `--from ${from} is not before --to ${to}: the window ${new Date(window.from).toISOString()} .. ${new Date(window.to).toISOString()} is empty`,
      {
        code: 'BAD_DATE',
        stage: 'config',
        hint: '--to YYYY-MM-DD includes that whole day; --to with a time is exclusive',
      },
    );
  }
  return window;
}

/**
 * The window of `--days N`: the last N whole UTC days, today included (today's partitions are
 * redone by the next run once they have grown, since a partition's identity covers its files).
 * `now` comes from a clock so that tests can fix it.
 *
 * @example
 * daysWindow(2, Date.parse('2024-03-05T10:00:00Z')) // 2024-03-04T00:00Z .. 2024-03-06T00:00Z
 */
export function daysWindow(days: number, now: number): TimeWindow {
  if (!Number.isInteger(days) || days < 1) {
    throw new SluiceError(`--days ${days}: expected a whole number of days, 1 or more`, {
      code: 'BAD_DATE',
      stage: 'config',
      hint: '--days 1 is today (UTC), --days 7 the last seven days including today',
    });
  }
  const today = Math.floor(now / 86_400_000) * 86_400_000;
  return { from: today - (days - 1) * 86_400_000, to: today + 86_400_000 };
}

/** The window of the command-line flags: `--days` (with the clock) or `--from`/`--to`, never both. */
export function windowFromFlags(flags: { from?: string; to?: string; days?: number }, now: () => number = Date.now): TimeWindow | undefined {
  if (flags.days !== undefined) {
    if (flags.from !== undefined || flags.to !== undefined) {
      throw new SluiceError('--days cannot be combined with --from/--to', {
        code: 'BAD_DATE',
        stage: 'config',
        hint: 'give either --days N (back from today) or --from/--to',
      });
    }
    return daysWindow(flags.days, now());
  }
  return flags.from || flags.to ? parseWindow(flags.from, flags.to) : undefined;
}

function parseWindowEdge(text: string, flag: '--from' | '--to'): number {
  const value = text.trim();
  const dateOnly = DATE_ONLY.exec(value);
  if (dateOnly) {
    const [year, month, day] = [Number(dateOnly[1]), Number(dateOnly[2]), Number(dateOnly[3])];
    checkCalendar(text, flag, year, month, day);
    return Date.UTC(year, month - 1, flag === '--to' ? day + 1 : day);
  }
  const dateTime = DATE_TIME.exec(value);
  if (!dateTime) throw badDate(text, flag, 'not a recognised date or time');
  const [year, month, day, hour] = [1, 2, 3, 4].map((i) => Number(dateTime[i]));
  const minute = Number(dateTime[5] ?? 0);
  const second = Number(dateTime[6] ?? 0);
  const millis = Number((dateTime[7] ?? '0').padEnd(3, '0').slice(0, 3));
  checkCalendar(text, flag, year!, month!, day!);
  if (hour! > 23) throw badDate(text, flag, `hour ${hour} does not exist`);
  if (minute > 59) throw badDate(text, flag, `minute ${minute} does not exist`);
  if (second > 59) throw badDate(text, flag, `second ${second} does not exist`);
  return Date.UTC(year!, month! - 1, day!, hour!, minute, second, millis) - offsetMs(dateTime[8]!);
}

function offsetMs(zone: string): number {
  if (zone === 'Z' || zone === 'z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
}

function checkCalendar(text: string, flag: string, year: number, month: number, day: number): void {
  if (!isMonth(month)) throw badDate(text, flag, `month ${month} does not exist`);
  if (!isDay(year, month, day)) throw badDate(text, flag, `day ${day} does not exist in ${year}-${String(month).padStart(2, '0')}`);
}

function badDate(text: string, flag: string, reason: string): SluiceError {
  return new SluiceError(`${flag} "${text}" is not a valid date (${reason}): ${EXPECTED_FORMS}`, {
    code: 'BAD_DATE',
    stage: 'config',
    hint: `for example ${flag} 2024-01-02 or ${flag} 2024-01-02T03:00Z`,
  });
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A calendar date written yyyy-MM-dd as epoch ms at 00:00 UTC; undefined when malformed or not a real day. */
export function parseIsoDate(text: string): number | undefined {
  const m = ISO_DATE.exec(text);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  return back.getUTCFullYear() === y && back.getUTCMonth() === mo - 1 && back.getUTCDate() === d ? ms : undefined;
}
