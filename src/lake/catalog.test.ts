import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { SluiceError } from '../core/errors.js';
import { discoverLakeTables, openLake, type Lake } from './catalog.js';
import { investigate, networkActivitySpan, parseHost, parseWindowBound, peersToCsv } from './investigate.js';
import { startS3Server, type RunningS3Server } from '../testing/s3-server.js';
import { openPlace } from '../core/place/index.js';

/**
 * A hand-made lake with known answers: OCSF 4001 files in Security Lake folders (two days, an
 * account id with a leading zero), an API Activity file, and flat flows in date folders.
 */
const root = mkdtempSync(path.join(os.tmpdir(), 'sluice-lake-'));

const EP = (ip: string, port: number, name: string | null, eni: string | null, instance: string | null) =>
  `{'ip': '${ip}', 'port': ${port}, 'name': ${name ? `'${name}'` : 'NULL'}, 'interface_uid': ${eni ? `'${eni}'` : 'NULL'}, 'instance_uid': ${instance ? `'${instance}'` : 'NULL'}}`;
const HOST = ['10.0.1.12', 49152, 'web-1', 'eni-0aaaaaaaaaaaaaaa1', 'i-0aaaaaaaaaaaaaaa1'] as const;
const DB = ['10.0.2.40', 5432, 'orders-db', 'eni-0bbbbbbbbbbbbbbb2', 'i-0bbbbbbbbbbbbbbb2'] as const;
const SCANNER = ['203.0.113.9', 40000, null, null, null] as const;

function flow(time: string, src: readonly [string, number, string | null, string | null, string | null], dst: readonly [string, number, string | null, string | null, string | null], bytes: number, action: string, srcNet: string | null, dstNet: string | null): string {
  return `SELECT TIMESTAMPTZ '${time}' AS time, ${EP(...src)} AS src_endpoint, ${EP(...dst)} AS dst_endpoint, {'bytes': ${bytes}::BIGINT, 'packets': 1::BIGINT} AS traffic, '${action}' AS action, {'src_network_name': ${srcNet ? `'${srcNet}'` : 'NULL'}, 'dst_network_name': ${dstNet ? `'${dstNet}'` : 'NULL'}} AS unmapped, 4001 AS class_uid`;
}

async function copy(connection: Awaited<ReturnType<DuckDBInstance['connect']>>, sql: string, relative: string): Promise<void> {
  const file = path.join(root, relative);
  mkdirSync(path.dirname(file), { recursive: true });
  await connection.run(`COPY (${sql}) TO '${file}' (FORMAT parquet)`);
}

