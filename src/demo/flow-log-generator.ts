/**
 * Realistic VPC Flow Log lines and S3 objects for the demo, the tests and the benchmarks.
 *
 * Invariants:
 * - Deterministic: the output depends only on the inventory, the seed and the options. Each S3
 *   object draws from its own PRNG stream (seed, object index), so objects can be written in any
 *   order or concurrently and still come out byte-identical.
 * - Every line has exactly the header's field count; start ≤ end, end − start ≤ 60 s, and both lie
 *   in the requested window.
 * - Fast: each line is written as bytes straight into a chunk buffer from tokens encoded once per
 *   (conversation, observing ENI) — "2 <account> <eni> <src> <dst> ", " 6 ", " ACCEPT OK" — plus a
 *   handful of integers, so the cost per line is a few copies and an integer formatting loop.
 *   Conversations never straddle chunks, which keeps the chunk the only state between calls.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { DemoInterface, DemoInventory } from './inventory.js';
import { hashSeed, Prng } from './prng.js';
import { buildConversations, NODATA_SHARE, PortSlot, SKIPDATA_SHARE, type Conversation, type LineSpec } from './traffic-model.js';

export type FlowLogFormat = 'v2' | 'v5';

/** Field names in header order: v2 is AWS's default format, v5 all v2–v5 fields in AWS's table order. */
export const FLOW_LOG_FIELDS: Readonly<Record<FlowLogFormat, readonly string[]>> = {
  v2: ['version', 'account-id', 'interface-id', 'srcaddr', 'dstaddr', 'srcport', 'dstport', 'protocol', 'packets', 'bytes', 'start', 'end', 'action', 'log-status'],
  v5: [
    'version', 'account-id', 'interface-id', 'srcaddr', 'dstaddr', 'srcport', 'dstport', 'protocol', 'packets', 'bytes', 'start', 'end', 'action', 'log-status',
    'vpc-id', 'subnet-id', 'instance-id', 'tcp-flags', 'type', 'pkt-srcaddr', 'pkt-dstaddr', 'region', 'az-id', 'sublocation-type', 'sublocation-id',
    'pkt-src-aws-service', 'pkt-dst-aws-service', 'flow-direction', 'traffic-path',
  ],
};

/** The header line S3 delivery writes first in every object (without the newline). */
export function flowLogHeader(format: FlowLogFormat): string {
  return FLOW_LOG_FIELDS[format].join(' ');
}

export interface FlowLogLinesOptions {
  inventory: DemoInventory;
  seed: number;
  /** Window start, epoch seconds. */
  start: number;
  /** Window length in seconds; every line's start and end fall inside it. */
  durationS: number;
  /** Number of lines (records) to produce, header not included. */
  lines: number;
  format: FlowLogFormat;
  /** Only lines observed by this ENI. */
  interfaceId?: string;
  /** Only lines observed by ENIs of this VPC (what one VPC-level flow log delivers). */
  vpcId?: string;
}

export interface FlowLogChunkOptions extends FlowLogLinesOptions {
  /** Approximate size of each chunk (whole lines only). Default 512 KiB. */
  chunkBytes?: number;
}

export interface FlowLogGenerator {
  readonly header: string;
  /** Lines produced so far. */
  readonly linesWritten: number;
  /** Bytes produced so far. */
  readonly bytesWritten: number;
  /** The next chunk of whole `\n`-terminated lines, or null once `lines` lines were produced. */
  nextChunk(): Buffer | null;
}

/**
 * A stateful generator producing flow-log lines as byte chunks (the fast path).
 *
 * @example
 * const gen = createFlowLogGenerator({ inventory, seed: 1, start: 1_700_000_000, durationS: 300, lines: 1000, format: 'v2' });
 * for (let chunk = gen.nextChunk(); chunk; chunk = gen.nextChunk()) out.write(chunk);
 */
export function createFlowLogGenerator(options: FlowLogChunkOptions): FlowLogGenerator {
  validateOptions(options);
  return new ChunkedFlowLogGenerator(options);
}

