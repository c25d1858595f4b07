import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import {
  createFlowLogGenerator,
  FLOW_LOG_FIELDS,
  flowLogHeader,
  flowLogLines,
  planFlowLogObjects,
  writeFlowLogObjects,
  type FlowLogFormat,
} from './flow-log-generator.js';
import { buildDemoInventory, type DemoInventory } from './inventory.js';
import { repoRoot } from '../testing/repo-root.js';


const FIXTURES = path.join(repoRoot(), 'test', 'fixtures');
const START = Date.UTC(2024, 4, 1, 10, 0, 0) / 1000; // 2024-05-01T10:00:00Z

/** Keys (relative, `/`-separated) of every file under `dir`, sorted. */
async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) keys.push(...(await listFiles(path.join(dir, e.name), `${prefix}${e.name}/`)));
    else if (e.isFile()) keys.push(`${prefix}${e.name}`);
  }
  return keys.sort();
}

/**
 * Checks one line field by field against the header and the inventory; returns the parsed record.
 * Every line must be observed by an ENI of the inventory, and that ENI's address must be one end.
 */
function assertValidLine(line: string, fields: readonly string[], inv: DemoInventory, window: { from: number; to: number }): Record<string, string> {
  const values = line.split(' ');
  assert.equal(values.length, fields.length, `field count of: ${line}`);
  const r: Record<string, string> = {};
  fields.forEach((f, i) => (r[f] = values[i]!));
  const where = `in line: ${line}`;
  assert.equal(r['version'], fields.length === 14 ? '2' : '5', where);
  const eni = inv.interfaces.find((e) => e.id === r['interface-id']);
  assert.ok(eni, `unknown ENI ${where}`);
  assert.equal(r['account-id'], eni.accountId, where);
  const start = Number(r['start']);
  const end = Number(r['end']);
  assert.ok(Number.isInteger(start) && Number.isInteger(end), where);
  assert.ok(start <= end && end - start <= 60, `start/end ${where}`);
  assert.ok(start >= window.from && end <= window.to, `outside [${window.from}, ${window.to}] ${where}`);
  const status = r['log-status'];
  if (status === 'NODATA' || status === 'SKIPDATA') {
    for (const f of ['srcaddr', 'dstaddr', 'srcport', 'dstport', 'protocol', 'packets', 'bytes', 'action']) assert.equal(r[f], '-', `${f} ${where}`);
  } else {
    assert.equal(status, 'OK', where);
    assert.ok(isIP(r['srcaddr']!) !== 0 && isIP(r['dstaddr']!) !== 0, where);
    assert.ok([eni.privateIp, eni.ipv6].includes(r['srcaddr']) || [eni.privateIp, eni.ipv6].includes(r['dstaddr']), `ENI address is neither end ${where}`);
    for (const f of ['srcport', 'dstport']) {
      const port = Number(r[f]);
      assert.ok(Number.isInteger(port) && port >= 0 && port <= 65535, `${f} ${where}`);
    }
    assert.ok(['1', '6', '17'].includes(r['protocol']!), where);
    if (r['protocol'] === '1') assert.equal(`${r['srcport']} ${r['dstport']}`, '0 0', where);
    const packets = Number(r['packets']);
    const bytes = Number(r['bytes']);
    assert.ok(Number.isInteger(packets) && packets >= 1, where);
    assert.ok(Number.isInteger(bytes) && bytes >= 40 * packets && bytes <= 1500 * packets, `bytes per packet ${where}`);
    assert.ok(r['action'] === 'ACCEPT' || r['action'] === 'REJECT', where);
  }
  if (fields.length === 29) {
    assert.equal(r['vpc-id'], eni.vpcId, where);
    assert.equal(r['subnet-id'], eni.subnetId, where);
    assert.equal(r['instance-id'], eni.instanceId ?? '-', where);
    assert.equal(r['region'], 'eu-west-1', where);
    assert.match(r['az-id']!, /^euw1-az[123]$/, where);
    assert.equal(`${r['sublocation-type']} ${r['sublocation-id']}`, '- -', where);
    if (status === 'OK') {
      assert.match(r['tcp-flags']!, /^(0|1|2|3|18|19)$/, where);
      if (r['protocol'] !== '6') assert.equal(r['tcp-flags'], '0', where);
      assert.equal(r['type'], isIP(r['srcaddr']!) === 6 ? 'IPv6' : 'IPv4', where);
      assert.ok(isIP(r['pkt-srcaddr']!) !== 0 && isIP(r['pkt-dstaddr']!) !== 0, where);
      assert.match(r['pkt-src-aws-service']!, /^(-|S3|DYNAMODB|AMAZON)$/, where);
      assert.match(r['pkt-dst-aws-service']!, /^(-|S3|DYNAMODB|AMAZON)$/, where);
      assert.ok(r['flow-direction'] === 'ingress' || r['flow-direction'] === 'egress', where);
      const egress = [eni.privateIp, eni.ipv6].includes(r['srcaddr']);
      assert.equal(r['flow-direction'], egress ? 'egress' : 'ingress', where);
      assert.match(r['traffic-path']!, egress ? /^[1-8]$/ : /^-$/, where);
    } else {
      for (const f of ['tcp-flags', 'type', 'pkt-srcaddr', 'pkt-dstaddr', 'pkt-src-aws-service', 'pkt-dst-aws-service', 'flow-direction', 'traffic-path']) {
        assert.equal(r[f], '-', `${f} ${where}`);
      }
    }
  }
  return r;
}

