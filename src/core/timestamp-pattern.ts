/**
 * Timestamps read by pattern, as the Security Lake ETL framework's metadata CSV writes them
 * (`source_log_timestamp_format`): Java/Spark-style letters (`dd/MMM/yyyy:HH:mm:ss Z`), the named
 * forms `iso8601`, `epoch` (seconds or milliseconds, told apart by size), `epoch_s`, `epoch_ms`.
 *
 * Pattern letters: yyyy (year), MM / M (month number), MMM (Jan..Dec), dd / d, HH / H, mm, ss,
 * S.. (fraction of a second), Z / ZZ / ZZZZ / XXX / X (offset: `+0000`, `+00:00`, `Z`), anything
 * else literal ('quoted' text too). Whitespace in the pattern matches any run of spaces, and an
 * offset may follow the seconds with or without a space: the framework's own example
 * `[dd/MMM/yyyy:HH:mm:ssZZZZ]` reads S3's `[06/Feb/2019:00:00:38 +0000]`. Brackets around the
 * pattern are optional in the value (a delimited field may have kept or dropped them). A pattern
 * without an offset reads the time as UTC.
 */
import { SluiceError } from './errors.js';

/** Parses a timestamp text to epoch milliseconds, or returns undefined when it does not match. */
export type TimestampParser = ((text: string) => number | undefined) & { readonly pattern: string; readonly expected: string };

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
/** Epoch values below this are seconds (10^11 s is the year 5138; 10^11 ms is 1973). */
const SECONDS_BELOW = 1e11;

type Part = 'year' | 'month' | 'monthName' | 'day' | 'hour' | 'minute' | 'second' | 'fraction' | 'offset';

/**
 * Compiles a pattern once; throws a config error naming the pattern when it has no date in it.
 *
 * @example
 * const parse = compileTimestampPattern('dd/MMM/yyyy:HH:mm:ss Z');
 * parse('06/Feb/2019:00:00:38 +0000'); // 1549411238000
 */
export function compileTimestampPattern(pattern: string): TimestampParser {
  const trimmed = pattern.trim();
  const named = trimmed.toLowerCase();
  if (named === 'epoch' || named === 'epoch_s' || named === 'epoch_ms') return epochParser(named, trimmed);
  if (named === 'iso8601' || named === 'iso' || named === 'iso_8601') return isoParser(trimmed);
  return letterPatternParser(trimmed);
}

function withMeta(fn: (text: string) => number | undefined, pattern: string, expected: string): TimestampParser {
  return Object.assign(fn, { pattern, expected }) as TimestampParser;
}

function epochParser(kind: string, pattern: string): TimestampParser {
  const expected = kind === 'epoch_ms' ? 'epoch milliseconds' : kind === 'epoch_s' ? 'epoch seconds' : 'epoch seconds or milliseconds';
  return withMeta(
    (text) => {
      const t = text.trim();
      if (!/^-?\d{1,16}(\.\d+)?$/.test(t)) return undefined;
      const n = Number(t);
      if (!Number.isFinite(n)) return undefined;
      if (kind === 'epoch_ms') return Math.round(n);
      if (kind === 'epoch_s') return Math.round(n * 1000);
      return Math.abs(n) < SECONDS_BELOW ? Math.round(n * 1000) : Math.round(n);
    },
    pattern,
    expected,
  );
}

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

function isoParser(pattern: string): TimestampParser {
  return withMeta(
    (text) => {
      const m = ISO.exec(text.trim());
      if (!m) return undefined;
      return assemble({
        year: Number(m[1]),
        month: Number(m[2]),
        day: Number(m[3]),
        hour: Number(m[4] ?? 0),
        minute: Number(m[5] ?? 0),
        second: Number(m[6] ?? 0),
        fractionMs: fractionToMs(m[7]),
        offsetMs: parseOffset(m[8]),
      });
    },
    pattern,
    'an ISO 8601 date-time such as 2024-01-02T03:04:05Z',
  );
}

