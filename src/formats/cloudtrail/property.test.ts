/**
 * Property tests of the cloudtrail format over generated delivery files and NDJSON, whole,
 * damaged and cut at random byte positions: decoding never throws, the output does not depend on
 * the chunking, every element or line is accounted for exactly once (record, reject or filtered),
 * valid events come out exactly as they went in, and damage never duplicates a record.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Rejection, SluiceRecord } from '../../core/record.js';
import { CLOUDTRAIL_REJECT_CODES, cloudtrailFormat, type CloudtrailOptions } from './index.js';
import { fuzzRuns } from '../../testing/fuzz.js';
import { chunkedAt } from '../../testing/line-format-properties.js';

const NUM_RUNS = fuzzRuns(300);

interface Decoded {
  records: SluiceRecord[];
  rejects: Rejection[];
  filtered: number;
}

async function decode(bytes: Buffer, cuts: number[], options: CloudtrailOptions = {}): Promise<Decoded> {
  const out: Decoded = { records: [], rejects: [], filtered: 0 };
  const format = cloudtrailFormat({ batchRecords: 4, ...options });
  for await (const batch of format.decode(chunkedAt(bytes, cuts), { object: { uri: 'mem://trail.json', key: 'trail.json' }, idPrefix: 'p' })) {
    out.records.push(...batch.records);
    out.rejects.push(...batch.rejects);
    out.filtered += batch.filtered ?? 0;
  }
  return out;
}

// Strings full of what a scanner can trip on: quotes, backslashes, brackets, separators,
// non-ASCII (two-byte and surrogate pairs), control characters.
const trickyText = fc.string({ unit: fc.constantFrom('a', 'Z', '0', ' ', '"', '\\', '{', '}', '[', ']', ',', ':', '\n', 'é', '😀', '\u0000', '\u2028', '/'), maxLength: 10 });
const leaf = fc.oneof(trickyText, fc.integer(), fc.constantFrom(0.5, -1, 1e21, 3.25), fc.boolean(), fc.constant(null));
const { value: nestedValue } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(trickyText, tie('value'), { maxKeys: 3 })),
}));
const eventTime = fc.oneof(
  fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2040-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().replace('.000Z', 'Z')),
  fc.constantFrom('2025-10-21TT00:52:27Z', ''),
);
/** A CloudTrail-like event, normalised through JSON so it compares equal to what JSON.parse gives. */
const event = fc
  .record({
    eventVersion: fc.constantFrom('1.05', '1.08', '1.11'),
    eventTime,
    eventName: trickyText,
    userIdentity: fc.dictionary(trickyText, nestedValue, { maxKeys: 3 }),
    requestParameters: nestedValue,
  })
  .map((e) => JSON.parse(JSON.stringify(e)) as Record<string, unknown>);

/** One element of a Records array, and whether it must become a record. */
interface Item {
  text: string;
  value?: Record<string, unknown>;
}

const indent = fc.constantFrom<number | undefined>(undefined, undefined, 2, 4);
const validItem: fc.Arbitrary<Item> = fc.tuple(event, indent).map(([value, space]) => ({ text: JSON.stringify(value, null, space), value }));
// Balanced but invalid, or valid JSON that is not an event: each must be one rejection.
const badItem: fc.Arbitrary<Item> = fc.oneof(
  fc.constantFrom('{"eventVersion":"1",,"x":1}', '{"eventVersion": tru}', '{"a":1 "b":2}', '{"x":[1,2}]', '{"eventTime":"x" "y"}').map((text) => ({ text })),
  fc.constantFrom('42', 'true', 'null', '"text"', '[{"eventVersion":"1"}]', '{}', '{"Service":"Amazon S3"}').map((text) => ({ text })),
);
const item = fc.oneof({ arbitrary: validItem, weight: 5 }, { arbitrary: badItem, weight: 1 });
const separator = fc.constantFrom(',', ', ', ',\n    ', '\n    ,', '\n    ,\n        ', ' \t,\r\n');

interface Document {
  bytes: Buffer;
  items: Item[];
}

