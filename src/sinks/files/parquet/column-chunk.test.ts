import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { ByteBuffer, chunkCodec, compareUtf8, writeRleHybrid } from './column-chunk.js';

/** An independent reader of the RLE/bit-packed hybrid (Parquet spec), as the oracle. */
function readRleHybrid(bytes: Uint8Array, bitWidth: number, count: number): number[] {
  const out: number[] = [];
  let at = 0;
  const varint = () => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = bytes[at++]!;
      value |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return value >>> 0;
      shift += 7;
    }
  };
  while (out.length < count) {
    const header = varint();
    if ((header & 1) === 0) {
      let value = 0;
      for (let b = 0; b < (bitWidth + 7) >> 3; b++) value |= bytes[at++]! << (8 * b);
      for (let i = 0; i < header >>> 1; i++) out.push(value);
    } else {
      const values = (header >>> 1) * 8;
      let bit = 0;
      for (let i = 0; i < values; i++) {
        let value = 0;
        for (let b = 0; b < bitWidth; b++, bit++) value |= ((bytes[at + (bit >> 3)]! >> (bit & 7)) & 1) << b;
        out.push(value);
      }
      at += (values * bitWidth) / 8;
    }
  }
  return out.slice(0, count);
}

test('the RLE/bit-packed hybrid reads back as the values, for any values, runs and bit width', () => {
  // Prepare: values drawn as runs (so both RLE runs and bit-packed groups occur).
  const runs = fc.integer({ min: 1, max: 20 }).chain((bitWidth) =>
    fc.tuple(
      fc.constant(bitWidth),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 2 ** bitWidth - 1 }), fc.integer({ min: 1, max: 40 })), { maxLength: 60 }),
    ),
  );

  // Act + Assess
  fc.assert(
    fc.property(runs, ([bitWidth, pairs]) => {
      const values = pairs.flatMap(([value, length]) => Array.from({ length }, () => value));
      const out = new ByteBuffer(16);
      writeRleHybrid(out, Int32Array.from(values), values.length, bitWidth);
      assert.deepEqual(readRleHybrid(out.written(), bitWidth, values.length), values);
    }),
    { numRuns: 300 },
  );
});

test('long bit-packed stretches are split into runs of at most 63 groups (one-byte headers)', () => {
  // Prepare: 8 * 200 values without any run of 8.
  const values = Int32Array.from({ length: 1600 }, (_, i) => i % 7);
  const out = new ByteBuffer(16);

  // Act
  writeRleHybrid(out, values, values.length, 3);

  // Assess
  const bytes = out.written();
  assert.equal(bytes[0], (63 << 1) | 1);
  assert.equal(bytes[1 + 63 * 3], (63 << 1) | 1);
  assert.deepEqual(readRleHybrid(bytes, 3, values.length), [...values]);
});

test('compareUtf8 orders by code point, unlike JavaScript < on UTF-16 units', () => {
  // Prepare: U+1F600 (a surrogate pair in UTF-16) sorts after U+FFFD in UTF-8 but before it in UTF-16.
  const astral = '\u{1F600}';
  const bmp = '\uFFFD';

  // Act + Assess
  assert.equal(astral < bmp, true);
  assert.ok(compareUtf8(astral, bmp) > 0);
  assert.ok(compareUtf8('a', 'b') < 0);
  assert.equal(compareUtf8('same', 'same'), 0);
});

test('codecs: snappy, gzip and none are available; zstd where Node has zlib zstd, else a clear error', () => {
  // Prepare
  const input = Buffer.from('abc'.repeat(100));
  const nodeHasZstd = typeof (zlib as unknown as Record<string, unknown>).zstdCompressSync === 'function';

  // Act
  const names = (['snappy', 'gzip', 'none'] as const).map((c) => chunkCodec(c).name);

  // Assess
  assert.deepEqual(names, ['SNAPPY', 'GZIP', 'UNCOMPRESSED']);
  assert.ok(chunkCodec('gzip').compress(input).length < input.length);
  assert.ok(chunkCodec('snappy').compress(input).length < input.length);
  if (nodeHasZstd) assert.ok(chunkCodec('zstd').compress(input).length < input.length);
  else assert.throws(() => chunkCodec('zstd'), /zstd needs Node 22\.15 or later .*this is Node \d+/);
});
