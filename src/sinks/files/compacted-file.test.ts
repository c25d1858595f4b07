/**
 * The files sink in folders holding a compacted file (compacted-file.ts), on a local folder and
 * on an S3 prefix: a re-run whose rows the compacted file holds publishes nothing, a re-run with
 * other rows takes the old ones out first, units doing so at once take turns, and a compaction
 * interrupted by a crash is finished by the next commit. The reader's view (every Parquet file
 * under the lake) holds each record once after every commit.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { UnitContext } from '../../core/component.js';
import { joinKey, openPlace, type Place } from '../../core/place/index.js';
import type { SluiceRecord } from '../../core/record.js';
import { startS3Server, type RunningS3Server } from '../../testing/s3-server.js';
import { compareLakeIds, lakeIdCounts } from '../../testing/lake-oracle.js';
import type { FilesSinkConfig } from './config.js';
import {
  baseName,
  classPartOf,
  compactedMetadata,
  compactedNameOf,
  decideForCompacted,
  pendingNameOf,
  readCompactedManifest,
  sha256OfFile,
  withLakeFolderLock,
  type CompactedInput,
} from './compacted-file.js';
import { factsOf, openCompactionDb, writeCompactedFile } from './compacted-rewrite.js';
import { createFilesSink } from './index.js';

const FOLDER = 'region=eu-west-1/accountId=111122223333/eventDay=20240501';
const T0 = Date.UTC(2024, 4, 1, 10);

/** OCSF-shaped network activity of one object version (`prefix`), `count` rows, `bytesOf(i)` bytes each. */
function records(prefix: string, count: number, bytesOf: (i: number) => number = (i) => 100 + i): SluiceRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${i + 1}`,
    origin: { object: `s3://logs/${prefix}.log.gz`, line: i + 2 },
    time: T0 + i * 1000,
    fields: {
      class_uid: 4001,
      time: T0 + i * 1000,
      cloud: { region: 'eu-west-1', account: { uid: '111122223333' } },
      src_endpoint: { ip: `10.0.0.${i % 7}`, port: 40_000 + i },
      dst_endpoint: { ip: `10.0.1.${i % 5}`, port: 443 },
      traffic: { bytes: bytesOf(i) },
    },
  }));
}

function unitOf(name: string, prefix: string): UnitContext {
  // The fallback id prefixes of a unit come from its objects; these tests list them with ids of their own.
  return { id: name, outputStem: `${name}-0a1b2c3d`, objects: [{ uri: `s3://logs/${prefix}.log.gz`, key: `${prefix}.log.gz`, etag: prefix }] };
}

