/**
 * The time of an S3 server access log line: `06/Feb/2019:00:00:38 +0000` (the text between the
 * brackets), read by hand because it runs once per line. Lines of one object mostly share their
 * second, so the reader remembers the last text it converted.
 */
import { daysInMonth, digitsAt, utcEpochMs } from '../../core/lines/date-text.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
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
  const day = digitsAt(text, from, 2);
  const month = MONTHS.indexOf(text.slice(from + 3, from + 6));
  const year = digitsAt(text, from + 7, 4);
  const hour = digitsAt(text, from + 12, 2);
  const minute = digitsAt(text, from + 15, 2);
  const second = digitsAt(text, from + 18, 2);
  const sign = at(21);
  const offsetHours = digitsAt(text, from + 22, 2);
  const offsetMinutes = digitsAt(text, from + 24, 2);
  if (month === -1 || day < 1 || year < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;
  if ((sign !== 43 && sign !== 45) || offsetHours < 0 || offsetHours > 23 || offsetMinutes < 0 || offsetMinutes > 59) return undefined;
  if (day > daysInMonth(year, month + 1)) return undefined;

  const offsetMs = (sign === 45 ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  const epochMs = utcEpochMs(year, month + 1, day, hour, minute, second) - offsetMs;
  const local =
    `${pad(year, 4)}-${pad(month + 1, 2)}-${pad(day, 2)}T${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}`;
  const iso = offsetMs === 0 ? `${local}Z` : `${local}${sign === 45 ? '-' : '+'}${pad(offsetHours, 2)}:${pad(offsetMinutes, 2)}`;
  return { epochMs, iso };
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}
