import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { Rejection, SluiceRecord } from '../../core/record.js';
import { vpcflowFormat } from '../../formats/vpcflow/index.js';
import { fixturePath } from '../../testing/repo-root.js';
import { MappingFailure, OCSF_REJECT_CODES, type OcsfEvent, type OcsfMapping, type OcsfMappingOptions } from './mapping.js';
import { loadOcsfSchema } from './schema.js';
import { validateOcsfEvent } from './validate.js';
import { createVpcflowMapping } from './vpcflow-mapping.js';

const schema = loadOcsfSchema('1.1.0');
const DEFAULTS: OcsfMappingOptions = { version: '1.1.0', observables: true, datetime: false };
const S3_KEY = 's3://logs/AWSLogs/123456789010/vpcflowlogs/us-east-1/2024/05/18/123456789010_vpcflowlogs_us-east-1_fl-1_20240518T0000Z_a.log.gz';

interface Mapped {
  records: SluiceRecord[];
  decodeRejects: Rejection[];
  events: OcsfEvent[];
  failures: Array<{ line: number; failure: MappingFailure }>;
}

function readFixture(...parts: string[]): Buffer {
  const bytes = readFileSync(fixturePath(...parts));
  return parts[parts.length - 1]!.endsWith('.gz') ? gunzipSync(bytes) : bytes;
}

async function decodeAndMap(bytes: Uint8Array | string, fields?: string, mapping: OcsfMapping = createVpcflowMapping(DEFAULTS), uri = S3_KEY): Promise<Mapped> {
  async function* once(): AsyncIterable<Uint8Array> {
    yield typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  }
  const out: Mapped = { records: [], decodeRejects: [], events: [], failures: [] };
  const format = vpcflowFormat(fields === undefined ? {} : { fields });
  for await (const batch of format.decode(once(), { object: { uri, key: 'x' }, idPrefix: 'f00d' })) {
    out.decodeRejects.push(...batch.rejects);
    for (const record of batch.records) {
      out.records.push(record);
      const result = mapping.map(record);
      if (result instanceof MappingFailure) out.failures.push({ line: record.origin.line, failure: result });
      else out.events.push(result);
    }
  }
  return out;
}

/** Validates like the tests of every mapping must: zero problems, gaps only where the mapping documents them. */
function assertValid(events: OcsfEvent[], mapping: OcsfMapping, label: string): void {
  for (const event of events) {
    const problems = validateOcsfEvent(event, schema, { allowMissing: mapping.acceptedGaps?.(event) ?? [] });
    assert.deepEqual(problems, [], `${label}: ${JSON.stringify(event)}`);
  }
}

/** The event as JSON would carry it (undefined slots dropped). */
function asJson(event: OcsfEvent): unknown {
  return JSON.parse(JSON.stringify(event));
}

/** Field orders of headerless fixtures (same as the vpcflow format's tests). */
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
const TGW_DOC_ORDER =
  'version interface-id account-id vpc-id subnet-id instance-id srcaddr dstaddr srcport dstport protocol tcp-flags type pkt-srcaddr pkt-dstaddr action log-status';

/**
 * Every VPC flow fixture, with its field order when it has no header, and the number of records
 * that cannot become OCSF events: the AWS documentation's NAT gateway and transit gateway examples
 * are cut-down custom formats without start/end, and OCSF requires an event time.
 */