function sinkConfig(location: string, s3?: RunningS3Server): FilesSinkConfig {
  return {
    type: 'files', path: location, format: 'parquet', layout: 'security-lake', partition: 'day', targetSizeMb: 64,
    compression: 'gzip', gzipLevel: 3, parquetCompression: 'snappy', rowGroupRows: 65_536, schema: 'inferred', idField: '_id',
    ...(s3 ? { endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', accessKeyId: 'env:LAKE_TEST_KEY', secretAccessKey: 'env:LAKE_TEST_SECRET' } : {}),
  };
}

interface LakeUnderTest {
  location: string;
  place: Place;
  s3?: RunningS3Server;
  config: FilesSinkConfig;
}

async function commitUnit(lake: LakeUnderTest, unit: UnitContext, rows: SluiceRecord[]): Promise<string[]> {
  const sink = createFilesSink(lake.config);
  try {
    const writer = sink.openUnit(unit);
    await writer.write(rows);
    return (await writer.commit()).outputs;
  } finally {
    await sink.close?.();
  }
}

/** Compacts the folder as `sluice compact` does, in its simplest form (no earlier compacted file, no crash). */
async function compactFolder(lake: LakeUnderTest, work: string, options: { leavePending?: boolean } = {}): Promise<void> {
  const classTag = 'class4001';
  const entries = (await lake.place.list(FOLDER)).filter((e) => classPartOf(baseName(e.key))?.compacted === false);
  const db = await openCompactionDb({ threads: 1, spillDir: work });
  try {
    const inputs: CompactedInput[] = [];
    const files: string[] = [];
    for (const entry of entries) {
      const file = path.join(work, baseName(entry.key));
      await lake.place.download(entry.key, file);
      files.push(file);
      inputs.push({ name: baseName(entry.key), bytes: entry.size, sha256: await sha256OfFile(file), idPrefixes: (await factsOf(db.connection, file)).idPrefixes! });
    }
    const staged = await lake.place.stage(joinKey(FOLDER, pendingNameOf(classTag)));
    await writeCompactedFile(db.connection, { sources: files.map((file) => ({ file })), out: staged.localPath, metadata: compactedMetadata(inputs, 1024), rowGroupRows: 1024, where: FOLDER });
    await staged.seal();
    await staged.publish();
    if (options.leavePending) {
      // A crash after the pending file is durable and the first input is gone.
      await lake.place.remove(entries[0]!.key);
      return;
    }
    for (const entry of entries) await lake.place.remove(entry.key);
    await lake.place.move(joinKey(FOLDER, pendingNameOf(classTag)), joinKey(FOLDER, compactedNameOf(classTag)));
  } finally {
    db.close();
  }
}

async function assertEachOnce(lake: LakeUnderTest, expected: SluiceRecord[]): Promise<void> {
  const seen = await lakeIdCounts(lake.location, lake.s3 ? { endpoint: lake.s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: lake.s3.credentials } : undefined);
  const verdict = compareLakeIds(new Set(expected.map((r) => r.id)), seen);
  assert.deepEqual({ doubled: verdict.doubled.length, missing: verdict.missing.length, unexpected: verdict.unexpected.length }, { doubled: 0, missing: 0, unexpected: 0 });
}

async function names(lake: LakeUnderTest): Promise<string[]> {
  return (await lake.place.list(FOLDER)).map((e) => baseName(e.key));
}

const compacted = compactedNameOf('class4001');

describe('decideForCompacted', () => {
  const listed = [
    { name: 'a-1-class4001-0000.parquet', bytes: 10, sha256: 'x', idPrefixes: ['pa'] },
    { name: 'a-1-class4001-0001.parquet', bytes: 10, sha256: 'y', idPrefixes: ['pa'] },
    { name: 'b-2-class4001-0000.parquet', bytes: 10, sha256: 'z', idPrefixes: ['pb'] },
  ];
  it('publishes parts of a unit the compacted file holds nothing of', () => {
    assert.deepEqual(decideForCompacted(listed, 'c-3', [{ name: 'c-3-class4001-0000.parquet', sha256: 'q' }]), { kind: 'publish' });
  });
  it('publishes nothing when every part is listed with its sha256, and replaces on any difference', () => {
    const same = [{ name: 'a-1-class4001-0000.parquet', sha256: 'x' }, { name: 'a-1-class4001-0001.parquet', sha256: 'y' }];
    assert.deepEqual(decideForCompacted(listed, 'a-1', same), { kind: 'already-inside' });
    for (const parts of [[same[0]!], [same[0]!, { ...same[1]!, sha256: 'other' }], [...same, { name: 'a-1-class4001-0002.parquet', sha256: 'w' }], []]) {
      assert.deepEqual(decideForCompacted(listed, 'a-1', parts), { kind: 'replace', drop: listed.slice(0, 2) });
    }
  });
  it('replaces inputs listed without sha256 (compacted by an older version)', () => {
    const legacy = [{ name: 'a-1-class4001-0000.parquet', bytes: 10 }];
    assert.deepEqual(decideForCompacted(legacy, 'a-1', [{ name: 'a-1-class4001-0000.parquet', sha256: 'x' }]), { kind: 'replace', drop: legacy });
  });
});

function sinkSuite(name: string, open: () => Promise<LakeUnderTest>) {
  describe(`files sink into a compacted folder: ${name}`, () => {
    let work: string;
    before(async () => {
      work = await mkdtemp(path.join(os.tmpdir(), 'sluice-compacted-sink-'));
    });
    after(() => rm(work, { recursive: true, force: true }));

    it('a re-run whose parts the compacted file holds publishes nothing and names the compacted file', async () => {
      const lake = await open();
      const a = records('aaaaaaaaaaaaaaaa', 300);
      const b = records('bbbbbbbbbbbbbbbb', 200);
      await commitUnit(lake, unitOf('a', 'aaaaaaaaaaaaaaaa'), a);
      await commitUnit(lake, unitOf('b', 'bbbbbbbbbbbbbbbb'), b);
      await compactFolder(lake, work);
      const before = await lake.place.read(joinKey(FOLDER, compacted));

      const outputs = await commitUnit(lake, unitOf('a', 'aaaaaaaaaaaaaaaa'), a);

      assert.deepEqual(await names(lake), [compacted]);
      assert.equal(outputs.length, 1);
      assert.match(outputs[0]!, /sluice-compacted-class4001-0000\.parquet/);
      assert.ok((await lake.place.read(joinKey(FOLDER, compacted)))!.equals(before!), 'the compacted file is untouched');
      await assertEachOnce(lake, [...a, ...b]);
    });

    it('a re-run with other rows (the object was replaced) takes its old rows out of the compacted file first', async () => {
      const lake = await open();
      const b = records('bbbbbbbbbbbbbbbb', 200);
      await commitUnit(lake, unitOf('a', 'aaaaaaaaaaaaaaaa'), records('aaaaaaaaaaaaaaaa', 300));
      await commitUnit(lake, unitOf('b', 'bbbbbbbbbbbbbbbb'), b);
      await compactFolder(lake, work);
      const replaced = records('cccccccccccccccc', 250, () => 7);

      await commitUnit(lake, unitOf('a', 'cccccccccccccccc'), replaced);

      assert.deepEqual(await names(lake), ['a-0a1b2c3d-class4001-0000.parquet', compacted]);
      const manifest = await readCompactedManifest(lake.place, joinKey(FOLDER, compacted), (await lake.place.list(FOLDER)).find((e) => baseName(e.key) === compacted)!.size);
      assert.deepEqual(manifest.inputs.map((e) => e.name), ['b-0a1b2c3d-class4001-0000.parquet']);
      assert.equal(manifest.rows, 200);
      await assertEachOnce(lake, [...replaced, ...b]);
    });

    it('a unit new to the folder publishes its parts beside the compacted file', async () => {
      const lake = await open();
      const a = records('aaaaaaaaaaaaaaaa', 100);
      const d = records('dddddddddddddddd', 50);
      await commitUnit(lake, unitOf('a', 'aaaaaaaaaaaaaaaa'), a);
      await compactFolder(lake, work);
      await commitUnit(lake, unitOf('d', 'dddddddddddddddd'), d);
      assert.deepEqual(await names(lake), ['d-0a1b2c3d-class4001-0000.parquet', compacted]);
      await assertEachOnce(lake, [...a, ...d]);
    });

    it('units replacing their rows of one compacted file at the same time take turns', async () => {
      const lake = await open();
      const prefixes = ['1111111111111111', '2222222222222222', '3333333333333333', '4444444444444444'];
      for (const [i, p] of prefixes.entries()) await commitUnit(lake, unitOf(`u${i}`, p), records(p, 120));
      await compactFolder(lake, work);
      const next = prefixes.map((p) => records(`${p.slice(0, 8)}ffffffff`, 90, () => 1));

      await Promise.all(prefixes.map((_, i) => commitUnit(lake, unitOf(`u${i}`, `${prefixes[i]!.slice(0, 8)}ffffffff`), next[i]!)));

      assert.deepEqual(await names(lake), prefixes.map((_, i) => `u${i}-0a1b2c3d-class4001-0000.parquet`), 'every unit took its rows back out; the emptied compacted file is gone');
      await assertEachOnce(lake, next.flat());
    });

    it('a compaction a crash interrupted is finished by the next commit into the folder', async () => {
      const lake = await open();
      const a = records('aaaaaaaaaaaaaaaa', 100);
      const b = records('bbbbbbbbbbbbbbbb', 100);
      const d = records('dddddddddddddddd', 10);
      await commitUnit(lake, unitOf('a', 'aaaaaaaaaaaaaaaa'), a);
      await commitUnit(lake, unitOf('b', 'bbbbbbbbbbbbbbbb'), b);
      await compactFolder(lake, work, { leavePending: true });
      // Until then a reader misses the deleted input's rows, and sees none twice.
      const during = compareLakeIds(new Set([...a, ...b].map((r) => r.id)), await lakeIdCounts(lake.location, lake.s3 ? { endpoint: lake.s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: lake.s3.credentials } : undefined));
      assert.deepEqual([during.doubled.length, during.missing.length], [0, 100]);

      await commitUnit(lake, unitOf('d', 'dddddddddddddddd'), d);

      assert.deepEqual(await names(lake), ['d-0a1b2c3d-class4001-0000.parquet', compacted]);
      await assertEachOnce(lake, [...a, ...b, ...d]);
    });
  });
}

describe('compacted lake folders', () => {
  let s3: RunningS3Server;
  let dir: string;
  let n = 0;
  before(async () => {
    s3 = await startS3Server({ buckets: ['lake'] });
    process.env.LAKE_TEST_KEY = s3.credentials.accessKeyId;
    process.env.LAKE_TEST_SECRET = s3.credentials.secretAccessKey;
    dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-compacted-lakes-'));
  });
  after(async () => {
    await s3.stop();
    await rm(dir, { recursive: true, force: true });
  });

  sinkSuite('local folder', async () => {
    const location = path.join(dir, `lake-${++n}`);
    return { location, place: openPlace(location), config: sinkConfig(location) };
  });
  sinkSuite('S3 prefix', async () => {
    const location = `s3://lake/run-${++n}/`;
    return { location, s3, place: openPlace(location, { endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: s3.credentials }), config: sinkConfig(location, s3) };
  });

  describe('the folder lock', () => {
    it('never lets two holders in at once', async () => {
      const place = openPlace(path.join(dir, `locks-${++n}`));
      let inside = 0;
      let most = 0;
      await Promise.all(Array.from({ length: 8 }, () => withLakeFolderLock(place, FOLDER, async () => {
        inside++;
        most = Math.max(most, inside);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inside--;
      })));
      assert.equal(most, 1);
      assert.deepEqual(await place.list(FOLDER), [], 'released');
    });

    it('breaks the lock of a process that is gone at once, and an expired one', async () => {
      const place = openPlace(path.join(dir, `locks-${++n}`));
      const key = joinKey(FOLDER, '.sluice-compacted.lock');
      await place.create(key, Buffer.from(JSON.stringify({ owner: `${os.hostname()}:999999999:0:dead`, expiresAt: Date.now() + 3_600_000 })));
      const started = Date.now();
      await withLakeFolderLock(place, FOLDER, async () => undefined, { maxWaitMs: 5000 });
      assert.ok(Date.now() - started < 1000);
      await place.create(key, Buffer.from(JSON.stringify({ owner: 'elsewhere:1:0:x', expiresAt: Date.now() - 1 })));
      await withLakeFolderLock(place, FOLDER, async () => undefined, { maxWaitMs: 5000 });
      await place.create(key, Buffer.from(JSON.stringify({ owner: 'elsewhere:1:0:y', expiresAt: Date.now() + 3_600_000 })));
      await assert.rejects(withLakeFolderLock(place, FOLDER, async () => undefined, { maxWaitMs: 100 }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'LAKE_FOLDER_LOCKED');
        assert.match(err.message, /elsewhere:1:0:y/);
        return true;
      });
    });
  });
});