/** The lines as byte chunks (each chunk holds whole lines, `\n`-terminated). */
export function* flowLogChunks(options: FlowLogChunkOptions): Generator<Buffer, void, undefined> {
  const gen = createFlowLogGenerator(options);
  for (let chunk = gen.nextChunk(); chunk; chunk = gen.nextChunk()) yield chunk;
}

/**
 * The lines as strings (no header, no newline). Convenient for tests and small samples; use
 * `flowLogChunks` / `createFlowLogGenerator` for volume.
 */
export function flowLogLines(options: FlowLogLinesOptions): string[] {
  const parts: string[] = [];
  for (const chunk of flowLogChunks(options)) parts.push(chunk.toString('latin1'));
  const text = parts.join('');
  return text.length === 0 ? [] : text.slice(0, -1).split('\n');
}

function validateOptions(o: FlowLogLinesOptions): void {
  const fail = (what: string) => {
    throw new RangeError(`flow-log generator: ${what}`);
  };
  if (!Number.isInteger(o.lines) || o.lines < 0) fail(`lines must be a non-negative integer, got ${o.lines}`);
  if (!Number.isInteger(o.start) || o.start < 0 || o.start >= 2 ** 31 - 3600 * 24) {
    fail(`start must be whole epoch seconds before 2038, got ${o.start}${o.start > 1e11 ? ' (that looks like milliseconds: divide by 1000)' : ''}`);
  }
  if (!Number.isInteger(o.durationS) || o.durationS < 1) fail(`durationS must be a positive whole number of seconds, got ${o.durationS}`);
  if (o.format !== 'v2' && o.format !== 'v5') fail(`format must be 'v2' or 'v5', got ${String(o.format)}`);
  if (o.interfaceId !== undefined && !o.inventory.interfaces.some((e) => e.id === o.interfaceId)) {
    fail(`interface ${o.interfaceId} is not in the inventory`);
  }
  if (o.vpcId !== undefined && !o.inventory.vpcs.some((v) => v.id === o.vpcId)) fail(`VPC ${o.vpcId} is not in the inventory`);
}

// ---------------------------------------------------------------------------------------------
// Compiled model: conversations with pre-encoded tokens, restricted to a scope, plus an alias
// table to pick one in O(1).

interface CompiledLine {
  observer: number;
  /** "2 <account> <eni> <src> <dst> " (or the NODATA/SKIPDATA prefix with the seven dashes). */
  prefix: Buffer;
  /** " <protocol> " */
  protocol: Buffer;
  /** " ACCEPT OK" / " REJECT OK" / " - NODATA", with "\n" for v2. */
  action: Buffer;
  /** v5: " <vpc> <subnet> <instance> "; empty for v2 and for status lines. */
  middle: Buffer;
  /** v5: " IPv4 <pkt-src> <pkt-dst> <region> <az> - - <svc> <svc> <direction> <path>\n". */
  tail: Buffer;
  srcPort: PortSlot;
  dstPort: PortSlot;
  reply: boolean;
  /** A NODATA / SKIPDATA line: prefix, times, action, tail only. */
  status: boolean;
}

interface CompiledConversation {
  lines: CompiledLine[];
  clientLow: number;
  clientSpan: number;
  serverPort: number;
  maxPackets: number;
  minPacketBytes: number;
  packetBytesSpan: number;
  replyRatio: number;
  minReplyPacketBytes: number;
  replyPacketBytesSpan: number;
  /** 0 none, 1 short-lived TCP, 2 long-lived TCP, 3 SYN only (refused). */
  flags: number;
}

interface CompiledModel {
  conversations: CompiledConversation[];
  aliasProbability: Float64Array;
  aliasIndex: Int32Array;
  /** Per inventory ENI: offset of its capture windows in the minute, and their length. */
  phase: Int32Array;
  span: Int32Array;
  maxLineBytes: number;
}

const conversationCache = new WeakMap<DemoInventory, Conversation[]>();
const modelCache = new WeakMap<DemoInventory, Map<string, CompiledModel>>();

