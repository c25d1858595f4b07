import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { BlockList } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { RecordBatch } from '../../core/component.js';
import { SluiceError } from '../../core/errors.js';
import type { SluiceRecord } from '../../core/record.js';
import { flowLogHeader, flowLogLines, type FlowLogFormat } from '../../demo/flow-log-generator.js';
import { buildDemoInventory, inventoryTablesCsv, type DemoSubnet } from '../../demo/inventory.js';
import { vpcflowFormat } from '../../formats/vpcflow/index.js';
import type { EnrichTransformConfig } from './config.js';
import { demoEnrichConfig } from '../../demo/demo-enrich-config.js';
import { MAX_COMPILED_SHAPES } from './enrich-plan.js';
import { createEnrichTransform, type IntervalScheduler } from './index.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-enrich-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const inventory = buildDemoInventory(1);
for (const [name, text] of Object.entries(inventoryTablesCsv(inventory))) writeFileSync(path.join(tmp, name), text);
const table = (name: string) => path.join(tmp, name);

function writeTable(name: string, text: string): string {
  const file = path.join(tmp, name);
  writeFileSync(file, text);
  return file;
}

async function decodeFlowLogs(format: FlowLogFormat, lines: number, seed = 1): Promise<SluiceRecord[]> {
  const text = `${flowLogHeader(format)}\n${flowLogLines({ inventory, seed, start: 1_711_422_000, durationS: 300, lines, format }).join('\n')}\n`;
  async function* bytes(): AsyncIterable<Uint8Array> {
    yield Buffer.from(text);
  }
  const records: SluiceRecord[] = [];
  for await (const batch of vpcflowFormat().decode(bytes(), { object: { uri: '/t', key: 't' }, idPrefix: 't' })) records.push(...batch.records);
  assert.equal(records.length, lines);
  return records;
}

function batchOf(fields: Array<Record<string, unknown>>): RecordBatch {
  return { records: fields.map((f, i) => ({ id: `t-${i}`, origin: { object: 't', line: i + 1 }, fields: f })), rejects: [] };
}

async function enrichFields(config: EnrichTransformConfig, fields: Array<Record<string, unknown>>): Promise<Array<Record<string, unknown>>> {
  const enrich = createEnrichTransform(config);
  await enrich.open();
  try {
    const out = (await enrich.apply(batchOf(fields))).records.map((r) => r.fields);
    return out;
  } finally {
    await enrich.close();
  }
}

/** The oracle for addresses: the demo subnet containing it, found with node's own BlockList. */
const subnetBlocks = inventory.subnets.flatMap((s) =>
  [s.cidr, s.ipv6Cidr].filter((c): c is string => c !== undefined).map((cidr) => {
    const [net, bits] = cidr.split('/') as [string, string];
    const list = new BlockList();
    const family = net.includes(':') ? 'ipv6' : 'ipv4';
    list.addSubnet(net, Number(bits), family);
    return { subnet: s, list, family };
  }),
);
function subnetOf(address: unknown): DemoSubnet | undefined {
  if (typeof address !== 'string') return undefined;
  const family = address.includes(':') ? 'ipv6' : 'ipv4';
  return subnetBlocks.find((b) => b.family === family && b.list.check(address, family))?.subnet;
}
const vpcName = new Map(inventory.vpcs.map((v) => [v.id, v.name]));
const interfaceById = new Map(inventory.interfaces.map((e) => [e.id, e]));

const exampleConfig: EnrichTransformConfig = {
  type: 'enrich',
  tables: {
    interfaces: { file: table('interfaces.csv'), key: 'interface_id' },
    subnets: { file: table('subnets.csv'), key: 'subnet_id', cidr: ['cidr', 'ipv6_cidr'] },
    vpcs: { file: table('vpcs.csv'), key: 'vpc_id', fields: ['vpc_name'] },
  },
};

