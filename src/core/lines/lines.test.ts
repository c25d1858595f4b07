import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { splitLines, type LineBatch, type SplitLinesOptions } from './lines.js';
import { fuzzRuns } from '../../testing/fuzz.js';

/** Feeds `bytes` as chunks cut at the given offsets. */
async function* chunked(bytes: Uint8Array, cuts: number[] = []): AsyncIterable<Uint8Array> {
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    if (cut <= from || cut >= bytes.length) continue;
    yield bytes.subarray(from, cut);
    from = cut;
  }
  if (from < bytes.length) yield bytes.subarray(from);
}

async function* fixedChunks(bytes: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

interface Collected {
  lines: string[];
  oversized: number[];
  batches: LineBatch[];
}

async function collect(input: AsyncIterable<Uint8Array>, options?: SplitLinesOptions): Promise<Collected> {
  const batches: LineBatch[] = [];
  for await (const batch of splitLines(input, options)) batches.push(batch);
  return {
    batches,
    lines: batches.flatMap((b) => b.lines),
    oversized: batches.flatMap((b) => [...b.oversized]).sort((a, b) => a - b),
  };
}

/** What the splitter must produce for input without over-long lines: decode all, then split. */
function expectedLines(bytes: Uint8Array): string[] {
  let text = Buffer.from(bytes).toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
}

const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');

describe('splitLines', () => {
  it('splits on \\n and \\r\\n and keeps a final line without a newline', async () => {
    // Prepare
    const input = utf8('first\r\nsecond\n\nfourth\r\nlast without newline');

    // Act
    const { lines, batches } = await collect(chunked(input));

    // Assess
    assert.deepEqual(lines, ['first', 'second', '', 'fourth', 'last without newline']);
    assert.equal(batches[0].firstLine, 1);
  });

  it('adds no empty line after a final newline, and an empty input has no lines', async () => {
    // Prepare
    const endsWithNewline = utf8('a\nb\n');
    const onlyNewline = utf8('\n');

    // Act
    const a = await collect(chunked(endsWithNewline));
    const b = await collect(chunked(onlyNewline));
    const c = await collect(chunked(new Uint8Array(0)));

    // Assess
    assert.deepEqual(a.lines, ['a', 'b']);
    assert.deepEqual(b.lines, ['']);
    assert.deepEqual(c.batches, []);
  });

  it('drops only one \\r before the newline and keeps a lone \\r inside a line', async () => {
    // Prepare
    const input = utf8('a\r\r\nb\rc\n');

    // Act
    const { lines } = await collect(chunked(input));

    // Assess
    assert.deepEqual(lines, ['a\r', 'b\rc']);
  });

  it('decodes multi-byte characters split across chunks at every possible boundary', async () => {
    // Prepare: 2-, 3- and 4-byte UTF-8 sequences, and a \r\n cut between \r and \n
    const text = 'héllo wörld\r\n€uro ✓ ok\n𝄞 clef 😀\nplain';
    const bytes = utf8(text);

    for (let cut = 1; cut < bytes.length; cut++) {
      // Act
      const { lines } = await collect(chunked(bytes, [cut]));

      // Assess
      assert.deepEqual(lines, ['héllo wörld', '€uro ✓ ok', '𝄞 clef 😀', 'plain'], `cut at byte ${cut}`);
    }
  });

  it('decodes one byte at a time', async () => {
    // Prepare
    const bytes = utf8('a€b\n😀\r\nz');

    // Act
    const { lines } = await collect(fixedChunks(bytes, 1));

    // Assess
    assert.deepEqual(lines, ['a€b', '😀', 'z']);
  });

  it('turns invalid UTF-8 into replacement characters without throwing', async () => {
    // Prepare: a lone continuation byte, a truncated 3-byte sequence, an invalid lead byte, and
    // a truncated sequence at the very end of the input
    const bytes = Buffer.concat([utf8('ok\n'), Buffer.from([0x61, 0x80, 0x62, 0x0a, 0xe2, 0x82, 0x0a, 0xff, 0x0a, 0xf0, 0x9f])]);

    // Act
    const { lines } = await collect(fixedChunks(bytes, 3));

    // Assess
    assert.equal(lines.length, 5);
    assert.equal(lines[0], 'ok');
    assert.equal(lines[1], 'a\ufffdb');
    assert.match(lines[2], /^\ufffd+$/);
    assert.equal(lines[3], '\ufffd');
    assert.match(lines[4], /^\ufffd+$/);
  });

  it('drops a leading byte-order mark, even when it arrives byte by byte', async () => {
    // Prepare
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8('version x\n1 2\n')]);

    // Act
    const whole = await collect(chunked(bytes));
    const bytewise = await collect(fixedChunks(bytes, 1));

    // Assess
    assert.deepEqual(whole.lines, ['version x', '1 2']);
    assert.deepEqual(bytewise.lines, ['version x', '1 2']);
  });

  it('emits batches of the requested size with contiguous 1-based line numbers', async () => {
    // Prepare
    const input = utf8(Array.from({ length: 10 }, (_, i) => `line ${i + 1}`).join('\n'));

    // Act
    const { batches } = await collect(fixedChunks(input, 7), { batchLines: 3 });

    // Assess
    assert.deepEqual(
      batches.map((b) => [b.firstLine, b.lines.length]),
      [[1, 3], [4, 3], [7, 3], [10, 1]],
    );
    assert.equal(batches[3].lines[0], 'line 10');
  });

  it('cuts an over-long line, flags its number, and keeps counting lines after it', async () => {
    // Prepare: line 2 is 1000 bytes, the cap is 100
    const long = 'x'.repeat(1000);
    const input = utf8(`short\n${long}\r\nafter\n`);

    for (const size of [1, 7, 64, 100_000]) {
      // Act
      const { lines, oversized } = await collect(fixedChunks(input, size), { maxLineBytes: 100 });

      // Assess
      assert.deepEqual(oversized, [2], `chunk size ${size}`);
      assert.equal(lines.length, 3);
      assert.equal(lines[0], 'short');
      assert.ok(lines[1].length <= 100 && lines[1].length > 0 && /^x+$/.test(lines[1]), `chunk size ${size}`);
      assert.equal(lines[2], 'after');
    }
  });

  it('flags an over-long final line without a newline', async () => {
    // Prepare
    const input = utf8(`ok\n${'y'.repeat(500)}`);

    // Act
    const { lines, oversized } = await collect(fixedChunks(input, 50), { maxLineBytes: 64 });

    // Assess
    assert.deepEqual(oversized, [2]);
    assert.equal(lines[0], 'ok');
    assert.ok(lines[1].length <= 64);
  });

  it('keeps memory bounded by the cap for a multi-megabyte line arriving in small chunks', async () => {
    // Prepare: an 8 MiB line without newline bytes, then a normal line
    const cap = 100_000;
    async function* source(): AsyncIterable<Uint8Array> {
      const piece = Buffer.alloc(16 * 1024, 0x61);
      for (let i = 0; i < 512; i++) yield piece;
      yield utf8('\nnext line\n');
    }

    // Act
    const { lines, oversized } = await collect(source(), { maxLineBytes: cap });

    // Assess
    assert.deepEqual(oversized, [1]);
    assert.equal(lines.length, 2);
    assert.equal(lines[0].length, cap);
    assert.equal(lines[1], 'next line');
  });

  it('keeps lines longer than a decode piece whole and cuts those over the cap, in one big chunk', async () => {
    // Prepare: a 70 KB line (longer than one 64 KiB decode piece) and a 200 KB line (over the cap)
    const input = utf8(`a\n${'m'.repeat(70_000)}\n${'o'.repeat(200_000)}\nz\n`);

    // Act
    const { lines, oversized } = await collect(chunked(input), { maxLineBytes: 100_000 });

    // Assess
    assert.deepEqual(oversized, [3]);
    assert.deepEqual(lines.map((l) => l.length), [1, 70_000, 100_000, 1]);
  });

  it('a line exactly at the cap is not over-long', async () => {
    // Prepare
    const input = utf8(`${'z'.repeat(100)}\r\n${'z'.repeat(101)}\n`);

    // Act
    const { lines, oversized } = await collect(fixedChunks(input, 33), { maxLineBytes: 100 });

    // Assess
    assert.deepEqual(oversized, [2]);
    assert.equal(lines[0].length, 100);
  });

  it('matches a whole-input split on a large input spanning many decode windows', async () => {
    // Prepare: ~1.2 MB of lines with multi-byte characters
    const text = Array.from({ length: 20_000 }, (_, i) => `${i} ü€😀 ${'k'.repeat(i % 80)}`).join('\n') + '\n';
    const bytes = utf8(text);

    // Act
    const { lines, batches } = await collect(fixedChunks(bytes, 65_537));

    // Assess
    assert.deepEqual(lines, expectedLines(bytes));
    let next = 1;
    for (const batch of batches) {
      assert.equal(batch.firstLine, next);
      next += batch.lines.length;
    }
  });

  it('rejects nonsensical options', async () => {
    // Act / Assess
    await assert.rejects(collect(chunked(utf8('a')), { batchLines: 0 }), RangeError);
    await assert.rejects(collect(chunked(utf8('a')), { maxLineBytes: -1 }), RangeError);
  });

  it('gives the same lines however the bytes are chunked (property)', async () => {
    // Prepare: text made of line breaks, multi-byte characters and invalid bytes
    const piece = fc.oneof(
      fc.constantFrom('\n', '\r\n', '\r', ' ', 'a', 'é', '€', '😀', '\ufeff'),
      fc.string({ maxLength: 12 }),
    );
    const input = fc.tuple(
      fc.array(fc.oneof(piece.map((s) => utf8(s)), fc.uint8Array({ maxLength: 4 })), { maxLength: 60 }),
      fc.array(fc.nat(400), { maxLength: 12 }),
    );

    await fc.assert(
      fc.asyncProperty(input, async ([pieces, cuts]) => {
        const bytes = Buffer.concat(pieces);

        // Act
        const whole = await collect(chunked(bytes));
        const cut = await collect(chunked(bytes, cuts));

        // Assess
        assert.deepEqual(cut.lines, whole.lines);
        assert.deepEqual(whole.lines, expectedLines(bytes));
      }),
      { numRuns: fuzzRuns(500) },
    );
  });
});
