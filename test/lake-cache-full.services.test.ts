/**
 * A full disk under the mirror of an S3 lake: the cache folder is a small tmpfs (mounted by the
 * test: needs root, as CI has). `sluice query --lake s3://…` must fail with LAKE_CACHE_FULL
 * naming the folder and what to do, print no answer, and leave no partial download; with room
 * (another --cache) the same query answers.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { startSluice } from '../src/testing/reliability.js';
import { startS3Server, type RunningS3Server } from '../src/testing/s3-server.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-cache-full-'));
const small = path.join(tmp, 'small-cache');
mkdirSync(small);
let mounted = false;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath ?? e.path, e.name));
}

describe('the mirror of an S3 lake on a full disk', () => {
  let s3: RunningS3Server;
  const env = () => ({ AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey });
  const query = (lake: string, cache: string) =>
    startSluice(['query', '--lake', lake, '--endpoint', s3.endpoint, '--region', 'us-east-1', '--force-path-style', '--cache', cache, '--format', 'json', 'select count(*) AS n from network_activity'], env()).exited;

  before(async () => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=200k', 'tmpfs', small]);
    mounted = true;
    s3 = await startS3Server({ buckets: ['full-lake'] });
    const duck = await DuckDBInstance.create();
    const c = await duck.connect();
    const folder = 'region=eu-west-1/accountId=1/eventDay=20240326';
    // One file larger than the disk: refused before anything is downloaded.
    const big = path.join(tmp, 'big.parquet');
    await c.run(`COPY (SELECT 'id-' || i AS _id, 4001 AS class_uid, md5(i::VARCHAR) || md5((i * 7)::VARCHAR) AS noise FROM range(6000) t(i)) TO '${big}' (FORMAT parquet, COMPRESSION uncompressed)`);
    const bigBytes = readFileSync(big);
    assert.ok(bigBytes.length > 250_000, `the big file is ${bigBytes.length} bytes`);
    await s3.putObject('full-lake', `big/${folder}/u-1-class4001-0000.parquet`, bigBytes);
    // Many small files that add up to less than the disk but take more pages than it has: the disk fills mid-download.
    const one = path.join(tmp, 'one.parquet');
    await c.run(`COPY (SELECT 'id-' || i AS _id, 4001 AS class_uid, md5(i::VARCHAR) AS noise FROM range(40) t(i)) TO '${one}' (FORMAT parquet, COMPRESSION uncompressed)`);
    const oneBytes = readFileSync(one);
    assert.ok(oneBytes.length < 4000, `a small file is ${oneBytes.length} bytes`);
    await s3.seedObjects('full-lake', Array.from({ length: 70 }, (_, i) => [`many/${folder}/u-${i}-class4001-0000.parquet`, oneBytes] as [string, Buffer]));
    c.closeSync();
    duck.closeSync();
  });
  after(async () => {
    await s3?.stop();
    if (mounted) execFileSync('umount', [small]);
    rmSync(tmp, { recursive: true, force: true });
  });

  for (const [name, lake] of [['more than the disk holds', 's3://full-lake/big/'], ['a disk that fills half way through the download', 's3://full-lake/many/']] as const) {
    it(`${name}: LAKE_CACHE_FULL naming the cache, no answer, no partial file; with room the query answers`, async () => {
      const cache = path.join(small, name.replace(/\W+/g, '-'));
      const failed = await query(lake, cache);
      assert.equal(failed.code, 1, failed.stderr);
      assert.equal(failed.stdout, '', 'no answer is printed');
      assert.match(failed.stderr, new RegExp(`the lake cache ${cache.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} has no room for the [\\d.]+ MB of ${lake.replace(/\//g, '\\/')}`));
      assert.match(failed.stderr, /hint: free space there, or pass --cache <folder> on a larger disk/);
      assert.deepEqual(filesUnder(cache).filter((f) => f.includes('.sluice-spool') || f.includes('.sluice-tmp')), [], 'no partial download is left');

      const roomy = await query(lake, path.join(tmp, `roomy-${name.replace(/\W+/g, '-')}`));
      assert.equal(roomy.code, 0, roomy.stderr);
      assert.deepEqual(JSON.parse(roomy.stdout), [{ n: lake.endsWith('big/') ? 6000 : 70 * 40 }]);
    });
  }
});
