import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../../core/errors.js';
import type { SluiceRecord } from '../../core/record.js';
import { compileDeclarativeMapping, type DeclarativeMappingSpec } from './declarative-mapping.js';
import { MappingFailure, type OcsfEvent } from './mapping.js';
import { loadOcsfSchema } from './schema.js';
import { validateOcsfEvent } from './validate.js';

const schema = loadOcsfSchema('1.1.0');

/** A VPC flow mapping written the way a mapping CSV would be (one row per field). */
const FLOW_SPEC: DeclarativeMappingSpec = {
  name: 'file:vpcflow-mapping.csv',
  classUid: 4001,
  constants: {
    activity_id: 6,
    severity_id: 1,
    action_id: 1,
    'metadata.product.name': 'Amazon VPC',
    'metadata.product.vendor_name': 'AWS',
    'metadata.profiles': ['cloud', 'security_control'],
    'cloud.provider': 'AWS',
    'connection_info.direction_id': 0,
  },
  fields: [
    { from: 'version', to: 'metadata.product.version', type: 'string', where: 'mapping.csv row 2' },
    { from: 'account_id', to: 'cloud.account.uid', where: 'mapping.csv row 3' },
    { from: 'srcaddr', to: 'src_endpoint.ip', where: 'mapping.csv row 4' },
    { from: 'dstaddr', to: 'dst_endpoint.ip', where: 'mapping.csv row 5' },
    { from: 'srcport', to: 'src_endpoint.port', where: 'mapping.csv row 6' },
    { from: 'dstport', to: 'dst_endpoint.port', where: 'mapping.csv row 7' },
    { from: 'bytes', to: 'traffic.bytes', type: 'long', where: 'mapping.csv row 8' },
    { from: 'start', to: 'time', type: 'timestamp', where: 'mapping.csv row 9' },
    { from: 'region', to: 'cloud.region', default: 'us-east-1', where: 'mapping.csv row 10' },
  ],
};

function record(fields: Record<string, unknown>): SluiceRecord {
  return { id: 'r-1', origin: { object: 's3://logs/x.csv', line: 2 }, fields };
}

describe('declarative OCSF mappings', () => {
  it('builds valid events from typed rules, constants and defaults, filling the classification', () => {
    // Prepare
    const mapping = compileDeclarativeMapping(FLOW_SPEC, schema);

    // Act
    const event = mapping.map(record({
      version: 2, account_id: 123456789012, srcaddr: '10.0.0.1', dstaddr: '10.0.0.2', srcport: '443', dstport: 50000,
      bytes: '4249', start: '2024-05-18T02:40:00Z', log_status: 'OK', extra: '-x-',
    })) as OcsfEvent;

    // Assess
    assert.deepEqual(validateOcsfEvent(event, schema), []);
    assert.deepEqual(event, {
      class_uid: 4001, class_name: 'Network Activity', category_uid: 4, category_name: 'Network Activity',
      activity_id: 6, activity_name: 'Traffic', type_uid: 400106, type_name: 'Network Activity: Traffic',
      severity_id: 1, severity: 'Informational', action_id: 1, action: 'Allowed',
      metadata: { product: { name: 'Amazon VPC', vendor_name: 'AWS', version: '2' }, profiles: ['cloud', 'security_control'], version: '1.1.0' },
      cloud: { provider: 'AWS', account: { uid: '123456789012' }, region: 'us-east-1' },
      connection_info: { direction_id: 0 },
      src_endpoint: { ip: '10.0.0.1', port: 443 },
      dst_endpoint: { ip: '10.0.0.2', port: 50000 },
      traffic: { bytes: 4249 },
      time: Date.UTC(2024, 4, 18, 2, 40),
      unmapped: { log_status: 'OK', extra: '-x-' },
    } as OcsfEvent);
  });

  it('rejects a record whose value does not convert, naming the field, the target and the value', () => {
    // Prepare
    const mapping = compileDeclarativeMapping(FLOW_SPEC, schema);

    // Act
    const result = mapping.map(record({ srcaddr: '10.0.0.1', dstaddr: 'not-an-address', start: 1716000000000 }));

    // Assess
    assert.ok(result instanceof MappingFailure);
    assert.equal(result.code, 'OCSF_BAD_VALUE');
    assert.equal(result.reason, 'field "dstaddr" must be an IPv4 or IPv6 address for OCSF dst_endpoint.ip, found "not-an-address"');
  });

  it('refuses at compile time every rule that does not fit the class, each with its row', () => {
    // Prepare
    const spec: DeclarativeMappingSpec = {
      name: 'file:bad.csv',
      classUid: 4001,
      constants: { 'metadata.product.vendor': 'AWS' },
      fields: [
        { from: 'a', to: 'src_endpoint.subnet_name', where: 'bad.csv row 2' },
        { from: 'b', to: 'traffic.bytes', type: 'string', where: 'bad.csv row 3' },
        { from: 'c', to: 'observables.name', where: 'bad.csv row 4' },
        { from: 'd', to: 'time.seconds', where: 'bad.csv row 5' },
        { from: 'e', to: 'src_endpoint.ip', where: 'bad.csv row 6' },
        { from: 'f', to: 'src_endpoint.ip', where: 'bad.csv row 7' },
      ],
    };

    // Act + Assess
    assert.throws(
      () => compileDeclarativeMapping(spec, schema),
      (err: unknown) => {
        assert.ok(err instanceof SluiceError);
        assert.equal(err.code, 'OCSF_MAPPING_INVALID');
        assert.equal(err.stage, 'config');
        assert.equal(
          err.message,
          [
            'mapping file:bad.csv does not fit OCSF 1.1.0 Network Activity (4001):',
            '  - constant metadata.product.vendor: product (at metadata.product) has no attribute "vendor"',
            '  - bad.csv row 2: network_endpoint (at src_endpoint) has no attribute "subnet_name"',
            '  - bad.csv row 3: traffic.bytes is a long_t; a string value does not fit it (use long or integer or timestamp)',
            '  - bad.csv row 4: observables is an array; a one-to-one rule cannot set one element of it (not supported)',
            '  - bad.csv row 5: time is a timestamp_t, not an object, so it has no "seconds"',
            '  - bad.csv row 7: src_endpoint.ip is already set by bad.csv row 6; one rule per attribute',
          ].join('\n'),
        );
        return true;
      },
    );
  });

  it('refuses a class the schema does not ship', () => {
    // Act + Assess
    assert.throws(
      () => compileDeclarativeMapping({ name: 'x', classUid: 2001, fields: [] }, schema),
      /mapping x: class_uid 2001 is not in OCSF 1\.1\.0 as shipped \(known: 3001, 3002, 4001, 4002, 6003\)/,
    );
  });

  it('wraps a scalar for an array attribute and leaves unmapped off when asked', () => {
    // Prepare
    const mapping = compileDeclarativeMapping(
      { ...FLOW_SPEC, keepUnmapped: false, fields: [...FLOW_SPEC.fields, { from: 'hop', to: 'src_endpoint.intermediate_ips' }] },
      schema,
    );

    // Act
    const event = mapping.map(record({ srcaddr: '10.0.0.1', dstaddr: '10.0.0.2', start: 1716000000000, hop: '10.0.0.9', other: 1 })) as OcsfEvent;

    // Assess
    assert.deepEqual((event.src_endpoint as Record<string, unknown>).intermediate_ips, ['10.0.0.9']);
    assert.equal(event.unmapped, undefined);
    assert.deepEqual(validateOcsfEvent(event, schema), []);
  });
});
