/**
 * Property tests of the s3access format over generated and mutated access logs: decoding never
 * throws, every non-blank line becomes exactly one record or one reject, untouched valid lines
 * decode to exactly the values they were generated from (any of the 18 to 27 documented field
 * counts, plus extra fields), and the output does not depend on how the bytes were chunked.
 */
import { describe } from 'node:test';
import fc from 'fast-check';
import { S3ACCESS_FIELDS, S3ACCESS_MIN_FIELDS } from './fields.js';
import { s3accessFormat } from './index.js';
import { fuzzRuns } from '../../testing/fuzz.js';
import { decodeChunked, lineRecordProperties, spaceSeparatedLines, type ExpectedRecord, type GeneratedLine } from '../../testing/line-format-properties.js';

const NUM_RUNS = fuzzRuns(300);
const MAX_LINE_BYTES = 4096;
const QUOTED = new Set(['request_uri', 'referer', 'user_agent']);
const INTEGERS = new Set(['http_status', 'bytes_sent', 'object_size', 'total_time', 'turn_around_time']);
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

type Value = string | number | null;

const bareText = fc.string({ unit: fc.constantFrom(...'ABCxyz019./:=+_-%@'), minLength: 1, maxLength: 16 }).filter((s) => s !== '-');
/** Quoted content: spaces, and quotes that are never followed by a space (S3 does not escape them). */
const quotedText = fc
  .array(fc.oneof(fc.constantFrom(...'Mozilla/5.0 (X11; Linux) é,;'.split('')), fc.constantFrom('"x', 'a"b', '""y')), { minLength: 1, maxLength: 12 })
  .map((parts) => parts.join(''))
  .filter((s) => s !== '-' && !s.includes('" ') && !s.endsWith(' '));
const requestLine = fc
  .tuple(fc.constantFrom('GET', 'PUT', 'HEAD', 'OPTIONS'), fc.string({ unit: fc.constantFrom(...'/abc?=&%"-'), minLength: 1, maxLength: 12 }), fc.constantFrom('HTTP/1.1', 'HTTP/1.0'))
  .map(([method, path, protocol]) => `${method} ${path} ${protocol}`)
  .filter((s) => !s.includes('" '));

const absent = fc.constantFrom<[string, Value]>(['-', null], ['"-"', null]);

function fieldValue(name: string): fc.Arbitrary<[string, Value]> {
  if (INTEGERS.has(name)) {
    const status = name === 'http_status';
    return fc.oneof(
      { arbitrary: (status ? fc.integer({ min: 100, max: 599 }) : fc.nat(2 ** 40)).map((n): [string, Value] => [String(n), n]), weight: 6 },
      { arbitrary: status ? fc.constant<[string, Value]>(['-', null]) : absent, weight: 1 },
    );
  }
  if (QUOTED.has(name)) {
    const content = name === 'request_uri' ? requestLine : quotedText;
    return fc.oneof({ arbitrary: content.map((s): [string, Value] => [`"${s}"`, s]), weight: 6 }, { arbitrary: absent, weight: 1 });
  }
  return fc.oneof({ arbitrary: bareText.map((s): [string, Value] => [s, s]), weight: 6 }, { arbitrary: fc.constant<[string, Value]>(['-', null]), weight: 1 });
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** The bracketed time, its RFC 3339 text and epoch ms. */
const timeValue = fc
  .tuple(fc.date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2090-01-01T00:00:00Z'), noInvalidDate: true }), fc.constantFrom(0, 0, 120, -330, 840))
  .map(([date, offsetMinutes]) => {
    const epoch = Math.floor(date.getTime() / 1000) * 1000;
    const local = new Date(epoch + offsetMinutes * 60_000);
    const sign = offsetMinutes < 0 ? '-' : '+';
    const hh = pad(Math.floor(Math.abs(offsetMinutes) / 60));
    const mm = pad(Math.abs(offsetMinutes) % 60);
    const clock = `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`;
    const text = `[${pad(local.getUTCDate())}/${MONTHS[local.getUTCMonth()]}/${local.getUTCFullYear()}:${clock} ${sign}${hh}${mm}]`;
    const day = `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}`;
    const iso = offsetMinutes === 0 ? `${day}T${clock}Z` : `${day}T${clock}${sign}${hh}:${mm}`;
    return { text, iso, epoch };
  });

const validLine: fc.Arbitrary<{ tokens: string[]; expected: ExpectedRecord }> = fc
  .tuple(
    fc.integer({ min: S3ACCESS_MIN_FIELDS, max: S3ACCESS_FIELDS.length + 2 }),
    timeValue,
    fc.tuple(...S3ACCESS_FIELDS.map((name) => fieldValue(name))),
    fc.array(bareText, { minLength: 2, maxLength: 2 }),
  )
  .map(([count, time, values, extras]) => {
    const tokens: string[] = [];
    const fields: Record<string, unknown> = {};
    S3ACCESS_FIELDS.forEach((name, i) => {
      const present = i < count;
      if (name === 'time') {
        tokens.push(time.text);
        fields.time = time.iso;
      } else {
        if (present) tokens.push(values[i][0]);
        fields[name] = present ? values[i][1] : null;
      }
    });
    const extra = extras.slice(0, Math.max(0, count - S3ACCESS_FIELDS.length));
    tokens.push(...extra);
    if (extra.length > 0) fields.extra_fields = extra;
    return { tokens, expected: { fields, time: time.epoch } };
  });

const separator = fc.constantFrom(' ', ' ', ' ', '  ', '\t');

const line: fc.Arbitrary<GeneratedLine> = spaceSeparatedLines({
  valid: validLine,
  separator: fc.array(separator, { minLength: 1, maxLength: 3 }).map((seps) => seps[0]),
  junk: ['x', '1.5', '"', '[', ']', '""', '-5', '€'],
  cutWithin: 400,
  maxLineBytes: MAX_LINE_BYTES,
});

const decode = (bytes: Buffer, cuts: number[]) => decodeChunked(s3accessFormat({ lines: { maxLineBytes: MAX_LINE_BYTES, batchLines: 5 } }), bytes, cuts, 'access.log');

describe('s3access format properties', () => {
  lineRecordProperties({ decode, line, maxCut: 6000, syntax: ['\n', '"', '[', ']', ' - ', '[06/Feb/2019:00:00:38 +0000]', '€'], numRuns: NUM_RUNS });
});
