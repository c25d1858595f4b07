/**
 * Outputs in S3, end to end through runPipeline and the in-process S3-protocol server: the
 * example pipeline of docs/outputs.md (flow logs in S3 -> OCSF -> Parquet in a Security Lake
 * custom-source prefix, dead letters in S3) gives exactly the rows the same pipeline writes to a
 * local folder; NDJSON re-runs rewrite the same keys with the same bytes; a garbage line is a
 * dead-letter object; no incomplete upload or spool object is left; S3 faults (503 SlowDown, a
 * dropped connection) lose and duplicate nothing; a bucket that does not exist fails the run up
 * front, naming the bucket and the AWS error code.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync, gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { parsePipeline, type PipelineConfig } from '../src/pipeline/config.js';
import { buildDemoInventory } from '../src/demo/inventory.js';
import { writeFlowLogObjects } from '../src/demo/flow-log-generator.js';
import { runPipeline } from '../src/runtime/run-pipeline.js';
import { startS3Server, type RunningS3Server, type S3Fault, type S3Request } from '../src/testing/s3-server.js';
import { useDuckDb } from '../src/testing/duckdb.js';
import { checkOutputPlaces } from '../src/cli/commands/validate.js';
import { listDeadLetters } from '../src/cli/commands/status.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-s3-outputs-'));
const { query } = useDuckDb();
let server: RunningS3Server;
let fault: ((r: S3Request) => S3Fault | undefined) | undefined;
let inputLines = 0;
const GARBAGE = 'this is not a flow log line';

before(async () => {
  server = await startS3Server({ buckets: ['flow-logs', 'security-lake', 'ndjson-out'], faults: (r) => fault?.(r) });
  const dir = path.join(tmp, 'gen');
  const written = await writeFlowLogObjects({ dir, inventory: buildDemoInventory(5), seed: 7, objects: 3, linesPerObject: 3000, start: new Date(Date.UTC(2024, 2, 26, 3)), format: 'v5' });
  for (const [i, file] of written.files.entries()) {
    let body = readFileSync(file);
    const text = gunzipSync(body).toString('utf8');
    inputLines += text.split('\n').filter((l) => l && !l.startsWith('version ')).length;
    // One planted garbage line in the first object: a dead letter, not a lost record.
    if (i === 0) body = gzipSync(`${text.trimEnd()}\n${GARBAGE}\n`);
    await server.putObject('flow-logs', path.relative(dir, file).split(path.sep).join('/'), body);
  }
  process.env.SLUICE_TEST_S3_KEY = server.credentials.accessKeyId;
  process.env.SLUICE_TEST_S3_SECRET = server.credentials.secretAccessKey;
});

after(async () => {
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const s3 = () => ({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, accessKeyId: 'env:SLUICE_TEST_S3_KEY', secretAccessKey: 'env:SLUICE_TEST_S3_SECRET' });

function lakePipeline(name: string, sinkPath: string, deadLetters: string): PipelineConfig {
  return parsePipeline({
    name,
    source: { uri: 's3://flow-logs/AWSLogs/', ...s3() },
    format: 'vpcflow',
    transforms: [{ type: 'ocsf', mapping: 'builtin:vpcflow' }],
    sinks: [{ type: 'files', path: sinkPath, format: 'parquet', layout: 'security-lake', ...(sinkPath.startsWith('s3://') ? s3() : {}) }],
    runtime: { state: path.join(tmp, `${name}.db`), deadLetters, workers: 1, concurrency: 4, backoffMs: 5 },
  });
}

async function listKeys(bucket: string, prefix = ''): Promise<Array<{ key: string; etag: string }>> {
  const out: Array<{ key: string; etag: string }> = [];
  let token: string | undefined;
  do {
    const page = await server.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) out.push({ key: o.Key!, etag: o.ETag! });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

async function getObject(bucket: string, key: string): Promise<Buffer> {
  const out = await server.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

/** Copies a prefix's objects into a local folder (same relative names), as a reader without httpfs would. */
async function download(bucket: string, prefix: string, dir: string): Promise<string[]> {
  const keys = (await listKeys(bucket, prefix)).map((o) => o.key);
  for (const key of keys) {
    const file = path.join(dir, key.slice(prefix.length));
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, await getObject(bucket, key));
  }
  return keys.map((k) => k.slice(prefix.length));
}

