/**
 * Throughput of the enrich transform alone on generated flow-log records (the demo estate and its
 * tables). Records are decoded fresh for every round (enrich changes them in place) and only
 * `apply` is timed, in CPU time of the process (so other load on the machine does not count). Run after a build:
 *   node dist/src/transforms/enrich/enrich.bench.js [records per round=200000] [rounds=5] [config label substring] [v2|v5]
 * Prints records/s per configuration and format (with vpcflow decoding's own rate on the same
 * records for scale), and the lookups and misses per record.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RecordBatch } from '../../src/core/component.js';
import { createFlowLogGenerator, flowLogHeader, type FlowLogFormat } from '../../src/demo/flow-log-generator.js';
import { buildDemoInventory, inventoryTablesCsv, type InventoryTableName } from '../../src/demo/inventory.js';
import { vpcflowFormat } from '../../src/formats/vpcflow/index.js';
import type { EnrichTransformConfig } from '../../src/transforms/enrich/config.js';
import { demoEnrichConfig } from '../../src/demo/demo-enrich-config.js';
import { createEnrichTransform } from '../../src/transforms/enrich/index.js';

const perRound = Number(process.argv[2] ?? 200_000);
const rounds = Number(process.argv[3] ?? 5);
const only = process.argv[4];
const onlyFormat = process.argv[5];

const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-enrich-bench-'));
const inventory = buildDemoInventory(1);
const tables = inventoryTablesCsv(inventory);
const file = (name: InventoryTableName) => path.join(dir, name);
for (const [name, text] of Object.entries(tables)) writeFileSync(path.join(dir, name), text);

const configs: Record<string, EnrichTransformConfig> = {
  'issue example (interfaces, subnets+cidr, vpcs)': {
    type: 'enrich',
    tables: {
      interfaces: { file: file('interfaces.csv'), key: 'interface_id' },
      subnets: { file: file('subnets.csv'), key: 'subnet_id', cidr: 'cidr' },
      vpcs: { file: file('vpcs.csv'), key: 'vpc_id', fields: ['vpc_name'] },
    },
  },
  'demo config (demoEnrichConfig: 6 tables)': demoEnrichConfig(dir),
};

/**
 * Decodes one round of generated lines batch by batch and applies the transform to each batch as
 * it comes, as the runtime does (records die young). The lines are generated beforehand; CPU time
 * of this process is measured (not wall time: the machine may be busy with other work), for the
 * whole loop and for `apply` alone, so decoding's own cost is there for comparison.
 */
async function timeRound(format: FlowLogFormat, seed: number, apply: (batch: RecordBatch) => void): Promise<{ records: number; applyMs: number; totalMs: number }> {
  const gen = createFlowLogGenerator({ inventory, seed, start: 1_711_422_000, durationS: 3600, lines: perRound, format });
  const chunks: Buffer[] = [Buffer.from(`${flowLogHeader(format)}\n`)];
  for (let chunk = gen.nextChunk(); chunk; chunk = gen.nextChunk()) chunks.push(chunk);
  async function* bytes(): AsyncIterable<Uint8Array> {
    yield* chunks;
  }
  let records = 0;
  let applyMicros = 0;
  const roundStarted = process.cpuUsage();
  for await (const batch of vpcflowFormat().decode(bytes(), { object: { uri: '/bench', key: 'bench' }, idPrefix: 'bench' })) {
    const started = process.cpuUsage();
    apply(batch);
    const used = process.cpuUsage(started);
    applyMicros += used.user + used.system;
    records += batch.records.length;
  }
  const total = process.cpuUsage(roundStarted);
  return { records, applyMs: applyMicros / 1000, totalMs: (total.user + total.system) / 1000 };
}

const perSecond = (records: number, ms: number) => Math.round(records / (ms / 1000)).toLocaleString('en-US');

try {
  for (const [label, config] of Object.entries(configs)) {
    if (only !== undefined && !label.includes(only)) continue;
    for (const format of ['v2', 'v5'] as const) {
      if (onlyFormat !== undefined && onlyFormat !== format) continue;
      const enrich = createEnrichTransform(config);
      await enrich.open();
      let records = 0;
      let applyMs = 0;
      let decodeMs = 0;
      let bestApply = 0;
      let warmupLookups = 0;
      for (let round = 0; round < rounds + 1; round++) {
        const timed = await timeRound(format, round + 1, (batch) => enrich.apply(batch));
        if (round === 0) {
          warmupLookups = enrich.stats().lookups;
          continue; // warm-up round
        }
        records += timed.records;
        applyMs += timed.applyMs;
        decodeMs += timed.totalMs - timed.applyMs;
        bestApply = Math.max(bestApply, timed.records / (timed.applyMs / 1000));
      }
      const stats = enrich.stats();
      await enrich.close();
      console.log(
        `${label} ${format}: enrich ${perSecond(records, applyMs)} records/s (best round ${Math.round(bestApply).toLocaleString('en-US')}); ` +
          `vpcflow decode alone ${perSecond(records, decodeMs)} records/s; ` +
          `${((stats.lookups - warmupLookups) / records).toFixed(2)} lookups/record, ${((100 * stats.misses) / Math.max(1, stats.lookups)).toFixed(1)}% misses`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
