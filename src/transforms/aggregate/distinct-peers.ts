/**
 * Distinct peers per address per time bucket: the state behind the `aggregate` transform, its
 * per-unit partial results and their merge.
 *
 * Invariants:
 * - Per bucket, each address's peers are an exact `Set` until the bucket holds more than
 *   `maxExactPairs` (address, peer) pairs; then the bucket's largest sets become HyperLogLog
 *   sketches until it is back under half the bound (sets of fewer than 64 peers stay exact: a
 *   4 KiB sketch would not save memory on them). An estimated count is flagged `exact: false`
 *   and is within the sketch's stated error (`hllStandardError`).
 * - Merging is associative and commutative on the counts: exact ∪ exact stays exact (unless it
 *   crosses the bound), a sketch absorbs exact peers by adding them, two sketches merge by
 *   register max. So partials of any number of units, merged in any order, give the same
 *   answer as one pass over all flows (the same answer exactly while no bucket crossed the bound).
 * - Both directions count: a flow a -> b makes b a peer of a and a a peer of b (as the seed does).
 * - Memory and speed: an address is kept as a number when it is a canonical dotted-quad IPv4
 *   address (a hash-set entry instead of a string), else as a string; the same key names the
 *   address's own set and its place in other sets. Each address of a flow is parsed once, and
 *   finding its set hashes a number, not the text. Text comes back only for output (partials,
 *   results), where `peerText(peerKey(text)) === text`. Strings kept long term are copied first:
 *   the decoders hand out slices of their input text, and a kept slice would keep that whole
 *   text (a line, a 64 KiB piece) alive.
 */
import type { SluiceRecord } from '../../core/record.js';
import type { AggregateTransformConfig } from './config.js';
import { HyperLogLog } from './hyperloglog.js';

const MIN_SKETCH_SET = 64;

export type DistinctPeersOptions = Pick<AggregateTransformConfig, 'bucketSeconds' | 'src' | 'dst' | 'timeField' | 'names' | 'maxExactPairs' | 'hllPrecision'>;

/** A peer as stored: an IPv4 address as its 32-bit number, anything else as a string. */
export type PeerKey = number | string;

interface Bucket {
  /** By address key (see peerKey): its exact set of peers. */
  exact: Map<PeerKey, Set<PeerKey>>;
  sketches: Map<PeerKey, HyperLogLog>;
  /** Pairs held in `exact`. */
  pairs: number;
  /** Pair count at which the next compaction runs (raised when compaction cannot shrink further). */
  limit: number;
}

/** What one unit hands to the finalize step (JSON, gzip'd on disk). */
export interface DistinctPeersPartial {
  version: 1;
  bucketSeconds: number;
  hllPrecision: number;
  /** Records seen, and records without two addresses or a time (they count nothing). */
  records: number;
  skipped: number;
  buckets: Array<{ start: number; exact: Array<[string, PeerKey[]]>; sketches: Array<[string, string]> }>;
  names: Array<[string, Record<string, unknown>]>;
}

export class DistinctPeers {
  private readonly buckets = new Map<number, Bucket>();
  private readonly names = new Map<string, Record<string, unknown>>();
  private readonly srcNameFields: string[];
  private readonly dstNameFields: string[];
  /** The bucket of the previous flow (flows come mostly in time order). */
  private lastStart = Number.NaN;
  private lastBucket: Bucket | undefined;
  records = 0;
  skipped = 0;

  constructor(readonly options: DistinctPeersOptions) {
    this.srcNameFields = options.names.map((n) => `src_${n}`);
    this.dstNameFields = options.names.map((n) => `dst_${n}`);
  }

  /** Adds one flow record; returns false when it lacks an address or a time (it counts nothing). */
  add(record: SluiceRecord): boolean {
    this.records++;
    const f = record.fields;
    const a = f[this.options.src];
    const b = f[this.options.dst];
    let seconds: number | undefined;
    if (this.options.timeField !== undefined) {
      const t = f[this.options.timeField];
      seconds = typeof t === 'number' ? t : typeof t === 'string' && t !== '' ? Number(t) : undefined;
    } else if (record.time !== undefined) seconds = record.time / 1000;
    if (typeof a !== 'string' || typeof b !== 'string' || a === '' || b === '' || a === '-' || b === '-' || seconds === undefined || !Number.isFinite(seconds)) {
      this.skipped++;
      return false;
    }
    const start = Math.floor(seconds / this.options.bucketSeconds) * this.options.bucketSeconds;
    const bucket = start === this.lastStart ? this.lastBucket! : this.bucket(start);
    const ka = peerKey(a);
    const kb = peerKey(b);
    this.addPeer(bucket, ka, kb);
    this.addPeer(bucket, kb, ka);
    if (this.options.names.length > 0) {
      this.noteNames(a, f, this.srcNameFields);
      this.noteNames(b, f, this.dstNameFields);
    }
    return true;
  }

