/**
 * Property tests of the vpcflow format over generated and mutated flow logs: decoding never
 * throws, every data line becomes exactly one record or one reject, untouched valid lines decode
 * to exactly the values they were generated from, and the output does not depend on how the
 * bytes were chunked (including cuts inside multi-byte characters).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Rejection, SluiceRecord } from '../../core/record.js';
import { DEFAULT_FIELDS, FieldKind, KNOWN_FIELDS } from './fields.js';
import { vpcflowFormat } from './index.js';
import { fuzzRuns } from '../../testing/fuzz.js';
import { decodeChunked, joinLines } from '../../testing/line-format-properties.js';

const MAX_LINE_BYTES = 4096;
const NUM_RUNS = fuzzRuns(500);

type Value = string | number | null;

/** One generated line, and what the decoder must make of it if it is still valid. */
interface Item {
  text: string | Uint8Array;
  /** Set for header lines: the new field order. */
  header?: string[];
  /** Set for untouched data lines: the record fields expected, by AWS name. */
  valid?: Map<string, Value>;
}

interface Decoded {
  records: SluiceRecord[];
  rejects: Rejection[];
}

const KNOWN_NAMES = [...KNOWN_FIELDS.keys()];
const kindOf = (name: string): FieldKind => KNOWN_FIELDS.get(name) ?? FieldKind.String;

const WORD_START = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'];
const WORD_REST = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:/.-'];
const wordValue = fc
  .tuple(fc.constantFrom(...WORD_START), fc.string({ unit: fc.constantFrom(...WORD_REST), maxLength: 20 }))
  .map(([first, rest]) => first + rest);

/** A value for a field of the given kind, as text and as the decoded value. */
function valueArbitrary(kind: FieldKind): fc.Arbitrary<[string, Value]> {
  const absent = fc.constant<[string, Value]>(['-', null]);
  if (kind === FieldKind.Integer) {
    return fc.oneof(
      { arbitrary: fc.integer({ min: 0, max: 2 ** 40 }).map((n): [string, Value] => [String(n), n]), weight: 8 },
      { arbitrary: absent, weight: 1 },
    );
  }
  if (kind === FieldKind.Ip) {
    return fc.oneof(
      { arbitrary: fc.ipV4().map((ip): [string, Value] => [ip, ip]), weight: 6 },
      { arbitrary: fc.ipV6().map((ip): [string, Value] => [ip, ip]), weight: 2 },
      { arbitrary: absent, weight: 1 },
    );
  }
  // Strings never start with a lower-case letter here, so a valid data line is never header-like.
  return fc.oneof(
    { arbitrary: wordValue.map((s): [string, Value] => [s, s]), weight: 8 },
    { arbitrary: absent, weight: 1 },
  );
}

function validLine(order: string[]): fc.Arbitrary<{ tokens: string[]; values: Map<string, Value> }> {
  return fc.tuple(...order.map((name) => valueArbitrary(kindOf(name)))).map((pairs) => ({
    tokens: pairs.map(([text]) => text),
    values: new Map(order.map((name, i) => [name, pairs[i][1]])),
  }));
}

const separator = fc.oneof({ arbitrary: fc.constant(' '), weight: 10 }, { arbitrary: fc.constantFrom('  ', '\t', ' \t '), weight: 1 });

function joinTokens(tokens: string[], seps: string[]): string {
  return tokens.map((t, i) => (i === 0 ? t : `${seps[i % seps.length] ?? ' '}${t}`)).join('');
}

const headerOrder: fc.Arbitrary<string[]> = fc.oneof(
  fc.constant<string[]>([...DEFAULT_FIELDS]),
  fc.shuffledSubarray(KNOWN_NAMES, { minLength: 1, maxLength: 12 }).map((names) => [...names]),
  fc.tuple(fc.shuffledSubarray(KNOWN_NAMES, { minLength: 1, maxLength: 6 }), fc.constantFrom('future-field', 'x-new-thing')).map(
    ([names, extra]) => [...names, extra],
  ),
);

