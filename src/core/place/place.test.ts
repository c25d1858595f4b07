/**
 * The place contract (place.ts), once for a local folder and once for an S3 prefix on the
 * in-process S3-protocol server: nothing visible before publish, exact bytes after, discard and
 * leftovers leave nothing (no object, no incomplete upload), and S3 faults are survived.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startS3Server, type RunningS3Server, type S3Fault, type S3Request } from '../../testing/s3-server.js';
import { openPlace, type Place } from './index.js';

const SMALL = Buffer.from('{"a":1}\n{"a":2}\n');
// Larger than the multipart threshold (8 MiB): three parts, the last one short.
const LARGE = randomBytes(17 * 1024 * 1024 + 123);

async function keys(place: Place): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of place.listTree()) out.push(entry.key);
  return out;
}

async function writeStaged(place: Place, key: string, bytes: Buffer) {
  const staged = await place.stage(key);
  await writeFile(staged.localPath, bytes);
  await staged.seal();
  return staged;
}

let dir: string;
let n = 0;

function placeContract(name: string, make: () => Promise<{ place: Place; incompleteUploads: () => Promise<number> }>) {
  describe(`place contract: ${name}`, () => {
    it('a staged object is invisible until published, then holds exactly its bytes', async () => {
      const { place } = await make();
      const small = await writeStaged(place, 'day=1/a-0000.ndjson', SMALL);
      const large = await writeStaged(place, 'day=1/b-0000.parquet', LARGE);
      assert.deepEqual(await keys(place), [], 'nothing visible before publish');
      assert.equal(await place.read('day=1/a-0000.ndjson'), undefined);
      const published = [await small.publish(), await large.publish()];
      assert.deepEqual(published.map((p) => p.key), ['day=1/a-0000.ndjson', 'day=1/b-0000.parquet']);
      assert.deepEqual(await keys(place), ['day=1/a-0000.ndjson', 'day=1/b-0000.parquet']);
      assert.ok((await place.read('day=1/a-0000.ndjson'))!.equals(SMALL));
      assert.ok((await place.read('day=1/b-0000.parquet'))!.equals(LARGE));
      assert.deepEqual((await place.list('day=1')).map((e) => [e.key, e.size]), [['day=1/a-0000.ndjson', SMALL.length], ['day=1/b-0000.parquet', LARGE.length]]);
      await place.close();
    });

    it('a discarded object leaves nothing behind, not even an incomplete upload', async () => {
      const { place, incompleteUploads } = await make();
      const staged = await writeStaged(place, 'x/c-0000.parquet', LARGE);
      await staged.discard();
      await assert.rejects(staged.publish(), /cannot publish/);
      assert.deepEqual(await keys(place), []);
      assert.equal(await incompleteUploads(), 0);
      await place.close();
    });

    it('leftovers of a crashed attempt (sealed, never published) are removed by key prefix', async () => {
      const { place, incompleteUploads } = await make();
      await writeStaged(place, 'x/unit1-0000.parquet', LARGE);
      await writeStaged(place, 'x/unit2-0000.parquet', LARGE);
      const before = await incompleteUploads();
      const removed = await place.removeLeftovers('x/unit1-');
      if (place.kind === 's3') {
        assert.equal(before, 2);
        assert.equal(removed, 1);
        assert.equal(await incompleteUploads(), 1, "the other unit's upload stays");
      }
      assert.deepEqual(await keys(place), []);
      await place.close();
    });

    it('put, read, list, remove', async () => {
      const { place } = await make();
      await place.put('p/one.json', Buffer.from('1'));
      await place.put('p/q/two.json', Buffer.from('22'));
      assert.deepEqual((await place.list('p')).map((e) => e.key), ['p/one.json']);
      assert.deepEqual(await keys(place), ['p/one.json', 'p/q/two.json']);
      await place.remove('p/one.json');
      assert.deepEqual(await keys(place), ['p/q/two.json']);
      await place.probe();
      await place.close();
    });

    it('create writes only where nothing is: of racing creators exactly one wins', async () => {
      const { place } = await make();
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => place.create('locks/.folder.lock', Buffer.from(`owner ${i}`))));
      const winners = results.flatMap((r, i) => (r === undefined ? [] : [i]));
      assert.equal(winners.length, 1, `one creator wins, got ${JSON.stringify(winners)}`);
      assert.equal((await place.read('locks/.folder.lock'))!.toString(), `owner ${winners[0]}`);
      assert.equal(await place.create('locks/.folder.lock', Buffer.from('late')), undefined);
      await place.remove('locks/.folder.lock');
      assert.ok(await place.create('locks/.folder.lock', Buffer.from('again')));
      await place.close();
    });

    it('readRange, download and move', async () => {
      const { place } = await make();
      await writeStaged(place, 'm/a.parquet', LARGE).then((s) => s.publish());
      assert.ok((await place.readRange('m/a.parquet', LARGE.length - 8, 8))!.equals(LARGE.subarray(-8)));
      assert.ok((await place.readRange('m/a.parquet', 100, 1000))!.equals(LARGE.subarray(100, 1100)));
      assert.ok((await place.readRange('m/a.parquet', LARGE.length - 3, 10))!.equals(LARGE.subarray(-3)), 'fewer bytes at the end');
      assert.equal(await place.readRange('m/none.parquet', 0, 8), undefined);
      const file = path.join(dir, `download-${++n}`);
      assert.equal(await place.download('m/none.parquet', file), false);
      assert.equal(await place.download('m/a.parquet', file), true);
      assert.ok((await readFile(file)).equals(LARGE));
      await place.put('m/b.parquet', SMALL);
      await place.move('m/a.parquet', 'm/b.parquet');
      assert.deepEqual(await keys(place), ['m/b.parquet']);
      assert.ok((await place.read('m/b.parquet'))!.equals(LARGE), 'the moved object replaces what was there');
      await place.move('m/b.parquet', 'eventDay=20240501/c.parquet');
      assert.deepEqual(await keys(place), ['eventDay=20240501/c.parquet']);
      await place.close();
    });
  });
}

describe('places', () => {
  let s3: RunningS3Server;
  let fault: ((r: S3Request) => S3Fault | undefined) | undefined;
  before(async () => {
    s3 = await startS3Server({ buckets: ['lake'], faults: (r) => fault?.(r) });
    dir = await mkdtemp(path.join(tmpdir(), 'sluice-place-'));
  });
  after(async () => {
    await s3.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const s3Options = () => ({ endpoint: s3.endpoint, forcePathStyle: true, credentials: s3.credentials, region: 'us-east-1' });

  placeContract('local folder', async () => ({ place: openPlace(path.join(dir, `local-${++n}`)), incompleteUploads: async () => 0 }));
  placeContract('S3 prefix', async () => {
    const prefix = `run-${++n}/`;
    return {
      place: openPlace(`s3://lake/${prefix}`, s3Options()),
      incompleteUploads: async () => (await s3.client.send(new ListMultipartUploadsCommand({ Bucket: 'lake', Prefix: prefix }))).Uploads?.length ?? 0,
    };
  });

  it('S3: 503 SlowDown and a connection dropped mid-part are retried; the object is whole', async () => {
    const place = openPlace('s3://lake/faults/', s3Options());
    let slowdowns = 0;
    let drops = 0;
    fault = (r) => {
      if (r.query.has('partNumber') && r.query.get('partNumber') === '2' && drops < 1) return (drops++, 'drop');
      if (r.method === 'POST' && r.query.has('uploadId') && slowdowns < 2) return (slowdowns++, 'slowdown');
      return undefined;
    };
    try {
      const staged = await writeStaged(place, 'f-0000.parquet', LARGE);
      await staged.publish();
      assert.equal(drops, 1);
      assert.equal(slowdowns, 2);
      assert.ok((await place.read('f-0000.parquet'))!.equals(LARGE));
    } finally {
      fault = undefined;
      await place.close();
    }
  });

  it('S3: spool files of processes that no longer run are removed; those of live ones stay', async () => {
    const spoolDir = path.join(dir, 'spool');
    await mkdir(spoolDir, { recursive: true });
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(gone.stdout);
    const orphan = path.join(spoolDir, `part-0000.parquet.sluice-spool-${deadPid}-abcdef-1`);
    const live = path.join(spoolDir, `part-0001.parquet.sluice-spool-${process.ppid}-abcdef-1`);
    await writeFile(orphan, 'left by a killed process');
    await writeFile(live, 'still being written');
    const place = openPlace('s3://lake/spool/', { ...s3Options(), spoolDir });
    try {
      const staged = await place.stage('x.ndjson');
      await staged.discard();
      assert.deepEqual((await readdir(spoolDir)).sort(), [path.basename(live)]);
    } finally {
      await place.close();
    }
  });

  it('S3: a missing bucket fails the probe naming the bucket and the AWS error code', async () => {
    const place = openPlace('s3://no-such-bucket/x/', s3Options());
    await assert.rejects(place.probe(), (err: Error & { code?: string }) => {
      assert.match(err.message, /s3:\/\/no-such-bucket\/x\//);
      assert.match(err.message, /NotFound|NoSuchBucket|404/);
      assert.equal(err.code, 'S3_NOT_FOUND');
      return true;
    });
    await place.close();
  });

  it('S3: a probe object left by a process killed mid-preflight is removed by the next probe', async () => {
    await s3.putObject('lake', 'probed/.sluice-preflight-4242-abcdef', 'sluice preflight\n');
    await s3.putObject('lake', 'probed/a-0000.ndjson', '{}\n');
    const place = openPlace('s3://lake/probed/', s3Options());
    try {
      await place.probe();
      const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: 'probed/' }));
      assert.deepEqual((listed.Contents ?? []).map((o) => o.Key), ['probed/a-0000.ndjson']);
    } finally {
      await place.close();
    }
  });
});
