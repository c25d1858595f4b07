/**
 * The esbuild bundle as Lambda would run it: built by `bundleLambdaHandlersSync` (what the CDK
 * construct ships), loaded by a fresh `node` from its folder, invoked with a real SQS event against
 * an S3-protocol server, dead letters going to S3 as a deployment must have them. Catches what
 * in-process tests cannot: a missing `require` shim, a chunk not written, data files not found
 * from the bundle's location, a dependency that breaks bundled.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import * as esbuild from 'esbuild';
import { idCountsInOutputs } from '../testing/output-oracle.js';
import { startS3Server, type RunningS3Server } from '../testing/s3-server.js';
import { bundleLambdaHandlersSync } from './bundle.js';
import { readFixtureJson, VPCFLOW_OBJECT, VPCFLOW_RECORDS } from '../testing/lambda-test-world.js';

const run = promisify(execFile);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-bundle-test-'));
const bundleDir = path.join(tmp, 'bundle');
let s3: RunningS3Server;
let inputs: string[];

before(async () => {
  const metafile = bundleLambdaHandlersSync(esbuild, bundleDir, { sqs: 'sqs', cwl: 'cwl', 'map-item': 'map-item' });
  inputs = Object.keys(metafile?.inputs ?? {});
  s3 = await startS3Server({ buckets: ['bundle-logs', 'bundle-dead-letters'] });
});
after(async () => {
  await s3?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** The `runtime` block of a bundled pipeline: dead letters under s3://bundle-dead-letters/<prefix>/ on the test server. */
const runtimeYaml = (prefix: string) =>
  `runtime:\n  deadLetters: s3://bundle-dead-letters/${prefix}/\n  s3:\n    endpoint: ${s3.endpoint}\n    forcePathStyle: true\n    accessKeyId: env:BUNDLE_S3_KEY\n    secretAccessKey: env:BUNDLE_S3_SECRET\n`;
const s3Env = () => ({ BUNDLE_S3_KEY: s3.credentials.accessKeyId, BUNDLE_S3_SECRET: s3.credentials.secretAccessKey });

/** Every line of every object under the prefix, parsed. */
async function deadLettersUnder(prefix: string): Promise<Array<Record<string, unknown>>> {
  const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: 'bundle-dead-letters', Prefix: `${prefix}/` }));
  const letters: Array<Record<string, unknown>> = [];
  for (const { Key } of listed.Contents ?? []) {
    const text = await (await s3.client.send(new GetObjectCommand({ Bucket: 'bundle-dead-letters', Key }))).Body!.transformToString('utf8');
    letters.push(...text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>));
  }
  return letters;
}

/** Runs `handler(event)` from the bundle in a fresh node, returning its JSON result. */
async function invokeBundled(file: string, handler: string, event: unknown, env: Record<string, string>): Promise<unknown> {
  const url = new URL(`file://${path.join(bundleDir, file)}`).href;
  const code = `const m = await import(${JSON.stringify(url)}); const out = await m.${handler}(${JSON.stringify(event)}, { getRemainingTimeInMillis: () => 60000 }); process.stdout.write(JSON.stringify(out));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], { cwd: bundleDir, env: { ...process.env, SLUICE_LOG_LEVEL: 'silent', ...env } });
  return JSON.parse(stdout) as unknown;
}

describe('Lambda bundle', () => {
  it('leaves the CDK, the CLI, DuckDB and the SQLite addon out', () => {
    assert.ok(inputs.some((f) => f.includes('src/lambda/sqs')));
    for (const banned of ['aws-cdk-lib', 'src/cli/', '@duckdb', 'better-sqlite3/lib', 'src/runtime/ledger/sqlite', 'src/runtime/ledger/postgres']) {
      assert.ok(!inputs.some((f) => f.includes(banned)), `${banned} is not bundled`);
    }
  });

  it('runs sqsHandler from the bundle against S3: a notified object lands in the sink, its garbage line in S3 dead letters', async () => {
    const key = 'AWSLogs/123456789010/vpcflowlogs/us-east-1/2018/06/20/flow.log.gz';
    const lines = gunzipSync(VPCFLOW_OBJECT).toString('utf8').split('\n');
    lines.splice(1, 0, 'no flow log line');
    await s3.putObject('bundle-logs', key, gzipSync(lines.join('\n')));
    const out = path.join(tmp, 'out');
    writeFileSync(
      path.join(bundleDir, 'pipeline.yaml'),
      `name: bundled\nsource:\n  uri: s3://bundle-logs/AWSLogs/\n  endpoint: ${s3.endpoint}\n  forcePathStyle: true\n  accessKeyId: env:BUNDLE_S3_KEY\n  secretAccessKey: env:BUNDLE_S3_SECRET\nformat: vpcflow\nsinks:\n  - type: files\n    path: ${out}\n${runtimeYaml('sqs')}`,
    );
    const event = readFixtureJson('constructed', 'lambda-sqs-event.sns-envelope-wrapping-s3-event.json') as { Records: Array<{ body: string; messageId: string }> };
    const body = JSON.stringify({ Records: [{ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'bundle-logs' }, object: { key, size: VPCFLOW_OBJECT.length } } }] });
    event.Records = [{ ...event.Records[0]!, body }, { ...event.Records[0]!, messageId: 'not-json', body: 'hello' }];

    const response = await invokeBundled('sqs.mjs', 'sqsHandler', event, { SLUICE_PIPELINE: 'pipeline.yaml', ...s3Env() });

    assert.deepEqual(response, { batchItemFailures: [{ itemIdentifier: 'not-json' }] });
    assert.equal(idCountsInOutputs(out).size, VPCFLOW_RECORDS);
    assert.deepEqual((await deadLettersUnder('sqs')).map((l) => [l.object, l.line, l.raw]), [[`s3://bundle-logs/${key}`, 2, 'no flow log line']]);
  });

  it('runs cwlHandler from the bundle on a Firehose transformation event', async () => {
    const out = path.join(tmp, 'cwl-out');
    writeFileSync(path.join(bundleDir, 'cwl.yaml'), `name: cwl\nsource:\n  uri: ${tmp}\nformat:\n  type: cwl\n  inner: vpcflow\nsinks:\n  - type: files\n    path: ${out}\n${runtimeYaml('cwl')}`);

    const response = (await invokeBundled('cwl.mjs', 'cwlHandler', readFixtureJson('constructed', 'firehose-transformation-event.cwlogs-subscription.json'), { SLUICE_PIPELINE: 'cwl.yaml', ...s3Env() })) as { records: Array<{ result: string }> };

    assert.deepEqual(response.records.map((r) => r.result), ['Ok', 'Dropped']);
  });

  it('refuses, from the bundle, a pipeline whose dead letters would stay in the container', async () => {
    writeFileSync(path.join(bundleDir, 'local.yaml'), `name: local\nsource:\n  uri: ${tmp}\nformat:\n  type: cwl\n  inner: vpcflow\nsinks:\n  - type: files\n    path: ${path.join(tmp, 'local-out')}\n`);

    await assert.rejects(
      invokeBundled('cwl.mjs', 'cwlHandler', readFixtureJson('constructed', 'firehose-transformation-event.cwlogs-subscription.json'), { SLUICE_PIPELINE: 'local.yaml' }),
      (err: unknown) => String((err as { stderr?: string }).stderr).includes(`dead letters would go to ${path.join(tmp, 'local-out', '_rejected')} (the default: runtime.deadLetters is not set), which does not survive the container: set runtime.deadLetters to an s3://bucket/prefix/`),
    );
  });
});