describe('flowLogHeader', () => {
  it('matches the header of the AWS documentation example for v2', () => {
    // Prepare
    const fixture = readFileSync(path.join(FIXTURES, 'aws-docs/vpcflow/v2-default-examples.with-header.log'), 'utf8');

    // Act
    const header = flowLogHeader('v2');

    // Assess
    assert.equal(header, fixture.split('\n')[0]);
  });

  it('lists the 29 fields of v2–v5 in AWS table order, as in the Elastic v5 sample', () => {
    // Prepare: the sample's values identify each field (e.g. `ingress` is flow-direction).
    const sample = readFileSync(path.join(FIXTURES, 'elastic-integrations/aws-vpcflow/test-v5-all-fields.log'), 'utf8').trim().split(' ');

    // Act
    const fields = FLOW_LOG_FIELDS.v5;

    // Assess
    assert.equal(fields.length, 29);
    assert.equal(sample.length, fields.length);
    assert.equal(sample[fields.indexOf('flow-direction')], 'ingress');
    assert.equal(sample[fields.indexOf('region')], 'us-east-1');
    assert.equal(sample[fields.indexOf('pkt-dst-aws-service')], 'CLOUDFRONT');
    assert.equal(sample[fields.indexOf('type')], 'IPv4');
    assert.deepEqual(fields.slice(0, 14), FLOW_LOG_FIELDS.v2);
  });
});

