import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { S3Client } from '@aws-sdk/client-s3';
import type { Source, TimeWindow } from '../../core/component.js';
import { SluiceError } from '../../core/errors.js';
import type { ObjectRef } from '../../core/record.js';
import { startS3Server, type RunningS3Server } from '../../testing/s3-server.js';
import { decompressByMagic } from '../../core/decompress.js';
import { keyInWindow } from '../../core/key-dates.js';
import { createS3Source, parseS3Uri } from './index.js';
import { repoRoot } from '../../testing/repo-root.js';

const constructed = path.join(repoRoot(), 'test/fixtures/constructed');

async function listAll(source: Source, window?: TimeWindow): Promise<{ refs: ObjectRef[]; pages: number }> {
  const refs: ObjectRef[] = [];
  let pages = 0;
  for await (const page of source.list(window)) {
    pages++;
    refs.push(...page);
  }
  return { refs, pages };
}

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of stream) parts.push(chunk);
  return Buffer.concat(parts);
}

/** A client for the test server that records every request it sends. */
function recordingClient(s3: RunningS3Server): { client: S3Client; requests: Array<{ query: Record<string, unknown>; headers: Record<string, string> }> } {
  const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: s3.credentials });
  const requests: Array<{ query: Record<string, unknown>; headers: Record<string, string> }> = [];
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { query?: Record<string, unknown>; headers?: Record<string, string> };
      requests.push({ query: { ...request.query }, headers: { ...request.headers } });
      return next(args);
    },
    { step: 'finalizeRequest', name: 'recordRequests' },
  );
  return { client, requests };
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