const FIXTURES: Array<{ parts: string[]; fields?: string; events: number; timeless: number }> = [
  { parts: ['aws-docs', 'vpcflow', 'v2-default-examples.log'], events: 7, timeless: 0 },
  { parts: ['aws-docs', 'vpcflow', 'v2-default-examples.with-header.log'], events: 7, timeless: 0 },
  { parts: ['aws-docs', 'vpcflow', 'v3-tcp-flag-sequence.custom.log'], events: 8, timeless: 0 },
  { parts: ['aws-docs', 'vpcflow', 'v5-service-traffic-path-flow-direction.custom-29-fields.log'], events: 2, timeless: 0 },
  { parts: ['aws-docs', 'vpcflow', 'nat-gateway.custom-6-fields.log'], events: 0, timeless: 6 },
  { parts: ['aws-docs', 'vpcflow', 'transit-gateway.custom-17-fields.log'], events: 0, timeless: 4 },
  { parts: ['elastic-beats', 'vpcflow', 'accept-reject-traffic.log'], events: 4, timeless: 0 },
  { parts: ['elastic-beats', 'vpcflow', 'custom-nat-gateway.log'], events: 0, timeless: 2 },
  { parts: ['elastic-beats', 'vpcflow', 'custom-transit-gateway.log'], fields: TGW_DOC_ORDER, events: 0, timeless: 1 },
  { parts: ['elastic-beats', 'vpcflow', 'ipv6.log'], events: 1, timeless: 0 },
  { parts: ['elastic-beats', 'vpcflow', 'no-data-skip-data.log'], events: 2, timeless: 0 },
  { parts: ['elastic-beats', 'vpcflow', 'tcp-flag-sequence.log'], events: 1, timeless: 0 },
  { parts: ['elastic-beats', 'vpcflow', 'tcp-flag-sequence-skip-data.log'], events: 2, timeless: 0 },
  { parts: ['elastic-integrations', 'aws-vpcflow', 'test-extra-samples.log'], events: 7, timeless: 0 },
  { parts: ['elastic-integrations', 'aws-vpcflow', 'test-v5-all-fields.log'], fields: V5_TABLE_ORDER, events: 1, timeless: 0 },
  { parts: ['elastic-integrations', 'aws-vpcflow', 'test-v8-samples.log'], fields: V8_TABLE_ORDER, events: 1, timeless: 0 },
  { parts: ['elastic-integrations', 'aws-vpcflow', 'test-tgw-samples.log'], fields: TGW_ORDER, events: 10, timeless: 0 },
  { parts: ['opentelemetry-collector-contrib', 'vpc-flow-log', 'valid_vpc_flow_log.log'], events: 1, timeless: 0 },
  { parts: ['opentelemetry-collector-contrib', 'vpc-flow-log', 'valid_vpc_flow_log_multi.log'], events: 2, timeless: 0 },
  { parts: ['opentelemetry-collector-contrib', 'vpc-flow-log', 'valid_vpc_flow_log_ecs.log'], events: 1, timeless: 0 },
  { parts: ['opentelemetry-collector-contrib', 'vpc-flow-log', 'valid_tgw_flow_log.log'], events: 1, timeless: 0 },
  { parts: ['splunk-aws-gdi-toolkit', 'sample-vpcflow.log.gz'], events: 806, timeless: 0 },
  { parts: ['constructed', '123456789010_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz'], events: 7, timeless: 0 },
  { parts: ['constructed', '123456789012_vpcflowlogs_ap-southeast-2_fl-0abc1234def567890_20210326T0330Z_0a1b2c3d.log.gz'], events: 2, timeless: 0 },
];

describe('builtin:vpcflow: every VPC flow fixture maps to valid OCSF 1.1.0', () => {
  for (const fixture of FIXTURES) {
    it(fixture.parts.join('/'), async () => {
      // Prepare
      const mapping = createVpcflowMapping(DEFAULTS);

      // Act
      const mapped = await decodeAndMap(readFixture(...fixture.parts), fixture.fields, mapping);

      // Assess
      assert.equal(mapped.events.length, fixture.events);
      assert.equal(mapped.failures.length, fixture.timeless);
      for (const { failure } of mapped.failures) {
        assert.equal(failure.code, OCSF_REJECT_CODES.missingRequired);
        assert.match(failure.reason, /^no "start" or "end" field: OCSF requires the event time/);
      }
      assertValid(mapped.events, mapping, fixture.parts.join('/'));
    });
  }

  it('Vector VRL test vectors (every format group)', async () => {
    // Prepare
    const groups = JSON.parse(readFixture('vectordotdev-vrl', 'vpcflow-test-vectors.json').toString('utf8')) as Array<{ format: string | null; lines: string[] }>;
    const mapping = createVpcflowMapping(DEFAULTS);
    let events = 0;
    let timeless = 0;

    for (const group of groups) {
      // Act
      const mapped = await decodeAndMap(group.lines.join('\n'), group.format ?? undefined, mapping);

      // Assess
      assert.deepEqual(mapped.decodeRejects, []);
      assertValid(mapped.events, mapping, `format ${group.format}`);
      const hasTime = group.format === null || / start /.test(` ${group.format} `) || / end /.test(` ${group.format} `);
      assert.equal(mapped.failures.length, hasTime ? 0 : group.lines.length, `format ${group.format}`);
      events += mapped.events.length;
      timeless += mapped.failures.length;
    }
    assert.equal(events + timeless, groups.reduce((n, g) => n + g.lines.length, 0));
    assert.equal(timeless, 10); // the NAT gateway (6) and transit gateway (4) doc formats
  });

  it('also with observables off and the datetime profile on', async () => {
    // Prepare
    const mapping = createVpcflowMapping({ version: '1.1.0', observables: false, datetime: true });

    // Act
    const mapped = await decodeAndMap(readFixture('aws-docs', 'vpcflow', 'v5-service-traffic-path-flow-direction.custom-29-fields.log'), undefined, mapping);

    // Assess
    assertValid(mapped.events, mapping, 'datetime');
    assert.equal(mapped.events[0]!.observables, undefined);
    assert.equal(mapped.events[0]!.time_dt, '2021-03-26T03:28:12.000Z');
    assert.deepEqual((mapped.events[0]!.metadata as { profiles: string[] }).profiles, ['cloud', 'security_control', 'datetime']);
  });
});

