import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadOcsfSchema } from './schema.js';
import { validateOcsfEvent, type OcsfProblem } from './validate.js';

const schema = loadOcsfSchema('1.1.0');

/** A minimal valid Network Activity event; each test breaks one thing. */
function networkActivity(): Record<string, any> {
  return {
    class_uid: 4001,
    class_name: 'Network Activity',
    category_uid: 4,
    category_name: 'Network Activity',
    activity_id: 6,
    activity_name: 'Traffic',
    type_uid: 400106,
    type_name: 'Network Activity: Traffic',
    severity_id: 1,
    severity: 'Informational',
    action_id: 1,
    action: 'Allowed',
    time: 1716000000000,
    metadata: { version: '1.1.0', profiles: ['cloud', 'security_control'], product: { name: 'Amazon VPC', vendor_name: 'AWS' } },
    cloud: { provider: 'AWS', region: 'eu-west-1' },
    src_endpoint: { ip: '10.0.0.1', port: 443 },
    dst_endpoint: { ip: '2001:db8::1', port: 50000 },
    connection_info: { direction_id: 1, direction: 'Inbound', protocol_num: 6 },
    traffic: { bytes: 10, packets: 1 },
  };
}

function codes(problems: OcsfProblem[]): string[] {
  return problems.map((p) => `${p.code} ${p.path}`).sort();
}

