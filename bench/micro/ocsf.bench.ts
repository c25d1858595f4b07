/**
 * Throughput of the `ocsf` transform alone (builtin:vpcflow) on one thread: a sample of demo
 * flow-log lines (v2 default format and the 29-field v5 format) is decoded once, then the
 * transform runs over fresh copies of its batches until `records` records went through, batch by
 * batch as in a pipeline (each output batch is dropped before the next, so the heap holds one
 * sample, not the whole run), after three untimed warm-up passes. Only `apply` is timed, in CPU time of the process (its GC threads
 * included), so that other load on the machine does not count. Run after a build:
 *   node dist/src/transforms/ocsf/ocsf.bench.js [records=2000000] [rounds=5]
 * Prints records per CPU-second per format and option set (median of the rounds).
 */
import type { RecordBatch } from '../../src/core/component.js';
import type { SluiceRecord } from '../../src/core/record.js';
import { flowLogChunks, type FlowLogFormat, flowLogHeader } from '../../src/demo/flow-log-generator.js';
import { buildDemoInventory } from '../../src/demo/inventory.js';
import { vpcflowFormat } from '../../src/formats/vpcflow/index.js';
import { createOcsfTransform } from '../../src/transforms/ocsf/index.js';

const total = Number(process.argv[2] ?? 2_000_000);
const SAMPLE = 100_000;
const rounds = Number(process.argv[3] ?? 5);

async function decodeDemo(format: FlowLogFormat, lines: number): Promise<RecordBatch[]> {
  const inventory = buildDemoInventory(1);
  async function* bytes(): AsyncIterable<Uint8Array> {
    yield Buffer.from(flowLogHeader(format) + '\n');
    yield* flowLogChunks({ inventory, seed: 7, start: 1_716_000_000, durationS: 600, lines, format });
  }
  const batches: RecordBatch[] = [];
  const object = { uri: 's3://bench/AWSLogs/111122223333/vpcflowlogs/eu-west-1/2024/05/18/x.log.gz', key: 'x' };
  for await (const batch of vpcflowFormat().decode(bytes(), { object, idPrefix: '0123456789abcdef' })) batches.push(batch);
  return batches;
}

/** A fresh batch: the transform replaces `fields` in place. */
function copyBatch(batch: RecordBatch): RecordBatch {
  return { records: batch.records.map((r): SluiceRecord => ({ id: r.id, origin: r.origin, time: r.time, fields: r.fields })), rejects: [] };
}

async function main(): Promise<void> {
  for (const format of ['v2', 'v5'] as const) {
    const decoded = await decodeDemo(format, SAMPLE);
    for (const options of [
      { observables: true, datetime: false },
      { observables: false, datetime: false },
      { observables: true, datetime: true },
    ]) {
      const transform = createOcsfTransform({ type: 'ocsf', mapping: 'builtin:vpcflow', version: '1.1.0', ...options });
      const rates: number[] = [];
      let out = 0;
      // Warm-up, untimed: the mapping is one large function that TurboFan needs a while to compile.
      for (let pass = 0; pass < 3; pass++) for (const batch of decoded) transform.apply(copyBatch(batch));
      for (let round = 0; round < rounds; round++) {
        let count = 0;
        let micros = 0;
        while (count < total) {
          for (const batch of decoded) {
            const input = copyBatch(batch);
            const started = process.cpuUsage();
            out += (transform.apply(input) as RecordBatch).records.length;
            const used = process.cpuUsage(started);
            micros += used.user + used.system;
            count += input.records.length;
          }
        }
        rates.push(count / (micros / 1e6));
      }
      rates.sort((a, b) => a - b);
      const median = rates[Math.floor(rates.length / 2)]!;
      console.log(
        `${format} observables=${options.observables} datetime=${options.datetime}: ${Math.round(median).toLocaleString('en-US')} records/CPU-s ` +
          `(median of ${rounds} rounds of ≥${total} records; ${out} mapped in all)`,
      );
    }
  }
}

await main();