  /** Merges a partial (from `toPartial` of another instance with the same bucket length and precision). */
  merge(partial: DistinctPeersPartial): void {
    if (partial.bucketSeconds !== this.options.bucketSeconds || partial.hllPrecision !== this.options.hllPrecision) {
      throw new RangeError(
        `partial made with bucketSeconds ${partial.bucketSeconds} / hllPrecision ${partial.hllPrecision}, expected ${this.options.bucketSeconds} / ${this.options.hllPrecision}`,
      );
    }
    this.records += partial.records;
    this.skipped += partial.skipped;
    for (const p of partial.buckets) {
      const bucket = this.bucket(p.start);
      for (const [text, registers] of p.sketches) {
        const ip = peerKey(text);
        const incoming = HyperLogLog.fromBase64(this.options.hllPrecision, registers);
        const have = bucket.sketches.get(ip);
        if (have) have.merge(incoming);
        else {
          const exact = bucket.exact.get(ip);
          if (exact) {
            for (const peer of exact) incoming.add(peer);
            bucket.pairs -= exact.size;
            bucket.exact.delete(ip);
          }
          bucket.sketches.set(ip, incoming);
        }
      }
      for (const [text, peers] of p.exact) {
        const ip = peerKey(text);
        for (const peer of peers) this.addPeer(bucket, ip, peer);
      }
    }
    for (const [ip, names] of partial.names) {
      const have = this.names.get(ip);
      if (!have) this.names.set(ip, { ...names });
      else for (const [k, v] of Object.entries(names)) if ((have[k] === undefined || have[k] === null) && v !== null && v !== undefined) have[k] = v;
    }
  }

  toPartial(): DistinctPeersPartial {
    const starts = [...this.buckets.keys()].sort((x, y) => x - y);
    return {
      version: 1,
      bucketSeconds: this.options.bucketSeconds,
      hllPrecision: this.options.hllPrecision,
      records: this.records,
      skipped: this.skipped,
      buckets: starts.map((start) => {
        const b = this.buckets.get(start)!;
        return {
          start,
          exact: [...b.exact].map(([ip, peers]) => [peerText(ip), peers] as const).sort(byKey).map(([ip, peers]) => [ip, [...peers].sort(comparePeers)] as [string, PeerKey[]]),
          sketches: [...b.sketches].map(([ip, hll]) => [peerText(ip), hll] as const).sort(byKey).map(([ip, hll]) => [ip, hll.toBase64()] as [string, string]),
        };
      }),
      names: [...this.names].sort(byKey),
    };
  }

  /** Number of (bucket, address) results. */
  get size(): number {
    let n = 0;
    for (const b of this.buckets.values()) n += b.exact.size + b.sketches.size;
    return n;
  }

  /**
   * The results as records, by bucket then address: `{bucket_start, bucket_seconds, ip, peers,
   * exact, <names>}`, id `agg-<bucket_start>-<ip>` (the same result always has the same id),
   * event time = bucket start.
   */
  *results(object: string): Iterable<SluiceRecord> {
    const starts = [...this.buckets.keys()].sort((x, y) => x - y);
    let line = 0;
    for (const start of starts) {
      const b = this.buckets.get(start)!;
      const ips = [...b.exact.keys(), ...b.sketches.keys()].map((key) => [peerText(key), key] as [string, PeerKey]).sort(byKey);
      for (const [ip, key] of ips) {
        const set = b.exact.get(key);
        const fields: Record<string, unknown> = {
          bucket_start: start,
          bucket_seconds: this.options.bucketSeconds,
          ip,
          peers: set ? set.size : b.sketches.get(key)!.estimate(),
          exact: set !== undefined,
        };
        const names = this.names.get(ip);
        for (const n of this.options.names) fields[n] = names?.[n] ?? null;
        yield { id: `agg-${start}-${ip}`, origin: { object, line: ++line }, time: start * 1000, fields };
      }
    }
  }

