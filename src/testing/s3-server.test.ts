import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command, type ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import { startS3Server } from './s3-server.js';

describe('startS3Server', () => {
  it('serves objects to the AWS SDK on a free local port and cleans up on stop', async () => {
    // Prepare
    const s3 = await startS3Server({ buckets: ['logs'] });
    let dirDuringRun = false;
    try {
      // Act
      const etag = await s3.putObject('logs', 'a/b.log', 'hello');
      const got = await s3.client.send(new GetObjectCommand({ Bucket: 'logs', Key: 'a/b.log' }));
      const text = await got.Body!.transformToString();
      dirDuringRun = existsSync(s3.dir);
      // Assess
      assert.match(s3.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(text, 'hello');
      assert.equal(etag, '5d41402abc4b2a76b9719d911017c592'); // md5("hello"), without quotes
    } finally {
      await s3.stop();
    }
    assert.equal(dirDuringRun, true);
    assert.equal(existsSync(s3.dir), false);
    await assert.rejects(fetch(`${s3.endpoint}/logs`));
  });

  it('runs two servers side by side', async () => {
    const [one, two] = await Promise.all([startS3Server({ buckets: ['one'] }), startS3Server({ buckets: ['two'] })]);
    try {
      assert.notEqual(one.endpoint, two.endpoint);
      await one.putObject('one', 'k', '1');
      await two.createBucket('extra');
      await two.putObject('extra', 'k', '2');
      const got = await two.client.send(new GetObjectCommand({ Bucket: 'extra', Key: 'k' }));
      assert.equal(await got.Body!.transformToString(), '2');
    } finally {
      await Promise.all([one.stop(), two.stop()]);
    }
  });

  it('pages listings past 1000 keys in byte order, with correct common prefixes', async () => {
    // Prepare: more keys than one page, and folders nested two levels deep
    const s3 = await startS3Server({ buckets: ['big'] });
    try {
      const keys = Array.from({ length: 1005 }, (_, i) => `k/${String(i).padStart(4, '0')}`);
      const extra = ['d/x/y/z.log', 'd/a.txt', 'd/a-b.txt', 'd/a/c.log'];
      await s3.seedObjects('big', keys.map((k) => [k, k]));
      await Promise.all(extra.map((k) => s3.putObject('big', k, '')));
      // Act
      const listed: string[] = [];
      let pages = 0;
      let token: string | undefined;
      do {
        const out: ListObjectsV2CommandOutput = await s3.client.send(
          new ListObjectsV2Command({ Bucket: 'big', Prefix: 'k/', ContinuationToken: token }),
        );
        pages++;
        listed.push(...(out.Contents ?? []).map((o) => o.Key!));
        token = out.NextContinuationToken;
      } while (token);
      const folders = await s3.client.send(new ListObjectsV2Command({ Bucket: 'big', Prefix: 'd/', Delimiter: '/' }));
      // Assess
      assert.equal(pages, 2);
      assert.deepEqual(listed, keys);
      const seeded = await s3.client.send(new GetObjectCommand({ Bucket: 'big', Key: 'k/1004' }));
      assert.equal(await seeded.Body!.transformToString(), 'k/1004');
      assert.deepEqual(folders.Contents?.map((o) => o.Key), ['d/a-b.txt', 'd/a.txt']);
      assert.deepEqual(folders.CommonPrefixes?.map((p) => p.Prefix), ['d/a/', 'd/x/']);
    } finally {
      await s3.stop();
    }
  });

  it('rejects bucket names s3rver cannot serve', async () => {
    await assert.rejects(startS3Server({ buckets: ['ab'] }), /bucket name "ab" is not valid/);
  });
});
