import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../../core/errors.js';
import type { SluiceRecord } from '../../core/record.js';
import { compileUrlTemplate } from './url-template.js';

const record = (fields: Record<string, unknown>): SluiceRecord => ({ id: 'x-1', origin: { object: 's3://b/k', line: 3 }, fields });

describe('compileUrlTemplate', () => {
  it('fills placeholders from fields, URL-encoded', () => {
    const t = compileUrlTemplate('https://example.com/connection_sets/{bucket_start}?ip={ip}');
    assert.deepEqual(t.fields, ['bucket_start', 'ip']);
    assert.equal(t.render(record({ bucket_start: 1714557600, ip: '2001:db8::1' })), 'https://example.com/connection_sets/1714557600?ip=2001%3Adb8%3A%3A1');
    assert.equal(t.render(record({ bucket_start: 'a/b c', ip: true })), 'https://example.com/connection_sets/a%2Fb%20c?ip=true');
  });

  it('keeps literal braces and fixed URLs', () => {
    assert.equal(compileUrlTemplate('https://h/{{x}}').render(record({})), 'https://h/{x}');
    assert.equal(compileUrlTemplate('https://h/plain').render(record({})), 'https://h/plain');
  });

  it('refuses a missing or non-scalar field with the record and line', () => {
    const t = compileUrlTemplate('https://h/{bucket}');
    for (const fields of [{}, { bucket: null }, { bucket: { a: 1 } }]) {
      assert.throws(() => t.render(record(fields)), (err: unknown) => err instanceof SluiceError && err.code === 'SINK_URL_FIELD_MISSING' && /x-1 \(s3:\/\/b\/k line 3\)/.test(err.message));
    }
  });

  it('refuses placeholders in the host and malformed templates', () => {
    for (const bad of ['https://{host}/x', 'https://h/{a', 'https://h/a}', 'https://h/{}']) {
      assert.throws(() => compileUrlTemplate(bad), (err: unknown) => err instanceof SluiceError && err.code === 'CONFIG_INVALID', bad);
    }
  });
});
