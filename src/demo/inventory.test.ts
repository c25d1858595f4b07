import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, it } from 'node:test';
import { buildDemoInventory, inventoryTablesCsv } from './inventory.js';

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

function inIpv4Cidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/') as [string, string];
  const size = 2 ** (32 - Number(bits));
  const start = ipv4ToInt(base);
  return ipv4ToInt(ip) >= start && ipv4ToInt(ip) < start + size;
}

/** Minimal RFC 4180 reader, enough to check what `inventoryTablesCsv` writes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') row.push(field), (field = '');
    else if (ch === '\n') row.push(field), rows.push(row), (row = []), (field = '');
    else field += ch;
  }
  return rows;
}

describe('buildDemoInventory', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    // Act
    const a = buildDemoInventory(1);
    const b = buildDemoInventory(1);
    const c = buildDemoInventory(2);

    // Assess
    assert.deepEqual(a, b);
    assert.notDeepEqual(
      a.interfaces.map((e) => e.id),
      c.interfaces.map((e) => e.id),
    );
    assert.deepEqual(
      a.interfaces.map((e) => e.name),
      c.interfaces.map((e) => e.name),
      'names and topology do not depend on the seed',
    );
  });

  it('describes two accounts, one region and the three named VPCs', () => {
    // Act
    const inv = buildDemoInventory();

    // Assess
    assert.equal(inv.region, 'eu-west-1');
    assert.deepEqual(inv.accounts.map((a) => a.id), ['111122223333', '444455556666']);
    for (const a of inv.accounts) assert.match(a.id, /^\d{12}$/);
    assert.deepEqual(inv.vpcs.map((v) => v.name), ['prod', 'staging', 'shared-services']);
    for (const v of inv.vpcs) {
      assert.match(v.id, /^vpc-[0-9a-f]{17}$/);
      assert.match(v.flowLogId, /^fl-[0-9a-f]{17}$/);
      assert.match(v.cidr, /^10\.\d+\.0\.0\/16$/);
      assert.ok(inv.accounts.some((a) => a.id === v.accountId));
    }
  });

  it('places every subnet inside its VPC and every ENI address inside its subnet', () => {
    // Prepare
    const inv = buildDemoInventory();
    const subnetById = new Map(inv.subnets.map((s) => [s.id, s]));
    const vpcById = new Map(inv.vpcs.map((v) => [v.id, v]));

    // Assess
    assert.ok(inv.subnets.length >= 9 && inv.subnets.length <= 16, `${inv.subnets.length} subnets`);
    for (const s of inv.subnets) {
      assert.match(s.id, /^subnet-[0-9a-f]{17}$/);
      assert.match(s.cidr, /^10\.\d+\.\d+\.0\/24$/);
      assert.ok(inIpv4Cidr(s.cidr.split('/')[0]!, vpcById.get(s.vpcId)!.cidr), `${s.cidr} outside its VPC`);
      assert.match(s.azId, /^euw1-az[123]$/);
    }
    for (const e of inv.interfaces) {
      const subnet = subnetById.get(e.subnetId);
      assert.ok(subnet, `${e.name}: unknown subnet`);
      assert.equal(subnet.vpcId, e.vpcId);
      assert.equal(isIP(e.privateIp), 4);
      assert.ok(inIpv4Cidr(e.privateIp, subnet.cidr), `${e.name} ${e.privateIp} outside ${subnet.cidr}`);
      const host = Number(e.privateIp.split('.')[3]);
      assert.ok(host >= 4 && host <= 254, `${e.privateIp} is an address AWS reserves`);
      if (e.ipv6) {
        assert.equal(isIP(e.ipv6), 6);
        assert.ok(subnet.ipv6Cidr && e.ipv6.startsWith(subnet.ipv6Cidr.replace('::/64', ':')), `${e.ipv6} outside ${subnet.ipv6Cidr}`);
      }
      assert.equal(e.accountId, vpcById.get(e.vpcId)!.accountId);
    }
  });

  it('has about sixty uniquely named ENIs with AWS-shaped ids and descriptions', () => {
    // Act
    const inv = buildDemoInventory();

    // Assess
    assert.ok(inv.interfaces.length >= 50 && inv.interfaces.length <= 70, `${inv.interfaces.length} ENIs`);
    const unique = (values: string[]) => new Set(values).size === values.length;
    assert.ok(unique(inv.interfaces.map((e) => e.id)));
    assert.ok(unique(inv.interfaces.map((e) => e.name)));
    assert.ok(unique(inv.interfaces.map((e) => e.privateIp)));
    for (const e of inv.interfaces) {
      assert.match(e.id, /^eni-[0-9a-f]{17}$/);
      if (e.instanceId) assert.match(e.instanceId, /^i-[0-9a-f]{17}$/);
      assert.ok(e.description.length > 0);
    }
    const byName = new Map(inv.interfaces.map((e) => [e.name, e]));
    assert.equal(byName.get('db-primary')?.description, 'RDSNetworkInterface');
    assert.equal(byName.get('db-primary')?.instanceId, undefined, 'managed ENIs have no instance');
    assert.match(byName.get('prod-nat-a')!.description, /^Interface for NAT Gateway nat-[0-9a-f]{17}$/);
    assert.match(byName.get('prod-web-alb-a')!.description, /^ELB app\/prod-web-alb\/[0-9a-f]{16}$/);
    assert.equal(byName.get('bastion-1')?.description, 'Primary network interface');
    assert.deepEqual(
      inv.instances.map((i) => i.id).sort(),
      inv.interfaces.flatMap((e) => (e.instanceId ? [e.instanceId] : [])).sort(),
    );
  });

  it('uses documentation and GeoIP-test addresses for external peers, and named AWS service ranges', () => {
    // Act
    const inv = buildDemoInventory();

    // Assess
    const kinds = new Set(inv.externalPeers.map((p) => p.kind));
    for (const kind of ['client', 'office', 'scanner', 'partner-api', 'suspicious']) assert.ok(kinds.has(kind as never), kind);
    assert.equal(new Set(inv.externalPeers.map((p) => p.ip)).size, inv.externalPeers.length);
    for (const p of inv.externalPeers) {
      assert.ok(isIP(p.ip) !== 0, p.ip);
      if (isIP(p.ip) === 6) assert.ok(p.ip.startsWith('2001:db8:'), p.ip);
    }
    const documentation = inv.externalPeers.filter((p) => /^(192\.0\.2|198\.51\.100|203\.0\.113)\./.test(p.ip));
    assert.ok(documentation.length >= 20, `${documentation.length} peers in TEST-NET ranges`);
    for (const r of inv.awsServices) {
      for (const ip of r.addresses) assert.ok(inIpv4Cidr(ip, r.cidr), `${ip} outside ${r.service} ${r.cidr}`);
    }
    assert.deepEqual(inv.awsServices.map((r) => r.service).sort(), ['AMAZON', 'DYNAMODB', 'S3']);
  });
});

describe('inventoryTablesCsv', () => {
  it('writes one row per ENI, subnet, VPC and instance under the expected headers', () => {
    // Prepare
    const inv = buildDemoInventory();

    // Act
    const tables = inventoryTablesCsv(inv);

    // Assess
    const interfaces = parseCsv(tables['interfaces.csv']);
    assert.deepEqual(interfaces[0]!.slice(0, 7), ['interface_id', 'interface_name', 'description', 'instance_id', 'subnet_id', 'vpc_id', 'private_ip']);
    assert.equal(interfaces.length - 1, inv.interfaces.length);
    const subnets = parseCsv(tables['subnets.csv']);
    assert.deepEqual(subnets[0]!.slice(0, 4), ['subnet_id', 'subnet_name', 'vpc_id', 'cidr']);
    assert.equal(subnets.length - 1, inv.subnets.length);
    const vpcs = parseCsv(tables['vpcs.csv']);
    assert.deepEqual(vpcs[0]!.slice(0, 3), ['vpc_id', 'vpc_name', 'cidr']);
    assert.equal(vpcs.length - 1, inv.vpcs.length);
    const instances = parseCsv(tables['instances.csv']);
    assert.deepEqual(instances[0]!.slice(0, 2), ['instance_id', 'instance_name']);
    assert.equal(instances.length - 1, inv.instances.length);
    for (const table of [interfaces, subnets, vpcs, instances]) {
      for (const row of table) assert.equal(row.length, table[0]!.length, `ragged row ${row.join(',')}`);
    }
  });

  it('lets every id in the interfaces table be resolved through the other tables', () => {
    // Prepare
    const tables = inventoryTablesCsv(buildDemoInventory());
    const column = (name: keyof typeof tables, index: number) => new Set(parseCsv(tables[name]).slice(1).map((r) => r[index]!));

    // Act
    const subnetIds = column('subnets.csv', 0);
    const vpcIds = column('vpcs.csv', 0);
    const instanceIds = column('instances.csv', 0);
    const rows = parseCsv(tables['interfaces.csv']).slice(1);

    // Assess
    for (const [id, name, , instanceId, subnetId, vpcId] of rows) {
      assert.ok(subnetIds.has(subnetId!), `${id} (${name}) subnet ${subnetId}`);
      assert.ok(vpcIds.has(vpcId!), `${id} (${name}) vpc ${vpcId}`);
      if (instanceId) assert.ok(instanceIds.has(instanceId), `${id} (${name}) instance ${instanceId}`);
    }
  });

  it('lists networks for longest-prefix lookups, named peers as host routes', () => {
    // Prepare
    const inv = buildDemoInventory();

    // Act
    const networks = parseCsv(inventoryTablesCsv(inv)['networks.csv']);

    // Assess
    assert.deepEqual(networks[0], ['cidr', 'network_name', 'kind']);
    const cidrs = new Map(networks.slice(1).map((r) => [r[0]!, r]));
    assert.equal(cidrs.get('10.10.0.0/16')?.[1], 'vpc prod');
    assert.equal(cidrs.get('52.218.0.0/17')?.[2], 'aws-service');
    assert.equal(cidrs.get('203.0.113.99/32')?.[2], 'suspicious');
    assert.equal(cidrs.get('2001:db8::/32')?.[2], 'external');
  });

  it('quotes fields holding commas or quotes', () => {
    // Prepare
    const inv = buildDemoInventory();
    inv.instances[0]!.name = 'web, "blue"';

    // Act
    const rows = parseCsv(inventoryTablesCsv(inv)['instances.csv']);

    // Assess
    assert.equal(rows[1]![1], 'web, "blue"');
  });
});
