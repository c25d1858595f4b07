/**
 * Encodes one leaf column of one row group as a Parquet column chunk: an optional dictionary
 * page and one data page (format v1: levels and values compressed together), plus the chunk's
 * metadata and statistics.
 *
 * Why not hyparquet-writer's `ParquetWriter.write`: measured here it costs 150-500 ns per value
 * (generic Dremel walk per leaf, per-value TextEncoder and BigInt conversions, statistics over
 * every value), i.e. 60-70k rows/s for a 29-field flow record. This module takes the shredder's
 * compact buffers instead (numbers in a Float64Array, strings already interned) and writes bytes
 * straight into one growing buffer. hyparquet-writer still provides the parts that are not per
 * value: the Thrift page headers and file metadata, and the Snappy compressor.
 *
 * Choices, per chunk (all deterministic functions of the values):
 * - Strings and JSON texts: dictionary encoding (RLE_DICTIONARY) when the dictionary plus the
 *   bit-packed indexes take at most half the plain size, else PLAIN. Interning happened while
 *   shredding, so both cost one pass over the indexes.
 * - int64 / timestamp: dictionary when a sample of the first 1,024 values is at most half
 *   distinct and the whole dictionary again halves the size (ports, protocols, `start` seconds
 *   of a 5-minute object), else PLAIN. Doubles and booleans: PLAIN.
 * - Levels: RLE/bit-packed hybrid. Statistics: null count always; min/max for numbers,
 *   timestamps, booleans and strings (over the distinct values), none for JSON.
 * - One data page per chunk: row groups are bounded (rows and bytes), so pages are too, and
 *   readers do not need page indexes to skip inside a chunk of this size.
 */
import * as zlib from 'node:zlib';
import type { ColumnChunk, CompressionCodec, Encoding, Statistics } from 'hyparquet';
import { ByteWriter } from 'hyparquet-writer';
import { writePageHeader } from 'hyparquet-writer/src/datapage.js';
import { snappyCompress } from 'hyparquet-writer/src/snappy.js';
import type { LeafColumn } from './shredder.js';

export type ParquetCompression = 'snappy' | 'zstd' | 'gzip' | 'none';

export interface ChunkCodec {
  readonly name: CompressionCodec;
  compress(bytes: Uint8Array): Uint8Array;
}

type ZstdCompressSync = (buffer: Uint8Array) => Buffer;

/**
 * The compressor for a `parquetCompression` setting. zstd uses Node's own zlib zstd (Node ≥
 * 22.15 / 23.8); on older Node it throws an error saying so.
 */
export function chunkCodec(compression: ParquetCompression): ChunkCodec {
  switch (compression) {
    case 'snappy':
      return { name: 'SNAPPY', compress: snappyCompress };
    case 'gzip':
      // Node's gzip header carries mtime 0 and no name: the output is a function of the input.
      return { name: 'GZIP', compress: (bytes) => zlib.gzipSync(bytes, { level: zlib.constants.Z_DEFAULT_COMPRESSION }) };
    case 'none':
      return { name: 'UNCOMPRESSED', compress: (bytes) => bytes };
    case 'zstd': {
      const zstd = (zlib as unknown as { zstdCompressSync?: ZstdCompressSync }).zstdCompressSync;
      if (zstd === undefined) {
        throw new Error(`parquetCompression zstd needs Node 22.15 or later (zlib.zstdCompressSync); this is Node ${process.versions.node}: use snappy or gzip`);
      }
      return { name: 'ZSTD', compress: (bytes) => zstd(bytes) };
    }
  }
}

/** A growing byte buffer written little-endian, as Parquet wants. */
export class ByteBuffer {
  bytes: Buffer;
  view: DataView;
  length = 0;