const document: fc.Arbitrary<Document> = fc
  .record({
    items: fc.array(item, { maxLength: 8 }),
    separators: fc.array(separator, { minLength: 8, maxLength: 8 }),
    lead: fc.constantFrom('', ' ', '\n', '\ufeff', '\ufeff\n  '),
    open: fc.constantFrom('{"Records":[', '{\n  "Records": [\n', '{ "Records" :[', '{"other":{"Records":1},"Records":['),
    close: fc.constantFrom(']}', '\n  ]\n}\n', '],"tail":[1,"]"]}'),
  })
  .map(({ items, separators, lead, open, close }) => ({
    items,
    bytes: Buffer.from(`${lead}${open}${items.map((it, i) => (i === 0 ? it.text : `${separators[i]}${it.text}`)).join('')}${close}`, 'utf8'),
  }));

const cuts = fc.array(fc.nat(3000), { maxLength: 12 });

function assertNoDuplicates(decoded: Decoded): void {
  const seen = new Set(decoded.records.map((r) => r.id));
  assert.equal(seen.size, decoded.records.length, 'a record id appears twice');
  for (const r of decoded.records) assert.equal(r.id, `p-${r.origin.line}`);
}

describe('cloudtrail format properties', () => {
  it('delivery files: every element is one record or one reject, valid events exact, chunking irrelevant', async () => {
    await fc.assert(
      fc.asyncProperty(document, cuts, async ({ bytes, items }, cutAt) => {
        // Act
        const whole = await decode(bytes, []);
        const cut = await decode(bytes, cutAt);

        // Assess
        assert.deepEqual(cut, whole);
        assert.equal(whole.filtered, 0);
        assert.equal(whole.records.length + whole.rejects.length, items.length);
        assertNoDuplicates(whole);
        items.forEach((it, i) => {
          const ordinal = i + 1;
          const record = whole.records.find((r) => r.origin.line === ordinal);
          if (it.value === undefined) {
            const reject = whole.rejects.find((r) => r.origin.line === ordinal);
            assert.ok(record === undefined && reject?.code === CLOUDTRAIL_REJECT_CODES.badRecord, `item ${ordinal} should be rejected: ${it.text}`);
            return;
          }
          assert.ok(record, `item ${ordinal} should be a record`);
          assert.deepEqual(record.fields, it.value);
          const time = Date.parse(String(it.value.eventTime));
          assert.equal(record.time, Number.isNaN(time) ? undefined : time);
        });
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('truncated anywhere: the records before the cut survive, unduplicated, and the file is rejected once', async () => {
    const input = fc.record({ doc: document, at: fc.nat(), cutAt: cuts });
    await fc.assert(
      fc.asyncProperty(input, async ({ doc, at, cutAt }) => {
        // Prepare
        const full = await decode(doc.bytes, []);
        const length = at % (doc.bytes.length + 1);
        const truncated = doc.bytes.subarray(0, length);

        // Act
        const whole = await decode(truncated, []);
        const cut = await decode(truncated, cutAt);

        // Assess
        assert.deepEqual(cut, whole);
        assertNoDuplicates(whole);
        const complete = truncated.toString('utf8').trimEnd().endsWith('}') && length > 0 && whole.rejects.every((r) => r.origin.line !== 0);
        if (complete) {
          // Cut only in the trailing whitespace: the whole document is there.
          assert.deepEqual(whole, full);
          return;
        }
        // Records: exactly those of the full decoding that were complete before the cut.
        assert.deepEqual(whole.records, full.records.slice(0, whole.records.length));
        const fileLevel = whole.rejects.filter((r) => r.origin.line === 0);
        assert.equal(fileLevel.length, 1, JSON.stringify(whole.rejects));
        assert.ok(
          [CLOUDTRAIL_REJECT_CODES.truncated, CLOUDTRAIL_REJECT_CODES.noRecords, CLOUDTRAIL_REJECT_CODES.badJson].includes(fileLevel[0].code as never),
          fileLevel[0].code,
        );
        // Element-level rejects are those of the full decoding, for the same elements.
        const elementRejects = whole.rejects.filter((r) => r.origin.line !== 0);
        assert.deepEqual(elementRejects, full.rejects.slice(0, elementRejects.length));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('mutated bytes: never throws, chunking irrelevant, ids unique and tied to ordinals', async () => {
    const mutation = fc.oneof(
      fc.tuple(fc.constant('set' as const), fc.nat(), fc.integer({ min: 0, max: 255 })),
      fc.tuple(fc.constant('delete' as const), fc.nat(), fc.integer({ min: 1, max: 20 })),
      fc.tuple(fc.constant('insert' as const), fc.nat(), fc.constantFrom('"', '\\', '{', '}', ']', ',', '\n', '\xff', 'null')),
    );
    const input = fc.record({ doc: document, mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }), cutAt: cuts });
    await fc.assert(
      fc.asyncProperty(input, async ({ doc, mutations, cutAt }) => {
        // Prepare
        let bytes = Buffer.from(doc.bytes);
        for (const [kind, position, arg] of mutations) {
          const at = bytes.length === 0 ? 0 : position % bytes.length;
          if (kind === 'set' && bytes.length > 0) bytes[at] = arg as number;
          else if (kind === 'delete') bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + (arg as number))]);
          else if (kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(arg as string, 'latin1'), bytes.subarray(at)]);
        }

        // Act
        const whole = await decode(bytes, []);
        const cut = await decode(bytes, cutAt);

        // Assess
        assert.deepEqual(cut, whole);
        assertNoDuplicates(whole);
        for (const r of whole.rejects) assert.ok((r.raw ?? '').length <= 4096);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('NDJSON: every non-blank line is one record, reject or filtered digest; valid lines exact', async () => {
    const line = fc.oneof(
      { arbitrary: event.map((value) => ({ text: JSON.stringify(value), value, kind: 'event' as const })), weight: 6 },
      { arbitrary: fc.constant({ text: '{"digestStartTime":"2020-09-11T18:36:49Z","logFiles":[]}', kind: 'digest' as const }), weight: 1 },
      {
        arbitrary: fc.constantFrom('not json', '{"eventVersion":', '[1,2]', '{"Records":[]}', '{"messageType":"DATA_MESSAGE","logEvents":[]}', '\ufffd\u0001').map((text) => ({ text, kind: 'bad' as const })),
        weight: 1,
      },
      { arbitrary: fc.constantFrom('', '  ', '\t').map((text) => ({ text, kind: 'blank' as const })), weight: 1 },
    );
    const input = fc.record({
      first: event,
      lines: fc.array(line, { maxLength: 10 }),
      crlf: fc.boolean(),
      finalNewline: fc.boolean(),
      explicit: fc.boolean(),
      cutAt: cuts,
    });
    await fc.assert(
      fc.asyncProperty(input, async ({ first, lines, crlf, finalNewline, explicit, cutAt }) => {
        // Prepare: a first line that is one event, so auto mode reads NDJSON
        const all = [{ text: JSON.stringify(first), value: first, kind: 'event' as const }, ...lines];
        const eol = crlf ? '\r\n' : '\n';
        const bytes = Buffer.from(all.map((l) => l.text).join(eol) + (finalNewline ? eol : ''), 'utf8');
        const options: CloudtrailOptions = explicit ? { mode: 'ndjson' } : {};

        // Act
        const whole = await decode(bytes, [], options);
        const cut = await decode(bytes, cutAt, options);

        // Assess
        assert.deepEqual(cut, whole);
        assertNoDuplicates(whole);
        const counted = all.filter((l) => l.kind !== 'blank');
        assert.equal(whole.records.length + whole.rejects.length + whole.filtered, counted.length);
        assert.equal(whole.filtered, all.filter((l) => l.kind === 'digest').length);
        all.forEach((l, i) => {
          const lineNumber = i + 1;
          const record = whole.records.find((r) => r.origin.line === lineNumber);
          if (l.kind === 'event') assert.deepEqual(record?.fields, l.value, `line ${lineNumber}`);
          else assert.equal(record, undefined, `line ${lineNumber} (${l.kind}) must not be a record`);
        });
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('arbitrary bytes in any mode: never throws and the chunking does not matter', async () => {
    const input = fc.record({
      pieces: fc.array(
        fc.oneof(fc.uint8Array({ maxLength: 30 }), fc.constantFrom('{"Records":[', '{"eventVersion":"1"}', ']}', '\n', '"', '\\', '\ufeff', '😀').map((s) => Buffer.from(s))),
        { maxLength: 30 },
      ),
      mode: fc.constantFrom<CloudtrailOptions['mode']>('auto', 'records', 'ndjson'),
      cutAt: cuts,
    });
    await fc.assert(
      fc.asyncProperty(input, async ({ pieces, mode, cutAt }) => {
        // Prepare
        const bytes = Buffer.concat(pieces.map((p) => Buffer.from(p)));

        // Act
        const whole = await decode(bytes, [], { mode });
        const cut = await decode(bytes, cutAt, { mode });

        // Assess
        assert.deepEqual(cut, whole);
        assertNoDuplicates(whole);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
