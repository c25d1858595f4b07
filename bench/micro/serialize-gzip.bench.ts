/**
 * Throughput of the files sink hot path (serialize + gzip + write) on flow-log-like records of
 * about 400 bytes, at several gzip levels. Run after a build:
 *   node dist/src/sinks/files/serialize-gzip.bench.js [records=1000000] [sink levels, e.g. 0,1,6 (0 = no gzip)]
 * Prints one line per configuration: MB/s of uncompressed NDJSON, records/s, output ratio and
 * CPU seconds (the process total, which includes zlib's thread-pool work). `zlib alone` lines
 * compress already-serialized NDJSON in one call: the cost of each level on one thread.
 */
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FilesSinkConfig } from '../../src/pipeline/config.js';
import type { SluiceRecord } from '../../src/core/record.js';
import { createFilesSink } from '../../src/sinks/files/index.js';
import { createNdjsonLineEncoder } from '../../src/core/ndjson-line.js';

const total = Number(process.argv[2] ?? 1_000_000);
const sinkLevels = (process.argv[3] ?? '0,1,3,4,5,6,9').split(',').map(Number);
const BATCH = 1000;
const DISTINCT = 20_000;

/** Deterministic pseudo-random numbers (mulberry32), so every run measures the same bytes. */
function randomSource(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function flowLogRecords(count: number): SluiceRecord[] {
  const random = randomSource(42);
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
  const int = (max: number) => Math.floor(random() * max);
  const ip = () => `10.${int(4)}.${int(256)}.${int(256)}`;
  const hex = (n: number) => Array.from({ length: n }, () => '0123456789abcdef'[int(16)]).join('');
  const enis = Array.from({ length: 50 }, () => `eni-${hex(17)}`);
  const start0 = 1_716_000_000;
  return Array.from({ length: count }, (_, i) => {
    const start = start0 + Math.floor(i / 200);
    const src = ip();
    const dst = random() < 0.3 ? `52.95.${int(256)}.${int(256)}` : ip();
    return {
      id: `3f9a0c1e2b4d5f60-${i + 1}`,
      origin: { object: 's3://logs/AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/05/18/x.log.gz', line: i + 2 },
      time: start * 1000,
      fields: {
        version: 5,
        'account-id': '123456789012',
        'interface-id': pick(enis),
        srcaddr: src,
        dstaddr: dst,
        srcport: int(65536),
        dstport: pick([443, 80, 22, 53, 3306, 5432, int(65536)]),
        protocol: pick([6, 6, 6, 17, 1]),
        packets: 1 + int(500),
        bytes: 40 + int(700_000),
        start,
        end: start + 1 + int(60),
        action: random() < 0.9 ? 'ACCEPT' : 'REJECT',
        'log-status': 'OK',
        'tcp-flags': pick([2, 3, 18, 19, 0]),
        type: 'IPv4',
        region: 'us-east-1',
        'az-id': 'use1-az2',
        'flow-direction': random() < 0.5 ? 'ingress' : 'egress',
        'traffic-path': pick([1, 2, 8]),
      },
    };
  });
}

async function main(): Promise<void> {
  const records = flowLogRecords(DISTINCT);
  const encode = createNdjsonLineEncoder('_id');
  const sampleBytes = records.reduce((sum, r) => sum + Buffer.byteLength(encode(r)), 0);
  console.log(`${total} records, ${(sampleBytes / DISTINCT).toFixed(0)} bytes per NDJSON line on average`);

  // Serialization alone (encode + batch concatenation), the floor under every sink.
  {
    const cpu = process.cpuUsage();
    const began = process.hrtime.bigint();
    let bytes = 0;
    for (let done = 0; done < total; done += BATCH) {
      let chunk = '';
      for (let i = 0; i < BATCH; i++) chunk += encode(records[(done + i) % DISTINCT]!);
      bytes += chunk.length;
    }
    report('serialize only', began, bytes, bytes, process.cpuUsage(cpu));
  }

  // zlib alone on already-serialized NDJSON: what each level costs one thread-pool thread.
  {
    let ndjson = '';
    for (const r of records) ndjson += encode(r);
    const input = Buffer.from(ndjson);
    for (const level of [1, 3, 4, 5, 6, 9]) {
      const cpu = process.cpuUsage();
      const began = process.hrtime.bigint();
      let written = 0;
      const rounds = Math.max(1, Math.round(total / DISTINCT / 4));
      for (let i = 0; i < rounds; i++) written += gzipSync(input, { level }).length;
      report(`zlib alone L${level}`, began, input.length * rounds, written, process.cpuUsage(cpu), DISTINCT * rounds);
    }
  }

  // The whole sink: serialize + batch + gzip in the thread pool + write + fsync + rename.
  // Best of three runs per configuration: the machine may be shared.
  for (const sinkLevel of sinkLevels) {
    const compression = sinkLevel === 0 ? 'none' : 'gzip';
    const level = sinkLevel === 0 ? 6 : sinkLevel;
    let best: { began: bigint; cpu: NodeJS.CpuUsage; written: number; seconds: number } | undefined;
    for (let run = 0; run < 3; run++) {
      const dir = await mkdtemp(path.join(tmpdir(), 'sluice-bench-'));
      try {
        const config: FilesSinkConfig = {
          type: 'files', path: dir, format: 'ndjson', layout: 'date', partition: 'day', targetSizeMb: 64,
          compression, gzipLevel: level, parquetCompression: 'snappy', rowGroupRows: 65_536, schema: 'inferred', idField: '_id',
        };
        const writer = createFilesSink(config).openUnit({ id: 'bench', outputStem: 'bench', objects: [] });
        const cpuStart = process.cpuUsage();
        const began = process.hrtime.bigint();
        for (let done = 0; done < total; done += BATCH) {
          const batch: SluiceRecord[] = [];
          for (let i = 0; i < BATCH; i++) batch.push(records[(done + i) % DISTINCT]!);
          await writer.write(batch);
        }
        const commit = await writer.commit();
        const seconds = Number(process.hrtime.bigint() - began) / 1e9;
        const cpu = process.cpuUsage(cpuStart);
        const written = commit.outputs.reduce((sum, file) => sum + statSync(file).size, 0);
        if (!best || seconds < best.seconds) best = { began, cpu, written, seconds };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    const bytes = Math.round((sampleBytes / DISTINCT) * total);
    const label = compression === 'gzip' ? `sink gzip L${level}` : 'sink no gzip';
    report(label, best!.began, bytes, best!.written, best!.cpu, total, best!.seconds);
  }
}

function report(
  label: string, began: bigint, bytes: number, written: number, cpu: NodeJS.CpuUsage, records = total,
  seconds = Number(process.hrtime.bigint() - began) / 1e9,
): void {
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  console.log(
    `${label.padEnd(16)} ${(bytes / 1e6 / seconds).toFixed(1).padStart(7)} MB/s  ` +
      `${Math.round(records / seconds).toLocaleString('en-US').padStart(10)} records/s  ` +
      `ratio ${(written / bytes).toFixed(3)}  cpu ${cpuSeconds.toFixed(2)} s (${(bytes / 1e6 / cpuSeconds).toFixed(0)} MB per cpu-s)  wall ${seconds.toFixed(2)} s`,
  );
}

await main();
