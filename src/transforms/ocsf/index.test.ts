import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePipeline } from '../../pipeline/config.js';
import { SluiceError } from '../../core/errors.js';
import type { SluiceRecord } from '../../core/record.js';
import { createTransform } from '../../pipeline/catalog.js';
import { ocsfTransformSchema } from './config.js';
import { createOcsfMapping, createOcsfTransform, MAX_REJECTED_RAW, MappingFailure, ocsfTransform, type OcsfMapping } from './index.js';

function flowRecord(line: number, fields: Record<string, unknown>, time?: number): SluiceRecord {
  return time === undefined
    ? { id: `abcd-${line}`, origin: { object: 's3://logs/flow.log', line }, fields }
    : { id: `abcd-${line}`, origin: { object: 's3://logs/flow.log', line }, time, fields };
}

const ACCEPTED = {
  version: 2, account_id: '123456789010', interface_id: 'eni-1', srcaddr: '10.0.0.1', dstaddr: '10.0.0.2', srcport: 443,
  dstport: 50000, protocol: 6, packets: 2, bytes: 80, start: 1716000000, end: 1716000030, action: 'ACCEPT', log_status: 'OK',
};

describe('ocsf transform config', () => {
  it('needs a mapping and fills version 1.1.0, observables on, datetime off', () => {
    // Act
    const parsed = ocsfTransformSchema.parse({ type: 'ocsf', mapping: 'builtin:vpcflow' });

    // Assess
    assert.deepEqual(parsed, { type: 'ocsf', mapping: 'builtin:vpcflow', version: '1.1.0', observables: true, datetime: false });
    assert.equal(ocsfTransformSchema.safeParse({ type: 'ocsf' }).success, false);
  });

  it('is accepted in a pipeline file as the issue writes it', () => {
    // Act
    const config = parsePipeline({
      name: 'vpc-to-lake',
      source: { uri: '/tmp/logs' },
      format: 'vpcflow',
      transforms: [{ type: 'ocsf', mapping: 'builtin:vpcflow' }],
      sinks: [{ type: 'files', path: '/tmp/out' }],
    });

    // Assess
    assert.deepEqual(config.transforms, [{ type: 'ocsf', mapping: 'builtin:vpcflow', version: '1.1.0', observables: true, datetime: false }]);
    assert.equal(createTransform(config.transforms[0]!).name, 'ocsf');
  });

  it('explains an unknown built-in, a mapping that is neither built-in nor CSV, a bad version and an unknown key', () => {
    // Act
    const messages = [
      { type: 'ocsf', mapping: 'builtin:guardduty' },
      { type: 'ocsf', mapping: './mapping.json' },
      { type: 'ocsf', mapping: 'builtin:vpcflow', version: 'latest' },
      { type: 'ocsf', mapping: 'builtin:vpcflow', observable: false },
    ].map((t) => {
      try {
        parsePipeline({ name: 'p', source: { uri: '/tmp' }, format: 'vpcflow', transforms: [t], sinks: [{ type: 'stdout' }] }, 'p.yaml');
        return 'accepted';
      } catch (err) {
        return (err as SluiceError).message;
      }
    });

    // Assess
    assert.match(messages[0]!, /transforms\.0\.mapping: unknown built-in mapping "builtin:guardduty" \(known: builtin:vpcflow, builtin:cloudtrail\)/);
    assert.match(messages[1]!, /transforms\.0\.mapping: "\.\/mapping\.json" is neither a built-in mapping \(builtin:vpcflow.*\) nor a mapping CSV/);
    assert.match(messages[2]!, /transforms\.0\.version: an OCSF version such as 1\.1\.0/);
    assert.match(messages[3]!, /transforms\.0\.observable: unknown key \(did you mean "observables"\?\)/);
  });

  it('refuses an OCSF version the mapping does not emit', () => {
    // Act + Assess
    assert.throws(
      () => createOcsfMapping('builtin:vpcflow', { version: '1.0.0', observables: true, datetime: false }),
      (err: unknown) => err instanceof SluiceError && err.code === 'OCSF_VERSION_UNSUPPORTED' && err.stage === 'config' && err.hint === 'set version to 1.1.0',
    );
  });
});