describe('validateOcsfEvent', () => {
  it('accepts a complete event, with undefined slots counted as absent', () => {
    // Prepare
    const event = { ...networkActivity(), disposition_id: undefined, observables: [{ name: 'src_endpoint.ip', type_id: 2, value: '10.0.0.1' }], unmapped: { anything: { goes: [1, null] } } };

    // Act
    const problems = validateOcsfEvent(event, schema);

    // Assess
    assert.deepEqual(problems, []);
  });

  it('reports missing required attributes, at the top and inside objects', () => {
    // Prepare
    const event = networkActivity();
    delete event.time;
    delete event.src_endpoint;
    delete event.connection_info.direction_id;
    delete event.metadata.product.vendor_name;

    // Act
    const problems = validateOcsfEvent(event, schema);

    // Assess
    assert.deepEqual(codes(problems), [
      'missing_required connection_info.direction_id',
      'missing_required metadata.product.vendor_name',
      'missing_required src_endpoint',
      'missing_required time',
    ]);
    assert.equal(problems.find((p) => p.path === 'time')?.message, 'time is required in Network Activity');
  });

  it('requires profile attributes only when metadata.profiles lists the profile, and flags undeclared ones', () => {
    // Prepare: no profiles, so cloud and action_id are not required, but a present cloud is flagged.
    const withoutProfiles = networkActivity();
    withoutProfiles.metadata.profiles = [];
    delete withoutProfiles.action_id;
    delete withoutProfiles.action;
    const declaredButMissing = networkActivity();
    delete declaredButMissing.cloud;

    // Act
    const a = validateOcsfEvent(withoutProfiles, schema);
    const b = validateOcsfEvent(declaredButMissing, schema);

    // Assess
    assert.deepEqual(codes(a), ['profile_not_declared cloud']);
    assert.deepEqual(codes(b), ['missing_required cloud']);
  });

  it('accepts documented gaps passed as allowMissing, and only those', () => {
    // Prepare
    const event = networkActivity();
    delete event.src_endpoint;
    delete event.dst_endpoint;
    delete event.time;

    // Act
    const problems = validateOcsfEvent(event, schema, { allowMissing: ['src_endpoint', 'dst_endpoint'] });

    // Assess
    assert.deepEqual(codes(problems), ['missing_required time']);
  });

  it('reports wrong types: strings, integers, longs, ports, ips, objects, arrays, null', () => {
    // Prepare
    const event = networkActivity();
    event.severity_id = '1';
    event.src_endpoint.port = 70000;
    event.src_endpoint.ip = '10.0.0.300';
    event.dst_endpoint.port = 22.5;
    event.traffic.bytes = 2 ** 60;
    event.connection_info.protocol_num = 2 ** 40;
    event.cloud.region = 42;
    event.metadata.product = 'Amazon VPC';
    event.observables = { name: 'x', type_id: 2 };
    event.src_endpoint.intermediate_ips = ['10.0.0.9', 'not-an-ip'];
    event.status_code = null;

    // Act
    const problems = validateOcsfEvent(event, schema);

    // Assess
    assert.deepEqual(codes(problems), [
      'bad_format src_endpoint.intermediate_ips[1]',
      'bad_format src_endpoint.ip',
      'out_of_range connection_info.protocol_num',
      'out_of_range src_endpoint.port',
      'out_of_range traffic.bytes',
      'wrong_type cloud.region',
      'wrong_type dst_endpoint.port',
      'wrong_type metadata.product',
      'wrong_type observables',
      'wrong_type severity_id',
      'wrong_type status_code',
    ]);
    assert.equal(problems.find((p) => p.path === 'src_endpoint.port')?.message, "src_endpoint.port = 70000 is outside port_t's range 0-65535");
    assert.equal(problems.find((p) => p.path === 'status_code')?.message, 'status_code is null; omit an attribute that has no value');
  });

  it('accepts a bigint for a long beyond 2^53', () => {
    // Prepare
    const event = networkActivity();
    event.traffic.bytes = 2n ** 60n;

    // Act
    const problems = validateOcsfEvent(event, schema);

    // Assess
    assert.deepEqual(problems, []);
  });

  it('reports enum values that are not listed, in the event and in nested objects and arrays', () => {
    // Prepare
    const event = networkActivity();
    event.severity_id = 7;
    event.connection_info.direction_id = 4;
    event.connection_info.direction = 'Sideways';
    event.observables = [{ name: 'src_endpoint.ip', type_id: 11 }];

    // Act
    const problems = validateOcsfEvent(event, schema);

    // Assess
    assert.deepEqual(codes(problems), ['bad_enum connection_info.direction_id', 'bad_enum observables[0].type_id', 'bad_enum severity_id']);
    assert.match(problems.find((p) => p.path === 'severity_id')!.message, /^severity_id = 7 is not one of 0, 1, 2, 3, 4, 5, 6, 99$/);
  });

  it('reports a caption that does not match its id, unless the id is 99 Other', () => {
    // Prepare
    const mismatch = networkActivity();
    mismatch.activity_name = 'Refuse';
    mismatch.connection_info.direction = 'Outbound';
    const other = { ...networkActivity(), activity_id: 99, activity_name: 'ALERT', type_uid: 400199, type_name: 'Network Activity: Other' };

    // Act
    const a = validateOcsfEvent(mismatch, schema);
    const b = validateOcsfEvent(other, schema);

    // Assess
    assert.deepEqual(codes(a), ['sibling_mismatch activity_name', 'sibling_mismatch connection_info.direction']);
    assert.equal(a[0]!.message, 'activity_name = "Refuse" but activity_id = 6 means "Traffic"');
    assert.deepEqual(b, []);
  });

  it('reports unknown attributes anywhere but under unmapped', () => {
    // Prepare
    const event = networkActivity();
    event.src_endpoint.subnet_name = 'app-tier-3';
    event.flow_direction = 'ingress';
    event.unmapped = { flow_log_field: 1 };

    // Act
    const problems = validateOcsfEvent(event, schema);

    // Assess
    assert.deepEqual(codes(problems), ['unknown_attribute flow_direction', 'unknown_attribute src_endpoint.subnet_name']);
    assert.match(problems[0]!.message, /put data without an OCSF home under unmapped$/);
  });

  it('checks type_uid = class_uid * 100 + activity_id, the category and the metadata version', () => {
    // Prepare
    const event: Record<string, any> = { ...networkActivity(), type_uid: 400105, type_name: 'Network Activity: Refuse', category_uid: 3, category_name: 'Identity & Access Management' };
    event.metadata.version = '1.0.0';

    // Act
    const problems = validateOcsfEvent(event, schema);

    // Assess
    assert.deepEqual(codes(problems), ['bad_enum category_uid', 'category_uid category_uid', 'type_uid type_uid', 'version_mismatch metadata.version']);
    assert.equal(problems.find((p) => p.code === 'type_uid')?.message, 'type_uid must be class_uid * 100 + activity_id = 400106, found 400105');
  });

  it('reports timestamps in seconds', () => {
    // Prepare
    const event = { ...networkActivity(), time: 1716000000, start_time: 1716000000000 };

    // Act
    const problems = validateOcsfEvent(event, schema);

    // Assess
    assert.deepEqual(codes(problems), ['timestamp_seconds time']);
  });

  it('checks object constraints (network_endpoint needs at least one identifying attribute)', () => {
    // Prepare
    const event = networkActivity();
    event.src_endpoint = { port: 443 };

    // Act
    const problems = validateOcsfEvent(event, schema);

    // Assess
    assert.deepEqual(codes(problems), ['constraint src_endpoint']);
    assert.match(problems[0]!.message, /needs at least one of hostname, instance_uid, interface_name, interface_uid, ip, name, svc_name, uid$/);
  });

  it('reports an unknown or missing class and a non-object', () => {
    // Act
    const unknown = validateOcsfEvent({ class_uid: 9999 }, schema);
    const missing = validateOcsfEvent({ activity_id: 1 }, schema);
    const notObject = validateOcsfEvent([networkActivity()], schema);

    // Assess
    assert.deepEqual(codes(unknown), ['unknown_class class_uid']);
    assert.equal(unknown[0]!.message, 'class_uid 9999 is not a class of OCSF 1.1.0 as shipped (known: 3001, 3002, 4001, 4002, 6003)');
    assert.deepEqual(codes(missing), ['missing_required class_uid']);
    assert.deepEqual(codes(notObject), ['not_an_object ']);
  });

  it('validates thousands of events quickly enough to run on every event in tests', () => {
    // Prepare
    const events = Array.from({ length: 20_000 }, (_, i) => ({ ...networkActivity(), time: 1716000000000 + i }));

    // Act
    const started = performance.now();
    let problems = 0;
    for (const event of events) problems += validateOcsfEvent(event, schema).length;
    const ms = performance.now() - started;

    // Assess: a generous bound for shared machines (measured 10-30 µs per event here).
    assert.equal(problems, 0);
    assert.ok(ms < 5_000, `20k events took ${ms.toFixed(0)} ms`);
  });
});