/** A raw sample of ocsf/examples (CSV with AWS names in underscores) as flow-log text with a header. */
function csvSampleAsFlowLog(csv: string): string {
  const [header, ...rows] = csv.trim().split('\n');
  return [header!, ...rows].map((line) => line.split(',').join(' ')).join('\n');
}

describe('builtin:vpcflow reproduces the Security Lake samples (ocsf/examples, OCSF 1.1.0)', () => {
  it('matches the VPC Flowlogs sample field by field, except the documented differences', async () => {
    // Prepare
    const raw = readFixture('ocsf-examples', 'markdown_AWS_v1.1.0_VPC_Flowlogs_samples_vpcflowlog.raw').toString('utf8');
    const securityLake = JSON.parse(readFixture('ocsf-examples', 'markdown_AWS_v1.1.0_VPC_Flowlogs_samples_vpcflowlog.ocsf').toString('utf8')) as Record<string, any>;
    const mapping = createVpcflowMapping({ version: '1.1.0', observables: true, datetime: true });

    // Act
    const mapped = await decodeAndMap(csvSampleAsFlowLog(raw), undefined, mapping, 's3://samples/vpcflowlog.raw');

    // Assess
    assert.equal(mapped.events.length, 1);
    const ours = asJson(mapped.events[0]!) as Record<string, any>;
    const expected = structuredClone(securityLake);
    // Deliberate differences (see the report and vpcflow-mapping.ts):
    // 1. "-" means "no value" in flow logs: Security Lake copies the placeholder into
    //    src/dst_endpoint.svc_name, connection_info.boundary ("-", boundary_id 99) and
    //    unmapped.sublocation_*; we leave those attributes out.
    delete expected.src_endpoint.svc_name;
    delete expected.dst_endpoint.svc_name;
    delete expected.connection_info.boundary;
    delete expected.connection_info.boundary_id;
    delete expected.unmapped;
    // 2. We add disposition_id (the sample has disposition "Blocked" without its id),
    //    start_time/end_time in ms (the sample has only their _dt forms), and metadata.uid
    //    (the record id: deterministic, the dedupe key).
    expected.disposition_id = 2;
    expected.start_time = 1649721732000;
    expected.end_time = 1649721788000;
    expected.metadata.uid = mapped.records[0]!.id;
    // 3. The datetime profile's strings are written in UTC; the sample's are in -04:00 (the
    //    same instants).
    for (const key of ['time_dt', 'start_time_dt', 'end_time_dt']) {
      assert.equal(Date.parse(ours[key]), Date.parse(expected[key]), key);
      expected[key] = new Date(Date.parse(expected[key])).toISOString();
    }
    // 4. The sample itself is inconsistent: its raw interface_id has 16 zeros, its OCSF 18. We
    //    keep the input's value.
    assert.equal(expected.dst_endpoint.interface_uid, 'eni-000000000000000000');
    expected.dst_endpoint.interface_uid = 'eni-0000000000000000';
    assert.deepEqual(ours, expected);
    assertValid(mapped.events, mapping, 'security lake sample');
  });

  it('the Security Lake sample itself passes the validator', () => {
    // Prepare
    const securityLake = JSON.parse(readFixture('ocsf-examples', 'markdown_AWS_v1.1.0_VPC_Flowlogs_samples_vpcflowlog.ocsf').toString('utf8')) as OcsfEvent;

    // Act
    const problems = validateOcsfEvent(securityLake, schema);

    // Assess
    assert.deepEqual(problems, []);
  });

  it('maps the Data Prepper sample input (JSON-typed record) like the markdown one, where Data Prepper errs', async () => {
    // Prepare: the same flow as the markdown sample, as a JSON record (interface id with 18 zeros).
    const [record] = JSON.parse(readFixture('ocsf-examples', 'dataprepper_AWS_v1.1.0_VPC_Flow_samples_vpcflowlog.raw').toString('utf8')) as Array<Record<string, unknown>>;
    const dataPrepper = JSON.parse(readFixture('ocsf-examples', 'dataprepper_AWS_v1.1.0_VPC_Flow_samples_vpcflowlog.ocsf').toString('utf8')) as OcsfEvent;
    const mapping = createVpcflowMapping(DEFAULTS);

    // Act
    const event = mapping.map({ id: 'dp-1', origin: { object: 's3://samples/vpcflowlog.json', line: 1 }, fields: record! }) as OcsfEvent;
    const dataPrepperProblems = validateOcsfEvent(dataPrepper, schema).map((p) => `${p.code} ${p.path}`);

    // Assess: ours agrees with Data Prepper on what it gets right...
    assertValid([event], mapping, 'data prepper input');
    const ours = asJson(event) as Record<string, any>;
    assert.deepEqual(ours.cloud, dataPrepper.cloud);
    assert.deepEqual(ours.traffic, dataPrepper.traffic);
    assert.deepEqual(ours.src_endpoint, { ip: '1.2.3.4', port: 56858 });
    const { svc_name: _placeholder, ...dataPrepperDst } = dataPrepper.dst_endpoint as Record<string, unknown>;
    assert.deepEqual(ours.dst_endpoint, dataPrepperDst);
    // ...and differs where Data Prepper's pipeline is wrong, which the validator reports:
    // time in seconds, activity "Traffic" with id 5, type_uid 400106 for a Refuse, action "REJECT".
    assert.equal(ours.time, 1649721732000);
    assert.equal(ours.type_uid, 400105);
    assert.equal(ours.activity_name, 'Refuse');
    assert.deepEqual(dataPrepperProblems.sort(), [
      'sibling_mismatch action',
      'sibling_mismatch activity_name',
      'timestamp_seconds end_time',
      'timestamp_seconds time',
      'type_uid type_uid',
    ]);
  });
});

