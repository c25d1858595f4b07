/**
 * Seed 002 end to end: a generated organization trail (2 accounts × 2 regions × 3 days of small
 * files, digests and Insights files beside them) in an S3-protocol server, compacted
 * through the real AWS SDK into daily gzip NDJSON and monthly Parquet, with a truncated gzip, a
 * file of invalid JSON and a file with non-UTF-8 bytes in one day. Checks the counts (in = out +
 * duplicates + rejected), the skipped files, byte-identical re-runs, and that DuckDB reads the
 * Parquet with the seed's schema.
 *
 * Size: 80 files a day here (quick tier); cloudtrail-compaction.long.test.ts runs the same with
 * 1,200 a day (3,600 files), through SLUICE_CT_FILES_PER_DAY.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DuckDBInstance } from '@duckdb/node-api';
import { parsePipeline, type PipelineConfig } from '../src/pipeline/config.js';
import { generateCloudTrailOrg, type GeneratedTrail } from '../src/demo/cloudtrail-generator.js';
import { parseWindow } from '../src/core/key-dates.js';
import { runPipeline, type RunReport } from '../src/runtime/run-pipeline.js';
import { startS3Server, type RunningS3Server } from '../src/testing/s3-server.js';

const ORG = 'o-x7q8b22ufe';
const ACCOUNTS = ['111122223333', '444455556666'];
const REGIONS = ['eu-west-1', 'us-east-1'];
const DAYS = ['2024-03-01', '2024-03-02', '2024-03-03'];
const BAD_DAY = `AWSLogs/${ORG}/111122223333/CloudTrail/us-east-1/2024/03/02/`;
const TRUNCATED_KEY = `${BAD_DAY}111122223333_CloudTrail_us-east-1_20240302T1201Z_TRUNCATEDgzip0001.json.gz`;
const BAD_JSON_KEY = `${BAD_DAY}111122223333_CloudTrail_us-east-1_20240302T1202Z_BADjson000000001.json.gz`;
const LATIN1_KEY = `${BAD_DAY}111122223333_CloudTrail_us-east-1_20240302T1203Z_LATIN1bytes00001.json.gz`;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-ct-'));
let server: RunningS3Server;
let trail: GeneratedTrail;

/** A valid event whose userAgent holds a lone 0xE9 byte (Latin-1 é): not UTF-8. */
function latin1Object(): Buffer {
  const event = {
    eventVersion: '1.09', eventTime: '2024-03-02T12:02:30Z', eventSource: 'ec2.amazonaws.com', eventName: 'DescribeRegions',
    awsRegion: 'us-east-1', sourceIPAddress: '198.51.100.9', userAgent: 'caf@', requestID: 'r-latin1', eventID: 'e-latin1-0001',
    readOnly: true, eventType: 'AwsApiCall', recipientAccountId: '111122223333', userIdentity: { type: 'Root', accountId: '111122223333' },
  };
  const text = Buffer.from(JSON.stringify({ Records: [event] }));
  text[text.indexOf('caf@') + 3] = 0xe9;
  return gzipSync(text);
}

before(async () => {
  const filesPerDay = Number(process.env.SLUICE_CT_FILES_PER_DAY ?? 80);
  trail = generateCloudTrailOrg({ seed: 7, organization: ORG, accounts: ACCOUNTS, regions: REGIONS, days: DAYS, filesPerDay, insightFilesPerDay: 1 });
  const whole = gzipSync(Buffer.from(JSON.stringify({ Records: [{ eventVersion: '1.09', eventTime: '2024-03-02T12:01:00Z', eventID: 'never-seen' }] })));
  server = await startS3Server({ buckets: ['org-trail'] });
  await server.seedObjects('org-trail', [
    ...trail.objects.map((o) => [o.key, o.body] as [string, Uint8Array]),
    [TRUNCATED_KEY, whole.subarray(0, Math.floor(whole.length / 2))],
    [BAD_JSON_KEY, gzipSync('{"Records": [ {"eventVersion": "1.09", "eventID": ')],
    [LATIN1_KEY, latin1Object()],
  ]);
  process.env.SLUICE_TEST_CT_KEY = server.credentials.accessKeyId;
  process.env.SLUICE_TEST_CT_SECRET = server.credentials.secretAccessKey;
});

