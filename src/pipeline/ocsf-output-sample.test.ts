import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { parsePipeline } from './config.js';
import { fixturePath } from '../testing/repo-root.js';
import { checkOcsfOutputSample } from './ocsf-output-sample.js';

describe('checkOcsfOutputSample (sluice validate)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-ocsf-sample-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  function pipeline(logs: string, transforms: unknown[]) {
    return parsePipeline({ name: 'sample', source: { uri: logs }, format: 'vpcflow', transforms, sinks: [{ type: 'stdout' }] }, path.join(dir, 'p.yaml'));
  }

  it('maps the first object of the source and finds every event valid', async () => {
    // Prepare: the first object (in key order) is the v2 default examples with their NODATA/SKIPDATA lines.
    const logs = path.join(dir, 'logs');
    mkdirSync(logs);
    copyFileSync(fixturePath('constructed', '123456789010_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz'), path.join(logs, 'a.log.gz'));
    copyFileSync(fixturePath('aws-docs', 'vpcflow', 'nat-gateway.custom-6-fields.log'), path.join(logs, 'b.log'));

    // Act
    const report = await checkOcsfOutputSample(pipeline(logs, [{ type: 'ocsf', mapping: 'builtin:vpcflow' }]));

    // Assess
    assert.ok(report);
    assert.deepEqual(report.objects, [path.join(logs, 'a.log.gz')]);
    assert.equal(report.events, 7);
    assert.equal(report.invalidEvents, 0);
    assert.deepEqual(report.problems, []);
    assert.equal(report.mapping, 'builtin:vpcflow');
    assert.equal(report.version, '1.1.0');
  });

  it('counts the records rejected on the way and stops at maxEvents', async () => {
    // Prepare: the NAT gateway example has no time, so all its records are rejected; the v5 one maps.
    const logs = path.join(dir, 'logs2');
    mkdirSync(logs);
    copyFileSync(fixturePath('aws-docs', 'vpcflow', 'nat-gateway.custom-6-fields.log'), path.join(logs, 'a.log'));
    copyFileSync(fixturePath('aws-docs', 'vpcflow', 'v5-service-traffic-path-flow-direction.custom-29-fields.log'), path.join(logs, 'b.log'));

    // Act
    const report = await checkOcsfOutputSample(pipeline(logs, [{ type: 'ocsf', mapping: 'builtin:vpcflow' }]), { maxObjects: 2, maxEvents: 1 });

    // Assess
    assert.ok(report);
    assert.equal(report.rejected, 6);
    assert.equal(report.events, 1);
    assert.equal(report.invalidEvents, 0);
  });

  it('reads past objects without records (a CloudTrail digest, first in key order) to sample one that has some', async () => {
    // Prepare: CloudTrail-Digest/ sorts before CloudTrail/ ('-' < '/').
    const trail = path.join(dir, 'trail', 'AWSLogs', '111122223333');
    mkdirSync(path.join(trail, 'CloudTrail-Digest', 'us-east-1'), { recursive: true });
    mkdirSync(path.join(trail, 'CloudTrail', 'us-east-1'), { recursive: true });
    copyFileSync(fixturePath('aws-docs', 'cloudtrail', 'digest-file-example.json'), path.join(trail, 'CloudTrail-Digest', 'us-east-1', 'digest.json'));
    copyFileSync(fixturePath('aws-docs', 'cloudtrail', 'console-signin-events.wrapped.json'), path.join(trail, 'CloudTrail', 'us-east-1', 'signin.json'));
    const config = parsePipeline(
      { name: 'ct', source: { uri: path.join(dir, 'trail'), layout: 'objects' }, format: 'cloudtrail', transforms: [{ type: 'ocsf', mapping: 'builtin:cloudtrail' }], sinks: [{ type: 'stdout' }] },
      path.join(dir, 'p.yaml'),
    );

    // Act
    const report = await checkOcsfOutputSample(config);

    // Assess
    assert.ok(report);
    assert.equal(report.objects.length, 2, 'the digest, then the sign-in events');
    assert.equal(report.events, 10);
    assert.equal(report.invalidEvents, 0);
    assert.deepEqual(report.problems, []);
  });

  it('says nothing about a pipeline without an ocsf transform', async () => {
    // Act
    const report = await checkOcsfOutputSample(pipeline(dir, []));

    // Assess
    assert.equal(report, undefined);
  });
});