describe('builtin:vpcflow field by field', () => {
  it('maps an egress v5 record: monitored interface on the source, boundary from traffic-path, AWS service on the destination', async () => {
    // Prepare
    const bytes = readFixture('aws-docs', 'vpcflow', 'v5-service-traffic-path-flow-direction.custom-29-fields.log');

    // Act
    const { events, records } = await decodeAndMap(bytes);

    // Assess
    assert.deepEqual(asJson(events[1]!), {
      class_uid: 4001, class_name: 'Network Activity', category_uid: 4, category_name: 'Network Activity',
      activity_id: 6, activity_name: 'Traffic', type_uid: 400106, type_name: 'Network Activity: Traffic',
      severity_id: 1, severity: 'Informational', action_id: 1, action: 'Allowed', disposition_id: 1, disposition: 'Allowed',
      time: 1616729292000, start_time: 1616729292000, end_time: 1616729349000, status_code: 'OK',
      metadata: {
        uid: records[1]!.id, version: '1.1.0', profiles: ['cloud', 'security_control'],
        product: { name: 'Amazon VPC', vendor_name: 'AWS', version: '5', feature: { name: 'Flowlogs' } },
      },
      cloud: { provider: 'AWS', account: { uid: '123456789012' }, region: 'ap-southeast-2', zone: 'apse2-az3' },
      src_endpoint: {
        ip: '10.0.0.71', port: 34210, interface_uid: 'eni-1235b8ca123456789', instance_uid: 'i-0c50d5961bcb2d47b',
        subnet_uid: 'subnet-aaaaaaaa012345678', vpc_uid: 'vpc-abcdefab012345678',
      },
      dst_endpoint: { ip: '52.95.128.179', port: 80, svc_name: 'S3' },
      connection_info: { protocol_num: 6, protocol_ver: 'IPv4', tcp_flags: 3, direction_id: 2, direction: 'Outbound', boundary_id: 11, boundary: 'Internet Gateway' },
      traffic: { bytes: 471, packets: 7 },
      observables: [
        { name: 'dst_endpoint.ip', type: 'IP Address', type_id: 2, value: '52.95.128.179' },
        { name: 'src_endpoint.ip', type: 'IP Address', type_id: 2, value: '10.0.0.71' },
        { name: 'src_endpoint.instance_uid', type: 'Resource UID', type_id: 10, value: 'i-0c50d5961bcb2d47b' },
      ],
    });
  });

  it('puts the monitored interface on device when the format has no flow direction, and takes the region from the object key', async () => {
    // Prepare
    const bytes = readFixture('aws-docs', 'vpcflow', 'v2-default-examples.log');

    // Act
    const { events } = await decodeAndMap(bytes);

    // Assess
    const reject = asJson(events[1]!) as Record<string, any>;
    assert.equal(reject.activity_id, 5);
    assert.equal(reject.action, 'Denied');
    assert.equal(reject.disposition, 'Blocked');
    assert.deepEqual(reject.device, { type_id: 0, type: 'Unknown', interface_uid: 'eni-1235b8ca123456789' });
    assert.deepEqual(reject.metadata.profiles, ['cloud', 'security_control', 'host']);
    assert.deepEqual(reject.src_endpoint, { ip: '172.31.9.69', port: 49761 });
    assert.deepEqual(reject.connection_info, { protocol_num: 6, direction_id: 0, direction: 'Unknown' });
    assert.deepEqual(reject.cloud, { provider: 'AWS', account: { uid: '123456789010' }, region: 'us-east-1' });
  });

  it('maps NODATA and SKIPDATA with status, status_detail and no endpoints', async () => {
    // Prepare
    const bytes = readFixture('elastic-beats', 'vpcflow', 'no-data-skip-data.log');
    const mapping = createVpcflowMapping(DEFAULTS);

    // Act
    const { events } = await decodeAndMap(bytes, undefined, mapping);

    // Assess
    const [nodata, skipdata] = events.map(asJson) as Array<Record<string, any>>;
    assert.equal(nodata!.status_code, 'NODATA');
    assert.equal(nodata!.status_id, 99);
    assert.equal(nodata!.status, 'NODATA');
    assert.match(nodata!.status_detail, /^No network traffic/);
    assert.equal(nodata!.activity_id, 0);
    assert.equal(nodata!.type_uid, 400100);
    assert.equal(nodata!.action_id, 0);
    assert.equal(nodata!.src_endpoint, undefined);
    assert.equal(nodata!.dst_endpoint, undefined);
    assert.equal(nodata!.traffic, undefined);
    assert.equal(nodata!.observables, undefined);
    assert.equal(nodata!.device.interface_uid, 'eni-1235b8ca123456789');
    assert.equal(skipdata!.status_code, 'SKIPDATA');
    assert.match(skipdata!.status_detail, /^Some flow log records were skipped/);
    // The class requires both endpoints: the strict check reports exactly that gap, which the
    // mapping declares for these records only.
    assert.deepEqual(validateOcsfEvent(events[0]!, schema).map((p) => `${p.code} ${p.path}`), ['missing_required dst_endpoint', 'missing_required src_endpoint']);
    assert.deepEqual(mapping.acceptedGaps?.(events[0]!), ['src_endpoint', 'dst_endpoint']);
    assert.deepEqual(validateOcsfEvent(events[0]!, schema, { allowMissing: mapping.acceptedGaps?.(events[0]!) }), []);
  });

  it('uses packet-level addresses when they differ and keeps the interface-level ones as intermediate_ips', async () => {
    // Prepare: pkt-dstaddr 10.200.0.80 differs from dstaddr 10.200.0.0; ingress; AWS services on both ends.
    const bytes = readFixture('elastic-integrations', 'aws-vpcflow', 'test-v5-all-fields.log');

    // Act
    const { events } = await decodeAndMap(bytes, V5_TABLE_ORDER);

    // Assess
    const event = asJson(events[0]!) as Record<string, any>;
    assert.deepEqual(event.dst_endpoint, {
      ip: '10.200.0.80', port: 33004, intermediate_ips: ['10.200.0.0'], svc_name: 'CLOUDFRONT',
      interface_uid: 'eni-069xxxxxb7a490', instance_uid: 'i-0axxxxxx1ad77', subnet_uid: 'subnet-02d645xxxxxxxdbc0', vpc_uid: 'vpc-09676f97xxxxxb8a7',
    });
    assert.deepEqual(event.src_endpoint, { ip: '89.160.20.156', port: 50041, svc_name: 'AMAZON' });
    assert.deepEqual(event.connection_info, { protocol_num: 17, protocol_ver: 'IPv4', tcp_flags: 1, direction_id: 1, direction: 'Inbound', boundary_id: 4, boundary: 'Same VPC' });
  });

  it('describes both ends of transit gateway records and keeps TGW-only fields under unmapped', async () => {
    // Prepare
    const bytes = readFixture('opentelemetry-collector-contrib', 'vpc-flow-log', 'valid_tgw_flow_log.log');

    // Act
    const { events } = await decodeAndMap(bytes);

    // Assess
    const event = asJson(events[0]!) as Record<string, any>;
    assert.deepEqual(event.src_endpoint, { ip: '10.0.0.1', port: 12345, interface_uid: 'eni-0abc12345def67890', subnet_uid: 'subnet-0abc12345def67890', vpc_uid: 'vpc-0abc12345def67890', zone: 'use1-az1' });
    assert.deepEqual(event.dst_endpoint, { ip: '10.0.1.1', port: 443, interface_uid: 'eni-0def12345abc67890', subnet_uid: 'subnet-0def12345abc67890', vpc_uid: 'vpc-0def12345abc67890', zone: 'use1-az2' });
    assert.deepEqual(event.unmapped, {
      tgw_id: 'tgw-0abc12345def67890', tgw_attachment_id: 'tgw-attach-0abc12345def67890', tgw_pair_attachment_id: 'tgw-attach-0def12345abc67890',
      packets_lost_no_route: 1, packets_lost_blackhole: 2, packets_lost_mtu_exceeded: 3, packets_lost_ttl_expired: 4,
    });
    assert.equal(event.activity_id, 0); // transit gateway flow logs have no action field
  });

  it('keeps ECS and reject-reason fields under unmapped', async () => {
    // Prepare
    const bytes = readFixture('elastic-integrations', 'aws-vpcflow', 'test-v8-samples.log');

    // Act
    const { events } = await decodeAndMap(bytes, V8_TABLE_ORDER);

    // Assess
    const event = asJson(events[0]!) as Record<string, any>;
    assert.equal(event.unmapped.reject_reason, 'BPA');
    assert.equal(event.unmapped.ecs_cluster_name, 'backend-cluster');
    assert.equal(Object.keys(event.unmapped).length, 11);
    assert.equal(event.activity_id, 5);
    assert.equal(event.status_code, 'NODATA');
    assert.equal(event.dst_endpoint.ip, '1.128.0.0');
  });

  it('reads the enrichment fields into the endpoints and keeps the names without an OCSF home under unmapped', () => {
    // Prepare: an egress v5-style record as the enrich transform leaves it (names as in enrich/index.ts).
    const mapping = createVpcflowMapping(DEFAULTS);
    const fields = {
      version: 5, account_id: '111122223333', interface_id: 'eni-0c50d5961bcb2d47b', srcaddr: '10.1.2.3', dstaddr: '10.9.8.7',
      srcport: 43210, dstport: 5432, protocol: 6, packets: 10, bytes: 1200, start: 1716000000, end: 1716000030,
      action: 'ACCEPT', log_status: 'OK', vpc_id: 'vpc-1', subnet_id: 'subnet-1', instance_id: 'i-1', flow_direction: 'egress',
      interface_name: 'web-7', instance_name: 'web-7.prod', subnet_name: 'app-tier-3', vpc_name: 'prod', private_ip: '10.1.2.3',
      src_interface_id: 'eni-0c50d5961bcb2d47b', src_name: 'web-7', src_subnet_id: 'subnet-1', src_network_name: 'prod/app-tier-3',
      dst_interface_id: 'eni-0db', dst_name: 'db-1', dst_instance_id: 'i-2', dst_instance_name: 'db-1.prod',
      dst_subnet_id: 'subnet-9', dst_vpc_id: 'vpc-1', dst_az_id: 'euw1-az2', dst_subnet_name: 'data-tier', dst_vpc_name: 'prod',
      pkt_src_name: null, pkt_dst_name: null,
    };

    // Act
    const event = mapping.map({ id: 'e-1', origin: { object: 's3://x/y', line: 1 }, time: 1716000000000, fields }) as OcsfEvent;

    // Assess
    assertValid([event], mapping, 'enriched');
    const json = asJson(event) as Record<string, any>;
    assert.deepEqual(json.src_endpoint, {
      ip: '10.1.2.3', port: 43210, name: 'web-7.prod', interface_uid: 'eni-0c50d5961bcb2d47b', interface_name: 'web-7',
      instance_uid: 'i-1', subnet_uid: 'subnet-1', vpc_uid: 'vpc-1',
    });
    assert.deepEqual(json.dst_endpoint, {
      ip: '10.9.8.7', port: 5432, name: 'db-1.prod', interface_uid: 'eni-0db', interface_name: 'db-1',
      instance_uid: 'i-2', subnet_uid: 'subnet-9', vpc_uid: 'vpc-1', zone: 'euw1-az2',
    });
    assert.deepEqual(json.unmapped, {
      subnet_name: 'app-tier-3', vpc_name: 'prod', src_network_name: 'prod/app-tier-3', dst_subnet_name: 'data-tier', dst_vpc_name: 'prod',
    });
  });

  it('tells which end the interface is from the enrichment when the log has no flow direction', () => {
    // Prepare: v2 records (no flow-direction) enriched with the interface's address.
    const mapping = createVpcflowMapping(DEFAULTS);
    const base = {
      version: 2, account_id: '111122223333', interface_id: 'eni-1', srcport: 443, dstport: 50000, protocol: 6, packets: 1, bytes: 40,
      start: 1716000000, end: 1716000030, action: 'ACCEPT', log_status: 'OK', interface_name: 'web-7', private_ip: '10.1.2.3',
    };
    const map = (extra: Record<string, unknown>) => asJson(mapping.map({ id: 'e', origin: { object: 'x', line: 1 }, fields: { ...base, ...extra } }) as OcsfEvent) as Record<string, any>;

    // Act
    const incoming = map({ srcaddr: '198.51.100.7', dstaddr: '10.1.2.3' });
    const outgoing = map({ srcaddr: '10.1.2.3', dstaddr: '198.51.100.7' });
    const neither = map({ srcaddr: '10.1.2.4', dstaddr: '198.51.100.7' });

    // Assess
    assert.deepEqual(incoming.dst_endpoint, { ip: '10.1.2.3', port: 50000, name: 'web-7', interface_uid: 'eni-1', interface_name: 'web-7' });
    assert.equal(incoming.connection_info.direction_id, 1);
    assert.equal(incoming.device, undefined);
    assert.deepEqual(outgoing.src_endpoint, { ip: '10.1.2.3', port: 443, name: 'web-7', interface_uid: 'eni-1', interface_name: 'web-7' });
    assert.equal(outgoing.connection_info.direction, 'Outbound');
    assert.deepEqual(neither.device, { type_id: 0, type: 'Unknown', name: 'web-7', ip: '10.1.2.3', interface_uid: 'eni-1', interface_name: 'web-7' });
    assert.equal(neither.connection_info.direction_id, 0);
  });

  it('reads the pkt_ enrichment for an endpoint whose packet-level address differs', () => {
    // Prepare: NAT: the interface-level dstaddr is the NAT gateway, the packet-level one the real target.
    const mapping = createVpcflowMapping(DEFAULTS);
    const fields = {
      srcaddr: '10.0.1.5', dstaddr: '10.0.0.220', pkt_srcaddr: '10.0.1.5', pkt_dstaddr: '203.0.113.5', start: 1716000000, log_status: 'OK',
      dst_name: 'nat-gateway-a', dst_subnet_id: 'subnet-public', pkt_dst_name: null, pkt_dst_subnet_id: null, pkt_dst_network_name: 'TEST-NET-3',
    };

    // Act
    const event = asJson(mapping.map({ id: 'e', origin: { object: 'x', line: 1 }, fields }) as OcsfEvent) as Record<string, any>;

    // Assess
    assert.deepEqual(event.dst_endpoint, { ip: '203.0.113.5', intermediate_ips: ['10.0.0.220'] });
    assert.deepEqual(event.unmapped, { pkt_dst_network_name: 'TEST-NET-3' });
  });

  it('accepts loosely typed values (digit strings, numeric ids) from formats other than vpcflow', () => {
    // Prepare
    const mapping = createVpcflowMapping(DEFAULTS);
    const fields = {
      version: '2', account_id: 123456789012, interface_id: 'eni-1', srcaddr: '10.0.0.1', dstaddr: '10.0.0.2',
      srcport: '443', dstport: 50000, protocol: '6', packets: '1', bytes: 40, start: '1716000000', end: 1716000001, action: 'ACCEPT', log_status: 'OK',
    };

    // Act
    const event = mapping.map({ id: 'e-1', origin: { object: 'x', line: 1 }, fields }) as OcsfEvent;

    // Assess
    assertValid([event], mapping, 'loose');
    const json = asJson(event) as Record<string, any>;
    assert.equal(json.src_endpoint.port, 443);
    assert.equal(json.cloud.account.uid, '123456789012');
    assert.equal(json.time, 1716000000000);
    assert.equal(json.metadata.product.version, '2');
  });

  it('maps an unknown action to 99 Other, keeping the value', () => {
    // Prepare
    const mapping = createVpcflowMapping(DEFAULTS);
    const fields = { srcaddr: '10.0.0.1', dstaddr: '10.0.0.2', start: 1716000000, action: 'ALERT', log_status: 'OK' };

    // Act
    const event = mapping.map({ id: 'e-1', origin: { object: 'x', line: 1 }, fields }) as OcsfEvent;

    // Assess
    assertValid([event], mapping, 'other action');
    assert.deepEqual([event.activity_id, event.activity_name, event.action_id, event.action, event.type_uid], [99, 'ALERT', 99, 'ALERT', 400199]);
  });
});