after(async () => {
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function pipeline(out: string): PipelineConfig {
  return parsePipeline({
    name: 'ct-e2e',
    source: {
      uri: 's3://org-trail/AWSLogs/',
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      accessKeyId: 'env:SLUICE_TEST_CT_KEY',
      secretAccessKey: 'env:SLUICE_TEST_CT_SECRET',
      concurrency: 16,
    },
    format: 'cloudtrail',
    sinks: [
      { type: 'files', path: path.join(out, 'ct-daily'), format: 'ndjson', partition: 'day', targetSizeMb: 64 },
      { type: 'files', path: path.join(out, 'ct-monthly'), format: 'parquet', partition: 'month', schema: 'cloudtrail' },
    ],
    runtime: { state: path.join(out, 'state.db'), workers: 1, concurrency: 8, backoffMs: 5, maxAttempts: 2 },
  });
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out.sort();
}

function fingerprint(dir: string): Map<string, string> {
  return new Map(filesUnder(dir).map((f) => [path.relative(dir, f), createHash('sha256').update(readFileSync(f)).digest('hex')]));
}

describe('CloudTrail compaction from an S3-protocol server', () => {
  const out = path.join(tmp, 'out');
  const window = parseWindow('2024-03-01', '2024-03-31');
  let first: RunReport;

  it('compacts every day and the month, dropping duplicates and skipping the broken files with their reasons', async () => {
    // Prepare
    const goodEvents = trail.trailEvents + trail.insightEvents + 1; // + the Latin-1 event
    const expectedOut = goodEvents - trail.duplicates;
    const dayUnits = ACCOUNTS.length * REGIONS.length * DAYS.length * 2; // CloudTrail + CloudTrail-Insight
    const monthUnits = ACCOUNTS.length * REGIONS.length * 2;

    // Act
    first = await runPipeline(pipeline(out), { window });

    // Assess: units and counts of both steps
    assert.equal(first.units.total, dayUnits + monthUnits);
    assert.equal(first.units.done, dayUnits + monthUnits);
    assert.equal(first.units.dead, 0);
    const { day, month, skippedFiles } = first.partitions!;
    for (const step of [day, month]) {
      assert.equal(step.filesListed, trail.trailFiles + trail.insightFiles + 3, 'digest files are never listed as input');
      assert.equal(step.filesRead, step.filesListed);
      assert.equal(step.duplicates, trail.duplicates);
      assert.equal(step.recordsOut, expectedOut);
      assert.equal(step.records, expectedOut + trail.duplicates + 2, 'in = out + duplicates + rejected');
    }
    assert.ok(trail.duplicates > 0, 'the generator repeated some events');
    assert.equal(first.records.in, first.records.out + first.records.rejected + first.records.filtered);
    assert.equal(first.records.rejected, 4, 'two broken files, once per step');
    assert.equal(first.records.filtered, 2 * trail.duplicates);
    assert.deepEqual(
      skippedFiles.map((f) => [f.object, f.code]).sort(),
      [[`s3://org-trail/${BAD_JSON_KEY}`, 'CLOUDTRAIL_TRUNCATED'], [`s3://org-trail/${TRUNCATED_KEY}`, 'CORRUPT_GZIP']].sort(),
    );
    assert.match(skippedFiles.find((f) => f.code === 'CORRUPT_GZIP')!.reason, /truncated/);
    const deadLetters = filesUnder(first.deadLetters).map((f) => gunzipOrText(f)).join('\n');
    assert.ok(deadLetters.includes(TRUNCATED_KEY) && deadLetters.includes(BAD_JSON_KEY), 'dead letters name both broken files');
  });

  it('writes each day under yyyy/mm/dd/ with every event once, in key order', () => {
    // Prepare
    const daily = path.join(out, 'ct-daily');

    // Act
    const files = filesUnder(daily).filter((f) => f.endsWith('.ndjson.gz'));
    const events = files.flatMap((f) => gunzipSync(readFileSync(f)).toString('utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>));

    // Assess
    for (const f of files) assert.match(path.relative(daily, f), /^2024\/03\/0[123]\/\d{12}_[a-z0-9-]+(_insight)?_2024030[123]-[0-9a-f]{8}-0000\.ndjson\.gz$/);
    assert.equal(events.length, trail.trailEvents + trail.insightEvents + 1 - trail.duplicates);
    assert.equal(new Set(events.map((e) => e.eventID)).size, events.length, 'no eventID twice');
    const latin1 = events.find((e) => e.eventID === 'e-latin1-0001');
    assert.equal(latin1?.userAgent, 'caf\uFFFD', 'a non-UTF-8 byte reads as U+FFFD');
  });

  it('writes the month as Parquet with the CloudTrail schema, which DuckDB reads', async () => {
    // Prepare
    const duckdb = await DuckDBInstance.create();
    const connection = await duckdb.connect();
    const glob = `${path.join(out, 'ct-monthly')}/2024/03/*.parquet`;

    try {
      // Act
      const types = (await connection.runAndReadAll(`describe select * from read_parquet('${glob}')`)).getRowObjectsJson();
      const [row] = (
        await connection.runAndReadAll(
          `select count(*) as n, count(distinct eventID) as ids, epoch_ms(min(eventTime)) as first,
             count(*) filter (where json_extract_string(userIdentity, '$.accountId') = recipientAccountId) as own,
             count(errorCode) as errors, count(*) filter (where readOnly) as reads
           from read_parquet('${glob}')`,
        )
      ).getRowObjectsJson();

      // Assess
      const typeOf = new Map(types.map((t) => [t.column_name, t.column_type]));
      assert.match(String(typeOf.get('eventTime')), /^TIMESTAMP/);
      for (const c of ['eventID', 'requestID', 'sharedEventID', 'eventName', 'eventSource', 'eventVersion', 'awsRegion', 'sourceIPAddress', 'recipientAccountId', 'errorCode', 'errorMessage', 'userAgent', 'eventType']) {
        assert.equal(typeOf.get(c), 'VARCHAR', c);
      }
      // Nested parts are JSON text (Parquet's JSON logical type, which DuckDB reads as JSON).
      for (const c of ['userIdentity', 'requestParameters', 'responseElements', 'additionalEventData', 'resources']) {
        assert.equal(typeOf.get(c), 'JSON', c);
      }
      assert.equal(typeOf.get('readOnly'), 'BOOLEAN');
      const expected = trail.trailEvents + trail.insightEvents + 1 - trail.duplicates;
      assert.equal(row!.n, String(expected));
      assert.equal(row!.ids, String(expected));
      assert.ok(Number(row!.first) >= Date.UTC(2024, 2, 1) && Number(row!.first) < Date.UTC(2024, 2, 2), 'eventTime is a real timestamp');
      assert.equal(row!.own, String(trail.trailEvents - trail.duplicates + 1), 'userIdentity is JSON text (Insights events have none)');
      assert.ok(Number(row!.errors) > 0 && Number(row!.reads) > 0);
    } finally {
      connection.closeSync();
      duckdb.closeSync();
    }
  });

  it('re-runs to byte-identical outputs, and skips done partitions without --full-load', async () => {
    // Prepare
    const before = fingerprint(out);

    // Act
    const again = await runPipeline(pipeline(out), { window, fullLoad: true });
    const afterFull = fingerprint(out);
    const resumed = await runPipeline(pipeline(out), { window });

    // Assess
    assert.equal(again.units.done, first.units.total);
    for (const [file, hash] of before) {
      if (file.startsWith('state.db')) continue;
      assert.equal(afterFull.get(file), hash, `${file} changed on re-run`);
    }
    assert.deepEqual([...afterFull.keys()].filter((f) => !f.startsWith('state.db')), [...before.keys()].filter((f) => !f.startsWith('state.db')));
    assert.equal(resumed.units.done, 0);
    assert.equal(resumed.units.skipped, first.units.total);
  });
});

function gunzipOrText(file: string): string {
  const bytes = readFileSync(file);
  return bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8');
}