const headerItem: fc.Arbitrary<Item> = fc.tuple(headerOrder, fc.boolean(), fc.array(separator, { minLength: 1, maxLength: 3 })).map(
  ([order, underscores, seps]) => ({
    text: joinTokens(underscores ? order.map((n) => n.replaceAll('-', '_')) : order, seps),
    header: order,
  }),
);

/** Random bytes without line breaks (so one item stays one line), often invalid UTF-8. */
const randomBytes = fc.uint8Array({ maxLength: 60 }).map((bytes) => bytes.map((b) => (b === 0x0a || b === 0x0d ? 0x20 : b)));
const randomText = fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, ' '));

/** Items for a segment under one field order: valid lines and mutations of them. */
function dataItem(order: string[]): fc.Arbitrary<Item> {
  const line = fc.tuple(validLine(order), fc.array(separator, { minLength: 1, maxLength: 3 }));
  return fc.oneof(
    { arbitrary: line.map(([{ tokens, values }, seps]) => ({ text: joinTokens(tokens, seps), valid: values })), weight: 10 },
    // a field dropped
    { arbitrary: fc.tuple(line, fc.nat()).map(([[{ tokens }, seps], k]) => ({ text: joinTokens(tokens.filter((_, i) => i !== k % tokens.length), seps) })), weight: 2 },
    // a field duplicated
    { arbitrary: fc.tuple(line, fc.nat()).map(([[{ tokens }, seps], k]) => ({ text: joinTokens(tokens.flatMap((t, i) => (i === k % tokens.length ? [t, t] : [t])), seps) })), weight: 2 },
    // a field garbled
    {
      arbitrary: fc.tuple(line, fc.nat(), fc.oneof(randomText, fc.constantFrom('x', '1.2.3', '-5', '+5', '1e3', '€', '::', '300.1.1.1'))).map(([[{ tokens }, seps], k, garbage]) => ({
        text: joinTokens(tokens.map((t, i) => (i === k % tokens.length ? garbage.replace(/\s/g, '') || 'x' : t)), seps),
      })),
      weight: 3,
    },
    { arbitrary: randomBytes.map((bytes) => ({ text: bytes })), weight: 1 },
    { arbitrary: randomText.map((text) => ({ text })), weight: 1 },
    { arbitrary: fc.constantFrom('', ' ', '\t', '  \t ').map((text) => ({ text })), weight: 1 },
    // huge lines, over the cap
    { arbitrary: fc.tuple(line, fc.integer({ min: MAX_LINE_BYTES, max: 3 * MAX_LINE_BYTES })).map(([[{ tokens }], pad]) => ({ text: `${tokens.join(' ')} ${'€'.repeat(pad / 3)}` })), weight: 1 },
  );
}

/** A flow log: segments, each opened by a header line except perhaps the first. */
const document: fc.Arbitrary<Item[]> = fc
  .tuple(fc.boolean(), fc.array(headerItem, { minLength: 1, maxLength: 3 }))
  .chain(([firstHasHeader, headers]) =>
    fc.tuple(
      ...headers.map((header, i) => {
        const withHeader = i > 0 || firstHasHeader;
        // Lines before any header follow the default format.
        const order = withHeader ? header.header! : [...DEFAULT_FIELDS];
        return fc.array(dataItem(order), { maxLength: 12 }).map((items) => (withHeader ? [header, ...items] : items));
      }),
    ),
  )
  .map((segments) => segments.flat());

/** The records and rejections of `bytes` read in chunks cut at `cuts` (small batches, to cross batch edges). */
function decode(bytes: Buffer, cuts: number[]): Promise<Decoded> {
  return decodeChunked(vpcflowFormat({ lines: { maxLineBytes: MAX_LINE_BYTES, batchLines: 7 } }), bytes, cuts, 'doc');
}

/** Independent (regex-based) statement of the header rule, used as the oracle. */
function looksLikeHeader(line: string): boolean {
  const tokens = line.split(/[ \t\v\f\r]+/).filter((t) => t !== '');
  return tokens.length > 0 && tokens.every((t) => /^[a-z][a-z0-9_-]*$/.test(t)) && tokens.some((t) => KNOWN_FIELDS.has(t.replaceAll('_', '-')));
}

const isBlank = (line: string): boolean => /^[ \t\v\f\r]*$/.test(line);