describe('builtin:vpcflow rejects what it cannot map', () => {
  const cases: Array<{ name: string; fields: Record<string, unknown>; code: string; reason: RegExp }> = [
    {
      name: 'a non-numeric port from a custom field',
      fields: { srcaddr: '10.0.0.1', dstaddr: '10.0.0.2', srcport: 'https', dstport: 443, start: 1716000000, action: 'ACCEPT', log_status: 'OK' },
      code: OCSF_REJECT_CODES.badValue,
      reason: /^field "srcport" must be an integer port 0-65535 for OCSF src_endpoint\.port, found "https"$/,
    },
    {
      name: 'a port out of range',
      fields: { srcaddr: '10.0.0.1', dstaddr: '10.0.0.2', srcport: 1, dstport: 70000, start: 1716000000, log_status: 'OK' },
      code: OCSF_REJECT_CODES.badValue,
      reason: /^field "dstport" must be an integer port 0-65535 for OCSF dst_endpoint\.port, found 70000$/,
    },
    {
      name: 'an address that is not a string',
      fields: { srcaddr: { v4: '10.0.0.1' }, dstaddr: '10.0.0.2', start: 1716000000, log_status: 'OK' },
      code: OCSF_REJECT_CODES.badValue,
      reason: /^field "srcaddr" must be an IPv4 or IPv6 address of at most 40 characters for OCSF src_endpoint\.ip, found an object$/,
    },
    {
      name: 'an address that is not an address (from a loosely typed source)',
      fields: { srcaddr: '10.0.0.1', dstaddr: '10.0.0.256', start: 1716000000, log_status: 'OK' },
      code: OCSF_REJECT_CODES.badValue,
      reason: /^field "dstaddr" must be an IPv4 or IPv6 address of at most 40 characters for OCSF dst_endpoint\.ip, found "10\.0\.0\.256"$/,
    },
    {
      name: 'no time',
      fields: { srcaddr: '10.0.0.1', dstaddr: '10.0.0.2', log_status: 'OK' },
      code: OCSF_REJECT_CODES.missingRequired,
      reason: /^no "start" or "end" field/,
    },
    {
      name: 'an OK record without a destination',
      fields: { srcaddr: '10.0.0.1', dstport: 22, start: 1716000000, log_status: 'OK' },
      code: OCSF_REJECT_CODES.missingRequired,
      reason: /^no destination endpoint \(dstaddr, pkt_dstaddr and the interface fields are absent\)/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      // Prepare
      const mapping = createVpcflowMapping(DEFAULTS);

      // Act
      const result = mapping.map({ id: 'r-1', origin: { object: 'x', line: 9 }, fields: c.fields });

      // Assess
      assert.ok(result instanceof MappingFailure);
      assert.equal(result.code, c.code);
      assert.match(result.reason, c.reason);
    });
  }
});

