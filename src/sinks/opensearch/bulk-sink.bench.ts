/**
 * Throughput of flow logs into the bulk sink, against the bulk-API test server answering at once
 * (count mode: action lines read, documents skipped, every item 201), the server running in its
 * own worker thread. Run after a build:
 *
 *   node dist/src/sinks/opensearch/bulk-sink.bench.js [objects=8] [linesPerObject=100000]
 *
 * Prints three figures, records/s:
 *   1. sink alone: records already decoded, one unit, written to one sink instance
 *      (encode + HTTP + per-item response reading);
 *   2. one unit through processUnit (read, gunzip, vpcflow decode, sink) on the main thread;
 *   3. runPipeline over the generated folder, default workers (one per core), every object a unit.
 * Each check reconciles the counts (documents acknowledged by the server = records sent).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SluiceRecord } from '../../core/record.js';
import { parsePipeline } from '../../core/config.js';
import { createFormat, createSource } from '../../core/registry.js';
import { writeFlowLogObjects } from '../../demo/flow-log-generator.js';
import { buildDemoInventory } from '../../demo/inventory.js';
import { processUnit } from '../../runtime/process-unit.js';
import { runPipeline, defaultWorkerCount } from '../../runtime/run-pipeline.js';
import { objectIdPrefix } from '../../core/record.js';
import { decompressByMagic } from '../../sources/decompress.js';
import { startBulkServer } from '../../testing/bulk-server.js';
import { createBulkSink, type BulkSinkConfig } from './index.js';

type ToServer = { type: 'count' } | { type: 'stop' };
type FromServer = { type: 'url'; url: string } | { type: 'count'; indexed: number; requests: number; cpuS: number };

if (process.argv[2] === '--serve') {
  // The bulk server in a child process: its CPU is not Sluice's, and it does not share a core's event loop with it.
  const server = await startBulkServer({ mode: 'count' });
  const send = (msg: FromServer) => process.send!(msg);
  send({ type: 'url', url: server.url });
  process.on('message', (msg: ToServer) => {
    if (msg.type === 'count') {
      const cpu = process.cpuUsage();
      send({ type: 'count', indexed: server.indexedCount, requests: server.requests.length, cpuS: (cpu.user + cpu.system) / 1e6 });
    } else void server.stop().then(() => process.exit(0));
  });
} else {
  await main();
}

interface ServerCounts {
  indexed: number;
  requests: number;
  cpuS: number;
}

async function startServerProcess(): Promise<{ url: string; counts: () => Promise<ServerCounts>; stop: () => Promise<void> }> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = () => new Promise<FromServer>((resolve) => child.once('message', (m) => resolve(m as FromServer)));
  const first = await next();
  if (first.type !== 'url') throw new Error('bulk server process did not start');
  return {
    url: first.url,
    counts: async () => {
      const reply = next();
      child.send({ type: 'count' } satisfies ToServer);
      const msg = await reply;
      return msg.type === 'count' ? msg : { indexed: -1, requests: -1, cpuS: 0 };
    },
    stop: async () => {
      child.send({ type: 'stop' } satisfies ToServer);
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** CPU seconds this process (main thread and worker threads) used since `from`. */
function cpuSince(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
}

