import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { SluiceError } from '../../core/errors.js';
import { repoRoot } from '../../testing/repo-root.js';
import { availableOcsfVersions, loadOcsfSchema, ocsfDataDir } from './schema.js';

describe('OCSF schema data', () => {
  it('ships OCSF 1.1.0 from data/ocsf with the five mapped classes and every object they reference', () => {
    // Act
    const schema = loadOcsfSchema('1.1.0');

    // Assess
    assert.equal(ocsfDataDir(), path.join(repoRoot(), 'data', 'ocsf'));
    assert.deepEqual(availableOcsfVersions(), ['1.1.0']);
    assert.deepEqual(schema.classUids().sort(), [3001, 3002, 4001, 4002, 6003]);
    assert.equal(schema.classByUid(4001)?.caption, 'Network Activity');
    assert.equal(schema.classByUid(6003)?.name, 'api_activity');
    const referenced = new Set<string>();
    const visit = (attributes: Record<string, { object?: string }>) => {
      for (const a of Object.values(attributes)) if (a.object) referenced.add(a.object);
    };
    for (const uid of schema.classUids()) visit(schema.classByUid(uid)!.attributes);
    for (const name of Object.keys(schema.document.objects)) visit(schema.document.objects[name]!.attributes);
    for (const name of referenced) assert.ok(schema.object(name), `object ${name} is referenced but not shipped`);
    assert.ok(referenced.has('network_endpoint') && referenced.has('http_request') && referenced.has('user'));
  });

  it('keeps what validation needs: types, requirements, enums, profiles, siblings', () => {
    // Prepare
    const schema = loadOcsfSchema('1.1.0');
    const network = schema.classByUid(4001)!;

    // Assess
    assert.deepEqual(network.attributes.action_id, {
      type: 'integer_t', requirement: 'required', enum: { 0: 'Unknown', 1: 'Allowed', 2: 'Denied', 99: 'Other' }, profile: 'security_control', sibling: 'action',
    });
    assert.deepEqual(schema.object('network_endpoint')?.constraints, { at_least_one: ['hostname', 'instance_uid', 'interface_name', 'interface_uid', 'ip', 'name', 'svc_name', 'uid'] });
    assert.deepEqual(schema.typeRule('port_t'), { name: 'port_t', kind: 'integer', range: [0, 65535], timestamp: false });
    assert.equal(schema.typeRule('timestamp_t')?.kind, 'long');
    assert.equal(schema.typeRule('timestamp_t')?.timestamp, true);
    assert.equal(schema.typeRule('ip_t')?.maxLength, 40);
    assert.ok(schema.typeRule('ip_t')?.pattern?.test('2001:db8::1'));
    assert.equal(schema.typeRule('string_t')?.maxLength, 65535);
  });

  it('is generated deterministically by scripts/extract-ocsf-schema.mjs (file header and key order)', () => {
    // Prepare
    const text = readFileSync(path.join(repoRoot(), 'data', 'ocsf', 'ocsf-1.1.0.json'), 'utf8');

    // Act
    const document = JSON.parse(text) as { format: string; version: string; generated_by: string; objects: Record<string, unknown> };

    // Assess
    assert.equal(document.format, 'sluice-ocsf-schema/1');
    assert.equal(document.version, '1.1.0');
    assert.equal(document.generated_by, 'scripts/extract-ocsf-schema.mjs');
    const names = Object.keys(document.objects);
    assert.deepEqual(names, [...names].sort());
  });

  it('resolves attribute paths for mapping authors, and explains the ones that do not exist', () => {
    // Prepare
    const schema = loadOcsfSchema('1.1.0');

    // Act
    const bytes = schema.resolvePath(4001, 'traffic.bytes');
    const port = schema.resolvePath(4001, 'src_endpoint.port');
    const observableName = schema.resolvePath(4001, 'observables.name');
    const unmapped = schema.resolvePath(4001, 'unmapped.anything.at.all');
    const typo = schema.resolvePath(4001, 'src_endpoint.subnet_name');
    const scalarParent = schema.resolvePath(4001, 'time.seconds');
    const unknownClass = schema.resolvePath(1234, 'time');

    // Assess
    assert.ok('attribute' in bytes && bytes.rule.kind === 'long' && bytes.owner === 'network_traffic');
    assert.ok('attribute' in port && port.rule.name === 'port_t');
    assert.ok('attribute' in observableName && observableName.owner === 'observable');
    assert.ok('attribute' in unmapped && unmapped.rule.kind === 'json');
    assert.deepEqual(typo, { problem: 'network_endpoint (at src_endpoint) has no attribute "subnet_name"' });
    assert.deepEqual(scalarParent, { problem: 'time is a timestamp_t, not an object, so it has no "seconds"' });
    assert.ok('problem' in unknownClass && unknownClass.problem.startsWith('class_uid 1234 is not in OCSF 1.1.0'));
  });

  it('fails with a config error naming the shipped versions for a version it does not ship', () => {
    // Act + Assess
    assert.throws(
      () => loadOcsfSchema('1.3.0'),
      (err: unknown) =>
        err instanceof SluiceError &&
        err.code === 'OCSF_VERSION_UNAVAILABLE' &&
        err.stage === 'config' &&
        /^OCSF 1\.3\.0: no schema file .*ocsf-1\.3\.0\.json/.test(err.message) &&
        err.hint === "set the ocsf transform's version to one of: 1.1.0",
    );
  });
});
