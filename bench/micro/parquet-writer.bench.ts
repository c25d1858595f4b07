/**
 * Throughput of the Parquet files sink on one thread: generated VPC flow records (flat, v2 and v5
 * fields, as the vpcflow format emits them) and the same records as nested OCSF 4001 events (as
 * the `ocsf` transform with `builtin:vpcflow` makes them). Run after a build:
 *   node dist/src/sinks/files/parquet-writer.bench.js [records=400000] [codec=snappy]
 * Each line gives the sink's own CPU time per record (the process CPU time spent inside the
 * sink's write and commit calls, which includes garbage collection that happens there), best
 * of 3, so the figure does not depend on how the records were produced. `hyparquet-writer
 * ParquetWriter` is the library's own columnar path over the same flat records (transposed to
 * columns first), for comparison.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import type { SchemaElement } from 'hyparquet';
import type { FilesSinkConfig } from '../../src/pipeline/config.js';
import type { Transform } from '../../src/core/component.js';
import type { SluiceRecord } from '../../src/core/record.js';
import { buildDemoInventory } from '../../src/demo/inventory.js';
import { flowLogHeader, flowLogLines, type FlowLogFormat } from '../../src/demo/flow-log-generator.js';
import { vpcflowFormat } from '../../src/formats/vpcflow/index.js';
import { createTransforms } from '../../src/pipeline/catalog.js';
import { transformSchema } from '../../src/pipeline/config.js';
import { createFilesSink } from '../../src/sinks/files/index.js';
import type { ParquetCompression } from '../../src/sinks/files/parquet/column-chunk.js';

const total = Number(process.argv[2] ?? 400_000);
const codec = (process.argv[3] ?? 'snappy') as ParquetCompression;
const REPEATS = 3;

function flowText(format: FlowLogFormat): Buffer {
  const lines = flowLogLines({ inventory: buildDemoInventory(1), seed: 7, start: 1_714_550_400, durationS: 300, lines: total, format });
  return Buffer.from(`${flowLogHeader(format)}\n${lines.join('\n')}\n`);
}

async function* chunks(text: Buffer): AsyncIterable<Uint8Array> {
  for (let i = 0; i < text.length; i += 1 << 20) yield text.subarray(i, i + (1 << 20));
}

function config(dir: string): FilesSinkConfig {
  return {
    type: 'files', path: dir, format: 'parquet', layout: 'date', partition: 'none', targetSizeMb: 1024,
    compression: 'gzip', gzipLevel: 3, parquetCompression: codec, rowGroupRows: 65_536, schema: 'inferred', idField: '_id',
  };
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

/** CPU ms spent inside the sink (write and commit calls), the records and the file size. */
async function pass(text: Buffer, ocsf: Transform | undefined): Promise<{ ms: number; records: number; bytes: number }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sluice-parquet-bench-'));
  try {
    const writer = createFilesSink(config(dir)).openUnit({ id: 'bench', outputStem: 'bench', objects: [] });
    let ms = 0;
    let records = 0;
    for await (const batch of vpcflowFormat().decode(chunks(text), { object: { uri: 'bench', key: 'bench' }, idPrefix: '3f9a0c1e2b4d5f60' })) {
      const out = ocsf === undefined ? batch.records : (await ocsf.apply(batch)).records;
      records += out.length;
      const started = process.cpuUsage();
      await writer.write(out);
      ms += cpuMs(started);
    }
    const started = process.cpuUsage();
    const commit = await writer.commit();
    ms += cpuMs(started);
    const bytes = commit.outputs.length > 0 ? (await stat(commit.outputs[0]!)).size : 0;
    return { ms, records, bytes };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function measure(label: string, text: Buffer, ocsf?: Transform): Promise<void> {
  let best = { ms: Infinity, records: 0, bytes: 0 };
  for (let run = 0; run < REPEATS; run++) {
    const result = await pass(text, ocsf);
    if (result.ms < best.ms) best = result;
  }
  const perSecond = Math.round((best.records / best.ms) * 1000);
  console.log(`${label.padEnd(34)} ${perSecond.toLocaleString('en').padStart(9)} rows/s  ${((best.ms * 1e6) / best.records).toFixed(0).padStart(5)} ns/row  ${(best.bytes / 1e6).toFixed(1)} MB`);
}

/** hyparquet-writer's own path: records transposed to columns, then ParquetWriter.write. */
async function measureLibrary(label: string, text: Buffer): Promise<void> {
  const records: SluiceRecord[] = [];
  for await (const batch of vpcflowFormat().decode(chunks(text), { object: { uri: 'bench', key: 'bench' }, idPrefix: '3f9a0c1e2b4d5f60' })) {
    for (const record of batch.records) records.push(record);
    if (records.length >= 200_000) break;
  }
  const keys = Object.keys(records[0]!.fields);
  const numeric = keys.map((k) => records.some((r) => typeof r.fields[k] === 'number'));
  const schema: SchemaElement[] = [
    { name: 'root', num_children: keys.length },
    ...keys.map((name, c): SchemaElement => (numeric[c] ? { name, type: 'INT64', repetition_type: 'OPTIONAL' } : { name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' })),
  ];
  let best = Infinity;
  for (let run = 0; run < REPEATS; run++) {
    const started = process.cpuUsage();
    for (let from = 0; from < records.length; from += 65_536) {
      const group = records.slice(from, from + 65_536);
      const columnData = keys.map((name, c) => ({
        name,
        data: group.map((r) => {
          const v = r.fields[name];
          return v === null || v === undefined ? null : numeric[c] ? BigInt(v as number) : v;
        }),
      }));
      const pq = new ParquetWriter({ writer: new ByteWriter(), schema });
      pq.write({ columnData, rowGroupSize: 65_536 });
      pq.finish();
    }
    best = Math.min(best, cpuMs(started));
  }
  console.log(`${label.padEnd(34)} ${Math.round((records.length / best) * 1000).toLocaleString('en').padStart(9)} rows/s  ${((best * 1e6) / records.length).toFixed(0).padStart(5)} ns/row`);
}

console.log(`Parquet files sink, one thread, ${total.toLocaleString('en')} records, ${codec}, row groups of 65,536 (CPU time of the sink alone)`);
const v2 = flowText('v2');
const v5 = flowText('v5');
const [ocsf] = createTransforms([transformSchema.parse({ type: 'ocsf', mapping: 'builtin:vpcflow' })]);
await ocsf!.open?.();
await measure('vpcflow v2, flat (14 fields + id)', v2);
await measure('vpcflow v5, flat (29 fields + id)', v5);
await measure('OCSF 4001 (builtin:vpcflow), nested', v5, ocsf);
await measureLibrary('hyparquet-writer ParquetWriter, v5', v5);
