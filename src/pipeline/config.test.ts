import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { parsePipeline, pipelineJsonSchema } from './config.js';
import { SluiceError } from '../core/errors.js';

describe('pipeline config', () => {
  it('accepts the documented example and fills every default', () => {
    const config = parsePipeline(
      { name: 'vpc-hour', source: { uri: './logs' }, format: 'vpcflow', sinks: [{ type: 'files', path: './out/flows', format: 'ndjson' }], runtime: { concurrency: 20, state: './.sluice/state.db' } },
      '/etc/sluice/pipeline.yaml',
    );
    assert.equal(config.source.uri, '/etc/sluice/logs');
    assert.deepEqual(config.format, { type: 'vpcflow' });
    assert.equal(config.runtime.state, path.resolve('/etc/sluice/.sluice/state.db'));
    assert.equal(config.runtime.maxAttempts, 5);
    const sink = config.sinks[0]!;
    assert.equal(sink.type, 'files');
    if (sink.type === 'files') {
      assert.equal(sink.path, '/etc/sluice/out/flows');
      assert.equal(sink.partition, 'day');
      assert.equal(sink.targetSizeMb, 64);
      assert.equal(sink.idField, '_id');
    }
  });

  it('fills runtime defaults when the runtime block is absent', () => {
    const config = parsePipeline({ name: 'p', source: { uri: 's3://bucket/AWSLogs/' }, format: 'vpcflow', sinks: [{ type: 'stdout' }] }, '/x/p.yaml');
    assert.equal(config.runtime.concurrency, 20);
    assert.equal(config.runtime.state, '/x/.sluice/state.db');
    assert.equal(config.source.uri, 's3://bucket/AWSLogs/', 's3 URIs are not paths');
  });

  it('lists every problem with its key path', () => {
    assert.throws(
      () => parsePipeline({ name: 'bad name!', source: {}, format: 'csv', sinks: [], runtim: {} }, 'p.yaml'),
      (err: unknown) => {
        assert.ok(err instanceof SluiceError);
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.match(err.message, /^p\.yaml: invalid pipeline/);
        assert.match(err.message, /name: letters, digits/);
        assert.match(err.message, /source\.uri: /);
        assert.match(err.message, /format: /);
        assert.match(err.message, /sinks: /);
        assert.match(err.message, /runtim: unknown key \(did you mean "runtime"\?\)/);
        return true;
      },
    );
  });

  it('generates a JSON Schema for editors from the same definitions', () => {
    const schema = pipelineJsonSchema() as { properties: Record<string, { description?: string }> };
    assert.deepEqual(Object.keys(schema.properties).sort(), ['format', 'load', 'name', 'runtime', 'sinks', 'source', 'transforms']);
    assert.match(schema.properties.name!.description!, /Pipeline name/);
  });
});
