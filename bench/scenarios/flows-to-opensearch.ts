/**
 * Seed 000 / issue 6: enriched-free flow logs into the OpenSearch bulk sink, against the bulk-API
 * test server answering at once (count mode: action lines read, sources skipped, every item 201)
 * in a child process of its own, so the figure is Sluice's, not the server's. Target: ≥ 200k
 * docs/s end to end with both cores, so that a real cluster, not Sluice, is the limit.
 *
 * Figures, records/s, each trusted only when the server acknowledged exactly the records sent:
 * 1. the sink alone (records decoded beforehand, one unit, one sink instance: encode + HTTP +
 *    per-item response reading);
 * 2. runPipeline over the folder (read, gunzip, vpcflow, bulk sink), worker threads = cores;
 * 3. reference, same run: the same pipeline into plain NDJSON files.
 *
 * Lines per object are capped at 100k here (the bulk path is per record; more only adds time).
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SluiceRecord } from '../../src/core/record.js';
import { objectIdPrefix } from '../../src/core/record.js';
import { parsePipeline } from '../../src/pipeline/config.js';
import { createFormat, createSource } from '../../src/pipeline/catalog.js';
import { defaultWorkerCount, runPipeline } from '../../src/runtime/run-pipeline.js';
import { createBulkSink, type BulkSinkConfig } from '../../src/sinks/opensearch/index.js';
import { decompressByMagic } from '../../src/core/decompress.js';
import { startBulkServer } from '../../src/testing/bulk-server.js';
import { round, timed, type Scenario, type ScenarioOutcome, type Step } from '../harness/scenario.js';
import { generateScenarioFlowLogs } from './vpcflow-ndjson.js';

const SERVE_FLAG = '--serve-bulk-count';
const MAX_LINES_PER_OBJECT = 100_000;

type ToServer = { type: 'count' } | { type: 'stop' };
type FromServer = { type: 'url'; url: string } | { type: 'count'; indexed: number; requests: number; cpuS: number };

if (process.argv.includes(SERVE_FLAG) && process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await startBulkServer({ mode: 'count' });
  process.send!({ type: 'url', url: server.url } satisfies FromServer);
  process.on('message', (msg: ToServer) => {
    if (msg.type === 'count') {
      const cpu = process.cpuUsage();
      process.send!({ type: 'count', indexed: server.indexedCount, requests: server.requests.length, cpuS: (cpu.user + cpu.system) / 1e6 } satisfies FromServer);
    } else void server.stop().then(() => process.exit(0));
  });
}

interface ServerProcess {
  url: string;
  counts(): Promise<{ indexed: number; requests: number; cpuS: number }>;
  stop(): Promise<void>;
}

async function startServerProcess(): Promise<ServerProcess> {
  const child = fork(fileURLToPath(import.meta.url), [SERVE_FLAG], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = () => new Promise<FromServer>((resolve) => child.once('message', (m) => resolve(m as FromServer)));
  const first = await next();
  if (first.type !== 'url') throw new Error('bulk server process did not start');
  return {
    url: first.url,
    async counts() {
      const reply = next();
      child.send({ type: 'count' } satisfies ToServer);
      const msg = await reply;
      return msg.type === 'count' ? msg : { indexed: -1, requests: -1, cpuS: 0 };
    },
    async stop() {
      child.send({ type: 'stop' } satisfies ToServer);
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

export const flowsToOpensearch: Scenario = {
  name: 'flows-to-opensearch',
  description: 'flow logs → vpcflow → opensearch bulk sink against the bulk test server answering at once (target ≥ 200k docs/s)',
  async run(ctx): Promise<ScenarioOutcome> {
    const o = ctx.options;
    const steps: Step[] = [];
    const failures: string[] = [];
    const notes: string[] = [];
    const figures: Record<string, unknown> = {};
    const { logs, linesPerObject, written } = await generateScenarioFlowLogs(ctx, 'v5', MAX_LINES_PER_OBJECT);
    const server = await startServerProcess();
    try {
      const input = {
        name: 'bench-flows-to-opensearch',
        source: { uri: logs },
        format: 'vpcflow',
        sinks: [{ type: 'opensearch', url: server.url, index: 'flows-%Y.%m.%d' }],
        runtime: { state: path.join(ctx.workDir, 'state.db'), deadLetters: path.join(ctx.workDir, 'dead'), concurrency: o.concurrency, ...(o.workers === undefined ? {} : { workers: o.workers }) },
      };
      const config = parsePipeline(input);

      // 1. The sink alone, on one object's records decoded beforehand.
      const source = createSource(config.source);
      const format = createFormat(config.format);
      let first;
      for await (const page of source.list()) {
        first = page[0];
        break;
      }
      if (!first) throw new Error('no objects generated');
      const batches: SluiceRecord[][] = [];
      let decoded = 0;
      for await (const b of format.decode(decompressByMagic(await source.open(first), first.uri), { object: first, idPrefix: objectIdPrefix(first) })) {
        batches.push(b.records);
        decoded += b.records.length;
      }
      await source.close?.();
      const measured = async (label: string, expected: number, work: () => Promise<number>) => {
        const before = await server.counts();
        const t = await timed(work);
        const after = await server.counts();
        const acknowledged = after.indexed - before.indexed;
        const ok = t.result === expected && acknowledged === expected;
        if (!ok) failures.push(`${label}: ${t.result} delivered, server acknowledged ${acknowledged}, ${expected} expected`);
        steps.push({ step: label, wallS: t.wallS, lines: expected, ok, note: `${Math.round(expected / t.cpuS).toLocaleString('en')} records per Sluice CPU-s; server ${round(after.cpuS - before.cpuS, 1)} CPU-s, ${after.requests - before.requests} requests` });
        return { recordsPerS: Math.round(expected / t.wallS), recordsPerSluiceCpuS: Math.round(expected / t.cpuS), wallS: round(t.wallS, 2), cpuS: round(t.cpuS, 2), serverCpuS: round(after.cpuS - before.cpuS, 2), requests: after.requests - before.requests };
      };
      ctx.log('sink alone');
      figures['sinkAlone'] = await measured('bulk sink alone (1 unit, decoded records, main thread)', decoded, async () => {
        const sink = createBulkSink(config.sinks[0] as BulkSinkConfig);
        const writer = sink.openUnit({ id: 'bench', outputStem: 'bench', objects: [first] });
        for (const b of batches) await writer.write(b);
        const commit = await writer.commit();
        await sink.close?.();
        return commit.delivered;
      });

      ctx.log('runPipeline into the bulk sink');
      const workers = o.workers ?? defaultWorkerCount();
      figures['pipeline'] = await measured(`runPipeline → opensearch (${workers} worker threads, ${o.objects} units)`, written.records, async () => {
        const report = await runPipeline(config);
        return report.records.out;
      });
      figures['targetDocsPerS'] = 200_000;
      figures['meetsTarget'] = ((figures['pipeline'] as { recordsPerS: number }).recordsPerS ?? 0) >= 200_000;

      ctx.log('reference: the same pipeline into NDJSON files');
      const filesConfig = parsePipeline({ ...input, name: 'bench-flows-to-files', sinks: [{ type: 'files', path: path.join(ctx.workDir, 'out'), compression: 'none' }] });
      const files = await timed(() => runPipeline(filesConfig));
      if (files.result.records.out !== written.records) failures.push(`files reference: ${files.result.records.out} of ${written.records}`);
      steps.push({ step: 'reference: runPipeline → NDJSON files (no compression)', wallS: files.wallS, lines: written.records, ok: files.result.records.out === written.records, note: `${Math.round(written.records / files.cpuS).toLocaleString('en')} records per Sluice CPU-s` });
      // CPU is the figure that survives a shared machine: pipeline minus this = what the bulk sink costs.
      figures['filesReference'] = { recordsPerS: Math.round(written.records / files.wallS), recordsPerSluiceCpuS: Math.round(written.records / files.cpuS), wallS: round(files.wallS, 2), cpuS: round(files.cpuS, 2) };
    } finally {
      await server.stop();
    }
    notes.push('the bulk server runs in its own process in count mode (answers every item 201 without storing documents)');
    notes.push(`lines per object capped at ${MAX_LINES_PER_OBJECT.toLocaleString('en')} in this scenario`);
    return {
      parameters: { objects: o.objects, linesPerObject, records: written.records, uncompressedBytes: written.uncompressedBytes, workers: o.workers ?? defaultWorkerCount(), concurrency: o.concurrency },
      figures,
      steps,
      failures,
      notes,
    };
  },
};