describe('flowLogLines', () => {
  const inventory = buildDemoInventory();

  for (const format of ['v2', 'v5'] as FlowLogFormat[]) {
    it(`produces exactly the requested number of valid ${format} lines inside the window`, () => {
      // Prepare
      const options = { inventory, seed: 3, start: START, durationS: 300, lines: 20_000, format };

      // Act
      const lines = flowLogLines(options);

      // Assess
      assert.equal(lines.length, 20_000);
      for (const line of lines) assertValidLine(line, FLOW_LOG_FIELDS[format], inventory, { from: START, to: START + 300 });
    });
  }

  it('is deterministic for a seed and changes with it', () => {
    // Prepare
    const options = { inventory, seed: 9, start: START, durationS: 600, lines: 5000, format: 'v5' as const };

    // Act
    const a = flowLogLines(options);
    const b = flowLogLines({ ...options, inventory: buildDemoInventory() });
    const c = flowLogLines({ ...options, seed: 10 });

    // Assess
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it('mixes the expected kinds of traffic in plausible shares', () => {
    // Prepare
    const lines = flowLogLines({ inventory, seed: 1, start: START, durationS: 3600, lines: 100_000, format: 'v2' });
    const records = lines.map((l) => l.split(' '));
    const share = (pred: (r: string[]) => boolean) => records.filter(pred).length / records.length;
    const dstPort = (port: string) => (r: string[]) => r[6] === port;

    // Assess
    const nodata = share((r) => r[13] === 'NODATA');
    assert.ok(nodata > 0.003 && nodata < 0.012, `NODATA share ${nodata}`);
    assert.ok(records.some((r) => r[13] === 'SKIPDATA'), 'some SKIPDATA');
    const rejects = records.filter((r) => r[12] === 'REJECT');
    assert.ok(rejects.length / records.length > 0.005 && rejects.length / records.length < 0.08, `REJECT share ${rejects.length / records.length}`);
    for (const port of ['22', '23', '3389']) assert.ok(rejects.some(dstPort(port)), `REJECT on ${port}`);
    for (const port of ['5432', '3306', '8080', '443', '80', '53', '6379']) assert.ok(share(dstPort(port)) > 0.001, `traffic to ${port}`);
    assert.ok(share((r) => r[7] === '17') > 0.03, 'UDP (DNS)');
    assert.ok(share((r) => r[7] === '1') > 0.003, 'ICMP');
    assert.ok(records.some((r) => r[3]?.includes(':')), 'some IPv6');
    const inbound = records.filter((r) => r[4]?.startsWith('10.') && /^(198\.51\.100|203\.0\.113|192\.0\.2)\./.test(r[3]!));
    assert.ok(inbound.length / records.length > 0.05, 'inbound from documentation ranges');
    const enis = new Set(records.map((r) => r[2]));
    assert.ok(enis.size >= 50, `${enis.size} ENIs seen`);
    const ephemeral = records.filter((r) => r[13] === 'OK' && r[7] === '6' && r[6] === '5432').map((r) => Number(r[5]));
    assert.ok(ephemeral.every((p) => p >= 1024), 'client ports are ephemeral');
  });

  it('writes lines of 100–130 bytes on average in v2, like real objects', () => {
    // Act
    const lines = flowLogLines({ inventory, seed: 1, start: START, durationS: 300, lines: 20_000, format: 'v2' });

    // Assess
    const average = lines.reduce((a, l) => a + l.length + 1, 0) / lines.length;
    assert.ok(average >= 100 && average <= 130, `average line ${average} bytes`);
  });

  it('restricts lines to one ENI, or to the ENIs of one VPC', () => {
    // Prepare
    const db = inventory.interfaces.find((e) => e.name === 'db-primary')!;
    const staging = inventory.vpcs.find((v) => v.name === 'staging')!;

    // Act
    const dbLines = flowLogLines({ inventory, seed: 1, start: START, durationS: 300, lines: 2000, format: 'v2', interfaceId: db.id });
    const stagingLines = flowLogLines({ inventory, seed: 1, start: START, durationS: 300, lines: 5000, format: 'v5', vpcId: staging.id });

    // Assess
    assert.equal(dbLines.length, 2000);
    assert.ok(dbLines.every((l) => l.split(' ')[2] === db.id));
    assert.ok(dbLines.some((l) => l.includes(` ${db.privateIp} 5432 `) || l.includes(` 5432 `)), 'postgres traffic');
    const stagingEnis = new Set(stagingLines.map((l) => l.split(' ')[2]));
    assert.ok(stagingEnis.size >= 8, `${stagingEnis.size} staging ENIs mixed`);
    for (const l of stagingLines) assert.equal(l.split(' ')[14], staging.id);
    assert.ok(stagingLines.every((l) => l.split(' ')[1] === '444455556666'));
  });

  it('records traffic through a NAT gateway with the original addresses in pkt-srcaddr/pkt-dstaddr', () => {
    // Prepare
    const nat = inventory.interfaces.find((e) => e.name === 'prod-nat-a')!;

    // Act
    const lines = flowLogLines({ inventory, seed: 1, start: START, durationS: 300, lines: 3000, format: 'v5', interfaceId: nat.id });

    // Assess: instance → NAT lines name the real destination in pkt-dstaddr, as in the AWS example.
    const fields = FLOW_LOG_FIELDS.v5;
    const translated = lines
      .map((l) => l.split(' '))
      .filter((r) => r[fields.indexOf('dstaddr')] === nat.privateIp && r[fields.indexOf('pkt-dstaddr')] !== nat.privateIp);
    assert.ok(translated.length > 0);
    for (const r of translated) assert.ok(!r[fields.indexOf('pkt-dstaddr')]!.startsWith('10.'), r.join(' '));
  });

  it('logs the incident storyline on both ends: web-3 probes SSH (ACCEPT egress, REJECT at the target)', () => {
    // Prepare
    const web3 = inventory.interfaces.find((e) => e.name === 'web-3')!;
    const prod = inventory.vpcs.find((v) => v.name === 'prod')!;

    // Act
    const probes = flowLogLines({ inventory, seed: 2, start: START, durationS: 3600, lines: 300_000, format: 'v2', vpcId: prod.id })
      .map((l) => l.split(' '))
      .filter((r) => r[3] === web3.privateIp && r[6] === '22');

    // Assess
    const atWeb3 = probes.filter((r) => r[2] === web3.id);
    const atTargets = probes.filter((r) => r[2] !== web3.id);
    assert.ok(atWeb3.length > 0 && atTargets.length > 0, `${probes.length} probe lines`);
    assert.ok(atWeb3.every((r) => r[12] === 'ACCEPT'), 'security groups allow all egress');
    assert.ok(atTargets.every((r) => r[12] === 'REJECT'), 'targets refuse SSH from web-3');
    assert.ok(new Set(atTargets.map((r) => r[2])).size >= 3, 'several targets');
  });

  it('writes NODATA lines in the shape of the AWS documentation example', () => {
    // Prepare: the doc's NODATA line with its account, ENI and times blanked out.
    const doc = readFileSync(path.join(FIXTURES, 'aws-docs/vpcflow/v2-default-examples.log'), 'utf8')
      .split('\n')
      .find((l) => l.endsWith('NODATA'))!;
    const shape = (l: string) => l.replace(/^2 \d{12} eni-[0-9a-f]+ /, '2 A E ').replace(/ \d+ \d+ - NODATA$/, ' S E - NODATA');

    // Act
    const lines = flowLogLines({ inventory, seed: 1, start: START, durationS: 3600, lines: 50_000, format: 'v2' }).filter((l) => l.endsWith('NODATA'));

    // Assess
    assert.ok(lines.length > 0);
    for (const l of lines) assert.equal(shape(l), shape(doc));
  });

  it('rejects a start given in milliseconds with a hint', () => {
    assert.throws(
      () => flowLogLines({ inventory, seed: 1, start: START * 1000, durationS: 300, lines: 1, format: 'v2' }),
      /looks like milliseconds/,
    );
  });

  it('produces chunks of whole lines whatever the chunk size', () => {
    // Prepare
    const options = { inventory, seed: 4, start: START, durationS: 300, lines: 10_000, format: 'v2' as const };

    // Act
    const gen = createFlowLogGenerator({ ...options, chunkBytes: 4096 });
    const chunks: Buffer[] = [];
    for (let c = gen.nextChunk(); c; c = gen.nextChunk()) chunks.push(c);

    // Assess
    assert.ok(chunks.length > 100);
    for (const c of chunks) assert.equal(c[c.length - 1], 0x0a);
    assert.equal(gen.linesWritten, 10_000);
    assert.equal(gen.bytesWritten, chunks.reduce((a, c) => a + c.length, 0));
    assert.equal(Buffer.concat(chunks).toString('latin1').split('\n').length - 1, 10_000);
  });
});

describe('writeFlowLogObjects', () => {
  const inventory = buildDemoInventory();
  let root: string;

  before(() => {
    root = mkdtempSync(path.join(tmpdir(), 'sluice-demo-gen-'));
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
  });

  const write = (dir: string, extra: Partial<Parameters<typeof writeFlowLogObjects>[0]> = {}) =>
    writeFlowLogObjects({
      dir: path.join(root, dir),
      inventory,
      seed: 5,
      objects: 6,
      linesPerObject: 3000,
      start: new Date(START * 1000),
      format: 'v2',
      ...extra,
    });

  it('writes byte-identical objects for the same seed, whatever the concurrency', async () => {
    // Act
    const a = await write('same-a', { concurrency: 1 });
    const b = await write('same-b', { concurrency: 4 });
    const c = await write('other-seed', { seed: 6 });

    // Assess
    const keysA = await listFiles(path.join(root, 'same-a'));
    assert.deepEqual(keysA, await listFiles(path.join(root, 'same-b')));
    for (const key of keysA) {
      assert.ok(readFileSync(path.join(root, 'same-a', key)).equals(readFileSync(path.join(root, 'same-b', key))), key);
    }
    assert.equal(a.bytes, b.bytes);
    assert.notDeepEqual(keysA, await listFiles(path.join(root, 'other-seed')));
    assert.notEqual(c.bytes, a.bytes);
  });

  it('uses the S3 delivery layout and names, spread over 5-minute intervals of the hour', async () => {
    // Act
    const result = await write('layout', { objects: 12 });

    // Assess
    const keys = await listFiles(path.join(root, 'layout'));
    assert.equal(keys.length, 12);
    assert.deepEqual(result.files.map((f) => path.relative(path.join(root, 'layout'), f).split(path.sep).join('/')).sort(), keys);
    const pattern = /^AWSLogs\/(\d{12})\/vpcflowlogs\/eu-west-1\/(\d{4})\/(\d{2})\/(\d{2})\/(\d{12})_vpcflowlogs_eu-west-1_(fl-[0-9a-f]{17})_(\d{8})T(\d{2})(\d{2})Z_[0-9a-f]{8}\.log\.gz$/;
    const minutes = new Set<string>();
    for (const key of keys) {
      const m = pattern.exec(key);
      assert.ok(m, `key ${key}`);
      const [, account, yyyy, mm, dd, account2, flowLog, date, hh, min] = m;
      assert.equal(account, account2);
      assert.equal(`${yyyy}${mm}${dd}`, date);
      assert.equal(hh, '10');
      assert.equal(Number(min) % 5, 0);
      minutes.add(min!);
      const vpc = inventory.vpcs.find((v) => v.flowLogId === flowLog);
      assert.ok(vpc, `flow log ${flowLog} belongs to a VPC`);
      assert.equal(vpc.accountId, account);
    }
    assert.equal(minutes.size, 12, 'one object per 5-minute interval');
    assert.ok(!keys.some((k) => k.endsWith('.partial')));
  });

  it('puts the header first and only valid lines of the object’s VPC inside its interval', async () => {
    // Act
    const result = await write('content-v5', { format: 'v5', objects: 3, linesPerObject: 4000 });

    // Assess
    for (const file of result.files) {
      const text = gunzipSync(readFileSync(file)).toString('latin1');
      const lines = text.split('\n');
      assert.equal(lines.pop(), '', 'ends with a newline');
      assert.equal(lines[0], flowLogHeader('v5'));
      assert.equal(lines.length, 4001);
      const m = /_(\d{8})T(\d{4})Z_/.exec(file)!;
      const intervalStart = Date.UTC(+m[1]!.slice(0, 4), +m[1]!.slice(4, 6) - 1, +m[1]!.slice(6), +m[2]!.slice(0, 2), +m[2]!.slice(2)) / 1000;
      const flowLog = /_(fl-[0-9a-f]{17})_/.exec(file)![1];
      const vpc = inventory.vpcs.find((v) => v.flowLogId === flowLog)!;
      for (const line of lines.slice(1)) {
        const r = assertValidLine(line, FLOW_LOG_FIELDS.v5, inventory, { from: intervalStart, to: intervalStart + 300 });
        assert.equal(r['vpc-id'], vpc.id);
      }
    }
  });

  it('counts lines, header lines, records and bytes', async () => {
    // Act
    const withHeader = await write('counts', { objects: 4, linesPerObject: 2500 });
    const withoutHeader = await write('counts-no-header', { objects: 4, linesPerObject: 2500, header: false });

    // Assess
    assert.equal(withHeader.records, 10_000);
    assert.equal(withHeader.headerLines, 4);
    assert.equal(withHeader.lines, 10_004);
    let uncompressed = 0;
    let compressed = 0;
    let lineCount = 0;
    for (const f of withHeader.files) {
      const raw = readFileSync(f);
      compressed += raw.length;
      const text = gunzipSync(raw);
      uncompressed += text.length;
      lineCount += text.toString('latin1').split('\n').length - 1;
    }
    assert.equal(withHeader.bytes, compressed);
    assert.equal(withHeader.uncompressedBytes, uncompressed);
    assert.equal(lineCount, withHeader.lines);
    assert.equal(withoutHeader.headerLines, 0);
    assert.equal(withoutHeader.lines, 10_000);
    const first = gunzipSync(readFileSync(withoutHeader.files[0]!)).toString('latin1').split('\n')[0]!;
    assert.match(first, /^2 \d{12} eni-/);
  });

  it('places objects by their own interval, crossing midnight into the next date folder', () => {
    // Act
    const planned = planFlowLogObjects({ inventory, seed: 1, objects: 24, start: Date.UTC(2024, 11, 31, 23, 30) / 1000, durationMinutes: 60 });

    // Assess
    const folders = new Set(planned.map((p) => p.key.split('/').slice(4, 7).join('/')));
    assert.deepEqual([...folders].sort(), ['2024/12/31', '2025/01/01']);
    assert.equal(new Set(planned.map((p) => p.key)).size, 24);
    assert.ok(planned.every((p) => p.intervalStart % 300 === 0));
  });
});