describe('enrich: demo flow logs with the demo inventory tables', () => {
  it('names the observing interface and the subnet and VPC of both ends of every v5 flow', async () => {
    // Prepare
    const records = await decodeFlowLogs('v5', 3000);
    const enrich = createEnrichTransform(exampleConfig);
    await enrich.open();
    // Act
    const out = (await enrich.apply({ records, rejects: [] })).records;
    // Assess
    let internalEnds = 0;
    let externalEnds = 0;
    for (const { fields: f } of out) {
      const eni = interfaceById.get(f.interface_id as string);
      assert.ok(eni, `interface ${String(f.interface_id)} is in the inventory`);
      assert.equal(f.interface_name, eni.name);
      assert.equal(f.description, eni.description);
      assert.equal(f.vpc_name, vpcName.get(eni.vpcId));
      for (const side of ['src', 'dst'] as const) {
        const address = f[`${side}addr`];
        const subnet = subnetOf(address);
        if (address === null) continue; // NODATA/SKIPDATA lines
        if (subnet) internalEnds++;
        else externalEnds++;
        assert.equal(f[`${side}_subnet_id`], subnet?.id ?? null, `${side} ${String(address)}`);
        assert.equal(f[`${side}_subnet_name`], subnet?.name ?? null);
        assert.equal(f[`${side}_vpc_id`], subnet?.vpcId ?? null);
        assert.equal(f[`${side}_vpc_name`], subnet ? vpcName.get(subnet.vpcId) : null);
        assert.equal(f[`${side}_availability_zone`], subnet?.availabilityZone ?? null);
        assert.ok(!(`${side}_cidr` in f), 'CIDR columns are not copied by default');
      }
      const pktSrc = f.pkt_srcaddr;
      if (pktSrc !== null && pktSrc !== f.srcaddr) assert.equal(f.pkt_src_subnet_name, subnetOf(pktSrc)?.name ?? null);
      else assert.equal(f.pkt_src_subnet_name, null, 'pkt_ ends are only looked up when they differ');
    }
    assert.ok(internalEnds > 1000 && externalEnds > 50, `both kinds of ends occur (${internalEnds} internal, ${externalEnds} external)`);
    const stats = enrich.stats();
    assert.ok(stats.misses >= externalEnds, 'every external end is a counted miss');
    assert.equal(stats.tables.interfaces!.misses, 0);
    assert.equal(stats.tables.interfaces!.rows, inventory.interfaces.length);
    assert.equal(stats.lookups, Object.values(stats.tables).reduce((n, t) => n + t.lookups, 0));
    await enrich.close();
  });

  it('fills the ids v2 logs lack from the interfaces table, so later tables can name them', async () => {
    // Prepare
    const records = await decodeFlowLogs('v2', 500);
    // Act
    const out = await enrichFields(exampleConfig, records.map((r) => r.fields));
    // Assess
    for (const f of out) {
      const eni = interfaceById.get(f.interface_id as string)!;
      assert.equal(f.subnet_id, eni.subnetId);
      assert.equal(f.vpc_id, eni.vpcId);
      assert.equal(f.instance_id, eni.instanceId ?? null);
      assert.equal(f.subnet_name, inventory.subnets.find((s) => s.id === eni.subnetId)!.name);
      assert.equal(f.vpc_name, vpcName.get(eni.vpcId));
      assert.ok(!('pkt_src_subnet_name' in f), 'v2 records have no pkt_srcaddr, so no pkt_src_ fields');
    }
  });

  it('gives every record of one layout the same fields in the same order, hits or misses', async () => {
    // Prepare
    const records = await decodeFlowLogs('v5', 400);
    // Act
    const out = await enrichFields(exampleConfig, records.map((r) => r.fields));
    // Assess
    const layouts = new Set(out.map((f) => Object.keys(f).join(',')));
    assert.equal(layouts.size, 1);
  });
  it('adds exactly the fields documented for the demo config (what the ocsf mapping relies on)', async () => {
    // Prepare: what each table adds, by log format (v5 logs already carry instance_id, subnet_id, vpc_id, az_id)
    const perEnd = (sides: readonly string[], columns: string[]) => sides.flatMap((e) => columns.map((c) => `${e}_${c}`));
    const cases = [
      { format: 'v2', sides: ['src', 'dst'], interfaces: ['interface_name', 'description', 'instance_id', 'subnet_id', 'vpc_id', 'private_ip', 'ipv6_address'], subnets: ['subnet_name', 'availability_zone', 'az_id'] },
      { format: 'v5', sides: ['src', 'dst', 'pkt_src', 'pkt_dst'], interfaces: ['interface_name', 'description', 'private_ip', 'ipv6_address'], subnets: ['subnet_name', 'availability_zone'] },
    ] as const;
    for (const c of cases) {
      const expected = [
        ...c.interfaces,
        ...perEnd(c.sides, ['interface_id', 'name', 'instance_id']),
        ...c.subnets,
        ...perEnd(c.sides, ['subnet_id', 'subnet_name', 'vpc_id', 'availability_zone', 'az_id']),
        'vpc_name',
        ...perEnd(c.sides, ['vpc_name']),
        'instance_name',
        'instance_type',
        ...perEnd(c.sides, ['instance_name', 'instance_type']),
        ...perEnd(c.sides, ['network_name']),
      ];
      const [record] = await decodeFlowLogs(c.format, 1);
      const before = Object.keys(record!.fields);
      // Act
      const [after] = await enrichFields(demoEnrichConfig(tmp), [record!.fields]);
      // Assess
      assert.deepEqual(Object.keys(after!).slice(0, before.length), before, 'log fields keep their place');
      assert.deepEqual(Object.keys(after!).slice(before.length), expected, c.format);
    }
  });
});

