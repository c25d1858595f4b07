/**
 * Seed 000's shape at bench scale: many S3 flow-log objects of ~375k lines (half default v2, half
 * 29-field v5), decoded and written as gzip NDJSON. Figures: the decompression ceilings on the
 * same files, and Sluice's records/s and peak memory, trusted only when the counts reconcile.
 */
import os from 'node:os';
import path from 'node:path';
import { writeFlowLogObjects, type FlowLogFormat } from '../../src/demo/flow-log-generator.js';
import { buildDemoInventory } from '../../src/demo/inventory.js';
import { gzipDecompressCeiling, nodeGunzipLineCount } from '../harness/ceilings.js';
import { MiB, round, timed, type Scenario, type ScenarioContext, type ScenarioOutcome, type Step } from '../harness/scenario.js';
import { benchmarkSluice } from '../harness/sluice-run.js';

/** The hour the objects cover; fixed so that runs are comparable and outputs deterministic. */
export const BENCH_START = new Date('2024-05-01T10:00:00Z');

/**
 * Writes the scenario's generated flow logs under `<workDir>/logs`: `--objects` objects of
 * `--lines-per-object` lines, capped at `maxLinesPerObject` for scenarios that hold more per line.
 */
export async function generateScenarioFlowLogs(ctx: ScenarioContext, format: FlowLogFormat, maxLinesPerObject: number) {
  const o = ctx.options;
  const linesPerObject = Math.min(o.linesPerObject, maxLinesPerObject);
  const logs = path.join(ctx.workDir, 'logs');
  ctx.log(`generating ${o.objects} objects × ${linesPerObject.toLocaleString('en')} lines (${format})`);
  const written = await writeFlowLogObjects({ dir: logs, inventory: buildDemoInventory(o.seed), seed: o.seed, objects: o.objects, linesPerObject, start: BENCH_START, format, gzipLevel: o.gzipLevel });
  return { logs, linesPerObject, written };
}

export const vpcflowNdjson: Scenario = {
  name: 'vpcflow-ndjson',
  description: 'N flow-log objects (half v2, half v5) → Sluice vpcflow → gzip NDJSON; gzip -dc ceilings',
  async run(ctx): Promise<ScenarioOutcome> {
    const o = ctx.options;
    const sourceDir = path.join(ctx.workDir, 'source');
    const inventory = buildDemoInventory(o.seed);
    const v2Objects = Math.ceil(o.objects / 2);
    const v5Objects = o.objects - v2Objects;
    const steps: Step[] = [];
    const failures: string[] = [];
    const notes: string[] = [];

    ctx.log(`generating ${o.objects} objects × ${o.linesPerObject.toLocaleString('en')} lines (gzip level ${o.gzipLevel})`);
    const generation = await timed(async () => {
      const common = { dir: sourceDir, inventory, linesPerObject: o.linesPerObject, start: BENCH_START, gzipLevel: o.gzipLevel };
      const v2 = await writeFlowLogObjects({ ...common, seed: o.seed, objects: v2Objects, format: 'v2' });
      const v5 = await writeFlowLogObjects({ ...common, seed: o.seed + 1, objects: v5Objects, format: 'v5' });
      return {
        files: [...v2.files, ...v5.files],
        lines: v2.lines + v5.lines,
        headerLines: v2.headerLines + v5.headerLines,
        records: v2.records + v5.records,
        bytes: v2.bytes + v5.bytes,
        uncompressedBytes: v2.uncompressedBytes + v5.uncompressedBytes,
        v2UncompressedBytes: v2.uncompressedBytes,
        v5UncompressedBytes: v5.uncompressedBytes,
      };
    });
    const data = generation.result;
    if (new Set(data.files).size !== data.files.length) failures.push('generator: two objects got the same key');
    steps.push({ step: `generate + gzip -${o.gzipLevel} (demo generator)`, wallS: generation.wallS, bytes: data.uncompressedBytes, lines: data.lines, ok: true, note: `${round(data.lines / generation.cpuS / 1e6, 2)}M lines per CPU-second` });

    ctx.log('ceiling: gzip -dc > /dev/null');
    const single = await gzipDecompressCeiling(data.files, 1);
    const parallel = await gzipDecompressCeiling(data.files, os.availableParallelism());
    const nodeZlib = await nodeGunzipLineCount(data.files);
    for (const c of [single, parallel]) if (!c.ok) failures.push(`ceiling: ${c.error}`);
    if (nodeZlib.lines !== data.lines) failures.push(`generator: files hold ${nodeZlib.lines} lines, generator reported ${data.lines}`);
    if (nodeZlib.bytes !== data.uncompressedBytes) failures.push(`generator: files hold ${nodeZlib.bytes} bytes, generator reported ${data.uncompressedBytes}`);
    steps.push({ step: 'ceiling: gzip -dc (1 process)', wallS: single.wallS, bytes: data.uncompressedBytes, lines: data.lines, ok: single.ok });
    steps.push({ step: `ceiling: gzip -dc (${parallel.processes} processes)`, wallS: parallel.wallS, bytes: data.uncompressedBytes, lines: data.lines, ok: parallel.ok });
    steps.push({ step: 'ceiling: node zlib gunzip + count lines', wallS: nodeZlib.wallS, bytes: data.uncompressedBytes, lines: data.lines, ok: true });

    let sluice: Record<string, unknown> = { skipped: 'disabled with --no-sluice' };
    if (o.sluice) {
      const bench = await benchmarkSluice(ctx, {
        name: 'bench-vpcflow-ndjson',
        sourceDir,
        units: data.files.length,
        records: data.records,
        uncompressedBytes: data.uncompressedBytes,
      });
      steps.push(bench.step);
      failures.push(...bench.failures);
      sluice = bench.figures;
      const ceilingRate = data.records / single.wallS;
      if (typeof bench.figures['recordsPerS'] === 'number') {
        bench.figures['fractionOfSingleGzipCeiling'] = round((bench.figures['recordsPerS'] as number) / ceilingRate, 3);
      }
    } else {
      notes.push('Sluice part skipped (--no-sluice)');
    }

    const rate = (bytes: number, s: number) => ({ wallS: round(s, 3), uncompressedMBPerS: round(bytes / MiB / s, 1), linesPerS: Math.round(data.lines / s) });
    return {
      parameters: {
        objects: o.objects,
        v2Objects,
        v5Objects,
        linesPerObject: o.linesPerObject,
        gzipLevel: o.gzipLevel,
        seed: o.seed,
        start: BENCH_START.toISOString(),
        concurrency: o.concurrency,
        workers: o.workers ?? 'default',
      },
      figures: {
        generated: {
          objects: data.files.length,
          lines: data.lines,
          headerLines: data.headerLines,
          records: data.records,
          compressedBytes: data.bytes,
          uncompressedBytes: data.uncompressedBytes,
          averageLineBytes: round(data.uncompressedBytes / data.lines, 1),
          wallS: round(generation.wallS, 3),
          cpuS: round(generation.cpuS, 3),
          linesPerS: Math.round(data.lines / generation.wallS),
          linesPerCpuS: Math.round(data.lines / generation.cpuS),
        },
        ceilings: {
          gzipSingleProcess: rate(data.uncompressedBytes, single.wallS),
          gzipParallel: { processes: parallel.processes, ...rate(data.uncompressedBytes, parallel.wallS) },
          nodeZlibOneThread: rate(data.uncompressedBytes, nodeZlib.wallS),
          compressedMBPerSSingleGzip: round(data.bytes / MiB / single.wallS, 1),
        },
        sluice,
      },
      steps,
      failures,
      notes,
    };
  },
};