function compiledModel(options: FlowLogLinesOptions): CompiledModel {
  const inv = options.inventory;
  const key = `${options.format}|${options.vpcId ?? ''}|${options.interfaceId ?? ''}`;
  let perInventory = modelCache.get(inv);
  if (!perInventory) {
    perInventory = new Map();
    modelCache.set(inv, perInventory);
  }
  let model = perInventory.get(key);
  if (!model) {
    let conversations = conversationCache.get(inv);
    if (!conversations) {
      conversations = buildConversations(inv);
      conversationCache.set(inv, conversations);
    }
    model = compileModel(inv, conversations, options);
    perInventory.set(key, model);
  }
  return model;
}

function compileModel(inv: DemoInventory, conversations: Conversation[], options: FlowLogLinesOptions): CompiledModel {
  const format = options.format;
  const v5 = format === 'v5';
  const version = v5 ? '5' : '2';
  const eniIndex = new Map(inv.interfaces.map((e, i) => [e, i]));
  const subnetAz = new Map(inv.subnets.map((s) => [s.id, s.azId]));
  const inScope = (e: DemoInterface) =>
    (options.interfaceId === undefined || e.id === options.interfaceId) && (options.vpcId === undefined || e.vpcId === options.vpcId);
  const enc = (text: string) => Buffer.from(text, 'latin1');
  const newline = v5 ? '' : '\n';
  const middleOf = (e: DemoInterface) => (v5 ? ` ${e.vpcId} ${e.subnetId} ${e.instanceId ?? '-'} ` : '');

  const compileLine = (spec: LineSpec, protocol: number): CompiledLine => {
    const e = spec.observer;
    const type = spec.srcaddr.includes(':') ? 'IPv6' : 'IPv4';
    return {
      observer: eniIndex.get(e)!,
      prefix: enc(`${version} ${e.accountId} ${e.id} ${spec.srcaddr} ${spec.dstaddr} `),
      protocol: enc(` ${protocol} `),
      action: enc(` ${spec.action} OK${newline}`),
      middle: enc(middleOf(e)),
      tail: enc(
        v5
          ? ` ${type} ${spec.pktSrcaddr} ${spec.pktDstaddr} ${inv.region} ${subnetAz.get(e.subnetId)} - - ${spec.srcService} ${spec.dstService} ${spec.direction} ${spec.trafficPath}\n`
          : '',
      ),
      srcPort: spec.srcPort,
      dstPort: spec.dstPort,
      reply: spec.reply,
      status: false,
    };
  };
  const statusLine = (e: DemoInterface, status: 'NODATA' | 'SKIPDATA'): CompiledLine => ({
    observer: eniIndex.get(e)!,
    prefix: enc(`${version} ${e.accountId} ${e.id} - - - - - - - `),
    protocol: enc(''),
    action: enc(` - ${status}${newline}`),
    middle: enc(''),
    tail: enc(v5 ? ` ${e.vpcId} ${e.subnetId} ${e.instanceId ?? '-'} - - - - ${inv.region} ${subnetAz.get(e.subnetId)} - - - - - -\n` : ''),
    srcPort: PortSlot.Zero,
    dstPort: PortSlot.Zero,
    reply: false,
    status: true,
  });

  const compiled: CompiledConversation[] = [];
  const weights: number[] = [];
  let trafficWeight = 0;
  for (const c of conversations) {
    const lines = c.lines.filter((l) => inScope(l.observer)).map((l) => compileLine(l, c.protocol));
    if (lines.length === 0) continue;
    const s = c.sizes;
    compiled.push({
      lines,
      clientLow: c.clientPorts[0],
      clientSpan: c.clientPorts[1] - c.clientPorts[0] + 1,
      serverPort: c.serverPort,
      maxPackets: s.maxPackets,
      minPacketBytes: s.minPacketBytes,
      packetBytesSpan: s.maxPacketBytes - s.minPacketBytes + 1,
      replyRatio: s.replyRatio,
      minReplyPacketBytes: s.minReplyPacketBytes,
      replyPacketBytesSpan: s.maxReplyPacketBytes - s.minReplyPacketBytes + 1,
      flags: c.flags === 'none' ? 0 : c.flags === 'short' ? 1 : c.flags === 'long' ? 2 : 3,
    });
    // trafficWeight is proportional to the expected traffic lines per pick; the status lines'
    // weights below are sized against it so they make up NODATA_SHARE / SKIPDATA_SHARE of lines.
    weights.push(c.weight);
    trafficWeight += c.weight * lines.length;
  }

  // Status lines: one "conversation" of one line per in-scope ENI; their total weight makes them
  // NODATA_SHARE / SKIPDATA_SHARE of the lines.
  const observers = inv.interfaces.filter(inScope);
  for (const [status, share] of [['NODATA', NODATA_SHARE], ['SKIPDATA', SKIPDATA_SHARE]] as const) {
    const each = (trafficWeight * share) / (1 - NODATA_SHARE - SKIPDATA_SHARE) / Math.max(1, observers.length);
    for (const e of observers) {
      compiled.push({
        lines: [statusLine(e, status)],
        clientLow: 0, clientSpan: 1, serverPort: 0, maxPackets: 1, minPacketBytes: 0, packetBytesSpan: 1,
        replyRatio: 0, minReplyPacketBytes: 0, replyPacketBytesSpan: 1, flags: 0,
      });
      weights.push(each);
    }
  }

  const { probability, alias } = buildAliasTable(weights);
  const phase = new Int32Array(inv.interfaces.length);
  const span = new Int32Array(inv.interfaces.length);
  inv.interfaces.forEach((e, i) => {
    // Capture windows are a property of the ENI: the same in every object, like in AWS.
    const h = hashSeed(inv.seed, e.id);
    phase[i] = h % 60;
    span[i] = 25 + ((h >>> 8) % 36);
  });
  let maxLineBytes = 0;
  for (const c of compiled) {
    for (const l of c.lines) {
      const fixed = l.prefix.length + l.protocol.length + l.action.length + l.middle.length + l.tail.length;
      // ports 2×5, packets/bytes 2×10, times 2×10, flags 3, spaces.
      maxLineBytes = Math.max(maxLineBytes, fixed + 64);
    }
  }
  return { conversations: compiled, aliasProbability: probability, aliasIndex: alias, phase, span, maxLineBytes };
}

