/**
 * The enrich transform inside a whole run: generated flow logs in a folder -> runPipeline (worker
 * thread) with a pipeline file whose tables are the demo inventory CSVs (relative paths) and a
 * SQLite query named by an env: reference, as in the example -> gzip NDJSON whose
 * records carry the friendly names. And a bad table or an unreachable database stops the run
 * before any unit.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { loadPipelineFile } from '../../pipeline/config.js';
import { SluiceError } from '../../core/errors.js';
import { writeFlowLogObjects } from '../../demo/flow-log-generator.js';
import { buildDemoInventory, inventoryTablesCsv } from '../../demo/inventory.js';
import { runPipeline } from '../../runtime/run-pipeline.js';
import { listFiles } from '../../testing/output-oracle.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-enrich-run-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const inventory = buildDemoInventory(1);

function writePipeline(dir: string, tables: string[]): string {
  const file = path.join(dir, 'pipeline.yaml');
  writeFileSync(
    file,
    [
      'name: enrich-run',
      'source: { uri: ./logs }',
      'format: vpcflow',
      'transforms:',
      '  - type: enrich',
      '    tables:',
      ...tables.map((t) => `      ${t}`),
      'sinks:',
      '  - { type: files, path: ./out, format: ndjson }',
      'runtime: { state: ./state.db, workers: 1, maxAttempts: 1 }',
      '',
    ].join('\n'),
  );
  return file;
}

function readOutputs(dir: string): Array<Record<string, unknown>> {
  return listFiles(dir)
    .filter((f) => f.endsWith('.ndjson.gz'))
    .flatMap((f) => gunzipSync(readFileSync(f)).toString('utf8').split('\n').filter(Boolean))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('enrich in a pipeline run', () => {
  it('writes records that carry interface, subnet and VPC names for the demo estate (v2 and v5 logs)', async () => {
    // Prepare
    const dir = path.join(tmp, 'good');
    mkdirSync(path.join(dir, 'tables'), { recursive: true });
    for (const [name, text] of Object.entries(inventoryTablesCsv(inventory))) writeFileSync(path.join(dir, 'tables', name), text);
    const start = new Date(Date.UTC(2024, 2, 26, 3, 0, 0));
    const v2 = await writeFlowLogObjects({ dir: path.join(dir, 'logs'), inventory, seed: 1, objects: 3, linesPerObject: 400, start, format: 'v2' });
    const v5 = await writeFlowLogObjects({ dir: path.join(dir, 'logs', 'v5'), inventory, seed: 2, objects: 3, linesPerObject: 400, start, format: 'v5' });
    const file = writePipeline(dir, [
      'interfaces: { file: ./tables/interfaces.csv, key: interface_id }',
      'subnets:    { file: ./tables/subnets.csv, key: subnet_id, cidr: [cidr, ipv6_cidr] }',
      'vpcs:       { sql: "select vpc_id, vpc_name from vpcs", url: "env:INVENTORY_DB", key: vpc_id }',
      'instances:  { file: ./tables/instances.csv, key: instance_id, fields: [instance_name, instance_type] }',
      'networks:   { file: ./tables/networks.csv, cidr: cidr, fields: [network_name] }',
    ]);
    // The example: VPC names from a SQL query, the database named by an env: reference.
    const inventoryDb = new Database(path.join(dir, 'inventory.db'));
    inventoryDb.exec('create table vpcs (vpc_id text primary key, vpc_name text)');
    const insert = inventoryDb.prepare('insert into vpcs values (?, ?)');
    for (const vpc of inventory.vpcs) insert.run(vpc.id, vpc.name);
    inventoryDb.close();
    process.env.INVENTORY_DB = `sqlite:${path.join(dir, 'inventory.db')}`;
    // Act
    let report;
    try {
      report = await runPipeline(loadPipelineFile(file));
    } finally {
      delete process.env.INVENTORY_DB;
    }
    // Assess
    assert.equal(report.units.done, 6);
    assert.equal(report.records.rejected, 0);
    const records = readOutputs(path.join(dir, 'out'));
    assert.equal(records.length, v2.records + v5.records);
    const eniById = new Map(inventory.interfaces.map((e) => [e.id, e]));
    const subnetById = new Map(inventory.subnets.map((s) => [s.id, s]));
    const vpcById = new Map(inventory.vpcs.map((v) => [v.id, v]));
    const instanceById = new Map(inventory.instances.map((i) => [i.id, i]));
    const peerByIp = new Map(inventory.externalPeers.map((p) => [p.ip, p]));
    let namedEnds = 0;
    let externalNamed = 0;
    for (const r of records) {
      const eni = eniById.get(r.interface_id as string)!;
      assert.equal(r.interface_name, eni.name);
      assert.equal(r.subnet_name, subnetById.get(eni.subnetId)!.name);
      assert.equal(r.vpc_name, vpcById.get(eni.vpcId)!.name);
      assert.equal(r.instance_name, eni.instanceId ? instanceById.get(eni.instanceId)!.name : null);
      for (const side of ['src', 'dst']) {
        const subnetId = r[`${side}_subnet_id`];
        if (typeof subnetId === 'string') {
          namedEnds++;
          assert.equal(r[`${side}_subnet_name`], subnetById.get(subnetId)!.name);
          assert.equal(r[`${side}_vpc_name`], vpcById.get(subnetById.get(subnetId)!.vpcId)!.name);
        }
        const peer = peerByIp.get(r[`${side}addr`] as string);
        if (peer) {
          externalNamed++;
          assert.equal(r[`${side}_network_name`], peer.name, 'a /32 of a named peer wins over its documentation range');
        }
      }
    }
    assert.ok(namedEnds > records.length, `most flows have both ends named (${namedEnds} ends)`);
    assert.ok(externalNamed > 0, 'external peers are named through networks.csv');
    const web = records.find((r) => typeof r.interface_name === 'string' && /^web-\d$/.test(r.interface_name as string));
    assert.ok(web, 'a web server flow is in the sample');
    assert.match(`${String(web.interface_name)} (${String(web.vpc_name)} / ${String(web.subnet_name)})`, /^web-\d \(prod \/ app-tier-\d\)$/);
  });

  it('a bad table stops the run before any unit', async () => {
    // Prepare
    const dir = path.join(tmp, 'bad-table');
    mkdirSync(path.join(dir, 'tables'), { recursive: true });
    writeFileSync(path.join(dir, 'tables', 'subnets.csv'), 'subnet_id,cidr\ns-1,10.0.0.0/24\ns-2,10.0.0.0/33\n');
    await writeFlowLogObjects({ dir: path.join(dir, 'logs'), inventory, seed: 1, objects: 1, linesPerObject: 10, start: 1_711_422_000, format: 'v2' });
    const file = writePipeline(dir, ['subnets: { file: ./tables/subnets.csv, key: subnet_id, cidr: cidr }']);
    // Act / Assess
    await assert.rejects(runPipeline(loadPipelineFile(file)), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.match(err.message, /subnets\.csv line 3 \(row 2\), column cidr: "10\.0\.0\.0\/33" is not a CIDR block/);
      return true;
    });
    assert.ok(!existsSync(path.join(dir, 'out')), 'no unit ran');
  });

  it('an unreachable database stops the run before any unit', async () => {
    // Prepare
    const dir = path.join(tmp, 'no-db');
    mkdirSync(dir, { recursive: true });
    await writeFlowLogObjects({ dir: path.join(dir, 'logs'), inventory, seed: 1, objects: 1, linesPerObject: 10, start: 1_711_422_000, format: 'v2' });
    const file = writePipeline(dir, ['vpcs: { sql: "select vpc_id, vpc_name from vpcs", url: "sqlite:./missing-inventory.db", key: vpc_id }']);
    // Act / Assess
    await assert.rejects(runPipeline(loadPipelineFile(file)), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'ENRICH_SQL_CONNECT');
      assert.match(err.message, /missing-inventory\.db/);
      return true;
    });
    assert.ok(!existsSync(path.join(dir, 'out')), 'no unit ran');
  });
});