  private bucket(start: number): Bucket {
    let bucket = this.buckets.get(start);
    if (!bucket) {
      bucket = { exact: new Map(), sketches: new Map(), pairs: 0, limit: this.options.maxExactPairs };
      this.buckets.set(start, bucket);
    }
    this.lastStart = start;
    this.lastBucket = bucket;
    return bucket;
  }

  /** `ip` and `peer` are keys from peerKey (strings already own copies). */
  private addPeer(bucket: Bucket, ip: PeerKey, peer: PeerKey): void {
    let set = bucket.exact.get(ip);
    if (set === undefined) {
      const sketch = bucket.sketches.size > 0 ? bucket.sketches.get(ip) : undefined;
      if (sketch) {
        sketch.add(peer);
        return;
      }
      set = new Set();
      bucket.exact.set(ip, set);
    }
    const before = set.size;
    set.add(peer);
    if (set.size === before) return;
    bucket.pairs++;
    if (bucket.pairs > bucket.limit) this.compact(bucket);
  }

  /** Turns the bucket's largest exact sets into sketches until it holds at most half the bound. */
  private compact(bucket: Bucket): void {
    const target = Math.floor(this.options.maxExactPairs / 2);
    const largest = [...bucket.exact]
      .filter(([, s]) => s.size >= MIN_SKETCH_SET)
      .map(([ip, set]) => [peerText(ip), ip, set] as const)
      .sort((x, y) => y[2].size - x[2].size || (x[0] < y[0] ? -1 : 1))
      .map(([, ip, set]) => [ip, set] as const);
    for (const [ip, set] of largest) {
      if (bucket.pairs <= target) break;
      const hll = new HyperLogLog(this.options.hllPrecision);
      for (const peer of set) hll.add(peer);
      bucket.sketches.set(ip, hll);
      bucket.exact.delete(ip);
      bucket.pairs -= set.size;
    }
    // Many tiny sets cannot shrink further: compact again only after another bound's worth of growth.
    bucket.limit = Math.max(this.options.maxExactPairs, bucket.pairs + target);
  }

  private noteNames(ip: string, fields: Record<string, unknown>, from: string[]): void {
    let have: Record<string, unknown> | undefined;
    let looked = false;
    for (let i = 0; i < from.length; i++) {
      const v = fields[from[i]!];
      if (v === undefined || v === null || v === '') continue;
      // The map is consulted only for a flow that carries a name (none do without enrichment).
      if (!looked) {
        have = this.names.get(ip);
        looked = true;
      }
      have ??= {};
      const key = this.options.names[i]!;
      if (have[key] === undefined) have[key] = typeof v === 'string' ? ownCopy(v) : v;
    }
    if (have && !this.names.has(ip)) this.names.set(ownCopy(ip), have);
  }
}

/**
 * The stored form of a peer address: a dotted-quad IPv4 address as its unsigned 32-bit value,
 * anything else (IPv6, names) as an own copy of the string.
 */
export function peerKey(address: string): PeerKey {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      // "010" is other text than "10": only canonical dotted quads become numbers.
      if (digits === 1 && part === 0) return ownCopy(address);
      part = part * 10 + (c - 48);
      digits++;
      if (part > 255) return ownCopy(address);
    } else if (c === 46 && digits > 0 && dots < 3) {
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else return ownCopy(address);
  }
  if (dots !== 3 || digits === 0) return ownCopy(address);
  return value * 256 + part;
}

/** The text of a peer key (for messages and tests). */
export function peerText(peer: PeerKey): string {
  return typeof peer === 'string' ? peer : `${peer >>> 24}.${(peer >>> 16) & 255}.${(peer >>> 8) & 255}.${peer & 255}`;
}

// V8 makes substrings of 13 characters or more views into their parent string: copy those.
function ownCopy(text: string): string {
  return text.length < 13 ? text : (JSON.parse(JSON.stringify(text)) as string);
}

function comparePeers(x: PeerKey, y: PeerKey): number {
  if (typeof x === 'number' && typeof y === 'number') return x - y;
  if (typeof x === 'number') return -1;
  if (typeof y === 'number') return 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

function byKey(x: readonly [string, unknown], y: readonly [string, unknown]): number {
  return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0;
}
