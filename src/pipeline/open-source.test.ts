import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { SluiceError } from '../core/errors.js';
import type { ObjectRef } from '../core/record.js';
import { startS3Server, type RunningS3Server } from '../testing/s3-server.js';
import { openSource } from './open-source.js';

async function keysOf(pages: AsyncIterable<ObjectRef[]>): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of pages) keys.push(...page.map((r) => r.key));
  return keys;
}

describe('openSource', () => {
  let dir: string;
  let s3: RunningS3Server;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-open-source-'));
    mkdirSync(path.join(dir, 'logs'));
    writeFileSync(path.join(dir, 'logs', 'a.log'), 'a');
    writeFileSync(path.join(dir, 'logs', 'b.txt'), 'b');
    s3 = await startS3Server({ buckets: ['raw'] });
    await s3.putObject('raw', 'AWSLogs/a.log', 'a');
    await s3.putObject('raw', 'AWSLogs/CloudTrail-Digest/d.json', 'd');
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await s3.stop();
  });

  it('opens a folder by path or file:// URL, with include as a regular expression', async () => {
    // Act
    const byPath = openSource({ uri: path.join(dir, 'logs'), include: '\\.log$' });
    const byUrl = openSource({ uri: pathToFileURL(path.join(dir, 'logs')).href });
    // Assess
    assert.deepEqual(await keysOf(byPath.list()), ['a.log']);
    assert.deepEqual(await keysOf(byUrl.list()), ['a.log', 'b.txt']);
  });

  it('opens a bucket, resolving env: credential references', async () => {
    // Prepare
    process.env.SLUICE_TEST_S3_KEY = s3.credentials.accessKeyId;
    process.env.SLUICE_TEST_S3_SECRET = s3.credentials.secretAccessKey;
    const source = openSource({
      uri: 's3://raw/AWSLogs/',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      accessKeyId: 'env:SLUICE_TEST_S3_KEY',
      secretAccessKey: 'env:SLUICE_TEST_S3_SECRET',
      exclude: 'CloudTrail-Digest/',
    });
    // Act
    const keys = await keysOf(source.list());
    await source.close?.();
    // Assess
    assert.equal(source.root, 's3://raw/AWSLogs/');
    assert.deepEqual(keys, ['AWSLogs/a.log']);
    delete process.env.SLUICE_TEST_S3_KEY;
    delete process.env.SLUICE_TEST_S3_SECRET;
  });

  it('fails at once on a missing credential variable, naming it', () => {
    delete process.env.SLUICE_TEST_NOT_SET;
    assert.throws(
      () => openSource({ uri: 's3://raw/', accessKeyId: 'env:SLUICE_TEST_NOT_SET', secretAccessKey: 'x' }),
      (err: unknown) => err instanceof SluiceError && err.code === 'SECRET_NOT_FOUND' && err.message.includes('SLUICE_TEST_NOT_SET'),
    );
  });

  it('rejects half a credential pair, a bad pattern and an unknown scheme', () => {
    assert.throws(() => openSource({ uri: 's3://raw/', accessKeyId: 'x' }), /secretAccessKey is missing/);
    assert.throws(
      () => openSource({ uri: dir, include: '(' }),
      (err: unknown) => err instanceof SluiceError && err.stage === 'config' && /source\.include: "\(" is not a valid regular expression/.test(err.message),
    );
    assert.throws(() => openSource({ uri: 'gs://bucket/x' }), (err: unknown) => err instanceof SluiceError && err.code === 'BAD_SOURCE_URI');
  });
});