async function main(): Promise<void> {
  const objects = Number(process.argv[2] ?? 8);
  const linesPerObject = Number(process.argv[3] ?? 100_000);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-bulk-bench-'));
  const server = await startServerProcess();
  try {
    const written = await writeFlowLogObjects({
      dir: path.join(tmp, 'logs'),
      inventory: buildDemoInventory(1),
      seed: 1,
      objects,
      linesPerObject,
      start: new Date('2024-05-01T10:00:00Z'),
      format: 'v5',
    });
    const pipelineInput = {
      name: 'bench-bulk',
      source: { uri: path.join(tmp, 'logs') },
      format: 'vpcflow',
      sinks: [{ type: 'opensearch', url: server.url, index: 'flows-%Y.%m.%d' }],
      runtime: { state: path.join(tmp, 'state.db'), deadLetters: path.join(tmp, 'dead') },
    };
    const config = parsePipeline(pipelineInput);
    const sinkConfig = config.sinks[0] as BulkSinkConfig;
    console.log(`${objects} objects × ${linesPerObject} lines (v5, ${(written.uncompressedBytes / 1e6).toFixed(0)} MB), ${os.availableParallelism()} cores, load ${os.loadavg()[0]!.toFixed(1)}`);

    // Decode one object once, for the sink-alone figure.
    const source = createSource(config.source);
    const format = createFormat(config.format);
    let firstObject: Awaited<ReturnType<typeof firstRef>>;
    async function firstRef() {
      for await (const page of source.list()) return page[0]!;
      throw new Error('no objects');
    }
    firstObject = await firstRef();
    const records: SluiceRecord[][] = [];
    let recordCount = 0;
    const raw = await source.open(firstObject);
    for await (const batch of format.decode(decompressByMagic(raw, firstObject.uri), { object: firstObject, idPrefix: objectIdPrefix(firstObject) })) {
      records.push(batch.records);
      recordCount += batch.records.length;
    }

    const measure = async (label: string, expected: number, run: () => Promise<number>) => {
      const before = await server.counts();
      const cpu = process.cpuUsage();
      const started = performance.now();
      const sent = await run();
      const seconds = (performance.now() - started) / 1000;
      const sluiceCpu = cpuSince(cpu);
      const after = await server.counts();
      const acknowledged = after.indexed - before.indexed;
      check(sent === expected && acknowledged === expected, `${label}: ${sent} delivered, server acknowledged ${acknowledged}, ${expected} expected`);
      console.log(
        `${label.padEnd(44)} ${rate(expected, seconds)} records/s wall   ${rate(expected, sluiceCpu)} records per Sluice CPU-s   server ${(after.cpuS - before.cpuS).toFixed(1)} CPU-s, ${after.requests - before.requests} requests`,
      );
    };

    // 1. The sink alone.
    await measure('sink alone (1 unit, decoded records)', recordCount, async () => {
      const sink = createBulkSink(sinkConfig);
      const writer = sink.openUnit({ id: 'bench', outputStem: 'bench', objects: [firstObject] });
      for (const batch of records) await writer.write(batch);
      const commit = await writer.commit();
      await sink.close?.();
      return commit.delivered;
    });

    // 2. One unit through processUnit.
    await measure('one unit: read + gunzip + decode + sink', recordCount, async () => {
      const sink = createBulkSink(sinkConfig);
      const result = await processUnit(
        { source, format, transforms: [], sinks: [sink], deadLetterDir: path.join(tmp, 'dead-unit') },
        { id: 'bench-unit', outputStem: 'bench-unit', objects: [firstObject] },
      );
      await sink.close?.();
      return result.recordsOut;
    });
    await source.close?.();

    // 3. The whole pipeline on every core.
    await measure(`runPipeline, ${defaultWorkerCount()} worker threads, ${objects} units`, written.records, async () => {
      const report = await runPipeline(config);
      return report.records.out;
    });

    // Reference: the same pipeline into the files sink (plain NDJSON), measured the same way now.
    const filesConfig = parsePipeline({
      ...pipelineInput,
      name: 'bench-files',
      sinks: [{ type: 'files', path: path.join(tmp, 'out'), compression: 'none' }],
    });
    {
      const cpu = process.cpuUsage();
      const started = performance.now();
      const report = await runPipeline(filesConfig);
      const seconds = (performance.now() - started) / 1000;
      check(report.records.out === written.records, `files reference: ${report.records.out} of ${written.records}`);
      console.log(`${'reference: runPipeline into files (NDJSON)'.padEnd(44)} ${rate(written.records, seconds)} records/s wall   ${rate(written.records, cpuSince(cpu))} records per Sluice CPU-s`);
    }
  } finally {
    await server.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

function rate(records: number, seconds: number): string {
  return Math.round(records / seconds).toLocaleString('en').padStart(9);
}

function check(ok: boolean, what: string): void {
  if (!ok) {
    console.error(`COUNTS DO NOT RECONCILE: ${what}`);
    process.exitCode = 1;
  }
}