/** Vose's alias method: O(1) weighted choice. */
function buildAliasTable(weights: number[]): { probability: Float64Array; alias: Int32Array } {
  const n = weights.length;
  const probability = new Float64Array(n);
  const alias = new Int32Array(n);
  const total = weights.reduce((a, b) => a + b, 0);
  const scaled = weights.map((w) => (w * n) / total);
  const small: number[] = [];
  const large: number[] = [];
  scaled.forEach((p, i) => (p < 1 ? small : large).push(i));
  while (small.length > 0 && large.length > 0) {
    const s = small.pop()!;
    const l = large.pop()!;
    probability[s] = scaled[s]!;
    alias[s] = l;
    scaled[l] = scaled[l]! + scaled[s]! - 1;
    (scaled[l]! < 1 ? small : large).push(l);
  }
  for (const i of [...small, ...large]) {
    probability[i] = 1;
    alias[i] = i;
  }
  return { probability, alias };
}

// ---------------------------------------------------------------------------------------------
// The hot loop.

const SPACE = 0x20;

class ChunkedFlowLogGenerator implements FlowLogGenerator {
  readonly header: string;
  linesWritten = 0;
  bytesWritten = 0;
  private readonly model: CompiledModel;
  private readonly rng: Prng;
  private readonly total: number;
  private readonly chunkBytes: number;
  private readonly windowStart: number;
  private readonly windowEnd: number;
  private readonly minutes: number;
  private readonly ports = new Int32Array(4);

  constructor(options: FlowLogChunkOptions) {
    this.header = flowLogHeader(options.format);
    this.model = compiledModel(options);
    this.rng = new Prng(hashSeed(options.seed, 'flow-log-lines', options.start, options.format));
    this.total = this.model.conversations.length === 0 ? 0 : options.lines;
    this.chunkBytes = Math.max(4096, options.chunkBytes ?? 512 * 1024);
    this.windowStart = options.start;
    this.windowEnd = options.start + options.durationS;
    this.minutes = Math.max(1, Math.ceil(options.durationS / 60));
  }