describe('enrich: lookup options', () => {
  it('match maps record fields to output prefixes; prefix and fields rename the outputs', async () => {
    // Prepare
    const config: EnrichTransformConfig = {
      type: 'enrich',
      tables: {
        networks: { file: table('networks.csv'), cidr: 'cidr', match: { srcaddr: 'src', dstaddr: 'dst_' }, prefix: 'net', fields: { network_name: 'name', kind: 'kind' } },
      },
    };
    const peer = inventory.externalPeers[0]!;
    // Act
    const [f] = await enrichFields(config, [{ srcaddr: peer.ip, dstaddr: '10.10.10.20', pkt_srcaddr: peer.ip }]);
    // Assess
    assert.deepEqual(f, {
      srcaddr: peer.ip,
      dstaddr: '10.10.10.20',
      pkt_srcaddr: peer.ip,
      src_net_name: peer.name,
      src_net_kind: peer.kind,
      dst_net_name: 'prod/app-tier-1',
      dst_net_kind: 'subnet',
    });
  });

  it('on: looks a differently named field up against the key', async () => {
    // Prepare
    const file = writeTable('owners.csv', 'id,owner\neni-1,team-a\n');
    const config: EnrichTransformConfig = { type: 'enrich', tables: { owners: { file, key: 'id', on: ['next_hop_interface_id'] } } };
    // Act
    const [f] = await enrichFields(config, [{ interface_id: 'eni-9', next_hop_interface_id: 'eni-1' }]);
    // Assess
    assert.equal(f!.owner, 'team-a');
  });

  it('match on a keyed table without cidr looks up by key; with both, by address first then key', async () => {
    // Prepare
    const file = writeTable('both.csv', 'name,net\nalpha,10.0.0.0/8\nbeta,192.0.2.9\n');
    const config: EnrichTransformConfig = { type: 'enrich', tables: { both: { file, key: 'name', cidr: 'net', match: { a: 'a', b: 'b' }, fields: ['name'] } } };
    // Act
    const [f] = await enrichFields(config, [{ a: '10.9.9.9', b: 'beta' }]);
    // Assess
    assert.equal(f!.a_name, 'alpha');
    assert.equal(f!.b_name, 'beta');
  });

  it('never overwrites a non-null field: the log wins, then the first table that finds a value', async () => {
    // Prepare
    const first = writeTable('first.csv', 'interface_id,label\neni-1,from-first\n');
    const second = writeTable('second.csv', 'interface_id,label,vpc_id\neni-1,from-second,vpc-table\neni-2,second-only,vpc-2\n');
    const config: EnrichTransformConfig = {
      type: 'enrich',
      tables: { first: { file: first, key: 'interface_id' }, second: { file: second, key: 'interface_id' } },
    };
    // Act
    const [a, b] = await enrichFields(config, [
      { interface_id: 'eni-1', vpc_id: 'vpc-from-log' },
      { interface_id: 'eni-2', vpc_id: null },
    ]);
    // Assess
    assert.equal(a!.label, 'from-first');
    assert.equal(a!.vpc_id, 'vpc-from-log');
    assert.equal(b!.label, 'second-only', 'a miss in the first table leaves null for a later table to fill');
    assert.equal(b!.vpc_id, 'vpc-2', 'a null field is filled');
  });

  it('misses and null inputs leave nulls; absent inputs add nothing; misses are counted', async () => {
    // Prepare
    const config: EnrichTransformConfig = { type: 'enrich', tables: { interfaces: { file: table('interfaces.csv'), key: 'interface_id', fields: ['interface_name'] } } };
    const enrich = createEnrichTransform(config);
    await enrich.open();
    // Act
    const out = (await enrich.apply(batchOf([{ interface_id: 'eni-unknown' }, { interface_id: null }, { other: 1 }]))).records.map((r) => r.fields);
    // Assess
    assert.deepEqual(out, [{ interface_id: 'eni-unknown', interface_name: null }, { interface_id: null, interface_name: null }, { other: 1 }]);
    assert.deepEqual(enrich.stats(), {
      lookups: 1,
      misses: 1,
      tables: { interfaces: { rows: inventory.interfaces.length, duplicates: 0, lookups: 1, misses: 1, loads: 1, refreshErrors: 0 } },
    });
    await enrich.close();
  });

  it('matches numbers against key text (ports), and keeps the first of duplicate keys', async () => {
    // Prepare
    const file = writeTable('ports.json', JSON.stringify([{ port: 443, service: 'https' }, { port: '22', service: 'ssh' }, { port: 443, service: 'dup' }]));
    const config: EnrichTransformConfig = { type: 'enrich', tables: { ports: { file, key: 'port', on: 'dstport', fields: { service: 'dst_service' } } } };
    const enrich = createEnrichTransform(config);
    await enrich.open();
    // Act
    const out = (await enrich.apply(batchOf([{ dstport: 443 }, { dstport: 22 }]))).records.map((r) => r.fields.dst_service);
    // Assess
    assert.deepEqual(out, ['https', 'ssh']);
    assert.equal(enrich.stats().tables.ports!.duplicates, 1);
    await enrich.close();
  });

  it('gives the same result on the in-place path as on the generated-layout path', async () => {
    // Prepare: more field layouts than get a generated builder; the later ones take the in-place path
    const base = (await decodeFlowLogs('v5', 1))[0]!.fields;
    const layouts = MAX_COMPILED_SHAPES + 8;
    const fields = Array.from({ length: layouts }, (_, i) => ({ ...base, [`extra_${i}`]: i }));
    // Act
    const out = await enrichFields(exampleConfig, fields);
    // Assess
    const strip = (f: Record<string, unknown>, i: number) => {
      const copy = { ...f };
      delete copy[`extra_${i}`];
      return JSON.stringify(copy);
    };
    const expected = strip(out[0]!, 0);
    assert.ok(expected.includes('"src_subnet_name"'));
    out.forEach((f, i) => assert.equal(strip(f, i), expected, `layout ${i}`));
  });
});

