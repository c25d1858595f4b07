/**
 * HyperLogLog (Flajolet et al. 2007) over 32-bit MurmurHash3 of strings, with the linear-counting
 * correction for small cardinalities. `2^precision` one-byte registers; the relative standard
 * error of an estimate is 1.04 / sqrt(2^precision): 1.63 % at the default precision 12 (4 KiB per
 * set). Two sketches of the same precision merge exactly (register-wise max), which is what lets
 * per-unit partial counts combine into one answer per bucket.
 */
import { fmix32 } from '../../core/fmix32.js';

export const DEFAULT_HLL_PRECISION = 12;

/** Relative standard error of an estimate at this precision (one sigma). */
export function hllStandardError(precision: number): number {
  return 1.04 / Math.sqrt(2 ** precision);
}

export class HyperLogLog {
  readonly precision: number;
  readonly registers: Uint8Array;

  constructor(precision = DEFAULT_HLL_PRECISION, registers?: Uint8Array) {
    if (!Number.isInteger(precision) || precision < 4 || precision > 18) throw new RangeError(`HyperLogLog precision ${precision} is outside 4..18`);
    this.precision = precision;
    const m = 2 ** precision;
    if (registers && registers.length !== m) throw new RangeError(`HyperLogLog registers: expected ${m} bytes, got ${registers.length}`);
    this.registers = registers ?? new Uint8Array(m);
  }

  /** Adds a string, or a 32-bit unsigned integer (an IPv4 address as a number). */
  add(value: string | number): void {
    const hash = typeof value === 'number' ? murmur3Int(value) : murmur3(value);
    const p = this.precision;
    const index = hash >>> (32 - p);
    // Rank = position of the first 1 bit in the remaining 32 - p bits (1-based); all zero -> 32 - p + 1.
    const rest = (hash << p) >>> 0;
    const rank = rest === 0 ? 32 - p + 1 : Math.clz32(rest) + 1;
    if (rank > this.registers[index]!) this.registers[index] = rank;
  }

  merge(other: HyperLogLog): void {
    if (other.precision !== this.precision) throw new RangeError(`cannot merge HyperLogLog of precision ${other.precision} into ${this.precision}`);
    const a = this.registers;
    const b = other.registers;
    for (let i = 0; i < a.length; i++) if (b[i]! > a[i]!) a[i] = b[i]!;
  }

  estimate(): number {
    const m = this.registers.length;
    let sum = 0;
    let zeros = 0;
    for (let i = 0; i < m; i++) {
      const r = this.registers[i]!;
      sum += 2 ** -r;
      if (r === 0) zeros++;
    }
    const alpha = m === 16 ? 0.673 : m === 32 ? 0.697 : m === 64 ? 0.709 : 0.7213 / (1 + 1.079 / m);
    const raw = (alpha * m * m) / sum;
    if (raw <= 2.5 * m && zeros > 0) return Math.round(m * Math.log(m / zeros));
    const two32 = 2 ** 32;
    if (raw > two32 / 30) return Math.round(-two32 * Math.log(1 - raw / two32));
    return Math.round(raw);
  }

  toBase64(): string {
    return Buffer.from(this.registers.buffer, this.registers.byteOffset, this.registers.byteLength).toString('base64');
  }

  static fromBase64(precision: number, text: string): HyperLogLog {
    return new HyperLogLog(precision, new Uint8Array(Buffer.from(text, 'base64')));
  }
}

/** MurmurHash3 x86_32 of one 4-byte block: a 32-bit integer. */
export function murmur3Int(value: number, seed = 0x9747b28c): number {
  let h = (seed ^ mixBlock(value | 0)) | 0;
  h = (h << 13) | (h >>> 19);
  h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  h ^= 4;
  return fmix32(h);
}

/** MurmurHash3's mixing of one 4-byte block before it enters the hash. */
function mixBlock(k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, 0x1b873593);
}

/** MurmurHash3 x86_32 over the string's UTF-16 code units (addresses are ASCII). */
export function murmur3(text: string, seed = 0x9747b28c): number {
  let h = seed >>> 0;
  const len = text.length;
  let i = 0;
  for (; i + 4 <= len; i += 4) {
    const k = (text.charCodeAt(i) & 0xffff) | ((text.charCodeAt(i + 1) & 0xffff) << 8) | ((text.charCodeAt(i + 2) & 0xffff) << 16) | ((text.charCodeAt(i + 3) & 0xffff) << 24);
    h ^= mixBlock(k);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = len - i;
  if (tail > 0) {
    let k = 0;
    if (tail === 3) k ^= (text.charCodeAt(i + 2) & 0xffff) << 16;
    if (tail >= 2) k ^= (text.charCodeAt(i + 1) & 0xffff) << 8;
    k ^= text.charCodeAt(i) & 0xffff;
    h ^= mixBlock(k);
  }
  h ^= len;
  return fmix32(h);
}