  nextChunk(): Buffer | null {
    if (this.linesWritten >= this.total) return null;
    const model = this.model;
    const rng = this.rng;
    const ports = this.ports;
    const conversations = model.conversations;
    const count = conversations.length;
    const aliasProbability = model.aliasProbability;
    const aliasIndex = model.aliasIndex;
    const phase = model.phase;
    const span = model.span;
    // Room for the longest conversation (six lines) past the soft limit.
    const buf = Buffer.allocUnsafe(this.chunkBytes + 6 * model.maxLineBytes);
    const softLimit = this.chunkBytes;
    let pos = 0;
    let written = this.linesWritten;
    const total = this.total;

    while (pos < softLimit && written < total) {
      let ci = rng.int(count);
      if (rng.next() >= aliasProbability[ci]!) ci = aliasIndex[ci]!;
      const c = conversations[ci]!;

      ports[PortSlot.Client] = c.clientLow + rng.int(c.clientSpan);
      ports[PortSlot.Server] = c.serverPort;
      ports[PortSlot.Nat] = 1024 + rng.int(64512);
      const u = rng.next();
      const packets = 1 + Math.floor(u * u * c.maxPackets);
      const bytes = packets * (c.minPacketBytes + rng.int(c.packetBytesSpan));
      const replyPackets = Math.max(1, Math.round(packets * c.replyRatio * (0.8 + 0.4 * rng.next())));
      const replyBytes = replyPackets * (c.minReplyPacketBytes + rng.int(c.replyPacketBytesSpan));
      let flags = 0;
      let replyFlags = 0;
      if (c.flags === 3) {
        flags = 2; // a refused SYN: no reply line
      } else if (c.flags !== 0) {
        // Short-lived connections mostly open and close within one capture window; long-lived
        // ones (pools, streams) mostly show only ACKs, which flow logs report as 0.
        const r = rng.next();
        const long = c.flags === 2;
        if (r < (long ? 0.15 : 0.7)) (flags = 3), (replyFlags = 19); // SYN+FIN / SYN-ACK+FIN
        else if (r < (long ? 0.25 : 0.85)) (flags = 2), (replyFlags = 18); // opened in this window
        else if (r < (long ? 0.35 : 0.95)) (flags = 1), (replyFlags = 1); // closed in this window
      }
      const minuteStart = this.windowStart + Math.floor((written * this.minutes) / total) * 60;

      const lines = c.lines;
      for (let li = 0; li < lines.length && written < total; li++) {
        const l = lines[li]!;
        let start = minuteStart + phase[l.observer]!;
        let end = start + span[l.observer]!;
        if (end > this.windowEnd) {
          end = this.windowEnd;
          start = Math.max(this.windowStart, end - span[l.observer]!);
        }
        pos = copyBytes(buf, pos, l.prefix);
        if (!l.status) {
          pos = writeUint(buf, pos, ports[l.srcPort]!);
          buf[pos++] = SPACE;
          pos = writeUint(buf, pos, ports[l.dstPort]!);
          pos = copyBytes(buf, pos, l.protocol);
          pos = writeUint(buf, pos, l.reply ? replyPackets : packets);
          buf[pos++] = SPACE;
          pos = writeUint(buf, pos, l.reply ? replyBytes : bytes);
          buf[pos++] = SPACE;
        }
        pos = writeUint(buf, pos, start);
        buf[pos++] = SPACE;
        pos = writeUint(buf, pos, end);
        pos = copyBytes(buf, pos, l.action);
        if (l.tail.length !== 0) {
          if (!l.status) {
            pos = copyBytes(buf, pos, l.middle);
            pos = writeUint(buf, pos, l.reply ? replyFlags : flags);
          }
          pos = copyBytes(buf, pos, l.tail);
        }
        written++;
      }
    }
    this.linesWritten = written;
    this.bytesWritten += pos;
    return buf.subarray(0, pos);
  }
}

function copyBytes(dst: Buffer, pos: number, src: Buffer): number {
  dst.set(src, pos);
  return pos + src.length;
}

