/**
 * Property tests of the alb format over generated and mutated access logs: decoding never
 * throws, every non-blank line becomes exactly one record or one reject, untouched valid lines
 * (18 to 33 fields, plus extra fields) decode to exactly the values they were generated from,
 * and the output does not depend on how the bytes were chunked.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ALB_FIELDS, ALB_MIN_FIELDS, ALB_RECORD_KEYS, AlbKind, type AlbField } from './fields.js';
import { albFormat } from './index.js';
import { fuzzRuns } from '../../testing/fuzz.js';
import { decodeChunked, isBlank, joinLines } from '../../testing/line-format-properties.js';

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

interface Line {
  text: string | Uint8Array;
  expected?: { fields: Values; time: number };
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

const randomBytes = fc.uint8Array({ maxLength: 80 }).map((bytes) => bytes.map((b) => (b === 0x0a || b === 0x0d ? 0x20 : b)));

const line: fc.Arbitrary<Line> = fc.oneof(
  { arbitrary: fc.tuple(validLine, fc.constantFrom(' ', ' ', '  ', '\t')).map(([v, sep]) => ({ text: v.tokens.join(sep), expected: v.expected })), weight: 10 },
  { arbitrary: fc.tuple(validLine, fc.nat()).map(([v, k]) => ({ text: v.tokens.filter((_, i) => i !== k % v.tokens.length).join(' ') })), weight: 2 },
  { arbitrary: fc.tuple(validLine, fc.nat(), fc.constantFrom('x', '1.2.3', '"', '""a', ':80', '-5x', '€')).map(([v, k, junk]) => ({ text: v.tokens.map((t, i) => (i === k % v.tokens.length ? junk : t)).join(' ') })), weight: 3 },
  { arbitrary: fc.tuple(validLine, fc.nat()).map(([v, k]) => ({ text: v.tokens.join(' ').slice(0, k % 500) })), weight: 2 },
  { arbitrary: randomBytes.map((text) => ({ text })), weight: 1 },
  { arbitrary: fc.constantFrom('', ' ', '\t').map((text) => ({ text })), weight: 1 },
  { arbitrary: validLine.map((v) => ({ text: `${v.tokens.join(' ')} "${'€'.repeat(MAX_LINE_BYTES / 2)}"` })), weight: 1 },
);

const decode = (bytes: Buffer, cuts: number[]) => decodeChunked(albFormat({ lines: { maxLineBytes: MAX_LINE_BYTES, batchLines: 5 } }), bytes, cuts, 'alb.log');

describe('alb format properties', () => {
  it('accounts for every line, decodes valid lines exactly, and ignores chunking', async () => {
    const input = fc.record({ lines: fc.array(line, { maxLength: 12 }), crlf: fc.boolean(), finalNewline: fc.boolean(), cuts: fc.array(fc.nat(8000), { maxLength: 12 }) });
    await fc.assert(
      fc.asyncProperty(input, async ({ lines, crlf, finalNewline, cuts }) => {
        // Prepare
        const { bytes, texts } = joinLines(lines, crlf, finalNewline);

        // Act
        const whole = await decode(bytes, []);
        const cut = await decode(bytes, cuts);

        // Assess
        assert.deepEqual(cut, whole);
        const outcomes = [...whole.records.map((r) => r.origin.line), ...whole.rejects.map((r) => r.origin.line)].sort((a, b) => a - b);
        assert.deepEqual(outcomes, texts.flatMap((t, i) => (isBlank(t) ? [] : [i + 1])));
        for (const r of whole.records) assert.equal(r.id, `p-${r.origin.line}`);
        lines.forEach((l, i) => {
          if (l.expected === undefined) return;
          const record = whole.records.find((r) => r.origin.line === i + 1);
          const reject = whole.rejects.find((r) => r.origin.line === i + 1);
          assert.ok(record, `valid line ${i + 1} rejected: ${reject?.reason}\n${texts[i]}`);
          assert.deepEqual(record.fields, l.expected.fields);
          assert.equal(record.time, l.expected.time);
        });
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('never throws on arbitrary bytes cut anywhere', async () => {
    const input = fc.record({
      pieces: fc.array(fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.constantFrom('\n', '"', '\\', ' - ', 'http 2018-07-02T22:23:00.186641Z ', '1.2.3.4:80 ', '€').map((s) => Buffer.from(s))), { maxLength: 40 }),
      cuts: fc.array(fc.nat(2000), { maxLength: 12 }),
    });
    await fc.assert(
      fc.asyncProperty(input, async ({ pieces, cuts }) => {
        // Prepare
        const bytes = Buffer.concat(pieces.map((p) => Buffer.from(p)));
        let text = bytes.toString('utf8');
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        const lines = text === '' ? [] : text.split('\n');
        if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();

        // Act
        const whole = await decode(bytes, []);
        const cut = await decode(bytes, cuts);

        // Assess
        assert.deepEqual(cut, whole);
        assert.equal(whole.records.length + whole.rejects.length, lines.filter((l) => !isBlank(l)).length);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