describe('ocsf transform', () => {
  it('replaces each record\'s fields with its OCSF event, keeping id, origin and time', async () => {
    // Prepare
    const transform = createOcsfTransform({ type: 'ocsf', mapping: 'builtin:vpcflow', version: '1.1.0', observables: false, datetime: false });
    const record = flowRecord(2, ACCEPTED, 1716000000000);

    // Act
    const out = await transform.apply({ records: [record], rejects: [] });

    // Assess
    assert.equal(out.records.length, 1);
    const [mapped] = out.records;
    assert.equal(mapped!.id, 'abcd-2');
    assert.deepEqual(mapped!.origin, { object: 's3://logs/flow.log', line: 2 });
    assert.equal(mapped!.time, 1716000000000);
    assert.equal(mapped!.fields.class_uid, 4001);
    assert.equal(mapped!.fields.type_uid, 400106);
    assert.deepEqual((mapped!.fields.metadata as Record<string, unknown>).uid, 'abcd-2');
    assert.deepEqual(out.rejects, []);
  });

  it('sets the record time from the event when the record had none', async () => {
    // Prepare
    const transform = createOcsfTransform({ type: 'ocsf', mapping: 'builtin:vpcflow', version: '1.1.0', observables: true, datetime: false });

    // Act
    const out = await transform.apply({ records: [flowRecord(3, { ...ACCEPTED, start: '1716000005' })], rejects: [] });

    // Assess
    assert.equal(out.records[0]!.time, 1716000005000);
  });

  it('rejects records it cannot map with the line, the reason and the raw fields; the rest go on', async () => {
    // Prepare: a custom field carries a non-numeric port on line 3; line 4 has no time.
    const transform = createOcsfTransform({ type: 'ocsf', mapping: 'builtin:vpcflow', version: '1.1.0', observables: true, datetime: false });
    const badPort = { ...ACCEPTED, dstport: 'http' };
    const noTime = { ...ACCEPTED, start: null, end: null };
    const earlier = { origin: { object: 's3://logs/flow.log', line: 1 }, reason: 'from the format', code: 'VPCFLOW_FIELD_COUNT' };

    // Act
    const out = await transform.apply({
      records: [flowRecord(2, ACCEPTED), flowRecord(3, badPort), flowRecord(4, noTime), flowRecord(5, ACCEPTED)],
      rejects: [earlier],
      filtered: 1,
    });

    // Assess
    assert.deepEqual(out.records.map((r) => r.id), ['abcd-2', 'abcd-5']);
    assert.equal(out.filtered, 1);
    assert.deepEqual(out.rejects, [
      earlier,
      {
        origin: { object: 's3://logs/flow.log', line: 3 },
        code: 'OCSF_BAD_VALUE',
        reason: 'line 3: field "dstport" must be an integer port 0-65535 for OCSF dst_endpoint.port, found "http" (ocsf mapping builtin:vpcflow)',
        raw: JSON.stringify(badPort),
      },
      {
        origin: { object: 's3://logs/flow.log', line: 4 },
        code: 'OCSF_MISSING_REQUIRED',
        reason: 'line 4: no "start" or "end" field: OCSF requires the event time; add start and end to the flow log format (ocsf mapping builtin:vpcflow)',
        raw: JSON.stringify(noTime),
      },
    ]);
  });

  it('turns a mapping that throws into a rejection of that record only, with a bounded raw', async () => {
    // Prepare
    const flaky: OcsfMapping = {
      name: 'test:flaky',
      classUids: [4001],
      versions: ['1.1.0'],
      map(record) {
        if (record.origin.line === 2) throw new TypeError('cannot read properties of undefined');
        return { class_uid: 4001, time: 1 };
      },
    };
    const big = { blob: 'x'.repeat(10_000) };

    // Act
    const out = await ocsfTransform(flaky).apply({ records: [flowRecord(1, {}), flowRecord(2, big), flowRecord(3, {})], rejects: [] });

    // Assess
    assert.deepEqual(out.records.map((r) => r.origin.line), [1, 3]);
    assert.equal(out.rejects.length, 1);
    assert.equal(out.rejects[0]!.code, 'OCSF_MAPPING_ERROR');
    assert.equal(out.rejects[0]!.reason, 'line 2: mapping test:flaky failed on this record: cannot read properties of undefined (ocsf mapping test:flaky)');
    assert.equal(out.rejects[0]!.raw!.length, MAX_REJECTED_RAW);
  });

  it('passes MappingFailure results through as rejections with their own code', async () => {
    // Prepare
    const picky: OcsfMapping = {
      name: 'test:picky',
      classUids: [4001],
      versions: ['1.1.0'],
      map: () => new MappingFailure('TEST_CODE', 'not today'),
    };

    // Act
    const out = await ocsfTransform(picky).apply({ records: [flowRecord(7, { a: 1 })], rejects: [] });

    // Assess
    assert.deepEqual(out.records, []);
    assert.deepEqual(out.rejects, [{ origin: { object: 's3://logs/flow.log', line: 7 }, code: 'TEST_CODE', reason: 'line 7: not today (ocsf mapping test:picky)', raw: '{"a":1}' }]);
  });
});