/** Writes a non-negative integer below 2^31 in decimal. */
function writeUint(buf: Buffer, pos: number, n: number): number {
  if (n < 10) {
    buf[pos] = 48 + n;
    return pos + 1;
  }
  const digits = n < 100 ? 2 : n < 1000 ? 3 : n < 10000 ? 4 : n < 100000 ? 5 : n < 1000000 ? 6 : n < 10000000 ? 7 : n < 100000000 ? 8 : n < 1000000000 ? 9 : 10;
  let p = pos + digits - 1;
  while (n >= 10) {
    const q = (n / 10) | 0;
    buf[p--] = 48 + (n - q * 10);
    n = q;
  }
  buf[p] = 48 + n;
  return pos + digits;
}

// ---------------------------------------------------------------------------------------------
// S3 objects.

export interface WriteFlowLogObjectsOptions {
  /** Root folder; objects go under `AWSLogs/<account>/vpcflowlogs/<region>/yyyy/mm/dd/`. */
  dir: string;
  inventory: DemoInventory;
  seed: number;
  objects: number;
  linesPerObject: number;
  /** First 5-minute interval (rounded down to 5 minutes); a number is epoch seconds. */
  start: Date | number;
  format: FlowLogFormat;
  /** Write the header line first, as S3 delivery does. Default true. */
  header?: boolean;
  /** gzip level 1–9. Default 1 (the reader does not care; speed does). */
  gzipLevel?: number;
  /** Objects are spread over the 5-minute intervals of this many minutes from `start`. Default 60. */
  durationMinutes?: number;
  /** Objects written at once. Default: available parallelism, at most 4. */
  concurrency?: number;
}

export interface WrittenFlowLogObjects {
  /** Absolute paths, in object order. */
  files: string[];
  /** Lines written including header lines. */
  lines: number;
  /** Header lines written (one per object, or none). */
  headerLines: number;
  /** Data lines (records) written: `lines - headerLines`. */
  records: number;
  /** Compressed bytes on disk. */
  bytes: number;
  /** Bytes before compression. */
  uncompressedBytes: number;
}

export interface PlannedFlowLogObject {
  index: number;
  /** Key relative to `dir`, with `/` separators. */
  key: string;
  accountId: string;
  vpcId: string;
  /** Start of the object's 5-minute interval, epoch seconds. */
  intervalStart: number;
  seed: number;
}

const FIVE_MINUTES = 300;

/**
 * Names and places the objects: object k belongs to VPC k mod 3 (one flow log per VPC) and to
 * the 5-minute interval ⌊k × intervals / objects⌋, so objects spread evenly over the duration.
 */
export function planFlowLogObjects(options: Pick<WriteFlowLogObjectsOptions, 'inventory' | 'seed' | 'objects' | 'start' | 'durationMinutes'>): PlannedFlowLogObject[] {
  const inv = options.inventory;
  const startS = typeof options.start === 'number' ? options.start : Math.floor(options.start.getTime() / 1000);
  if (!Number.isInteger(startS) || startS < 0) throw new RangeError(`flow-log objects: start must be whole epoch seconds, got ${String(options.start)}`);
  if (startS > 1e11) throw new RangeError(`flow-log objects: start ${startS} looks like milliseconds; pass epoch seconds or a Date`);
  if (!Number.isInteger(options.objects) || options.objects < 0) throw new RangeError(`flow-log objects: objects must be a non-negative integer, got ${options.objects}`);
  const base = startS - (startS % FIVE_MINUTES);
  const intervals = Math.max(1, Math.floor((options.durationMinutes ?? 60) / 5));
  const used = new Set<string>();
  const planned: PlannedFlowLogObject[] = [];
  for (let k = 0; k < options.objects; k++) {
    const vpc = inv.vpcs[k % inv.vpcs.length]!;
    const intervalStart = base + Math.floor((k * intervals) / Math.max(options.objects, 1)) * FIVE_MINUTES;
    const d = new Date(intervalStart * 1000);
    const yyyy = String(d.getUTCFullYear());
    const mm = String(d.getUTCMonth() + 1).padStart(2, '0');
    const dd = String(d.getUTCDate()).padStart(2, '0');
    const hhmm = `${String(d.getUTCHours()).padStart(2, '0')}${String(d.getUTCMinutes()).padStart(2, '0')}`;
    const nameRng = new Prng(hashSeed(options.seed, 'object-name', k));
    let key: string;
    do {
      key = `AWSLogs/${vpc.accountId}/vpcflowlogs/${inv.region}/${yyyy}/${mm}/${dd}/${vpc.accountId}_vpcflowlogs_${inv.region}_${vpc.flowLogId}_${yyyy}${mm}${dd}T${hhmm}Z_${nameRng.hex(8)}.log.gz`;
    } while (used.has(key));
    used.add(key);
    planned.push({ index: k, key, accountId: vpc.accountId, vpcId: vpc.id, intervalStart, seed: hashSeed(options.seed, 'object', k) });
  }
  return planned;
}

