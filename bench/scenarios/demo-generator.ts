/**
 * Speed of the demo flow-log generator itself: lines/s without compression (one thread), and
 * generation + gzip into S3-layout objects at levels 1 and 6. "Per CPU-second" figures divide by
 * the process's CPU time over all threads (zlib runs on libuv's pool), i.e. they are per core.
 */
import path from 'node:path';
import { rmSync } from 'node:fs';
import { createFlowLogGenerator, writeFlowLogObjects, type FlowLogFormat } from '../../src/demo/flow-log-generator.js';
import { buildDemoInventory } from '../../src/demo/inventory.js';
import { MiB, round, timed, type Scenario, type ScenarioOutcome, type Step } from '../harness/scenario.js';
import { BENCH_START } from './vpcflow-ndjson.js';

export const demoGenerator: Scenario = {
  name: 'demo-generator',
  description: 'demo flow-log generator: lines/s raw and with gzip (levels 1 and 6), per wall and per CPU second',
  async run(ctx): Promise<ScenarioOutcome> {
    const o = ctx.options;
    const inventory = buildDemoInventory(o.seed);
    const start = Math.floor(BENCH_START.getTime() / 1000);
    const totalLines = o.objects * o.linesPerObject;
    const steps: Step[] = [];
    const raw: Record<string, unknown> = {};
    const gzipped: Record<string, unknown> = {};

    for (const format of ['v2', 'v5'] as FlowLogFormat[]) {
      ctx.log(`raw ${format}: ${totalLines.toLocaleString('en')} lines`);
      const gen = createFlowLogGenerator({ inventory, seed: o.seed, start, durationS: 3600, lines: totalLines, format, chunkBytes: MiB });
      const t = await timed(() => {
        while (gen.nextChunk()) {
          // the chunks are dropped: this measures generation alone
        }
      });
      raw[format] = {
        lines: gen.linesWritten,
        bytes: gen.bytesWritten,
        averageLineBytes: round(gen.bytesWritten / gen.linesWritten, 1),
        wallS: round(t.wallS, 3),
        cpuS: round(t.cpuS, 3),
        linesPerS: Math.round(gen.linesWritten / t.wallS),
        linesPerCpuS: Math.round(gen.linesWritten / t.cpuS),
        uncompressedMBPerS: round(gen.bytesWritten / MiB / t.wallS, 1),
      };
      steps.push({
        step: `generate ${format} (no gzip, 1 thread)`,
        wallS: t.wallS,
        bytes: gen.bytesWritten,
        lines: gen.linesWritten,
        ok: true,
        note: `${round(gen.linesWritten / t.cpuS / 1e6, 2)}M lines per CPU-second`,
      });
    }

    for (const [format, level] of [['v2', 1], ['v5', 1], ['v2', 6]] as Array<[FlowLogFormat, number]>) {
      const dir = path.join(ctx.workDir, `${format}-gzip${level}`);
      ctx.log(`objects ${format} gzip -${level}: ${o.objects} × ${o.linesPerObject.toLocaleString('en')} lines`);
      const t = await timed(() =>
        writeFlowLogObjects({ dir, inventory, seed: o.seed, objects: o.objects, linesPerObject: o.linesPerObject, start: BENCH_START, format, gzipLevel: level }),
      );
      const r = t.result;
      gzipped[`${format}-gzip${level}`] = {
        objects: r.files.length,
        lines: r.lines,
        uncompressedBytes: r.uncompressedBytes,
        compressedBytes: r.bytes,
        compressionRatio: round(r.uncompressedBytes / r.bytes, 2),
        wallS: round(t.wallS, 3),
        cpuS: round(t.cpuS, 3),
        linesPerS: Math.round(r.lines / t.wallS),
        linesPerCpuS: Math.round(r.lines / t.cpuS),
      };
      steps.push({
        step: `objects ${format} + gzip -${level}`,
        wallS: t.wallS,
        bytes: r.uncompressedBytes,
        lines: r.lines,
        ok: true,
        note: `${round(r.lines / t.cpuS / 1e6, 2)}M lines per CPU-second`,
      });
      if (!o.keep) rmSync(dir, { recursive: true, force: true });
    }

    // One seed-000-sized object alone: what the demo pays per object.
    const one = await timed(() =>
      writeFlowLogObjects({ dir: path.join(ctx.workDir, 'one'), inventory, seed: o.seed, objects: 1, linesPerObject: 375_000, start: BENCH_START, format: 'v2', gzipLevel: 1 }),
    );
    steps.push({ step: 'one 375k-line v2 object, gzip -1', wallS: one.wallS, bytes: one.result.uncompressedBytes, lines: one.result.lines, ok: true });

    return {
      parameters: { objects: o.objects, linesPerObject: o.linesPerObject, seed: o.seed, concurrency: 'min(4, available parallelism)' },
      figures: { raw, gzipped, oneObject375kLinesS: round(one.wallS, 3) },
      steps,
      failures: [],
      notes: [],
    };
  },
};
