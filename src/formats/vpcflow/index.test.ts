import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { SluiceError } from '../../core/errors.js';
import type { Rejection, SluiceRecord } from '../../core/record.js';
import { fixturePath } from '../../testing/repo-root.js';
import { MAX_RAW_LENGTH, vpcflowFormat, type VpcflowOptions } from './index.js';

const ID_PREFIX = '0123456789abcdef';

interface Decoded {
  records: SluiceRecord[];
  rejects: Rejection[];
  /** Records by line number. */
  byLine: Map<number, SluiceRecord>;
}

async function* chunks(bytes: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function decode(bytes: Uint8Array | string, options?: VpcflowOptions, uri = 's3://bucket/flow.log', chunkSize = 64 * 1024): Promise<Decoded> {
  const input = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  const records: SluiceRecord[] = [];
  const rejects: Rejection[] = [];
  const ctx = { object: { uri, key: 'flow.log' }, idPrefix: ID_PREFIX };
  for await (const batch of vpcflowFormat(options).decode(chunks(input, chunkSize), ctx)) {
    records.push(...batch.records);
    rejects.push(...batch.rejects);
  }
  return { records, rejects, byLine: new Map(records.map((r) => [r.origin.line, r])) };
}

function readFixture(...parts: string[]): Buffer {
  const bytes = readFileSync(fixturePath(...parts));
  return parts[parts.length - 1].endsWith('.gz') ? gunzipSync(bytes) : bytes;
}

/** Line numbers that must become a record or a reject: not blank, not a header line. */
function dataLineNumbers(bytes: Uint8Array): number[] {
  const lines = Buffer.from(bytes).toString('utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.flatMap((line, i) => (line.trim() === '' || /^(version|instance-id) /.test(line) ? [] : [i + 1]));
}

function assertAccounted(bytes: Uint8Array, decoded: Decoded): void {
  const seen = [...decoded.records.map((r) => r.origin.line), ...decoded.rejects.map((r) => r.origin.line)].sort((a, b) => a - b);
  assert.deepEqual(seen, dataLineNumbers(bytes));
}

/** The AWS field table order of versions 2 to 5 (29 fields). */
const V5_TABLE_ORDER =
  'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status ' +
  'vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr region az-id sublocation-type sublocation-id ' +
  'pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path';
const V8_TABLE_ORDER =
  `${V5_TABLE_ORDER} ecs-cluster-arn ecs-cluster-name ecs-container-instance-arn ecs-container-instance-id ` +
  'ecs-container-id ecs-second-container-id ecs-service-name ecs-task-definition-arn ecs-task-arn ecs-task-id reject-reason';
const TGW_ORDER =
  'version resource-type account-id tgw-id tgw-attachment-id tgw-src-vpc-account-id tgw-dst-vpc-account-id ' +
  'tgw-src-vpc-id tgw-dst-vpc-id tgw-src-subnet-id tgw-dst-subnet-id tgw-src-eni tgw-dst-eni tgw-src-az-id ' +
  'tgw-dst-az-id tgw-pair-attachment-id srcaddr dstaddr srcport dstport protocol packets bytes start end log-status ' +
  'type packets-lost-no-route packets-lost-blackhole packets-lost-mtu-exceeded packets-lost-ttl-expired tcp-flags ' +
  'region flow-direction pkt-src-aws-service pkt-dst-aws-service';

describe('vpcflow format: AWS documentation examples', () => {
  it('types every field of the v2 default format (no header: CloudWatch Logs style)', async () => {
    // Prepare
    const bytes = readFixture('aws-docs', 'vpcflow', 'v2-default-examples.log');

    // Act
    const decoded = await decode(bytes, undefined, 's3://logs/v2.log');

    // Assess
    assert.equal(decoded.records.length, 7);
    assert.deepEqual(decoded.rejects, []);
    assert.deepEqual(decoded.records[0], {
      id: `${ID_PREFIX}-1`,
      origin: { object: 's3://logs/v2.log', line: 1 },
      time: 1418530010000,
      fields: {
        version: 2,
        account_id: '123456789010',
        interface_id: 'eni-1235b8ca123456789',
        srcaddr: '172.31.16.139',
        dstaddr: '172.31.16.21',
        srcport: 20641,
        dstport: 22,
        protocol: 6,
        packets: 20,
        bytes: 4249,
        start: 1418530010,
        end: 1418530070,
        action: 'ACCEPT',
        log_status: 'OK',
      },
    });
    assert.equal(decoded.byLine.get(2)?.fields.action, 'REJECT');
    assert.deepEqual(decoded.byLine.get(5)?.fields, {
      version: 2, account_id: '123456789010', interface_id: 'eni-1235b8ca123456789', srcaddr: '203.0.113.12',
      dstaddr: '172.31.16.139', srcport: 0, dstport: 0, protocol: 1, packets: 4, bytes: 336, start: 1432917027,
      end: 1432917142, action: 'ACCEPT', log_status: 'OK',
    });
    assert.equal(decoded.byLine.get(7)?.fields.srcaddr, '2001:db8:1234:a100:8d6e:3477:df66:f105');
    assert.equal(decoded.byLine.get(7)?.fields.dstaddr, '2001:db8:1234:a102:3304:8879:34cf:4071');
    assertAccounted(bytes, decoded);
  });

  it('keeps NODATA and SKIPDATA records with their "-" fields as null', async () => {
    // Prepare
    const bytes = readFixture('aws-docs', 'vpcflow', 'v2-default-examples.log');

    // Act
    const { byLine } = await decode(bytes);

    // Assess
    const nodata = byLine.get(3);
    assert.deepEqual(nodata?.fields, {
      version: 2, account_id: '123456789010', interface_id: 'eni-1235b8ca123456789', srcaddr: null, dstaddr: null,
      srcport: null, dstport: null, protocol: null, packets: null, bytes: null, start: 1431280876, end: 1431280934,
      action: null, log_status: 'NODATA',
    });
    assert.equal(nodata?.time, 1431280876000);
    assert.equal(byLine.get(4)?.fields.log_status, 'SKIPDATA');
    assert.equal(byLine.get(4)?.fields.interface_id, 'eni-11111111aaaaaaaaa');
  });

  it('reads the header line of an S3 object, and ids point at the physical lines', async () => {
    // Prepare
    const bytes = readFixture('aws-docs', 'vpcflow', 'v2-default-examples.with-header.log');

    // Act
    const decoded = await decode(bytes);

    // Assess
    assert.equal(decoded.records.length, 7);
    assert.deepEqual(decoded.records.map((r) => r.id), [2, 3, 4, 5, 6, 7, 8].map((n) => `${ID_PREFIX}-${n}`));
    assert.equal(decoded.byLine.get(2)?.fields.srcport, 20641);
    assertAccounted(bytes, decoded);
  });

  it('reads a v3 custom order, including the documented line with a double space', async () => {
    // Prepare
    const bytes = readFixture('aws-docs', 'vpcflow', 'v3-tcp-flag-sequence.custom.log');

    // Act
    const decoded = await decode(bytes);

    // Assess
    assert.equal(decoded.records.length, 8);
    assert.deepEqual(decoded.rejects, []);
    assert.deepEqual(decoded.byLine.get(9)?.fields, {
      version: 3, vpc_id: 'vpc-abcdefab012345678', subnet_id: 'subnet-aaaaaaaa012345678',
      instance_id: 'i-01234567890123456', interface_id: 'eni-1235b8ca123456789', account_id: '123456789010',
      type: 'IPv4', srcaddr: '10.0.0.62', dstaddr: '52.213.180.42', srcport: 5001, dstport: 43638,
      pkt_srcaddr: '10.0.0.62', pkt_dstaddr: '52.213.180.42', protocol: 6, bytes: 967, packets: 14,
      start: 1566933133, end: 1566933193, action: 'ACCEPT', tcp_flags: 19, log_status: 'OK',
    });
    assert.deepEqual([2, 3, 4, 5, 6, 7, 8, 9].map((n) => decoded.byLine.get(n)?.fields.tcp_flags), [2, 18, 2, 18, 1, 1, 3, 19]);
    assertAccounted(bytes, decoded);
  });

  it('reads a 6-field NAT gateway format without version or times: no record time', async () => {
    // Prepare
    const bytes = readFixture('aws-docs', 'vpcflow', 'nat-gateway.custom-6-fields.log');

    // Act
    const decoded = await decode(bytes);

    // Assess
    assert.equal(decoded.records.length, 6);
    assert.deepEqual(decoded.byLine.get(2)?.fields, {
      instance_id: null, interface_id: 'eni-1235b8ca123456789', srcaddr: '10.0.1.5', dstaddr: '10.0.0.220',
      pkt_srcaddr: '10.0.1.5', pkt_dstaddr: '203.0.113.5',
    });
    assert.equal(decoded.byLine.get(6)?.fields.instance_id, 'i-01234567890123456');
    assert.ok(decoded.records.every((r) => !('time' in r)));
    assertAccounted(bytes, decoded);
  });

  it('reads the 17-field transit gateway example', async () => {
    // Prepare
    const bytes = readFixture('aws-docs', 'vpcflow', 'transit-gateway.custom-17-fields.log');

    // Act
    const decoded = await decode(bytes);

    // Assess
    assert.equal(decoded.records.length, 4);
    const line4 = decoded.byLine.get(4)?.fields;
    assert.equal(line4?.instance_id, null);
    assert.equal(line4?.srcaddr, '10.40.1.175');
    assert.equal(line4?.pkt_srcaddr, '10.20.33.164');
    assert.equal(line4?.tcp_flags, 3);
    assert.equal(line4?.type, 'IPv4');
    assert.equal(decoded.byLine.get(4)?.time, undefined);
    assertAccounted(bytes, decoded);
  });

  it('reads the 29-field v5 order with service, traffic path and flow direction', async () => {
    // Prepare
    const bytes = readFixture('aws-docs', 'vpcflow', 'v5-service-traffic-path-flow-direction.custom-29-fields.log');

    // Act
    const decoded = await decode(bytes);

    // Assess
    assert.equal(decoded.records.length, 2);
    const ingress = decoded.byLine.get(2)?.fields;
    const egress = decoded.byLine.get(3)?.fields;
    assert.equal(ingress?.pkt_src_aws_service, 'S3');
    assert.equal(ingress?.pkt_dst_aws_service, null);
    assert.equal(ingress?.traffic_path, null);
    assert.equal(ingress?.flow_direction, 'ingress');
    assert.equal(ingress?.region, 'ap-southeast-2');
    assert.equal(ingress?.az_id, 'apse2-az3');
    assert.equal(ingress?.sublocation_type, null);
    assert.equal(egress?.traffic_path, 8);
    assert.equal(egress?.flow_direction, 'egress');
    assert.equal(egress?.pkt_dst_aws_service, 'S3');
    assert.equal(decoded.byLine.get(3)?.time, 1616729292000);
    assertAccounted(bytes, decoded);
  });
});

describe('vpcflow format: Elastic Beats fixtures', () => {
  it('reads accept/reject traffic including ICMP', async () => {
    // Prepare
    const bytes = readFixture('elastic-beats', 'vpcflow', 'accept-reject-traffic.log');

    // Act
    const decoded = await decode(bytes);

    // Assess
    assert.deepEqual(decoded.records.map((r) => r.fields.action), ['ACCEPT', 'REJECT', 'ACCEPT', 'REJECT']);
    assert.equal(decoded.byLine.get(4)?.fields.protocol, 1);
    assertAccounted(bytes, decoded);
  });

  it('rejects a line that is not a flow log line, with the line, counts and a hint', async () => {
    // Prepare
    const bytes = readFixture('elastic-beats', 'vpcflow', 'bad.log');

    // Act
    const decoded = await decode(bytes, undefined, 's3://logs/bad.log');

    // Assess
    assert.equal(decoded.records.length, 0);
    assert.equal(decoded.rejects.length, 1);
    const [reject] = decoded.rejects;
    assert.equal(reject.code, 'VPCFLOW_FIELD_COUNT');
    assert.deepEqual(reject.origin, { object: 's3://logs/bad.log', line: 1 });
    assert.equal(reject.raw, 'Phony unsupported log format.');
    assert.match(reject.reason, /^line 1: expected 14 fields \(the v2 default format; no header line seen yet\) but found 4; /);
    assert.match(reject.reason, /`fields` option/);
  });

  it('needs the fields option for a custom format without header, and reads it with the option', async () => {
    // Prepare
    const bytes = readFixture('elastic-beats', 'vpcflow', 'custom-transit-gateway.log');
    const fields = 'version interface-id account-id vpc-id subnet-id instance-id srcaddr dstaddr srcport dstport protocol tcp-flags type pkt-srcaddr pkt-dstaddr action log-status';

    // Act
    const withoutOption = await decode(bytes);
    const withOption = await decode(bytes, { fields });

    // Assess
    assert.equal(withoutOption.records.length, 0);
    assert.match(withoutOption.rejects[0].reason, /expected 14 fields .* but found 17/);
    assert.equal(withOption.rejects.length, 0);
    assert.equal(withOption.records[0].fields.vpc_id, 'vpc-abcdefab012345678');
    assert.equal(withOption.records[0].fields.tcp_flags, 3);
  });

  it('reads the custom NAT gateway header, IPv6 and NODATA/SKIPDATA files', async () => {
    // Prepare
    const nat = readFixture('elastic-beats', 'vpcflow', 'custom-nat-gateway.log');
    const ipv6 = readFixture('elastic-beats', 'vpcflow', 'ipv6.log');
    const noData = readFixture('elastic-beats', 'vpcflow', 'no-data-skip-data.log');
    const tcp = readFixture('elastic-beats', 'vpcflow', 'tcp-flag-sequence.log');

    // Act
    const [a, b, c, d] = await Promise.all([decode(nat), decode(ipv6), decode(noData), decode(tcp)]);

    // Assess
    assert.equal(a.records.length, 2);
    assert.equal(a.byLine.get(3)?.fields.interface_id, 'eni-1111aaaa2222bbbb3');
    assert.equal(b.records[0].fields.dstaddr, '2001:db8:1234:a102:3304:8879:34cf:4071');
    assert.equal(b.records[0].time, 1477913708000);
    assert.deepEqual(c.records.map((r) => r.fields.log_status), ['NODATA', 'SKIPDATA']);
    assert.ok(c.records.every((r) => r.fields.packets === null && r.fields.srcaddr === null));
    assert.equal(d.records[0].fields.tcp_flags, 2);
    for (const [bytes, decoded] of [[nat, a], [ipv6, b], [noData, c], [tcp, d]] as const) assertAccounted(bytes, decoded);
  });

  it('skips the blank line and follows the repeated header mid-file', async () => {
    // Prepare: header, SKIPDATA line, blank line, header again, NODATA line
    const bytes = readFixture('elastic-beats', 'vpcflow', 'tcp-flag-sequence-skip-data.log');

    // Act
    const decoded = await decode(bytes);

    // Assess
    assert.deepEqual(decoded.rejects, []);
    assert.deepEqual(decoded.records.map((r) => r.origin.line), [2, 5]);
    assert.equal(decoded.byLine.get(2)?.fields.log_status, 'SKIPDATA');
    assert.equal(decoded.byLine.get(5)?.fields.log_status, 'NODATA');
    assert.equal(decoded.byLine.get(5)?.fields.tcp_flags, null);
    assert.equal(decoded.byLine.get(5)?.fields.type, null);
    assert.equal(decoded.byLine.get(5)?.time, 1566848875000);
    assertAccounted(bytes, decoded);
  });
});

describe('vpcflow format: Elastic integration fixtures (no header, need the fields option)', () => {
  it('reads the v2 extra samples, whose last line has no newline', async () => {
    // Prepare
    const bytes = readFixture('elastic-integrations', 'aws-vpcflow', 'test-extra-samples.log');

    // Act
    const decoded = await decode(bytes);

    // Assess
    assert.equal(decoded.records.length, 7);
    assert.equal(decoded.byLine.get(7)?.fields.action, 'REJECT');
    assert.equal(decoded.byLine.get(2)?.fields.log_status, 'NODATA');
    assertAccounted(bytes, decoded);
  });

  it('reads all 29 v2-v5 fields in AWS table order', async () => {
    // Prepare
    const bytes = readFixture('elastic-integrations', 'aws-vpcflow', 'test-v5-all-fields.log');

    // Act
    const decoded = await decode(bytes, { fields: V5_TABLE_ORDER });

    // Assess
    assert.deepEqual(decoded.rejects, []);
    const [record] = decoded.records;
    assert.equal(record.time, 164000066000);
    assert.equal(record.fields.account_id, '64111117617');
    assert.equal(record.fields.tcp_flags, 1);
    assert.equal(record.fields.pkt_dstaddr, '10.200.0.80');
    assert.equal(record.fields.pkt_src_aws_service, 'AMAZON');
    assert.equal(record.fields.pkt_dst_aws_service, 'CLOUDFRONT');
    assert.equal(record.fields.flow_direction, 'ingress');
    assert.equal(record.fields.traffic_path, 1);
    assert.equal(Object.keys(record.fields).length, 29);
  });

  it('reads the 40-field v8 sample with ECS fields and reject-reason', async () => {
    // Prepare
    const bytes = readFixture('elastic-integrations', 'aws-vpcflow', 'test-v8-samples.log');

    // Act
    const decoded = await decode(bytes, { fields: V8_TABLE_ORDER });

    // Assess
    assert.deepEqual(decoded.rejects, []);
    const { fields } = decoded.records[0];
    assert.equal(fields.interface_id, null);
    assert.equal(fields.srcaddr, '2a02:cf40::');
    assert.equal(fields.log_status, 'NODATA');
    assert.equal(fields.action, 'REJECT');
    assert.equal(fields.ecs_cluster_name, 'backend-cluster');
    assert.equal(fields.ecs_task_id, 'e504f037-35c');
    assert.equal(fields.ecs_task_definition_arn, 'arn:aws:ecs:us-east-1:000000000000:task-definition/orders:12');
    assert.equal(fields.reject_reason, 'BPA');
    assert.equal(fields.traffic_path, null);
  });

  it('reads 36-field transit gateway lines with packets-lost counters', async () => {
    // Prepare
    const bytes = readFixture('elastic-integrations', 'aws-vpcflow', 'test-tgw-samples.log');

    // Act
    const decoded = await decode(bytes, { fields: TGW_ORDER });

    // Assess
    assert.equal(decoded.records.length, 10);
    assert.deepEqual(decoded.rejects, []);
    const first = decoded.records[0].fields;
    assert.equal(first.tgw_id, 'tgw-0a12bc34de56f7890');
    assert.equal(first.dstaddr, '2a02:cf40::');
    assert.equal(first.log_status, 'SKIPDATA');
    assert.equal(first.packets_lost_no_route, null);
    assert.equal(first.flow_direction, 'ingress');
    assert.deepEqual(decoded.records.map((r) => r.fields.log_status).filter((s) => s === 'OK').length, 3);
    assertAccounted(bytes, decoded);
  });
});

describe('vpcflow format: OpenTelemetry collector fixtures', () => {
  it('reads a header and a NODATA line, and a two-line file without final newline', async () => {
    // Prepare
    const single = readFixture('opentelemetry-collector-contrib', 'vpc-flow-log', 'valid_vpc_flow_log.log');
    const multi = readFixture('opentelemetry-collector-contrib', 'vpc-flow-log', 'valid_vpc_flow_log_multi.log');

    // Act
    const a = await decode(single);
    const b = await decode(multi);

    // Assess
    assert.equal(a.records.length, 1);
    assert.equal(a.records[0].fields.log_status, 'NODATA');
    assert.equal(a.records[0].fields.account_id, '12345678910');
    assert.equal(a.records[0].time, 1742570089000);
    assert.deepEqual(b.records.map((r) => r.fields.srcport), [20641, 49761]);
    assertAccounted(multi, b);
  });

  it('reads the ECS header and the Transit Gateway header', async () => {
    // Prepare
    const ecs = readFixture('opentelemetry-collector-contrib', 'vpc-flow-log', 'valid_vpc_flow_log_ecs.log');
    const tgw = readFixture('opentelemetry-collector-contrib', 'vpc-flow-log', 'valid_tgw_flow_log.log');

    // Act
    const a = await decode(ecs);
    const b = await decode(tgw);

    // Assess
    assert.equal(a.records[0].fields.ecs_cluster_arn, 'arn:aws:ecs:us-east-1:123456789012:cluster/my-cluster');
    assert.equal(a.records[0].fields.ecs_second_container_id, 'container-2');
    assert.equal(a.records[0].fields.ecs_task_id, 'abcdef1234567890');
    const tgwFields = b.records[0].fields;
    assert.equal(tgwFields.version, 6);
    assert.deepEqual(
      [tgwFields.packets_lost_no_route, tgwFields.packets_lost_blackhole, tgwFields.packets_lost_mtu_exceeded, tgwFields.packets_lost_ttl_expired],
      [1, 2, 3, 4],
    );
    assert.equal(tgwFields.tgw_pair_attachment_id, 'tgw-attach-0def12345abc67890');
    assert.equal(tgwFields.region, 'us-east-1');
  });

  it('rejects too few and too many fields with the header line in the reason', async () => {
    // Prepare
    const few = readFixture('opentelemetry-collector-contrib', 'vpc-flow-log', 'vpc_flow_log_too_few_fields.log');
    const many = readFixture('opentelemetry-collector-contrib', 'vpc-flow-log', 'vpc_flow_log_too_many_fields.log');

    // Act
    const a = await decode(few);
    const b = await decode(many);

    // Assess
    assert.equal(a.records.length, 0);
    assert.equal(a.rejects[0].code, 'VPCFLOW_FIELD_COUNT');
    assert.equal(a.rejects[0].reason, 'line 2: expected 14 fields (header at line 1) but found 13');
    assert.equal(a.rejects[0].raw, '2 12345678910 eni-0eb1e4178af74336c - - - - - - - 1742570089 1742570142 -');
    assert.equal(b.records.length, 0);
    assert.equal(b.rejects[0].reason, 'line 2: expected 14 fields (header at line 1) but found 15');
    assertAccounted(few, a);
    assertAccounted(many, b);
  });
});

describe('vpcflow format: Vector VRL test vectors', () => {
  const groups = JSON.parse(readFixture('vectordotdev-vrl', 'vpcflow-test-vectors.json').toString('utf8')) as Array<{ format: string | null; lines: string[] }>;

  it('reads every vector with its format (underscore names) and rejects none', async () => {
    for (const group of groups) {
      // Act
      const decoded = await decode(group.lines.join('\n'), group.format === null ? undefined : { fields: group.format });

      // Assess
      assert.deepEqual(decoded.rejects, [], `format ${group.format}`);
      assert.equal(decoded.records.length, group.lines.length, `format ${group.format}`);
    }
  });

  it('types the v7 ECS and v11 fields, and keeps unknown fields as strings', async () => {
    // Prepare
    const ecs = groups.find((g) => g.format?.includes('ecs_cluster_arn'));
    const v11 = groups.find((g) => g.format?.includes('encryption_status'));
    assert.ok(ecs && v11);

    // Act
    const a = await decode(ecs.lines.join('\n'), { fields: ecs.format! });
    const b = await decode(v11.lines.join('\n'), { fields: v11.format! });

    // Assess
    assert.equal(a.records[0].fields.version, 7);
    assert.equal(a.records[0].fields.ecs_second_container_id, null);
    assert.equal(a.records[0].fields.ecs_container_instance_id, 'i-0c50d5961bcb2d47b');
    const full = b.records[0].fields;
    assert.equal(full.version, 11);
    assert.equal(full.reject_reason, 'BPA');
    assert.equal(full.resource_id, 'nat-0c50d5961bcb2d47b');
    assert.equal(full.encryption_status, 1);
    assert.equal(full.instance_tag_2, 'web-2');
    assert.equal(full.next_hop_interface_type, 'network_load_balancer');
    assert.equal(full.next_hop_az_id, 'apse2-az3');
    const empty = b.records[1].fields;
    assert.equal(empty.encryption_status, null);
    assert.equal(empty.next_hop_vpc_id, null);
  });
});

describe('vpcflow format: S3 objects (gzip)', () => {
  it('reads the real Splunk sample object: 806 default-format records', async () => {
    // Prepare
    const bytes = readFixture('splunk-aws-gdi-toolkit', 'sample-vpcflow.log.gz');

    // Act
    const decoded = await decode(bytes, undefined, 's3://bucket/sample.log.gz', 4096);

    // Assess
    assert.equal(decoded.records.length, 806);
    assert.deepEqual(decoded.rejects, []);
    assert.deepEqual(decoded.records[0].fields, {
      version: 2, account_id: '841154226728', interface_id: 'eni-0b480000000000aaa', srcaddr: '52.94.213.165',
      dstaddr: '172.21.12.101', srcport: 443, dstport: 56194, protocol: 6, packets: 20, bytes: 6676,
      start: 1667592873, end: 1667592904, action: 'ACCEPT', log_status: 'OK',
    });
    assert.equal(decoded.records.filter((r) => r.fields.action === 'REJECT').length, 39);
    assert.ok(decoded.records.every((r) => r.time === (r.fields.start as number) * 1000));
    assert.equal(decoded.records[805].id, `${ID_PREFIX}-807`);
    assertAccounted(bytes, decoded);
  });

  it('reads the constructed S3 objects (v2 with header, v5 custom header)', async () => {
    // Prepare
    const dir = fixturePath('constructed');
    const names = readdirSync(dir).filter((n) => n.includes('vpcflowlogs') && n.endsWith('.log.gz')).sort();
    assert.equal(names.length, 2);

    for (const name of names) {
      // Act
      const bytes = readFixture('constructed', name);
      const decoded = await decode(bytes);

      // Assess
      assert.deepEqual(decoded.rejects, [], name);
      assertAccounted(bytes, decoded);
      if (name.includes('us-east-1')) {
        assert.equal(decoded.records.length, 7);
        assert.equal(decoded.byLine.get(4)?.fields.log_status, 'NODATA');
      } else {
        assert.equal(decoded.records.length, 2);
        assert.equal(decoded.byLine.get(2)?.fields.pkt_src_aws_service, 'S3');
      }
    }
  });
});

describe('vpcflow format: rules on constructed input', () => {
  const header = 'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status';
  const good = '2 123456789010 eni-1 10.0.0.1 10.0.0.2 443 5555 6 10 840 1700000000 1700000060 ACCEPT OK';

  it('rejects a non-integer in an integer field, naming the field, column and value', async () => {
    // Act
    const decoded = await decode(`${header}\n${good.replace(' 443 ', ' 44x3 ')}\n${good}\n`);

    // Assess
    assert.equal(decoded.records.length, 1);
    assert.equal(decoded.rejects[0].code, 'VPCFLOW_BAD_INTEGER');
    assert.equal(
      decoded.rejects[0].reason,
      'line 2: field "srcport" (column 6) must be an integer or "-", found "44x3" (field order from header at line 1)',
    );
  });

  it('rejects integers beyond the safe range and accepts negative ones', async () => {
    // Act
    const decoded = await decode(`${good.replace(' 840 ', ' 99999999999999999999 ')}\n${good.replace(' 840 ', ' -1 ')}\n`);

    // Assess
    assert.equal(decoded.rejects[0].code, 'VPCFLOW_BAD_INTEGER');
    assert.match(decoded.rejects[0].reason, /field "bytes" \(column 10\) must be an integer of at most 9007199254740991/);
    assert.equal(decoded.byLine.get(2)?.fields.bytes, -1);
  });

  it('rejects invalid addresses in address fields only', async () => {
    // Prepare
    const lines = [
      good.replace('10.0.0.1', '10.0.0.256'),
      good.replace('10.0.0.1', '10.0.01.1'),
      good.replace('10.0.0.1', 'fe80::1::2'),
      good.replace('10.0.0.1', '::ffff:10.0.0.1'),
      good.replace('eni-1', '10.0.0.999'),
    ];

    // Act
    const decoded = await decode(lines.join('\n'));

    // Assess
    assert.deepEqual(decoded.rejects.map((r) => [r.origin.line, r.code]), [[1, 'VPCFLOW_BAD_IP'], [2, 'VPCFLOW_BAD_IP'], [3, 'VPCFLOW_BAD_IP']]);
    assert.match(decoded.rejects[0].reason, /^line 1: field "srcaddr" \(column 4\) must be an IPv4 or IPv6 address or "-", found "10\.0\.0\.256"/);
    assert.equal(decoded.byLine.get(4)?.fields.srcaddr, '::ffff:10.0.0.1');
    assert.equal(decoded.byLine.get(5)?.fields.interface_id, '10.0.0.999');
  });

  it('reports a wrong field count before a bad value on the same line', async () => {
    // Act
    const decoded = await decode(`${good.replace(' 443 ', ' x ')} extra`);

    // Assess
    assert.equal(decoded.rejects[0].code, 'VPCFLOW_FIELD_COUNT');
    assert.match(decoded.rejects[0].reason, /but found 15/);
  });

  it('splits on runs of spaces and tabs, and ignores leading/trailing whitespace and CRLF', async () => {
    // Act
    const decoded = await decode(`  ${good.replaceAll(' ', ' \t ')}  \r\n${good}\r\n`);

    // Assess
    assert.deepEqual(decoded.rejects, []);
    assert.deepEqual(decoded.records[0].fields, decoded.records[1].fields);
  });

  it('skips blank and whitespace-only lines but counts them in line numbers', async () => {
    // Act
    const decoded = await decode(`\n   \n\t\n${header}\n\n${good}\n \n`);

    // Assess
    assert.deepEqual(decoded.rejects, []);
    assert.deepEqual(decoded.records.map((r) => r.id), [`${ID_PREFIX}-6`]);
  });

  it('switches to a new field order at a header mid-file, with underscores accepted', async () => {
    // Prepare
    const text = [good, 'interface_id action srcaddr', 'eni-9 REJECT 192.0.2.1', good, header, good].join('\n');

    // Act
    const decoded = await decode(text);

    // Assess
    assert.equal(decoded.byLine.get(1)?.fields.version, 2);
    assert.deepEqual(decoded.byLine.get(3)?.fields, { interface_id: 'eni-9', action: 'REJECT', srcaddr: '192.0.2.1' });
    assert.equal(decoded.byLine.get(3)?.time, undefined);
    assert.equal(decoded.rejects.length, 1);
    assert.equal(decoded.rejects[0].origin.line, 4);
    assert.match(decoded.rejects[0].reason, /expected 3 fields \(header at line 2\) but found 14/);
    assert.equal(decoded.byLine.get(6)?.fields.version, 2);
  });

  it('does not take data words for a header, and keeps unknown header fields as strings', async () => {
    // Prepare: a custom format whose values are all word-like
    const text = ['interface-id flow-direction future-field', 'eni-0abc ingress something-new', 'eni-0abc egress -'].join('\n');

    // Act
    const decoded = await decode(text);

    // Assess
    assert.deepEqual(decoded.records.map((r) => r.fields), [
      { interface_id: 'eni-0abc', flow_direction: 'ingress', future_field: 'something-new' },
      { interface_id: 'eni-0abc', flow_direction: 'egress', future_field: null },
    ]);
  });

  it('uses end for the record time when start is "-"', async () => {
    // Act
    const decoded = await decode(good.replace('1700000000', '-'));

    // Assess
    assert.equal(decoded.records[0].time, 1700000060000);
    assert.equal(decoded.records[0].fields.start, null);
  });

  it('rejects an over-long line with LINE_TOO_LONG and a raw text cut to 4 KiB', async () => {
    // Prepare
    const long = `2 ${'9'.repeat(20_000)}`;
    const notTooLong = `2 ${'x'.repeat(9_000)}`;

    // Act
    const decoded = await decode(`${good}\n${long}\n${notTooLong}\n${good}\n`, { lines: { maxLineBytes: 10_000 } });

    // Assess
    assert.deepEqual(decoded.records.map((r) => r.origin.line), [1, 4]);
    assert.deepEqual(decoded.rejects.map((r) => [r.origin.line, r.code]), [[2, 'LINE_TOO_LONG'], [3, 'VPCFLOW_FIELD_COUNT']]);
    assert.match(decoded.rejects[0].reason, /^line 2: longer than 10000 bytes/);
    assert.equal(decoded.rejects[0].raw?.length, MAX_RAW_LENGTH);
    assert.equal(decoded.rejects[1].raw?.length, MAX_RAW_LENGTH);
  });

  it('accepts the fields option written as an AWS LogFormat string', async () => {
    // Act
    const decoded = await decode('eni-7 ACCEPT 10.1.1.1\n', { fields: '${interface-id} ${action} ${srcaddr}' });

    // Assess
    assert.deepEqual(decoded.records[0].fields, { interface_id: 'eni-7', action: 'ACCEPT', srcaddr: '10.1.1.1' });
  });

  it('refuses an empty or malformed fields option when the format is created', () => {
    // Act / Assess
    assert.throws(() => vpcflowFormat({ fields: '  ' }), (e: unknown) => e instanceof SluiceError && e.code === 'VPCFLOW_BAD_FIELDS_OPTION' && e.stage === 'config');
    assert.throws(() => vpcflowFormat({ fields: 'version Account-Id srcaddr' }), /"Account-Id", which is not a field name/);
  });

  it('is named vpcflow and gives the same ids for the same object', async () => {
    // Act
    const a = await decode(`${good}\n${good}`);
    const b = await decode(`${good}\n${good}`, undefined, 's3://bucket/flow.log', 7);

    // Assess
    assert.equal(vpcflowFormat().name, 'vpcflow');
    assert.deepEqual(a, b);
  });
});