function letterPatternParser(pattern: string): TimestampParser {
  let body = pattern;
  // The framework's examples wrap the pattern in brackets; values may or may not keep them.
  const bracketed = body.startsWith('[') && body.endsWith(']');
  if (bracketed) body = body.slice(1, -1);
  const parts: Part[] = [];
  let regex = '';
  let i = 0;
  while (i < body.length) {
    const c = body[i]!;
    if (c === "'") {
      const end = body.indexOf("'", i + 1);
      if (end === -1) throw badPattern(pattern, `the quote at position ${i + 1} is never closed`);
      regex += escapeRegex(body.slice(i + 1, end));
      i = end + 1;
      continue;
    }
    if (/[A-Za-z]/.test(c)) {
      let j = i;
      while (j < body.length && body[j] === c) j++;
      const run = j - i;
      i = j;
      switch (c) {
        case 'y':
          parts.push('year');
          regex += run === 2 ? '(\\d{2})' : '(\\d{4})';
          break;
        case 'M':
          if (run >= 3) {
            parts.push('monthName');
            regex += '([A-Za-z]{3,9})';
          } else {
            parts.push('month');
            regex += run === 1 ? '(\\d{1,2})' : '(\\d{2})';
          }
          break;
        case 'd':
          parts.push('day');
          regex += run === 1 ? '(\\d{1,2})' : '(\\d{2})';
          break;
        case 'H':
          parts.push('hour');
          regex += run === 1 ? '(\\d{1,2})' : '(\\d{2})';
          break;
        case 'm':
          parts.push('minute');
          regex += '(\\d{2})';
          break;
        case 's':
          parts.push('second');
          regex += '(\\d{2})';
          break;
        case 'S':
          parts.push('fraction');
          regex += `(\\d{1,${Math.max(run, 9)}})`;
          break;
        case 'Z':
        case 'X':
        case 'x':
          parts.push('offset');
          // An offset may follow the seconds with or without a space, whatever the pattern says.
          if (regex.endsWith('\\s+')) regex = regex.slice(0, -3);
          regex += '\\s*(Z|z|[+-]\\d{2}(?::?\\d{2})?)';
          break;
        case 'T':
          regex += 'T';
          break;
        default:
          throw badPattern(pattern, `"${c.repeat(run)}" is not a supported pattern letter (use yyyy MM MMM dd HH mm ss SSS Z)`);
      }
      continue;
    }
    if (/\s/.test(c)) {
      while (i < body.length && /\s/.test(body[i]!)) i++;
      if (!regex.endsWith('\\s+')) regex += '\\s+';
      continue;
    }
    regex += escapeRegex(c);
    i++;
  }
  if (!parts.includes('year') || !(parts.includes('month') || parts.includes('monthName')) || !parts.includes('day')) {
    throw badPattern(pattern, 'a timestamp pattern needs at least a year (yyyy), a month (MM or MMM) and a day (dd)');
  }
  const compiled = new RegExp(`^\\[?${regex}\\]?$`);
  let lastText = '';
  let lastValue: number | undefined;
  return withMeta(
    (text) => {
      // Lines of one object mostly share their second: remember the last conversion.
      if (text === lastText && lastValue !== undefined) return lastValue;
      const m = compiled.exec(text.trim());
      if (!m) return undefined;
      const fields = { year: 0, month: 1, day: 1, hour: 0, minute: 0, second: 0, fractionMs: 0, offsetMs: 0 };
      for (let k = 0; k < parts.length; k++) {
        const value = m[k + 1]!;
        switch (parts[k]) {
          case 'year':
            fields.year = value.length === 2 ? 2000 + Number(value) : Number(value);
            break;
          case 'month':
            fields.month = Number(value);
            break;
          case 'monthName': {
            const index = MONTHS.indexOf(value.slice(0, 3).toLowerCase());
            if (index === -1) return undefined;
            fields.month = index + 1;
            break;
          }
          case 'day':
            fields.day = Number(value);
            break;
          case 'hour':
            fields.hour = Number(value);
            break;
          case 'minute':
            fields.minute = Number(value);
            break;
          case 'second':
            fields.second = Number(value);
            break;
          case 'fraction':
            fields.fractionMs = fractionToMs(value);
            break;
          case 'offset': {
            const offset = parseOffset(value);
            if (offset === undefined) return undefined;
            fields.offsetMs = offset;
            break;
          }
        }
      }
      const ms = assemble(fields);
      if (ms !== undefined) {
        lastText = text;
        lastValue = ms;
      }
      return ms;
    },
    pattern,
    `a time like ${pattern}`,
  );
}

function assemble(f: { year: number; month: number; day: number; hour: number; minute: number; second: number; fractionMs: number; offsetMs: number | undefined }): number | undefined {
  if (f.offsetMs === undefined) return undefined;
  if (f.month < 1 || f.month > 12 || f.day < 1 || f.hour > 23 || f.minute > 59 || f.second > 60) return undefined;
  const daysInMonth = new Date(Date.UTC(2000, f.month, 0)).getUTCDate();
  const leap = f.year % 4 === 0 && (f.year % 100 !== 0 || f.year % 400 === 0);
  if (f.day > (f.month === 2 && !leap ? 28 : daysInMonth)) return undefined;
  const date = new Date(Date.UTC(2000, f.month - 1, f.day, f.hour, f.minute, Math.min(f.second, 59)));
  date.setUTCFullYear(f.year);
  return date.getTime() + f.fractionMs - f.offsetMs;
}

function fractionToMs(digits: string | undefined): number {
  if (!digits) return 0;
  return Number(digits.padEnd(3, '0').slice(0, 3));
}

function parseOffset(text: string | undefined): number | undefined {
  if (text === undefined || text === 'Z' || text === 'z') return 0;
  const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(text);
  if (!m) return undefined;
  const hours = Number(m[2]);
  const minutes = Number(m[3] ?? 0);
  if (hours > 23 || minutes > 59) return undefined;
  return (m[1] === '-' ? -1 : 1) * (hours * 60 + minutes) * 60_000;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

function badPattern(pattern: string, reason: string): SluiceError {
  return new SluiceError(`timestamp format "${pattern}": ${reason}`, {
    code: 'BAD_TIMESTAMP_FORMAT',
    stage: 'config',
    hint: 'write it like dd/MMM/yyyy:HH:mm:ss Z, yyyy-MM-dd HH:mm:ss, iso8601, epoch, epoch_s or epoch_ms',
  });
}