  constructor(capacity = 64 * 1024) {
    this.bytes = Buffer.allocUnsafe(capacity);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  ensure(extra: number): void {
    const needed = this.length + extra;
    if (needed <= this.bytes.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(needed, this.bytes.length * 2));
    this.bytes.copy(bigger, 0, 0, this.length);
    this.bytes = bigger;
    this.view = new DataView(bigger.buffer, bigger.byteOffset, bigger.byteLength);
  }

  u8(value: number): void {
    this.ensure(1);
    this.bytes[this.length++] = value;
  }

  u32(value: number): void {
    this.ensure(4);
    this.view.setUint32(this.length, value, true);
    this.length += 4;
  }

  varint(value: number): void {
    this.ensure(5);
    while (value > 0x7f) {
      this.bytes[this.length++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    this.bytes[this.length++] = value;
  }

  append(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.bytes.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** A view of the bytes written so far (valid until the next write). */
  written(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

export interface EncodedChunk {
  /** Bytes in file order: [dictionary page header, dictionary page,] data page header, data page. */
  pieces: Uint8Array[];
  byteLength: number;
  /** Uncompressed size of the chunk (headers included), for the row group's total_byte_size. */
  uncompressedLength: number;
  chunk: ColumnChunk;
}

/** Scratch buffers reused across chunks of one writer (never shared between writers). */
export class ChunkScratch {
  readonly body = new ByteBuffer();
  readonly dictionary = new ByteBuffer();
  private levels = new Int32Array(1024);

  /**
   * `count` levels widened to Int32: the RLE encoder then only ever sees Int32Arrays, which
   * keeps its element loads monomorphic (a Uint8Array | Int32Array mix measured ~10x slower).
   */
  int32s(levels: Uint8Array, count: number): Int32Array {
    if (this.levels.length < count) this.levels = new Int32Array(Math.max(count, this.levels.length * 2));
    const out = this.levels;
    for (let i = 0; i < count; i++) out[i] = levels[i]!;
    return out;
  }
}

/**
 * Encodes a leaf's buffered values as one column chunk starting at `fileOffset` in the file.
 *
 * @example
 * const encoded = encodeColumnChunk(leaf, chunkCodec('snappy'), 4, new ChunkScratch());
 * for (const piece of encoded.pieces) await file.write(piece);
 */
export function encodeColumnChunk(leaf: LeafColumn, codec: ChunkCodec, fileOffset: number, scratch: ChunkScratch): EncodedChunk {
  const body = scratch.body;
  body.length = 0;
  if (leaf.maxRep > 0) writeLevels(body, leaf.repLevels!, leaf.levelCount, leaf.maxRep, scratch);
  if (leaf.maxDef > 0) writeLevels(body, leaf.defLevels, leaf.levelCount, leaf.maxDef, scratch);

  let dictionaryPage: { bytes: Uint8Array; count: number } | undefined;
  let statistics: Statistics;
  switch (leaf.type) {
    case 'string':
    case 'json': {
      const encoded = leaf.interning ? encodeInternedStrings(leaf, body, scratch.dictionary) : encodePlainStrings(leaf, body, scratch);
      dictionaryPage = encoded.dictionaryPage;
      statistics = encoded.statistics;
      break;
    }
    case 'int64':
    case 'timestamp': {
      const encoded = encodeIntegers(leaf, body, scratch.dictionary);
      dictionaryPage = encoded.dictionaryPage;
      statistics = encoded.statistics;
      break;
    }
    case 'double':
      statistics = encodeDoubles(leaf, body);
      break;
    case 'boolean':
      statistics = encodeBooleans(leaf, body);
      break;
  }
  statistics.null_count = BigInt(leaf.levelCount - leaf.valueCount);

  const pieces: Uint8Array[] = [];
  let offset = fileOffset;
  let uncompressedLength = 0;
  let dictionaryPageOffset: bigint | undefined;
  if (dictionaryPage !== undefined) {
    dictionaryPageOffset = BigInt(offset);
    const compressed = codec.compress(dictionaryPage.bytes);
    const header = pageHeader({
      type: 'DICTIONARY_PAGE',
      uncompressed_page_size: dictionaryPage.bytes.length,
      compressed_page_size: compressed.length,
      dictionary_page_header: { num_values: dictionaryPage.count, encoding: 'PLAIN' },
    });
    pieces.push(header, copyIfView(compressed, dictionaryPage.bytes));
    offset += header.length + compressed.length;
    uncompressedLength += header.length + dictionaryPage.bytes.length;
  }
  const dataPageOffset = BigInt(offset);
  const page = body.written();
  const compressed = codec.compress(page);
  const header = pageHeader({
    type: 'DATA_PAGE',
    uncompressed_page_size: page.length,
    compressed_page_size: compressed.length,
    data_page_header: {
      num_values: leaf.levelCount,
      encoding: dictionaryPage === undefined ? 'PLAIN' : 'RLE_DICTIONARY',
      definition_level_encoding: 'RLE',
      repetition_level_encoding: 'RLE',
    },
  });
  pieces.push(header, copyIfView(compressed, page));
  offset += header.length + compressed.length;
  uncompressedLength += header.length + page.length;

  const encodings: Encoding[] = dictionaryPage === undefined ? ['PLAIN', 'RLE'] : ['PLAIN', 'RLE', 'RLE_DICTIONARY'];
  return {
    pieces,
    byteLength: offset - fileOffset,
    uncompressedLength,
    chunk: {
      file_offset: BigInt(fileOffset),
      meta_data: {
        type: leaf.element.type!,
        encodings,
        path_in_schema: [...leaf.path],
        codec: codec.name,
        num_values: BigInt(leaf.levelCount),
        total_uncompressed_size: BigInt(uncompressedLength),
        total_compressed_size: BigInt(offset - fileOffset),
        data_page_offset: dataPageOffset,
        dictionary_page_offset: dictionaryPageOffset,
        statistics,
      },
    },
  };
}

/** Scratch bytes are reused by the next chunk: a compressor that returned its input needs a copy. */
function copyIfView(compressed: Uint8Array, input: Uint8Array): Uint8Array {
  return compressed === input || compressed.buffer === input.buffer ? Uint8Array.prototype.slice.call(compressed) : compressed;
}

function pageHeader(header: Parameters<typeof writePageHeader>[1]): Uint8Array {
  const writer = new ByteWriter(64);
  writePageHeader(writer, header);
  return writer.getBytes().slice();
}

/** Levels of a v1 data page: a 4-byte length, then the RLE/bit-packed hybrid. */
function writeLevels(out: ByteBuffer, levels: Uint8Array, count: number, maxLevel: number, scratch: ChunkScratch): void {
  out.ensure(4);
  const lengthAt = out.length;
  out.length += 4;
  writeRleHybrid(out, scratch.int32s(levels, count), count, bitWidthOf(maxLevel));
  out.view.setUint32(lengthAt, out.length - lengthAt - 4, true);
}

/** Bits needed for values 0..max (at least 1, which every reader accepts). */
function bitWidthOf(max: number): number {
  return max <= 1 ? 1 : 32 - Math.clz32(max);
}

/**
 * The RLE/bit-packed hybrid: runs of 8 or more equal values as RLE runs, everything else in
 * bit-packed groups of 8 (the last group zero-padded; readers stop at the value count).
 * bitWidth ≤ 24, so a value shifted by < 8 bits fits the 32-bit accumulator.
 */
export function writeRleHybrid(out: ByteBuffer, values: Int32Array, count: number, bitWidth: number): void {
  const valueBytes = (bitWidth + 7) >> 3;
  let groupsStart = -1;
  let groups = 0;
  let i = 0;
  while (i < count) {
    const first = values[i]!;
    let run = 1;
    while (i + run < count && values[i + run] === first) run++;
    if (run >= 8) {
      if (groups > 0) {
        writeBitPacked(out, values, count, groupsStart, groups, bitWidth);
        groups = 0;
      }
      out.varint(run << 1);
      out.ensure(valueBytes);
      for (let b = 0; b < valueBytes; b++) out.bytes[out.length++] = (first >>> (8 * b)) & 0xff;
      i += run;
    } else {
      if (groups === 0) groupsStart = i;
      groups++;
      i += 8;
      // 63 groups keep the run header in one byte.
      if (groups === 63) {
        writeBitPacked(out, values, count, groupsStart, groups, bitWidth);
        groups = 0;
      }
    }
  }
  if (groups > 0) writeBitPacked(out, values, count, groupsStart, groups, bitWidth);
}

function writeBitPacked(out: ByteBuffer, values: Int32Array, count: number, start: number, groups: number, bitWidth: number): void {
  out.varint((groups << 1) | 1);
  out.ensure(groups * bitWidth);
  const bytes = out.bytes;
  let at = out.length;
  let acc = 0;
  let bits = 0;
  const end = start + groups * 8;
  for (let i = start; i < end; i++) {
    const value = i < count ? values[i]! : 0;
    acc |= value << bits;
    bits += bitWidth;
    while (bits >= 8) {
      bytes[at++] = acc & 0xff;
      acc >>>= 8;
      bits -= 8;
    }
  }
  out.length = at;
}

interface EncodedValues {
  dictionaryPage: { bytes: Uint8Array; count: number } | undefined;
  statistics: Statistics;
}

/**
 * Interned strings: the distinct values are UTF-8-encoded once into the dictionary buffer (each
 * with its 4-byte length, i.e. already as a PLAIN dictionary page); the data page is then either
 * the bit-packed indexes or a copy of each value's bytes. A chunk mostly made of distinct values
 * switches its leaf to plain mode for the rest of the part (see `LeafColumn.interning`).
 */
function encodeInternedStrings(leaf: LeafColumn, body: ByteBuffer, dictionaryBuffer: ByteBuffer): EncodedValues {
  const dictionary = leaf.dictionary;
  const distinct = dictionary.length;
  dictionaryBuffer.length = 0;
  const starts = new Int32Array(distinct);
  const lengths = new Int32Array(distinct);
  for (let d = 0; d < distinct; d++) {
    const text = dictionary[d]!;
    dictionaryBuffer.ensure(4 + text.length * 3);
    const at = dictionaryBuffer.length + 4;
    const written = dictionaryBuffer.bytes.write(text, at, 'utf8');
    dictionaryBuffer.view.setUint32(at - 4, written, true);
    starts[d] = at;
    lengths[d] = written;
    dictionaryBuffer.length = at + written;
  }
  const indexes = leaf.indexes!;
  const count = leaf.valueCount;
  let plainBytes = 0;
  for (let i = 0; i < count; i++) plainBytes += 4 + lengths[indexes[i]!]!;
  const bitWidth = bitWidthOf(distinct - 1);
  const dictionaryBytes = dictionaryBuffer.length + Math.ceil((count * bitWidth) / 8);

  const statistics: Statistics = {};
  if (leaf.type === 'string' && distinct > 0) {
    const bytes = dictionaryBuffer.bytes;
    let min = 0;
    let max = 0;
    // buf.compare(target, tStart, tEnd, sStart, sEnd) orders buf[sStart, sEnd) against the target range.
    for (let d = 1; d < distinct; d++) {
      const from = starts[d]!;
      const to = from + lengths[d]!;
      if (bytes.compare(bytes, starts[min], starts[min]! + lengths[min]!, from, to) < 0) min = d;
      if (bytes.compare(bytes, starts[max], starts[max]! + lengths[max]!, from, to) > 0) max = d;
    }
    // Copies (Buffer#slice would be a view of the scratch buffer the next chunk overwrites).
    statistics.min_value = Uint8Array.prototype.slice.call(bytes, starts[min], starts[min]! + lengths[min]!);
    statistics.max_value = Uint8Array.prototype.slice.call(bytes, starts[max], starts[max]! + lengths[max]!);
  }

  if (distinct > 0 && 2 * dictionaryBytes <= plainBytes) {
    body.u8(bitWidth);
    writeRleHybrid(body, indexes, count, bitWidth);
    return { dictionaryPage: { bytes: dictionaryBuffer.written(), count: distinct }, statistics };
  }
  if (distinct * 2 > count) leaf.interning = false;
  body.ensure(plainBytes);
  const source = dictionaryBuffer.bytes;
  const target = body.bytes;
  let at = body.length;
  for (let i = 0; i < count; i++) {
    const d = indexes[i]!;
    // Copy the 4-byte length and the text; short strings by hand (cheaper than a native call).
    const from = starts[d]! - 4;
    const to = from + 4 + lengths[d]!;
    if (to - from <= 64) {
      for (let b = from; b < to; b++) target[at++] = source[b]!;
    } else {
      source.copy(target, at, from, to);
      at += to - from;
    }
  }
  body.length = at;
  return { dictionaryPage: undefined, statistics };
}

/** Strings joined per native call in the ASCII fast path. */
const PLAIN_BATCH = 1024;

/**
 * Strings kept as they came, written PLAIN. Measured, one `Buffer#write` per value (plus a
 * `Buffer#compare` per value for min/max) costs ~500 ns; so values go in batches: joined, written
 * in one call, and when the byte count equals the character count (ASCII only, as record ids
 * are) split by their lengths and compared as JS strings (the same order as bytes for ASCII).
 * A batch with other characters takes the per-value path.
 */
function encodePlainStrings(leaf: LeafColumn, body: ByteBuffer, scratch: ChunkScratch): EncodedValues {
  const strings = leaf.strings;
  const count = leaf.valueCount;
  const withBounds = leaf.type === 'string';
  let min: string | undefined;
  let max: string | undefined;
  const batchBytes = scratch.dictionary;
  for (let from = 0; from < count; from += PLAIN_BATCH) {
    const to = Math.min(count, from + PLAIN_BATCH);
    const joined = strings.slice(from, to).join('');
    batchBytes.length = 0;
    batchBytes.ensure(joined.length * 3);
    const written = batchBytes.bytes.write(joined, 0, 'utf8');
    if (written !== joined.length) {
      for (let i = from; i < to; i++) {
        const text = strings[i]!;
        writePlainString(body, text);
        if (withBounds) {
          if (min === undefined || compareUtf8(text, min) < 0) min = text;
          if (max === undefined || compareUtf8(text, max) > 0) max = text;
        }
      }
      continue;
    }
    body.ensure(written + 4 * (to - from));
    const source = batchBytes.bytes;
    const target = body.bytes;
    const view = body.view;
    let at = body.length;
    let read = 0;
    for (let i = from; i < to; i++) {
      const text = strings[i]!;
      const length = text.length;
      view.setUint32(at, length, true);
      at += 4;
      for (let end = read + length; read < end; ) target[at++] = source[read++]!;
      if (withBounds) {
        if (min === undefined || text < min) min = text;
        if (max === undefined || text > max) max = text;
      }
    }
    body.length = at;
  }
  const statistics: Statistics = {};
  if (min !== undefined) {
    statistics.min_value = Buffer.from(min, 'utf8');
    statistics.max_value = Buffer.from(max!, 'utf8');
  }
  return { dictionaryPage: undefined, statistics };
}

function writePlainString(body: ByteBuffer, text: string): void {
  body.ensure(4 + text.length * 3);
  const at = body.length + 4;
  const written = body.bytes.write(text, at, 'utf8');
  body.view.setUint32(at - 4, written, true);
  body.length = at + written;
}

/** Orders two strings as their UTF-8 bytes (code point order), which is Parquet's order for strings. */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const TWO_32 = 4294967296;

function encodeIntegers(leaf: LeafColumn, body: ByteBuffer, dictionaryBuffer: ByteBuffer): EncodedValues {
  const numbers = leaf.numbers!;
  const count = leaf.valueCount;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < count; i++) {
    const n = numbers[i]!;
    if (n < min) min = n;
    if (n > max) max = n;
  }
  const statistics: Statistics = count > 0 ? { min_value: min, max_value: max } : {};

  const dictionary = count > 0 ? integerDictionary(numbers, count, min, max) : undefined;
  if (dictionary !== undefined) {
    dictionaryBuffer.length = 0;
    writeInt64s(dictionaryBuffer, dictionary.values, dictionary.values.length);
    body.u8(dictionary.bitWidth);
    writeRleHybrid(body, dictionary.indexes, count, dictionary.bitWidth);
    return { dictionaryPage: { bytes: dictionaryBuffer.written(), count: dictionary.values.length }, statistics };
  }
  writeInt64s(body, numbers, count);
  return { dictionaryPage: undefined, statistics };
}

/** Value ranges up to this size index the dictionary through a flat table instead of hashing. */
const MAX_TABLE_RANGE = 1 << 18;

/**
 * A dictionary for integer values when it at least halves their PLAIN size, else undefined.
 * No Map: a Map keyed by numbers read from a Float64Array boxes every key (measured at
 * 400-800 ns per value). Small ranges (ports, protocols, the seconds of one object) use a flat
 * table indexed by `value - min`; others an open-addressing hash table on the raw doubles.
 */
function integerDictionary(numbers: Float64Array, count: number, min: number, max: number): { values: Float64Array; indexes: Int32Array; bitWidth: number } | undefined {
  if (count < 16) return undefined;
  // More distinct values than half the count can never halve the size: give up as soon as seen.
  const limit = Math.floor(count / 2);
  // A sample first, so mostly distinct columns (bytes, addresses) cost 1,024 lookups, not all.
  const sampleSize = Math.min(count, 1024);
  if (countDistinct(numbers, sampleSize, Math.floor(sampleSize / 2)) > Math.floor(sampleSize / 2)) return undefined;
  const indexes = new Int32Array(count);
  const values = new Float64Array(limit + 1);
  let distinct = 0;
  if (max - min < MAX_TABLE_RANGE) {
    const table = new Int32Array(max - min + 1).fill(-1);
    for (let i = 0; i < count; i++) {
      const slot = numbers[i]! - min;
      let index = table[slot]!;
      if (index < 0) {
        if (distinct === limit) return undefined;
        index = distinct++;
        table[slot] = index;
        values[index] = numbers[i]!;
      }
      indexes[i] = index;
    }
  } else {
    const hash = new NumberHashTable(limit + 1);
    for (let i = 0; i < count; i++) {
      const n = numbers[i]!;
      let index = hash.get(n);
      if (index < 0) {
        if (distinct === limit) return undefined;
        index = distinct++;
        hash.set(n, index);
        values[index] = n;
      }
      indexes[i] = index;
    }
  }
  const bitWidth = bitWidthOf(distinct - 1);
  if (2 * (distinct * 8 + Math.ceil((count * bitWidth) / 8)) > count * 8) return undefined;
  return { values: values.subarray(0, distinct), indexes, bitWidth };
}

function countDistinct(numbers: Float64Array, count: number, stopAbove: number): number {
  const hash = new NumberHashTable(count);
  let distinct = 0;
  for (let i = 0; i < count && distinct <= stopAbove; i++) {
    if (hash.get(numbers[i]!) < 0) hash.set(numbers[i]!, distinct++);
  }
  return distinct;
}

/** Open addressing (linear probing) from doubles to indexes, sized for `capacity` keys. */
class NumberHashTable {
  private readonly keys: Float64Array;
  private readonly slots: Int32Array;
  private readonly mask: number;

  constructor(capacity: number) {
    let size = 16;
    while (size < capacity * 2) size *= 2;
    this.keys = new Float64Array(size);
    this.slots = new Int32Array(size).fill(-1);
    this.mask = size - 1;
  }

  get(key: number): number {
    let at = this.home(key);
    for (;;) {
      const slot = this.slots[at]!;
      if (slot < 0 || this.keys[at] === key) return slot;
      at = (at + 1) & this.mask;
    }
  }

  /** Adds a key known to be absent. */
  set(key: number, value: number): void {
    let at = this.home(key);
    while (this.slots[at]! >= 0) at = (at + 1) & this.mask;
    this.keys[at] = key;
    this.slots[at] = value;
  }

  private home(key: number): number {
    // Both 32-bit halves of the integer, mixed (Fibonacci hashing).
    return Math.imul((key | 0) ^ Math.imul(Math.floor(key / 4294967296) | 0, 0x27d4eb2d), 0x9e3779b1) >>> 0 & this.mask;
  }
}

/** int64 little-endian from exact integer doubles (|n| < 2^63), without BigInt. */
function writeInt64s(out: ByteBuffer, numbers: Float64Array, count: number): void {
  out.ensure(count * 8);
  const view = out.view;
  let at = out.length;
  for (let i = 0; i < count; i++) {
    const n = numbers[i]!;
    // ToInt32 keeps the low 32 bits of any integer; the high word is an exact division.
    view.setInt32(at, n | 0, true);
    view.setInt32(at + 4, Math.floor(n / TWO_32) | 0, true);
    at += 8;
  }
  out.length = at;
}

function encodeDoubles(leaf: LeafColumn, body: ByteBuffer): Statistics {
  const numbers = leaf.numbers!;
  const count = leaf.valueCount;
  body.ensure(count * 8);
  const view = body.view;
  let at = body.length;
  let min = Infinity;
  let max = -Infinity;
  let seen = false;
  for (let i = 0; i < count; i++) {
    const n = numbers[i]!;
    view.setFloat64(at, n, true);
    at += 8;
    if (n !== n) continue; // NaN takes no part in min/max
    seen = true;
    if (n < min) min = n;
    if (n > max) max = n;
  }
  body.length = at;
  if (!seen) return {};
  // The spec wants -0 as a zero minimum and +0 as a zero maximum.
  return { min_value: min === 0 ? -0 : min, max_value: max === 0 ? 0 : max };
}

function encodeBooleans(leaf: LeafColumn, body: ByteBuffer): Statistics {
  const flags = leaf.flags!;
  const count = leaf.valueCount;
  body.ensure((count + 7) >> 3);
  const bytes = body.bytes;
  let at = body.length;
  let trues = 0;
  for (let i = 0; i < count; i += 8) {
    let byte = 0;
    const end = Math.min(count, i + 8);
    for (let j = i; j < end; j++) {
      byte |= flags[j]! << (j - i);
      trues += flags[j]!;
    }
    bytes[at++] = byte;
  }
  body.length = at;
  if (count === 0) return {};
  return { min_value: trues === count, max_value: trues > 0 };
}