/**
 * Writes gzip flow-log objects in the S3 delivery layout. Byte-identical for the same options
 * (given the same zlib). Each object is generated and compressed as a stream, so memory stays
 * small whatever `linesPerObject` is.
 *
 * @example
 * const { files, records } = await writeFlowLogObjects({ dir: '/tmp/demo', inventory: buildDemoInventory(),
 *   seed: 1, objects: 12, linesPerObject: 10_000, start: new Date('2024-05-01T10:00:00Z'), format: 'v5' });
 */
export async function writeFlowLogObjects(options: WriteFlowLogObjectsOptions): Promise<WrittenFlowLogObjects> {
  const header = options.header ?? true;
  const level = options.gzipLevel ?? 1;
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new RangeError(`flow-log objects: gzipLevel must be 0–9, got ${level}`);
  if (!Number.isInteger(options.linesPerObject) || options.linesPerObject < 0) {
    throw new RangeError(`flow-log objects: linesPerObject must be a non-negative integer, got ${options.linesPerObject}`);
  }
  const planned = planFlowLogObjects(options);
  const results: Array<{ bytes: number; uncompressed: number; records: number }> = new Array(planned.length);
  const concurrency = Math.max(1, options.concurrency ?? Math.min(4, availableParallelism()));
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < planned.length; i = next++) {
      const p = planned[i]!;
      results[i] = await writeOneObject(path.join(options.dir, ...p.key.split('/')), {
        inventory: options.inventory,
        seed: p.seed,
        start: p.intervalStart,
        durationS: FIVE_MINUTES,
        lines: options.linesPerObject,
        format: options.format,
        vpcId: p.vpcId,
      }, header, level);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, planned.length) }, worker));
  const headerLines = header ? planned.length : 0;
  const records = results.reduce((a, r) => a + r.records, 0);
  return {
    files: planned.map((p) => path.resolve(options.dir, ...p.key.split('/'))),
    lines: records + headerLines,
    headerLines,
    records,
    bytes: results.reduce((a, r) => a + r.bytes, 0),
    uncompressedBytes: results.reduce((a, r) => a + r.uncompressed, 0),
  };
}

async function writeOneObject(
  file: string,
  lineOptions: FlowLogLinesOptions,
  header: boolean,
  level: number,
): Promise<{ bytes: number; uncompressed: number; records: number }> {
  await mkdir(path.dirname(file), { recursive: true });
  const gen = createFlowLogGenerator({ ...lineOptions, chunkBytes: 1024 * 1024 });
  const headerBytes = header ? Buffer.from(`${gen.header}\n`, 'latin1') : undefined;
  function* chunks(): Generator<Buffer> {
    if (headerBytes) yield headerBytes;
    for (let chunk = gen.nextChunk(); chunk; chunk = gen.nextChunk()) yield chunk;
  }
  // Written aside and renamed, so a reader listing the folder never sees half an object.
  const partial = `${file}.partial`;
  try {
    await pipeline(Readable.from(chunks(), { objectMode: false }), createGzip({ level, chunkSize: 256 * 1024 }), createWriteStream(partial));
    await rename(partial, file);
  } catch (err) {
    await rm(partial, { force: true });
    throw new Error(`flow-log objects: could not write ${file}: ${(err as Error).message}`, { cause: err });
  }
  const { size } = await stat(file);
  return { bytes: size, uncompressed: gen.bytesWritten + (headerBytes?.length ?? 0), records: gen.linesWritten };
}