describe('the lake catalog and the investigation queries', () => {
  let lake: Lake;
  before(async () => {
    const duck = await DuckDBInstance.create();
    const c = await duck.connect();
    const day1 = 'lake/region=eu-west-1/accountId=012345678901/eventDay=20240326';
    await copy(
      c,
      [
        flow('2024-03-26 03:01:00+00', HOST, DB, 1000, 'Allowed', 'prod/web', 'prod/db'),
        flow('2024-03-26 03:02:00+00', [DB[0], 5432, DB[2], DB[3], DB[4]], [HOST[0], 49152, HOST[2], HOST[3], HOST[4]], 4000, 'Allowed', 'prod/db', 'prod/web'),
        flow('2024-03-26 03:15:00+00', SCANNER, [HOST[0], 22, HOST[2], HOST[3], HOST[4]], 60, 'Denied', 'internet', 'prod/web'),
        flow('2024-03-26 03:16:00+00', [DB[0], 40001, DB[2], DB[3], DB[4]], ['10.0.3.7', 22, 'bastion', 'eni-0ccccccccccccccc3', 'i-0ccccccccccccccc3'], 77, 'Allowed', 'prod/db', 'prod/admin'),
      ].join(' UNION ALL '),
      `${day1}/obj-a-1111-class4001-0000.parquet`,
    );
    await copy(c, flow('2024-03-27 09:00:00+00', HOST, DB, 5, 'Allowed', 'prod/web', 'prod/db'), 'lake/region=eu-west-1/accountId=012345678901/eventDay=20240327/obj-b-2222-class4001-0000.parquet');
    await copy(c, `SELECT 'GetObject' AS api_operation, 6003 AS class_uid`, `${day1}/trail-3333-class6003-0000.parquet`);
    await copy(c, `SELECT '10.0.1.12' AS srcaddr, 3 AS n UNION ALL SELECT '10.0.2.40', 4`, 'flows/2024/03/26/flat-0000.parquet');
    c.closeSync();
    duck.closeSync();
    lake = await openLake(root);
  });
  after(() => {
    lake?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('names views after OCSF classes and source folders, with partition columns kept as text', async () => {
    assert.deepEqual(
      discoverLakeTables(root).map((t) => [t.name, t.classUid, t.files, t.hive]),
      [
        ['api_activity', 6003, 1, true],
        ['flows', null, 1, false],
        ['network_activity', 4001, 2, true],
      ],
    );
    const rows = (await lake.connection.runAndReadAll('SELECT DISTINCT accountId, count(*) OVER () AS n FROM network_activity')).getRowObjectsJson();
    assert.deepEqual(rows, [{ accountId: '012345678901', n: '5' }]);
    const flows = (await lake.connection.runAndReadAll('SELECT sum(n) AS n FROM flows')).getRowObjectsJson();
    assert.deepEqual(flows, [{ n: '7' }]);
  });

  it('a lake folder that does not exist yet is an empty catalog', () => {
    assert.deepEqual(discoverLakeTables(path.join(root, 'nothing-here')), []);
  });

  it('investigate: peers both ways with names, ports, bytes and accept/reject; fan-out per 10 minutes; the window applies', async () => {
    const result = await investigate(lake, { host: '10.0.1.12', from: new Date('2024-03-26T00:00:00Z'), to: new Date('2024-03-27T00:00:00Z') });
    assert.deepEqual(result.host, { ips: ['10.0.1.12'], name: 'web-1', instanceId: 'i-0aaaaaaaaaaaaaaa1', interfaceIds: ['eni-0aaaaaaaaaaaaaaa1'] });
    assert.deepEqual(
      result.peers.map((p) => [p.ip, p.name, p.ports, p.direction, p.flows, p.bytes, p.accepted, p.rejected]),
      [
        ['10.0.2.40', 'orders-db', [5432], 'both', 2, 5000, 2, 0],
        ['203.0.113.9', 'internet', [22], 'in', 1, 60, 0, 1],
      ],
    );
    assert.deepEqual(result.fanout, [
      { start: '2024-03-26T03:00:00Z', peers: 1, flows: 2 },
      { start: '2024-03-26T03:10:00Z', peers: 1, flows: 1 },
    ]);
    // The same host by its instance id; and the second hop from the database reaches the bastion.
    const byInstance = await investigate(lake, { host: 'i-0aaaaaaaaaaaaaaa1', from: new Date('2024-03-26T00:00:00Z'), to: new Date('2024-03-28T00:00:00Z') });
    assert.equal(byInstance.flows, 4);
    const hop = await investigate(lake, { host: '10.0.2.40', from: new Date('2024-03-26T00:00:00Z'), to: new Date('2024-03-27T00:00:00Z') });
    assert.deepEqual(hop.peers.map((p) => p.name), ['web-1', 'bastion']);
  });

  it('refuses hosts that are not an address or an AWS id, and empty windows', async () => {
    for (const bad of ["10.0.1.12' OR '1'='1", '10.0.1.12; DROP TABLE x', '', 'eni-xyz', 'i-', '*']) {
      assert.throws(() => parseHost(bad), (err: unknown) => err instanceof SluiceError && err.code === 'BAD_HOST', bad);
    }
    assert.equal(parseHost(' fd00::1 '), 'fd00::1');
    await assert.rejects(investigate(lake, { host: '10.0.1.12', from: new Date('2024-03-27'), to: new Date('2024-03-26') }), /window is empty/);
    assert.equal(parseWindowBound('2024-03-26T03:00', 'from').toISOString(), '2024-03-26T03:00:00.000Z');
    assert.throws(() => parseWindowBound('yesterday', 'from'), /not a date/);
  });

  it('CSV export quotes per RFC 4180 and defuses spreadsheet formulas in names', () => {
    const csv = peersToCsv([
      { ip: '10.0.0.1', name: '=HYPERLINK("http://x")', instanceId: null, interfaceId: null, network: 'a,b', ports: [80, 443], direction: 'out', flows: 1, bytes: 2, accepted: 1, rejected: 0, firstSeen: 't1', lastSeen: 't2' },
    ]);
    assert.equal(csv.split('\r\n')[1], `10.0.0.1,"'=HYPERLINK(""http://x"")",,,"a,b",80 443,out,1,2,1,0,t1,t2`);
  });

  describe('an S3 lake, read through its local mirror', () => {
    let s3: RunningS3Server;
    const location = 's3://lake-catalog/security-lake/';
    const cacheRoot = mkdtempSync(path.join(os.tmpdir(), 'sluice-lake-mirror-'));
    const s3Options = () => ({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: s3.credentials });
    const localFiles = (dir: string, rel = ''): string[] =>
      readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? localFiles(dir, path.posix.join(rel, e.name)) : [path.posix.join(rel, e.name)]));
    before(async () => {
      s3 = await startS3Server({ buckets: ['lake-catalog'] });
      for (const key of localFiles(root)) await s3.putObject('lake-catalog', `security-lake/${key}`, readFileSync(path.join(root, key)));
    });
    after(async () => {
      await s3.stop();
      rmSync(cacheRoot, { recursive: true, force: true });
    });

    it('on demand: the tables and days come from the listing; an investigation downloads its window\'s days only and answers as the local lake does', async () => {
      const cacheDir = path.join(cacheRoot, 'on-demand');
      const remote = await openLake(location, { s3: s3Options(), cacheDir, download: 'on-demand' });
      try {
        assert.equal(remote.remote, true);
        assert.equal(remote.root, location);
        assert.deepEqual(remote.tables().map((t) => [t.name, t.files]), [['api_activity', 1], ['flows', 1], ['network_activity', 2]]);
        assert.equal(remote.hasView('network_activity'), false, 'nothing downloaded yet');
        assert.deepEqual(remote.days(), ['20240326', '20240327']);
        assert.deepEqual(await networkActivitySpan(remote), { from: new Date('2024-03-26T00:00:00Z'), to: new Date('2024-03-28T00:00:00Z') });

        const window = { host: '10.0.1.12', from: new Date('2024-03-26T00:00:00Z'), to: new Date('2024-03-26T23:59:00Z') };
        assert.deepEqual(await investigate(remote, window), await investigate(lake, window));
        const mirrored = localFiles(path.join(cacheDir, 'files'));
        assert.ok(mirrored.some((f) => f.includes('eventDay=20240326')));
        assert.ok(!mirrored.some((f) => f.includes('eventDay=20240327')), `only the window's day is downloaded: ${mirrored.join(', ')}`);
      } finally {
        remote.close();
      }
    });

    it('all at once: the views count what the local lake counts, and a refresh follows replaced and deleted objects', async () => {
      const cacheDir = path.join(cacheRoot, 'all');
      const remote = await openLake(location, { s3: s3Options(), cacheDir });
      try {
        const count = async (l: Lake, view: string) => (await l.connection.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM ${view}`)).getRowObjectsJson()[0]!.n;
        for (const view of ['network_activity', 'api_activity', 'flows']) assert.equal(await count(remote, view), await count(lake, view), view);
        // The lake changes: day 27 goes, day 26's file is replaced by a copy of day 27's one row.
        const day26 = 'security-lake/lake/region=eu-west-1/accountId=012345678901/eventDay=20240326/obj-a-1111-class4001-0000.parquet';
        const day27 = 'lake/region=eu-west-1/accountId=012345678901/eventDay=20240327/obj-b-2222-class4001-0000.parquet';
        await s3.putObject('lake-catalog', day26, readFileSync(path.join(root, day27)));
        const place = openPlace(location, s3Options());
        await place.remove(day27);
        await place.close();
        await remote.refresh();
        assert.equal(await count(remote, 'network_activity'), '1');
        assert.ok(!existsSync(path.join(cacheDir, 'files', day27)), 'the deleted object left the mirror');
      } finally {
        remote.close();
      }
    });
  });
});
