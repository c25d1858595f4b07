/**
 * The time of an S3 server access log line: `06/Feb/2019:00:00:38 +0000` (the text between the
 * brackets), read by hand because it runs once per line. Lines of one object mostly share their
 * second, so the reader remembers the last text it converted.
 */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/** `dd/Mon/yyyy:HH:MM:SS +hhmm` */
const TEXT_LENGTH = 26;

export interface AccessLogTime {
  /** Epoch milliseconds. */
  epochMs: number;
  /** RFC 3339 with the line's own offset: `2019-02-06T00:00:38Z`, `2021-02-09T14:48:42+02:00`. */
  iso: string;
}

export class AccessLogTimeReader {
  private lastText = '';
  private last: AccessLogTime | undefined;

  /** Reads line[from, to), or returns undefined when it is not a valid time in this layout. */
  read(line: string, from: number, to: number): AccessLogTime | undefined {
    if (to - from === this.lastText.length && this.last !== undefined && line.startsWith(this.lastText, from)) return this.last;
    const parsed = parseAccessLogTime(line, from, to);
    if (parsed !== undefined) {
      this.lastText = line.slice(from, to);
      this.last = parsed;
    }
    return parsed;
  }
}

export function parseAccessLogTime(text: string, from = 0, to = text.length): AccessLogTime | undefined {
  if (to - from !== TEXT_LENGTH) return undefined;
  const at = (offset: number): number => text.charCodeAt(from + offset);
  if (at(2) !== 47 || at(6) !== 47 || at(11) !== 58 || at(14) !== 58 || at(17) !== 58 || at(20) !== 32) return undefined;
  const day = digits(text, from, 2);
  const month = MONTHS.indexOf(text.slice(from + 3, from + 6));
  const year = digits(text, from + 7, 4);
  const hour = digits(text, from + 12, 2);
  const minute = digits(text, from + 15, 2);
  const second = digits(text, from + 18, 2);
  const sign = at(21);
  const offsetHours = digits(text, from + 22, 2);
  const offsetMinutes = digits(text, from + 24, 2);
  if (month === -1 || day < 1 || year < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;
  if ((sign !== 43 && sign !== 45) || offsetHours < 0 || offsetHours > 23 || offsetMinutes < 0 || offsetMinutes > 59) return undefined;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 1 && !leap ? 28 : DAYS_IN_MONTH[month])) return undefined;

  const offsetMs = (sign === 45 ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear does not.
  const utc = new Date(Date.UTC(2000, month, day, hour, minute, second));
  utc.setUTCFullYear(year);
  const epochMs = utc.getTime() - offsetMs;
  const local =
    `${pad(year, 4)}-${pad(month + 1, 2)}-${pad(day, 2)}T${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}`;
  const iso = offsetMs === 0 ? `${local}Z` : `${local}${sign === 45 ? '-' : '+'}${pad(offsetHours, 2)}:${pad(offsetMinutes, 2)}`;
  return { epochMs, iso };
}

/** The non-negative integer written with exactly `count` digits at `from`, or -1. */
function digits(text: string, from: number, count: number): number {
  let value = 0;
  for (let i = from; i < from + count; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}
