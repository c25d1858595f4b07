/**
 * Partition folders from event time (UTC): `yyyy/mm/dd` for `day`, `yyyy/mm/dd/HH` for `hour`,
 * `yyyy/mm` for `month`, the output root for `none`. A record without a usable time goes to `unknown-time` when the
 * sink partitions by time (with `none` every record goes to the root).
 *
 * This runs once per record, so the namer remembers the last bucket (day or hour) it formatted
 * and answers from a range check while records stay in that bucket, which they do for long
 * stretches of a log object.
 */
export type PartitionScheme = 'day' | 'hour' | 'month' | 'none';

/** Folder (relative to the sink root, `/`-separated, no trailing slash) for records without a time. */
export const UNKNOWN_TIME_FOLDER = 'unknown-time';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Dates outside years 0000-9999 cannot be written as `yyyy`: such times count as unknown. */
// (Date.UTC maps years 0-99 to 1900-1999, hence the ISO string.)
const MIN_TIME = Date.parse('0000-01-01T00:00:00Z');
const MAX_TIME = Date.UTC(10000, 0, 1);

export class PartitionNamer {
  private readonly bucketMs: number;
  /** The bucket [start, end) whose folder was formatted last. */
  private bucketStart = 1;
  private bucketEnd = 0;
  private bucketFolder = '';

  constructor(private readonly scheme: PartitionScheme) {
    this.bucketMs = scheme === 'hour' ? HOUR_MS : DAY_MS;
  }

  /** The relative folder for a record time (epoch ms); `''` is the sink root. */
  folderOf(time: number | undefined): string {
    if (this.scheme === 'none') return '';
    if (time === undefined) return UNKNOWN_TIME_FOLDER;
    if (time >= this.bucketStart && time < this.bucketEnd) return this.bucketFolder;
    // NaN and ±Infinity fail both comparisons and land here too.
    if (!(time >= MIN_TIME && time < MAX_TIME)) return UNKNOWN_TIME_FOLDER;
    if (this.scheme === 'month') {
      // Months differ in length: the bucket is the calendar month around `time`.
      const date = new Date(time);
      this.bucketStart = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
      this.bucketEnd = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
      this.bucketFolder = String(date.getUTCFullYear()).padStart(4, '0') + '/' + String(date.getUTCMonth() + 1).padStart(2, '0');
      return this.bucketFolder;
    }
    const start = time - mod(time, this.bucketMs);
    this.bucketStart = start;
    this.bucketEnd = start + this.bucketMs;
    this.bucketFolder = formatFolder(new Date(start), this.scheme);
    return this.bucketFolder;
  }
}

/** Positive modulo, so times before 1970 fall in the right bucket. */
function mod(value: number, divisor: number): number {
  const r = value % divisor;
  return r < 0 ? r + divisor : r;
}

function formatFolder(date: Date, scheme: 'day' | 'hour'): string {
  const day =
    String(date.getUTCFullYear()).padStart(4, '0') +
    '/' +
    String(date.getUTCMonth() + 1).padStart(2, '0') +
    '/' +
    String(date.getUTCDate()).padStart(2, '0');
  return scheme === 'hour' ? day + '/' + String(date.getUTCHours()).padStart(2, '0') : day;
}