describe('vpcflow format properties', () => {
  it('accounts for every line, decodes valid lines exactly, and ignores chunking', async () => {
    const input = fc.record({
      items: document,
      crlf: fc.boolean(),
      finalNewline: fc.boolean(),
      cuts: fc.array(fc.nat(4000), { maxLength: 10 }),
    });

    await fc.assert(
      fc.asyncProperty(input, async ({ items, crlf, finalNewline, cuts }) => {
        // Prepare
        // Lines as the decoder sees them (items hold no line breaks, so item i is line i + 1).
        const { bytes, texts } = joinLines(items, crlf, finalNewline);

        // Act
        const whole = await decode(bytes, []);
        const cut = await decode(bytes, cuts);

        // Assess: chunking does not matter
        assert.deepEqual(cut, whole);

        // Assess: each data line is exactly one record or one reject; blank and header lines neither
        const outcome = new Map<number, 'record' | Rejection>();
        for (const r of whole.records) {
          assert.equal(outcome.has(r.origin.line), false, `line ${r.origin.line} twice`);
          assert.equal(r.id, `p-${r.origin.line}`);
          outcome.set(r.origin.line, 'record');
        }
        for (const r of whole.rejects) {
          assert.equal(outcome.has(r.origin.line), false, `line ${r.origin.line} twice`);
          assert.ok((r.raw ?? '').length <= 4096);
          outcome.set(r.origin.line, r);
        }
        let planKnown = true;
        let plan: string[] = [...DEFAULT_FIELDS];
        texts.forEach((text, i) => {
          const line = i + 1;
          const got = outcome.get(line);
          if (Buffer.byteLength(text) > MAX_LINE_BYTES) {
            assert.ok(got !== undefined && got !== 'record' && got.code === 'LINE_TOO_LONG', `line ${line} should be too long`);
            return;
          }
          if (isBlank(text)) {
            assert.equal(got, undefined, `blank line ${line}`);
            return;
          }
          if (looksLikeHeader(text)) {
            assert.equal(got, undefined, `header line ${line}`);
            const item = items[i];
            if (item.header) plan = item.header;
            else planKnown = false; // a garbled line that happens to look like a header
            return;
          }
          assert.ok(got !== undefined, `data line ${line} neither record nor reject: ${JSON.stringify(text)}`);
          const expected = items[i].valid;
          if (planKnown && expected !== undefined && [...expected.keys()].join(' ') === plan.join(' ')) {
            const record = whole.records.find((r) => r.origin.line === line);
            assert.ok(record, `valid line ${line} rejected: ${got === 'record' ? '' : got.reason}`);
            assert.deepEqual(record.fields, Object.fromEntries([...expected].map(([name, value]) => [name.replaceAll('-', '_'), value])));
            const seconds = (expected.get('start') ?? expected.get('end') ?? null) as number | null;
            assert.equal(record.time, seconds === null ? undefined : seconds * 1000);
          }
        });
        assert.equal(whole.records.length + whole.rejects.length, outcome.size);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('never throws on arbitrary bytes cut anywhere, and accounts for every non-blank line', async () => {
    const input = fc.record({
      bytes: fc.array(fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.constantFrom('\n', '\r\n', 'version srcaddr\n', '€', '😀', '2 - -').map((s) => Buffer.from(s))), { maxLength: 40 }),
      cuts: fc.array(fc.nat(2000), { maxLength: 12 }),
    });

    await fc.assert(
      fc.asyncProperty(input, async ({ bytes: pieces, cuts }) => {
        // Prepare
        const bytes = Buffer.concat(pieces.map((p) => Buffer.from(p)));
        let text = bytes.toString('utf8');
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        const lines = text === '' ? [] : text.split('\n');
        if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
        const dataLines = lines.filter((l) => Buffer.byteLength(l) > MAX_LINE_BYTES || (!isBlank(l) && !looksLikeHeader(l))).length;

        // Act
        const whole = await decode(bytes, []);
        const cut = await decode(bytes, cuts);

        // Assess
        assert.deepEqual(cut, whole);
        assert.equal(whole.records.length + whole.rejects.length, dataLines);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
