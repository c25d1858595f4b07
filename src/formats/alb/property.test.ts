/**
 * Property tests of the alb format over generated and mutated access logs: decoding never
 * throws, every non-blank line becomes exactly one record or one reject, untouched valid lines
 * (18 to 33 fields, plus extra fields) decode to exactly the values they were generated from,
 * and the output does not depend on how the bytes were chunked.
 */
import { describe } from 'node:test';
import fc from 'fast-check';
import { ALB_FIELDS, ALB_MIN_FIELDS, ALB_RECORD_KEYS, AlbKind, type AlbField } from './fields.js';
import { albFormat } from './index.js';
import { fuzzRuns } from '../../testing/fuzz.js';
import { decodeChunked, lineRecordProperties, spaceSeparatedLines, type GeneratedLine } from '../../testing/line-format-properties.js';

const NUM_RUNS = fuzzRuns(300);
const MAX_LINE_BYTES = 4096;

type Values = Record<string, unknown>;

/** A field's text in the line and the record values it must give. */
type Generated = [text: string, values: Values];

const bareText = fc.string({ unit: fc.constantFrom(...'abcXYZ019./:=_-,'), minLength: 1, maxLength: 14 }).filter((s) => s !== '-');
/** Quoted content: spaces, and quotes only as ALB writes them (\x22) or backslash-escaped. */
const quotedText = fc
  .array(fc.oneof(fc.constantFrom(...'Mozilla/5.0 (X11; é) ,'.split('')), fc.constantFrom('\\x22', '\\"', 'a\\\\b')), { minLength: 1, maxLength: 10 })
  .map((parts) => parts.join(''))
  .filter((s) => s !== '-');

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

function generated(f: AlbField): fc.Arbitrary<Generated> {
  const [key] = f.keys;
  const nullValues = Object.fromEntries(f.keys.map((k) => [k, null]));
  const absent = fc.constantFrom<Generated>(['-', nullValues], ['"-"', nullValues]);
  switch (f.kind) {
    case AlbKind.Integer:
      return fc.oneof({ arbitrary: fc.nat(2 ** 40).map((n): Generated => [String(n), { [key]: n }]), weight: 5 }, { arbitrary: absent, weight: 1 });
    case AlbKind.Decimal:
      return fc.oneof(
        { arbitrary: fc.nat(10_000_000).map((n): Generated => [(n / 1000).toFixed(3), { [key]: Number((n / 1000).toFixed(3)) }]), weight: 5 },
        { arbitrary: fc.constant<Generated>(['-1', { [key]: -1 }]), weight: 1 },
        { arbitrary: absent, weight: 1 },
      );
    case AlbKind.Endpoint: {
      const [ipKey, portKey] = f.keys;
      return fc.oneof(
        { arbitrary: fc.tuple(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 0, max: 65535 })).map(([ip, port]): Generated => [`${ip}:${port}`, { [ipKey]: ip, [portKey]: port }]), weight: 5 },
        { arbitrary: fc.constant<Generated>(['-', nullValues]), weight: 1 },
      );
    }
    case AlbKind.Request: {
      const [, methodKey, urlKey, protocolKey] = f.keys;
      const wellFormed = fc
        .tuple(fc.constantFrom('GET', 'POST', '-'), fc.string({ unit: fc.constantFrom(...'htps:/.exampl?=&0-'), minLength: 1, maxLength: 16 }), fc.constantFrom('HTTP/1.1', 'HTTP/2.0', '-'))
        .map(([method, url, protocol]): Generated => {
          const text = `${method} ${url} ${protocol}`;
          const orNull = (s: string): string | null => (s === '-' ? null : s);
          return [`"${text}"`, { [key]: text, [methodKey]: orNull(method), [urlKey]: orNull(url), [protocolKey]: orNull(protocol) }];
        });
      const oneWord = bareText.map((text): Generated => [`"${text}"`, { [key]: text, [methodKey]: null, [urlKey]: null, [protocolKey]: null }]);
      return fc.oneof({ arbitrary: wellFormed, weight: 5 }, { arbitrary: oneWord, weight: 1 }, { arbitrary: absent, weight: 1 });
    }
    case AlbKind.Time:
      return fc
        .tuple(fc.date({ min: new Date('2010-01-01T00:00:00Z'), max: new Date('2090-01-01T00:00:00Z'), noInvalidDate: true }), fc.nat(999))
        .map(([date, micros]): Generated => {
          const ms = date.getTime();
          const text = `${date.toISOString().slice(0, 19)}.${pad(date.getUTCMilliseconds(), 3)}${pad(micros, 3)}Z`;
          return [text, { [key]: text, __time: ms }];
        });
    default:
      return fc.oneof(
        { arbitrary: bareText.map((s): Generated => [s, { [key]: s }]), weight: 3 },
        { arbitrary: quotedText.map((s): Generated => [`"${s}"`, { [key]: s }]), weight: 3 },
        { arbitrary: absent, weight: 1 },
      );
  }
}

const validLine = fc
  .tuple(fc.integer({ min: ALB_MIN_FIELDS, max: ALB_FIELDS.length + 2 }), fc.tuple(...ALB_FIELDS.map(generated)), fc.array(bareText, { minLength: 2, maxLength: 2 }))
  .map(([count, values, extras]) => {
    const tokens: string[] = [];
    const fields: Values = Object.fromEntries(ALB_RECORD_KEYS.map((k) => [k, null]));
    let time = Number.NaN;
    ALB_FIELDS.forEach((_, i) => {
      if (i >= count && i !== 1) return;
      const [text, parsed] = values[i];
      tokens.push(text);
      for (const [k, v] of Object.entries(parsed)) {
        if (k === '__time') time = v as number;
        else fields[k] = v;
      }
    });
    const extra = extras.slice(0, Math.max(0, count - ALB_FIELDS.length));
    tokens.push(...extra);
    if (extra.length > 0) fields.extra_fields = extra;
    return { tokens, expected: { fields, time } };
  });

const line: fc.Arbitrary<GeneratedLine> = spaceSeparatedLines({
  valid: validLine,
  separator: fc.constantFrom(' ', ' ', '  ', '\t'),
  junk: ['x', '1.2.3', '"', '""a', ':80', '-5x', '€'],
  cutWithin: 500,
  maxLineBytes: MAX_LINE_BYTES,
});

const decode = (bytes: Buffer, cuts: number[]) => decodeChunked(albFormat({ lines: { maxLineBytes: MAX_LINE_BYTES, batchLines: 5 } }), bytes, cuts, 'alb.log');

describe('alb format properties', () => {
  lineRecordProperties({ decode, line, maxCut: 8000, syntax: ['\n', '"', '\\', ' - ', 'http 2018-07-02T22:23:00.186641Z ', '1.2.3.4:80 ', '€'], numRuns: NUM_RUNS });
});