describe('builtin:vpcflow property: any record maps to a valid event or to a rejection', () => {
  /** Each field: absent, null, the "-" placeholder, a plausible value, or garbage of another type. */
  const value = (plausible: fc.Arbitrary<unknown>) =>
    fc.oneof(
      { weight: 6, arbitrary: plausible },
      { weight: 1, arbitrary: fc.constantFrom(undefined, null, '-', '') },
      { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.double(), fc.boolean(), fc.constant({ a: 1 }), fc.constant([1])) },
    );
  const port = fc.integer({ min: 0, max: 65535 });
  const ip = fc.oneof(fc.ipV4(), fc.ipV6());
  const word = fc.stringMatching(/^[a-z0-9-]{1,20}$/);
  const record = fc.record(
    {
      version: value(fc.integer({ min: 2, max: 11 })),
      account_id: value(fc.stringMatching(/^\d{12}$/)),
      interface_id: value(word.map((w) => `eni-${w}`)),
      srcaddr: value(ip),
      dstaddr: value(ip),
      pkt_srcaddr: value(ip),
      pkt_dstaddr: value(ip),
      srcport: value(port),
      dstport: value(port),
      protocol: value(fc.integer({ min: 0, max: 255 })),
      packets: value(fc.nat()),
      bytes: value(fc.nat()),
      start: value(fc.integer({ min: 1_000_000_000, max: 2_000_000_000 })),
      end: value(fc.integer({ min: 1_000_000_000, max: 2_000_000_000 })),
      action: value(fc.constantFrom('ACCEPT', 'REJECT')),
      log_status: value(fc.constantFrom('OK', 'NODATA', 'SKIPDATA')),
      vpc_id: value(word.map((w) => `vpc-${w}`)),
      subnet_id: value(word.map((w) => `subnet-${w}`)),
      instance_id: value(word.map((w) => `i-${w}`)),
      tcp_flags: value(fc.integer({ min: 0, max: 255 })),
      type: value(fc.constantFrom('IPv4', 'IPv6', 'EFA')),
      region: value(fc.constantFrom('us-east-1', 'eu-west-1')),
      az_id: value(word),
      pkt_src_aws_service: value(fc.constantFrom('S3', 'AMAZON', 'EC2')),
      pkt_dst_aws_service: value(fc.constantFrom('S3', 'AMAZON', 'EC2')),
      flow_direction: value(fc.constantFrom('ingress', 'egress')),
      traffic_path: value(fc.integer({ min: 1, max: 8 })),
      tgw_src_eni: value(word),
      interface_name: value(word),
      src_name: value(word),
      dst_instance_name: value(word),
      sublocation_type: value(word),
      ecs_task_id: value(word),
    },
    { requiredKeys: [] },
  );

  it('holds for 3000 generated records', () => {
    // Prepare
    const mapping = createVpcflowMapping(DEFAULTS);

    // Act + Assess
    fc.assert(
      fc.property(record, (fields) => {
        const result = mapping.map({ id: 'p-1', origin: { object: S3_KEY, line: 1 }, fields: fields as Record<string, unknown> });
        if (result instanceof MappingFailure) {
          assert.ok(result.code === OCSF_REJECT_CODES.badValue || result.code === OCSF_REJECT_CODES.missingRequired, result.code);
          return;
        }
        const problems = validateOcsfEvent(result, schema, { allowMissing: mapping.acceptedGaps?.(result) ?? [] });
        assert.deepEqual(problems, [], JSON.stringify(fields));
      }),
      { numRuns: 3000, seed: 20240518 },
    );
  });
});