describe('createS3Source', () => {
  let s3: RunningS3Server;
  const datedKeys: string[] = [];
  before(async () => {
    s3 = await startS3Server({ buckets: ['logs', 'many', 'fixtures'] });
    // Three days of hourly VPC Flow Logs in two regions, a hive lake, and undated files.
    for (const region of ['eu-west-1', 'us-east-1']) {
      for (const d of ['01', '02', '03']) {
        for (const h of ['00', '03', '23']) {
          datedKeys.push(`AWSLogs/123456789012/vpcflowlogs/${region}/2024/01/${d}/123456789012_vpcflowlogs_${region}_fl-1_202401${d}T${h}05Z_a.log.gz`);
        }
      }
    }
    for (const d of ['01', '02']) datedKeys.push(`lake/year=2024/month=01/day=${d}/hour=03/part-0.json`);
    datedKeys.push('lake/_manifest.json', 'README.txt');
    await Promise.all(datedKeys.map((key) => s3.putObject('logs', key, key)));
    const many = Array.from({ length: 45 }, (_, i) => `p/${String(i).padStart(3, '0')}.log`);
    await Promise.all(many.map((key) => s3.putObject('many', key, 'x')));
  });
  after(async () => {
    await s3.stop();
  });

  const sourceFor = (uri: string, extra: Partial<Parameters<typeof createS3Source>[0]> = {}) =>
    createS3Source({ uri, endpoint: s3.endpoint, forcePathStyle: true, credentials: s3.credentials, region: 'us-east-1', ...extra });

  it('pages through ListObjectsV2 with continuation tokens', async () => {
    // Prepare
    const source = sourceFor('s3://many/p/', { maxKeys: 10 });
    // Act
    const { refs, pages } = await listAll(source);
    await source.close?.();
    // Assess
    assert.equal(refs.length, 45);
    assert.equal(pages, 5);
    assert.deepEqual(refs.map((r) => r.key), [...refs.map((r) => r.key)].sort(byteOrder));
    const first = refs[0]!;
    assert.equal(first.uri, 's3://many/p/000.log');
    assert.equal(first.key, 'p/000.log');
    assert.equal(first.size, 1);
    assert.match(first.etag!, /^[0-9a-f]{32}$/);
    assert.ok(!Number.isNaN(Date.parse(first.lastModified!)));
  });

  it('lists everything in key order without a window, applying include/exclude', async () => {
    const source = sourceFor('s3://logs', { exclude: /eu-west-1/, include: /vpcflowlogs|README/ });
    const { refs } = await listAll(source);
    await source.close?.();
    const expected = datedKeys.filter((k) => !k.includes('eu-west-1') && /vpcflowlogs|README/.test(k)).sort(byteOrder);
    assert.deepEqual(refs.map((r) => r.key), expected);
  });

  it('prunes a date window folder by folder, listing only folders that can hold it', async () => {
    // Prepare
    const { client, requests } = recordingClient(s3);
    const source = createS3Source({ uri: 's3://logs/', client, maxKeys: 2 });
    const window = { from: Date.UTC(2024, 0, 2, 3), to: Date.UTC(2024, 0, 2, 4) };
    // Act
    const { refs } = await listAll(source, window);
    // Assess: the same keys as filtering a full listing, in the same order
    assert.deepEqual(
      refs.map((r) => r.key),
      datedKeys.filter((k) => keyInWindow(k, window)).sort(byteOrder),
    );
    assert.deepEqual(refs.map((r) => r.key), [
      'README.txt',
      'AWSLogs/123456789012/vpcflowlogs/eu-west-1/2024/01/02/123456789012_vpcflowlogs_eu-west-1_fl-1_20240102T0305Z_a.log.gz',
      'AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/01/02/123456789012_vpcflowlogs_us-east-1_fl-1_20240102T0305Z_a.log.gz',
      'lake/_manifest.json',
      'lake/year=2024/month=01/day=02/hour=03/part-0.json',
    ].sort(byteOrder));
    const listedPrefixes = requests.map((r) => String(r.query.prefix ?? ''));
    assert.ok(listedPrefixes.includes('AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/01/02/'), listedPrefixes.join(', '));
    assert.ok(requests.some((r) => r.query['continuation-token'] !== undefined), 'expected paged folder listings');
    assert.ok(!listedPrefixes.some((p) => /\/2024\/01\/0[13]\/$/.test(p)), `listed pruned days: ${listedPrefixes.join(', ')}`);
    assert.ok(!listedPrefixes.includes('lake/year=2024/month=01/day=01/'));
    client.destroy();
  });

  it('prunes with an open-ended window', async () => {
    const source = sourceFor('s3://logs/AWSLogs/123456789012/vpcflowlogs/us-east-1/');
    const { refs } = await listAll(source, { from: Date.UTC(2024, 0, 3, 12) });
    await source.close?.();
    assert.deepEqual(refs.map((r) => r.key), [
      'AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/01/03/123456789012_vpcflowlogs_us-east-1_fl-1_20240103T2305Z_a.log.gz',
    ]);
  });

  it('opens objects for a gzip round trip of real VPC Flow Logs, sending the listed ETag as If-Match', async () => {
    // Prepare
    const fixtures = readdirSync(constructed).filter((f) => f.includes('vpcflowlogs') && f.endsWith('.log.gz'));
    assert.ok(fixtures.length >= 2);
    for (const f of fixtures) await s3.putObject('fixtures', `AWSLogs/${f}`, readFileSync(path.join(constructed, f)));
    const { client, requests } = recordingClient(s3);
    const source = createS3Source({ uri: 's3://fixtures/AWSLogs/', client });
    const { refs } = await listAll(source);
    // Act
    const texts: string[] = [];
    for (const ref of refs) texts.push((await readAll(decompressByMagic(await source.open(ref), ref.uri))).toString());
    // Assess
    assert.equal(refs.length, fixtures.length);
    refs.forEach((ref, i) => {
      const expected = gunzipSync(readFileSync(path.join(constructed, path.basename(ref.key)))).toString();
      assert.equal(texts[i], expected);
      assert.match(texts[i]!, /^version /);
    });
    const gets = requests.filter((r) => r.headers['if-match'] !== undefined);
    assert.deepEqual(gets.map((r) => r.headers['if-match']), refs.map((r) => `"${r.etag}"`));
    client.destroy();
  });

  it('reports a missing key as OBJECT_NOT_FOUND naming its s3 URI', async () => {
    const source = sourceFor('s3://logs/');
    await assert.rejects(source.open({ uri: 's3://logs/no/such/key.gz', key: 'no/such/key.gz' }), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'OBJECT_NOT_FOUND');
      assert.equal(err.stage, 'read');
      assert.equal(err.retryable, false);
      assert.equal(err.message, 's3://logs/no/such/key.gz does not exist');
      return true;
    });
    await source.close?.();
  });

  it('reports a missing bucket when listing', async () => {
    const source = sourceFor('s3://no-such-bucket/x/');
    await assert.rejects(listAll(source), (err: unknown) => err instanceof SluiceError && err.code === 'BUCKET_NOT_FOUND' && err.message.includes('s3://no-such-bucket/x/'));
    await source.close?.();
  });

  it('walks a common prefix once even when a server repeats it on the next page', async () => {
    // Prepare: page 1 ends with folder b/, page 2 repeats it (as s3rver, Ceph and others may)
    const pages: Record<string, Array<Record<string, unknown>>> = {
      '': [
        { Contents: [{ Key: 'a.log' }], CommonPrefixes: [{ Prefix: 'b/' }], IsTruncated: true, NextContinuationToken: 't1' },
        { Contents: [{ Key: 'c.log' }], CommonPrefixes: [{ Prefix: 'b/' }], IsTruncated: false },
      ],
      'b/': [{ Contents: [{ Key: 'b/1.log' }], IsTruncated: false }],
    };
    const listed: string[] = [];
    const client = {
      send: async (command: { input: { Prefix?: string; ContinuationToken?: string } }) => {
        const prefix = command.input.Prefix ?? '';
        listed.push(prefix);
        return pages[prefix]![command.input.ContinuationToken ? 1 : 0];
      },
    } as unknown as S3Client;
    const source = createS3Source({ uri: 's3://logs', client });
    // Act
    const { refs } = await listAll(source, { from: 0 });
    // Assess
    assert.deepEqual(refs.map((r) => r.key), ['a.log', 'b/1.log', 'c.log']);
    assert.deepEqual(listed, ['', 'b/', '']);
  });

  it('reports an object replaced after listing (If-Match failed) as OBJECT_CHANGED', async () => {
    // Prepare: s3rver ignores If-Match, so a client answers as S3 does
    const preconditionFailed = Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), {
      name: 'PreconditionFailed',
      $metadata: { httpStatusCode: 412 },
    });
    const client = { send: async () => Promise.reject(preconditionFailed) } as unknown as S3Client;
    const source = createS3Source({ uri: 's3://logs/', client });
    // Act + Assess
    await assert.rejects(source.open({ uri: 's3://logs/a.gz', key: 'a.gz', etag: 'abc' }), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'OBJECT_CHANGED');
      assert.equal(err.retryable, false);
      assert.match(err.message, /s3:\/\/logs\/a\.gz changed after it was listed \(listed ETag abc\)/);
      return true;
    });
  });

  it('turns a body that ends short into a retryable TRUNCATED_READ', async () => {
    // Prepare
    async function* shortBody() {
      yield Buffer.from('only part');
    }
    const client = { send: async () => ({ Body: shortBody(), ContentLength: 100 }) } as unknown as S3Client;
    const source = createS3Source({ uri: 's3://logs/', client });
    // Act + Assess
    await assert.rejects(readAll(await source.open({ uri: 's3://logs/a.log', key: 'a.log' })), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'TRUNCATED_READ');
      assert.equal(err.retryable, true);
      assert.match(err.message, /s3:\/\/logs\/a\.log ended after 9 of 100 bytes/);
      return true;
    });
  });
});

describe('parseS3Uri', () => {
  it('splits bucket and prefix', () => {
    assert.deepEqual(parseS3Uri('s3://b'), { bucket: 'b', prefix: '' });
    assert.deepEqual(parseS3Uri('s3://b/'), { bucket: 'b', prefix: '' });
    assert.deepEqual(parseS3Uri('s3://b/AWSLogs/1/'), { bucket: 'b', prefix: 'AWSLogs/1/' });
    assert.deepEqual(parseS3Uri('s3://b/odd key\nwith newline'), { bucket: 'b', prefix: 'odd key\nwith newline' });
  });

  it('rejects what is not an S3 URI', () => {
    assert.throws(() => parseS3Uri('https://b/x'), (err: unknown) => err instanceof SluiceError && err.code === 'BAD_SOURCE_URI');
    assert.throws(() => parseS3Uri('s3:///x'), /not an S3 URI/);
  });
});
