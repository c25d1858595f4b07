/**
 * What the line formats' tests share: an input cut into chunks at arbitrary offsets or of one
 * size, a whole decode into records and rejects, generated lines joined into an object's bytes with
 * the texts the decoder should see for them, and, for the formats that make one record or one
 * reject of every non-blank line (`alb`, `s3access`), their mutated lines and their properties.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import type { DecodeContext, Format } from '../core/component.js';
import type { Rejection, SluiceRecord } from '../core/record.js';

/** `bytes` as chunks cut at `cuts` (out-of-range and repeated cuts ignored). */
export async function* chunkedAt(bytes: Buffer, cuts: number[]): AsyncIterable<Uint8Array> {
  let from = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (cut <= from || cut >= bytes.length) continue;
    yield bytes.subarray(from, cut);
    from = cut;
  }
  if (from < bytes.length) yield bytes.subarray(from);
}

/** Every record and rejection `format` makes of `bytes` read in chunks cut at `cuts`. */
export async function decodeChunked(format: Format, bytes: Buffer, cuts: number[], name: string): Promise<{ records: SluiceRecord[]; rejects: Rejection[] }> {
  const records: SluiceRecord[] = [];
  const rejects: Rejection[] = [];
  for await (const batch of format.decode(chunkedAt(bytes, cuts), { object: { uri: `mem://${name}`, key: name }, idPrefix: 'p' })) {
    records.push(...batch.records);
    rejects.push(...batch.rejects);
  }
  return { records, rejects };
}

/** Every record and rejection `format` makes of `bytes` (a string as UTF-8) read in chunks of `chunkSize` bytes. */
export async function decodeInChunks(format: Format, bytes: Uint8Array | string, ctx: DecodeContext, chunkSize = 64 * 1024): Promise<{ records: SluiceRecord[]; rejects: Rejection[] }> {
  const input = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  async function* chunks(): AsyncIterable<Uint8Array> {
    for (let i = 0; i < input.length; i += chunkSize) yield input.subarray(i, i + chunkSize);
  }
  const records: SluiceRecord[] = [];
  const rejects: Rejection[] = [];
  for await (const batch of format.decode(chunks(), ctx)) {
    records.push(...batch.records);
    rejects.push(...batch.rejects);
  }
  return { records, rejects };
}

/**
 * The object's bytes for generated lines, and the text of each line as the splitter yields it (a
 * leading BOM dropped; no last empty line without a final newline).
 */
export function joinLines(lines: ReadonlyArray<{ text: string | Uint8Array }>, crlf: boolean, finalNewline: boolean): { bytes: Buffer; texts: string[] } {
  const eol = Buffer.from(crlf ? '\r\n' : '\n');
  const parts: Buffer[] = [];
  lines.forEach((l, i) => {
    parts.push(typeof l.text === 'string' ? Buffer.from(l.text, 'utf8') : Buffer.from(l.text));
    if (i < lines.length - 1 || finalNewline) parts.push(eol);
  });
  const texts = lines.map((l) => (typeof l.text === 'string' ? l.text : Buffer.from(l.text).toString('utf8')));
  if (texts.length > 0 && texts[0]!.charCodeAt(0) === 0xfeff) texts[0] = texts[0]!.slice(1);
  if (!finalNewline && texts.length > 0 && texts[texts.length - 1] === '') texts.pop();
  return { bytes: Buffer.concat(parts), texts };
}

export const isBlank = (text: string): boolean => /^[ \t\r]*$/.test(text);

/** What a record of an untouched valid line must be. */
export interface ExpectedRecord {
  fields: Record<string, unknown>;
  time: number;
}

/** A generated line; `expected` is set on untouched valid lines only. */
export interface GeneratedLine {
  text: string | Uint8Array;
  expected?: ExpectedRecord;
}

export interface SpaceSeparatedLines {
  /** Valid lines as their fields' texts, and the record each must give. */
  valid: fc.Arbitrary<{ tokens: string[]; expected: ExpectedRecord }>;
  /** What an untouched line's fields are joined with. */
  separator: fc.Arbitrary<string>;
  /** Texts that replace one field of a garbled line. */
  junk: string[];
  /** A cut-off line keeps fewer than this many characters. */
  cutWithin: number;
  /** The line length cap the format is decoded with: one line in a while is longer. */
  maxLineBytes: number;
}

/**
 * Lines of a space-separated format: mostly untouched valid ones, else a field dropped, a field
 * replaced by junk, a line cut off, random bytes, blank, or a line over the length cap.
 */
export function spaceSeparatedLines(options: SpaceSeparatedLines): fc.Arbitrary<GeneratedLine> {
  const { valid, separator, junk, cutWithin, maxLineBytes } = options;
  const randomBytes = fc.uint8Array({ maxLength: 80 }).map((bytes) => bytes.map((b) => (b === 0x0a || b === 0x0d ? 0x20 : b)));
  return fc.oneof(
    { arbitrary: fc.tuple(valid, separator).map(([v, sep]) => ({ text: v.tokens.join(sep), expected: v.expected })), weight: 10 },
    { arbitrary: fc.tuple(valid, fc.nat()).map(([v, k]) => ({ text: v.tokens.filter((_, i) => i !== k % v.tokens.length).join(' ') })), weight: 2 },
    { arbitrary: fc.tuple(valid, fc.nat(), fc.constantFrom(...junk)).map(([v, k, text]) => ({ text: v.tokens.map((t, i) => (i === k % v.tokens.length ? text : t)).join(' ') })), weight: 3 },
    { arbitrary: fc.tuple(valid, fc.nat()).map(([v, k]) => ({ text: v.tokens.join(' ').slice(0, k % cutWithin) })), weight: 2 },
    { arbitrary: randomBytes.map((text) => ({ text })), weight: 1 },
    { arbitrary: fc.constantFrom('', ' ', '\t').map((text) => ({ text })), weight: 1 },
    { arbitrary: valid.map((v) => ({ text: `${v.tokens.join(' ')} "${'€'.repeat(maxLineBytes / 2)}"` })), weight: 1 },
  );
}

export interface LineRecordProperties {
  /** Decodes an object's bytes read in chunks cut at `cuts` (ids prefixed `p`). */
  decode: (bytes: Buffer, cuts: number[]) => Promise<{ records: SluiceRecord[]; rejects: Rejection[] }>;
  /** One line of a generated object. */
  line: fc.Arbitrary<GeneratedLine>;
  /** Cuts fall below this offset. */
  maxCut: number;
  /** Pieces of the format's syntax mixed into arbitrary bytes. */
  syntax: string[];
  numRuns: number;
}

/**
 * The properties of a format that makes one record (id `p-<line>`) or one reject of every
 * non-blank line: it accounts for every line, decodes untouched valid lines exactly, ignores
 * chunking, and never throws, whatever the bytes. Call inside the format's `describe`.
 */
export function lineRecordProperties(options: LineRecordProperties): void {
  const { decode, line, maxCut, syntax, numRuns } = options;

  it('accounts for every line, decodes valid lines exactly, and ignores chunking', async () => {
    const input = fc.record({ lines: fc.array(line, { maxLength: 12 }), crlf: fc.boolean(), finalNewline: fc.boolean(), cuts: fc.array(fc.nat(maxCut), { maxLength: 12 }) });
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
      { numRuns },
    );
  });

  it('never throws on arbitrary bytes cut anywhere', async () => {
    const input = fc.record({
      pieces: fc.array(fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.constantFrom(...syntax).map((s) => Buffer.from(s))), { maxLength: 40 }),
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
      { numRuns },
    );
  });
}
