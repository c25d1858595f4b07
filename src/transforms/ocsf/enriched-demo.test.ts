import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RecordBatch, Transform } from '../../core/component.js';
import type { SluiceRecord } from '../../core/record.js';
import { flowLogChunks, flowLogHeader, type FlowLogFormat } from '../../demo/flow-log-generator.js';
import { buildDemoInventory, inventoryTablesCsv } from '../../demo/inventory.js';
import { vpcflowFormat } from '../../formats/vpcflow/index.js';
import { demoEnrichConfig } from '../../demo/demo-enrich-config.js';
import { createEnrichTransform } from '../enrich/index.js';
import { createOcsfMapping, ocsfTransform } from './index.js';
import { loadOcsfSchema } from './schema.js';
import { validateOcsfEvent } from './validate.js';

/**
 * The pipeline on the demo estate: vpcflow -> enrich (the demo tables) -> ocsf. Every
 * event must be valid OCSF, and the friendly names must land on the endpoints.
 */
describe('vpcflow -> enrich -> ocsf on the demo estate', () => {
  const inventory = buildDemoInventory(1);
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-ocsf-enriched-'));
  const schema = loadOcsfSchema('1.1.0');
  const mapping = createOcsfMapping('builtin:vpcflow', { version: '1.1.0', observables: true, datetime: false });
  let enrich: Transform;

  before(async () => {
    for (const [name, csv] of Object.entries(inventoryTablesCsv(inventory))) writeFileSync(path.join(dir, name), csv);
    enrich = createEnrichTransform(demoEnrichConfig(dir));
    await enrich.open?.();
  });
  after(async () => {
    await enrich?.close?.();
    rmSync(dir, { recursive: true, force: true });
  });

  async function run(format: FlowLogFormat, lines: number): Promise<SluiceRecord[]> {
    async function* bytes(): AsyncIterable<Uint8Array> {
      yield Buffer.from(flowLogHeader(format) + '\n');
      yield* flowLogChunks({ inventory, seed: 3, start: 1_716_000_000, durationS: 600, lines, format });
    }
    const transform = ocsfTransform(mapping);
    const out: SluiceRecord[] = [];
    const object = { uri: 's3://demo/AWSLogs/111122223333/vpcflowlogs/eu-west-1/2024/05/18/x.log.gz', key: 'x' };
    for await (const decoded of vpcflowFormat().decode(bytes(), { object, idPrefix: 'feed' })) {
      const enriched = (await enrich.apply({ records: decoded.records, rejects: [] })) as RecordBatch;
      const mapped = (await transform.apply({ records: enriched.records, rejects: [] })) as RecordBatch;
      assert.deepEqual(mapped.rejects, []);
      out.push(...mapped.records);
    }
    return out;
  }

  for (const format of ['v2', 'v5'] as const) {
    it(`${format}: every event is valid and the observing interface is named on its endpoint`, async () => {
      // Act
      const records = await run(format, 4000);

      // Assess
      assert.equal(records.length, 4000);
      let named = 0;
      let onEndpoint = 0;
      let peersNamed = 0;
      for (const { fields: event } of records) {
        assert.deepEqual(validateOcsfEvent(event, schema, { allowMissing: mapping.acceptedGaps?.(event) ?? [] }), [], JSON.stringify(event));
        const src = event.src_endpoint as Record<string, unknown> | undefined;
        const dst = event.dst_endpoint as Record<string, unknown> | undefined;
        const device = event.device as Record<string, unknown> | undefined;
        if ([src, dst, device].some((e) => e?.interface_uid !== undefined && e.interface_name !== undefined)) named++;
        if (device === undefined && event.status_code === 'OK') onEndpoint++;
        if (src?.name !== undefined && dst?.name !== undefined) peersNamed++;
      }
      const ok = records.filter((r) => r.fields.status_code === 'OK').length;
      // Every line is observed by a demo ENI, which the tables name.
      assert.equal(named, records.length);
      // v5 has flow-direction; v2 relies on the enrichment's interface address (measured: all).
      assert.ok(onEndpoint / ok > 0.95, `interface on an endpoint for ${onEndpoint} of ${ok} OK events`);
      // Both ends named (an interface or its instance) for most flows; external peers have only a
      // network name, which stays in unmapped (measured here: 75% of flows).
      assert.ok(peersNamed / records.length > 0.6, `both ends named in ${peersNamed} of ${records.length}`);
    });
  }
});
