/**
 * One very large flow-log object (default ~2 GiB uncompressed, ~16M lines): memory must stay
 * bounded by streaming, not grow with the object (DESIGN contract 4). The target is a peak RSS
 * under 512 MB for the whole `sluice run` process; going over fails the scenario.
 */
import path from 'node:path';
import { createFlowLogGenerator, writeFlowLogObjects } from '../../src/demo/flow-log-generator.js';
import { buildDemoInventory } from '../../src/demo/inventory.js';
import { gzipDecompressCeiling, nodeGunzipLineCount } from '../harness/ceilings.js';
import { MiB, round, timed, type Scenario, type ScenarioOutcome, type Step } from '../harness/scenario.js';
import { benchmarkSluice } from '../harness/sluice-run.js';
import { BENCH_START } from './vpcflow-ndjson.js';

export const PEAK_RSS_TARGET_BYTES = 512 * MiB;

export const vpcflowBigObject: Scenario = {
  name: 'vpcflow-big-object',
  description: 'one ~2 GiB (uncompressed) v2 flow-log object → Sluice; peak RSS must stay < 512 MB',
  heavy: true,
  async run(ctx): Promise<ScenarioOutcome> {
    const o = ctx.options;
    const sourceDir = path.join(ctx.workDir, 'source');
    const inventory = buildDemoInventory(o.seed);
    const steps: Step[] = [];
    const failures: string[] = [];
    const notes: string[] = [];

    // Size the object from the average line length of the same traffic (the prod VPC's flow log).
    const sample = createFlowLogGenerator({
      inventory, seed: o.seed, start: Math.floor(BENCH_START.getTime() / 1000), durationS: 300, lines: 50_000, format: 'v2', vpcId: inventory.vpcs[0]!.id,
    });
    while (sample.nextChunk()) {
      // drain
    }
    const targetBytes = o.bigMb * MiB;
    const lines = Math.max(1, Math.round(targetBytes / (sample.bytesWritten / sample.linesWritten)));

    ctx.log(`generating one object of ~${o.bigMb} MiB uncompressed (${lines.toLocaleString('en')} lines, gzip level ${o.gzipLevel})`);
    const generation = await timed(() =>
      writeFlowLogObjects({ dir: sourceDir, inventory, seed: o.seed, objects: 1, linesPerObject: lines, start: BENCH_START, format: 'v2', gzipLevel: o.gzipLevel }),
    );
    const data = generation.result;
    steps.push({ step: `generate + gzip -${o.gzipLevel} (1 object)`, wallS: generation.wallS, bytes: data.uncompressedBytes, lines: data.lines, ok: true });

    ctx.log('ceiling: gzip -dc > /dev/null');
    const single = await gzipDecompressCeiling(data.files, 1);
    if (!single.ok) failures.push(`ceiling: ${single.error}`);
    const nodeZlib = await nodeGunzipLineCount(data.files);
    if (nodeZlib.lines !== data.lines) failures.push(`generator: file holds ${nodeZlib.lines} lines, generator reported ${data.lines}`);
    steps.push({ step: 'ceiling: gzip -dc (1 process)', wallS: single.wallS, bytes: data.uncompressedBytes, lines: data.lines, ok: single.ok });
    steps.push({ step: 'ceiling: node zlib gunzip + count lines', wallS: nodeZlib.wallS, bytes: data.uncompressedBytes, lines: data.lines, ok: true });

    let sluice: Record<string, unknown> = { skipped: 'disabled with --no-sluice' };
    if (o.sluice) {
      const bench = await benchmarkSluice(ctx, {
        name: 'bench-vpcflow-big-object',
        sourceDir,
        units: 1,
        records: data.records,
        uncompressedBytes: data.uncompressedBytes,
      });
      const peak = bench.step.peakRssBytes;
      bench.figures['peakRssTargetBytes'] = PEAK_RSS_TARGET_BYTES;
      if (peak === undefined) {
        notes.push('peak RSS not measured on this platform: the 512 MB target was not checked');
      } else if (peak >= PEAK_RSS_TARGET_BYTES) {
        const failure = `sluice: peak RSS ${(peak / MiB).toFixed(0)} MiB is over the ${PEAK_RSS_TARGET_BYTES / MiB} MiB target for one object`;
        bench.failures.push(failure);
        bench.step.ok = false;
        bench.step.note = 'OVER MEMORY TARGET';
      }
      bench.figures['peakRssWithinTarget'] = peak === undefined ? undefined : peak < PEAK_RSS_TARGET_BYTES;
      steps.push(bench.step);
      failures.push(...bench.failures);
      sluice = bench.figures;
    } else {
      notes.push('Sluice part skipped (--no-sluice)');
    }

    return {
      parameters: { bigMb: o.bigMb, lines, gzipLevel: o.gzipLevel, seed: o.seed, format: 'v2', concurrency: o.concurrency, workers: o.workers ?? 'default' },
      figures: {
        generated: {
          file: path.relative(sourceDir, data.files[0]!),
          lines: data.lines,
          records: data.records,
          compressedBytes: data.bytes,
          uncompressedBytes: data.uncompressedBytes,
          wallS: round(generation.wallS, 3),
          linesPerS: Math.round(data.lines / generation.wallS),
        },
        ceilings: {
          gzipSingleProcess: { wallS: round(single.wallS, 3), uncompressedMBPerS: round(data.uncompressedBytes / MiB / single.wallS, 1), linesPerS: Math.round(data.lines / single.wallS) },
          nodeZlibOneThread: { wallS: round(nodeZlib.wallS, 3), uncompressedMBPerS: round(data.uncompressedBytes / MiB / nodeZlib.wallS, 1), linesPerS: Math.round(data.lines / nodeZlib.wallS) },
        },
        sluice,
      },
      steps,
      failures,
      notes,
    };
  },
};