describe('enrich: bad tables', () => {
  async function assertOpenFails(config: EnrichTransformConfig, ...patterns: RegExp[]): Promise<void> {
    const enrich = createEnrichTransform(config);
    await assert.rejects(enrich.open(), (err: unknown) => {
      assert.ok(err instanceof SluiceError, String(err));
      for (const pattern of patterns) assert.match(err.message, pattern);
      return true;
    });
  }

  it('a bad CIDR names the table, file, row, column and value', async () => {
    const file = writeTable('bad-cidr.csv', 'subnet_id,cidr\ns-1,10.0.0.0/24\ns-2,10.0.0.300/24\n');
    await assertOpenFails(
      { type: 'enrich', tables: { subnets: { file, key: 'subnet_id', cidr: 'cidr' } } },
      /enrich table "subnets"/,
      /bad-cidr\.csv line 3 \(row 2\), column cidr: "10\.0\.0\.300\/24" is not a CIDR block/,
    );
  });

  it('a bad row fails open() with the file and row', async () => {
    const file = writeTable('bad-row.csv', 'interface_id,interface_name\neni-1,web\neni-2\n');
    await assertOpenFails({ type: 'enrich', tables: { interfaces: { file, key: 'interface_id' } } }, /bad-row\.csv line 3 \(row 2\): expected 2 fields/);
  });

  it('a column the config names must exist', async () => {
    await assertOpenFails(
      { type: 'enrich', tables: { vpcs: { file: table('vpcs.csv'), key: 'vpc', fields: ['vpc_name'] } } },
      /enrich table "vpcs": key column "vpc" is not in the table \(columns: vpc_id, vpc_name, cidr/,
    );
    await assertOpenFails({ type: 'enrich', tables: { vpcs: { file: table('vpcs.csv'), key: 'vpc_id', fields: ['name'] } } }, /fields column "name"/);
  });

  it('an unreadable file or unknown extension says what to do', async () => {
    await assertOpenFails({ type: 'enrich', tables: { t: { file: path.join(tmp, 'missing.csv'), key: 'a' } } }, /cannot read .*missing\.csv \(ENOENT\)/);
    const file = writeTable('table.txt', 'a\n1\n');
    await assertOpenFails({ type: 'enrich', tables: { t: { file, key: 'a' } } }, /cannot tell the format of .*table\.txt/);
  });

  it('two columns cannot go to one output field', async () => {
    await assertOpenFails(
      { type: 'enrich', tables: { vpcs: { file: table('vpcs.csv'), key: 'vpc_id', fields: { vpc_name: 'name', region: 'name' } } } },
      /enrich table "vpcs": two columns would both be written to "name"/,
    );
  });

  it('apply before open is an error, not a silent pass-through', () => {
    const enrich = createEnrichTransform(exampleConfig);
    assert.throws(() => enrich.apply(batchOf([{}])), /before open\(\)/);
  });
});

describe('enrich: refresh', () => {
  /** A scheduler the test fires by hand. */
  function manualScheduler(): { schedule: IntervalScheduler; fire(): void; active(): number; intervals: number[] } {
    const tasks = new Set<() => void>();
    const intervals: number[] = [];
    return {
      schedule: (run, ms) => {
        tasks.add(run);
        intervals.push(ms);
        return () => tasks.delete(run);
      },
      fire: () => tasks.forEach((run) => run()),
      active: () => tasks.size,
      intervals,
    };
  }
  const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

  it('reloads a table on its interval, keeps the previous table when a reload fails, and stops on close', async () => {
    // Prepare
    const file = writeTable('refresh.csv', 'interface_id,interface_name\neni-1,old-name\n');
    const scheduler = manualScheduler();
    const warnings: string[] = [];
    const logger = { warn: (_obj: unknown, msg: string) => warnings.push(msg) } as unknown as import('../../core/logger.js').Logger;
    const enrich = createEnrichTransform({ type: 'enrich', refreshSeconds: 300, tables: { interfaces: { file, key: 'interface_id' } } }, { scheduleInterval: scheduler.schedule, logger });
    await enrich.open();
    const lookup = () => enrich.apply(batchOf([{ interface_id: 'eni-1' }])) as RecordBatch;
    assert.equal(lookup().records[0]!.fields.interface_name, 'old-name');
    assert.deepEqual(scheduler.intervals, [300_000]);

    // Act: the table changes, the timer fires
    writeFileSync(file, 'interface_id,interface_name\neni-1,new-name\n');
    scheduler.fire();
    await settle();
    // Assess
    assert.equal(lookup().records[0]!.fields.interface_name, 'new-name');

    // Act: the table breaks, the timer fires
    writeFileSync(file, 'interface_id,interface_name\neni-1\n');
    scheduler.fire();
    await settle();
    // Assess
    assert.equal(lookup().records[0]!.fields.interface_name, 'new-name', 'the previous table stays in use');
    assert.equal(enrich.stats().tables.interfaces!.refreshErrors, 1);
    assert.equal(enrich.stats().tables.interfaces!.loads, 2);
    assert.equal(warnings.length, 1);

    // Act
    await enrich.close();
    // Assess
    assert.equal(scheduler.active(), 0);
  });

  it('refresh() reloads every table now', async () => {
    // Prepare
    const file = writeTable('refresh-now.csv', 'vpc_id,vpc_name\nvpc-1,before\n');
    const enrich = createEnrichTransform({ type: 'enrich', tables: { vpcs: { file, key: 'vpc_id' } } });
    await enrich.open();
    writeFileSync(file, 'vpc_id,vpc_name\nvpc-1,after\n');
    // Act
    await enrich.refresh();
    // Assess
    assert.equal((enrich.apply(batchOf([{ vpc_id: 'vpc-1' }])) as RecordBatch).records[0]!.fields.vpc_name, 'after');
    await enrich.close();
  });
});