async function incompleteUploads(bucket: string): Promise<number> {
  return (await server.client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads?.length ?? 0;
}

describe('outputs in S3', () => {
  it('the example lake pipeline writes to S3 exactly the rows it writes to a local folder, dead letters included', async () => {
    // Prepare
    const local = path.join(tmp, 'local-lake');
    const toS3 = lakePipeline('vpc-to-s3-lake', 's3://security-lake/ext/sluice-vpc/1.0/', 's3://security-lake/sluice-dead-letters/');
    const toLocal = lakePipeline('vpc-to-local-lake', local, path.join(tmp, 'local-dead-letters'));

    // Act
    const s3Report = await runPipeline(toS3);
    const localReport = await runPipeline(toLocal);

    // Assess: both runs read every line; one garbage line rejected.
    for (const report of [s3Report, localReport]) {
      assert.equal(report.units.dead, 0);
      assert.equal(report.records.in, inputLines + 1);
      assert.equal(report.records.rejected, 1);
    }
    const lakeKeys = await download('security-lake', 'ext/sluice-vpc/1.0/', path.join(tmp, 's3-lake-copy'));
    assert.ok(lakeKeys.length > 0);
    for (const key of lakeKeys) assert.match(key, /^region=[^/]+\/accountId=\d+\/eventDay=\d{8}\/[^/]+-class4001-\d{4}\.parquet$/);
    const rows = async (dir: string) =>
      (await query(`SELECT _id, md5(to_json(t)::VARCHAR) AS h FROM read_parquet('${dir}/**/*.parquet', hive_partitioning = false) t ORDER BY _id`)).map((r) => `${r._id} ${r.h}`);
    const [s3Rows, localRows] = [await rows(path.join(tmp, 's3-lake-copy')), await rows(local)];
    assert.equal(s3Rows.length, inputLines, 'every input line once');
    assert.equal(new Set(s3Rows.map((r) => r.split(' ')[0])).size, inputLines, 'distinct ids = input');
    assert.deepEqual(s3Rows, localRows, 'the same rows, value for value');

    // The dead letter is an S3 object naming the object, the line and the reason.
    const letters = await listKeys('security-lake', 'sluice-dead-letters/');
    assert.equal(letters.length, 1);
    const letter = JSON.parse((await getObject('security-lake', letters[0]!.key)).toString('utf8').trim()) as { object: string; line: number; raw: string; reason: string };
    assert.match(letter.object, /^s3:\/\/flow-logs\//);
    assert.equal(letter.raw, GARBAGE);
    assert.ok(letter.line > 1 && letter.reason.length > 0);
    // `sluice status -c` lists them where they are.
    const listed = await listDeadLetters(toS3);
    assert.equal(listed.location, 's3://security-lake/sluice-dead-letters/');
    assert.deepEqual(listed.files.map((f) => f.uri), [`s3://security-lake/${letters[0]!.key}`]);
    assert.equal(await incompleteUploads('security-lake'), 0, 'no upload left incomplete');
    assert.deepEqual((await listKeys('security-lake')).filter((o) => /sluice-(spool|tmp|preflight)/.test(o.key)), [], 'no temp or probe object');
  });

  it('NDJSON to S3: a --full-load rewrites the same keys with the same bytes, and S3 faults lose or double nothing', async () => {
    // Prepare
    const config = parsePipeline({
      name: 'ndjson-to-s3',
      source: { uri: 's3://flow-logs/AWSLogs/', ...s3() },
      format: 'vpcflow',
      sinks: [{ type: 'files', path: 's3://ndjson-out/flows/', format: 'ndjson', ...s3() }],
      runtime: { state: path.join(tmp, 'ndjson.db'), deadLetters: 's3://ndjson-out/dead/', workers: 0, concurrency: 2, backoffMs: 5 },
    });
    const first = await runPipeline(config);
    const before = await listKeys('ndjson-out', 'flows/');

    // Act: a full load while S3 answers every third write 503 SlowDown and drops one connection.
    let writes = 0;
    let dropped = 0;
    fault = (r) => {
      if (r.bucket !== 'ndjson-out' || (r.method !== 'PUT' && r.method !== 'POST')) return undefined;
      writes += 1;
      if (dropped === 0 && writes === 2) return (dropped++, 'drop');
      return writes % 3 === 0 ? 'slowdown' : undefined;
    };
    let second;
    try {
      second = await runPipeline(config, { fullLoad: true });
    } finally {
      fault = undefined;
    }

    // Assess
    assert.equal(first.units.done, 3);
    assert.equal(second.units.done, 3);
    assert.equal(second.units.dead, 0);
    assert.ok(dropped === 1 && writes > 3, 'faults were injected');
    assert.deepEqual(await listKeys('ndjson-out', 'flows/'), before, 'same keys, same ETags (same bytes)');
    const ids = new Map<string, number>();
    for (const { key } of before) {
      for (const line of gunzipSync(await getObject('ndjson-out', key)).toString('utf8').split('\n')) {
        if (!line) continue;
        const id = (JSON.parse(line) as { _id: string })._id;
        ids.set(id, (ids.get(id) ?? 0) + 1);
      }
    }
    assert.equal(ids.size, inputLines);
    assert.ok([...ids.values()].every((n) => n === 1), 'each record once');
    assert.equal(await incompleteUploads('ndjson-out'), 0);
  });

  it('a bucket that does not exist fails the run up front, naming the bucket and the error code', async () => {
    const config = parsePipeline({
      name: 'no-bucket',
      source: { uri: 's3://flow-logs/AWSLogs/', ...s3() },
      format: 'vpcflow',
      sinks: [{ type: 'files', path: 's3://no-such-lake/x/', format: 'ndjson', ...s3() }],
      runtime: { state: path.join(tmp, 'no-bucket.db'), deadLetters: 's3://ndjson-out/dead-nb/', s3: s3(), workers: 0 },
    });
    await assert.rejects(runPipeline(config), (err: Error & { code?: string }) => {
      assert.match(err.message, /s3:\/\/no-such-lake\/x\//);
      assert.match(err.message, /NotFound|NoSuchBucket|404/);
      return true;
    });
    assert.equal((await listKeys('flow-logs')).length, 3, 'nothing was read or written: the run stopped before any unit');
    // `sluice validate` reports it the same way.
    const problems = await checkOutputPlaces(config, 'p.yaml');
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^p\.yaml: sinks\.0\.path: .*s3:\/\/no-such-lake\/x\/.*(NotFound|NoSuchBucket|404)/);
    const deadLettersMissing = parsePipeline({ ...config, sinks: [{ type: 'files', path: 's3://ndjson-out/ok/', format: 'ndjson', ...s3() }], runtime: { ...config.runtime, deadLetters: 's3://no-such-dead/letters/', s3: s3() } });
    assert.match((await checkOutputPlaces(deadLettersMissing, 'p.yaml'))[0]!, /runtime\.deadLetters: .*no-such-dead/);
  });
});
