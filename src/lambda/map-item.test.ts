/**
 * The Step Functions Distributed Map handler with items as the S3 ItemReader gives them, and the
 * pipeline loaded from an s3:// URI as SLUICE_PIPELINE allows.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { SluiceError } from '../core/errors.js';
import { idCountsInOutputs } from '../testing/output-oracle.js';
import { loadPipelineConfig, openLambdaPipeline } from './lambda-pipeline.js';
import { DEAD_LETTER_BUCKET, memoryLogger, roomyContext, startLambdaTestWorld, VPCFLOW_OBJECT, VPCFLOW_RECORDS, type LambdaTestWorld } from '../testing/lambda-test-world.js';
import { createMapItemHandler } from './map-item.js';

const KEY = 'AWSLogs/123456789010/vpcflowlogs/us-east-1/2018/06/20/123456789010_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz';
let world: LambdaTestWorld;
let etag: string;

before(async () => {
  world = await startLambdaTestWorld(['flow-logs']);
  etag = await world.s3.putObject('flow-logs', KEY, VPCFLOW_OBJECT);
});
after(async () => {
  await world?.stop();
});

describe('mapItemHandler', () => {
  it('processes the object of an ItemReader item (quoted Etag, no bucket) and returns its counts', async () => {
    const lambda = await world.pipeline({ bucket: 'flow-logs', prefix: 'AWSLogs/' });
    const handler = createMapItemHandler({ pipeline: async () => lambda, logger: memoryLogger().logger });

    const result = await handler({ Key: KEY, Size: VPCFLOW_OBJECT.length, Etag: `"${etag}"`, LastModified: 1_700_000_000, StorageClass: 'STANDARD' }, roomyContext());

    assert.equal(result.status, 'done');
    assert.equal(result.uri, `s3://flow-logs/${KEY}`);
    assert.deepEqual([result.recordsIn, result.recordsOut, result.recordsRejected, result.recordsFiltered], [VPCFLOW_RECORDS, VPCFLOW_RECORDS, 0, 0]);
    assert.ok(result.outputs >= 1);
    assert.equal(idCountsInOutputs(lambda.out).size, VPCFLOW_RECORDS);
  });

  it('skips digests, and throws a named, non-retryable error for a missing object', async () => {
    const lambda = await world.pipeline({ bucket: 'flow-logs' });
    const handler = createMapItemHandler({ pipeline: async () => lambda, logger: memoryLogger().logger });

    const digest = await handler({ Bucket: 'flow-logs', Key: 'AWSLogs/1/CloudTrail-Digest/us-east-1/2024/05/01/x.json.gz' }, roomyContext());
    assert.equal(digest.status, 'skipped');

    await assert.rejects(handler({ Key: 'AWSLogs/gone.log.gz', Size: 10 }, roomyContext()), (err: unknown) => err instanceof SluiceError && err.name === 'SluiceError' && err.code === 'OBJECT_NOT_FOUND' && err.message.includes('s3://flow-logs/AWSLogs/gone.log.gz'));
  });

  it('marks an out-of-time item retryable for the state machine’s retrier', async () => {
    const lambda = await world.pipeline({ bucket: 'flow-logs' });
    const handler = createMapItemHandler({ pipeline: async () => lambda, logger: memoryLogger().logger, budget: { marginMs: 5_000 } });

    await assert.rejects(handler({ Key: KEY }, { getRemainingTimeInMillis: () => 1_000 }), (err: unknown) => err instanceof SluiceError && err.name === 'SluiceRetryableError' && err.code === 'TIME_BUDGET_EXCEEDED');
  });

  it('rejects an item that is not an S3 object item', async () => {
    const lambda = await world.pipeline({ bucket: 'flow-logs' });
    const handler = createMapItemHandler({ pipeline: async () => lambda, logger: memoryLogger().logger });
    await assert.rejects(handler({ key: KEY }, roomyContext()), (err: unknown) => err instanceof SluiceError && err.code === 'MAP_ITEM_INVALID' && /Key/.test(err.message));
  });
});

describe('mapItemHandler: dead letters', () => {
  it('writes the dead letters of an item to S3 and counts them in its result', async () => {
    const key = 'AWSLogs/123456789010/vpcflowlogs/us-east-1/2024/05/03/one-bad-line.log.gz';
    const text = gunzipSync(VPCFLOW_OBJECT).toString('utf8').split('\n');
    text.splice(2, 0, 'no flow log line');
    await world.s3.putObject('flow-logs', key, gzipSync(text.join('\n')));
    const lambda = await world.pipeline({ bucket: 'flow-logs' });
    const handler = createMapItemHandler({ pipeline: async () => lambda, logger: memoryLogger().logger });

    const result = await handler({ Key: key }, roomyContext());

    assert.deepEqual([result.recordsIn, result.recordsOut, result.recordsRejected], [VPCFLOW_RECORDS + 1, VPCFLOW_RECORDS, 1]);
    const objects = await world.deadLetterObjects(lambda.deadLetters);
    assert.equal(objects.length, 1);
    assert.ok(objects[0]!.key.startsWith(lambda.deadLetters.replace(`s3://${DEAD_LETTER_BUCKET}/`, '')));
    assert.deepEqual(objects[0]!.letters.map((l) => [l.object, l.line, l.raw]), [[`s3://flow-logs/${key}`, 3, 'no flow log line']]);
  });

  it('fails the item retryably when S3 refuses its dead letter', async () => {
    const key = 'AWSLogs/123456789010/vpcflowlogs/us-east-1/2024/05/03/one-bad-line-refused.log.gz';
    const text = gunzipSync(VPCFLOW_OBJECT).toString('utf8').split('\n');
    text.splice(2, 0, 'no flow log line');
    await world.s3.putObject('flow-logs', key, gzipSync(text.join('\n')));
    const lambda = await world.pipeline({ bucket: 'flow-logs' });
    const handler = createMapItemHandler({ pipeline: async () => lambda, logger: memoryLogger().logger });
    const accept = world.refuseWrites(lambda.deadLetters);

    try {
      await assert.rejects(handler({ Key: key }, roomyContext()), (err: unknown) => err instanceof SluiceError && err.name === 'SluiceRetryableError' && err.code === 'S3_WRITE_FAILED' && err.message.includes(`S3 publishing ${lambda.deadLetters}`));
    } finally {
      accept();
    }
    assert.deepEqual(await world.deadLetterObjects(lambda.deadLetters), []);
  });

  it('fails an item of a pipeline whose dead letters would not survive the container: not retryable, saying what to set', async () => {
    const file = path.join(world.tmp, 'not-durable.yaml');
    writeFileSync(file, `name: not-durable\nsource:\n  uri: s3://flow-logs/\nformat: vpcflow\nsinks:\n  - type: stdout\nruntime:\n  deadLetters: ${path.join(world.tmp, 'dead-letters')}\n`);
    const log = memoryLogger();
    const handler = createMapItemHandler({ pipeline: () => loadPipelineConfig(file).then(openLambdaPipeline), logger: log.logger });

    await assert.rejects(
      handler({ Key: KEY }, roomyContext()),
      (err: unknown) =>
        err instanceof SluiceError &&
        err.name === 'SluiceError' &&
        err.code === 'DEAD_LETTERS_NOT_DURABLE' &&
        err.message.includes(`dead letters would go to ${path.join(world.tmp, 'dead-letters')}, which does not survive the container: set runtime.deadLetters to an s3://bucket/prefix/`),
    );
    const line = log.lines.find((l) => l.code === 'DEAD_LETTERS_NOT_DURABLE');
    assert.equal(line?.level, 50);
    assert.equal(line?.key, KEY);
    assert.match(String(line?.msg), /^pipeline not loaded, the item returned unprocessed: /);
  });

  it('names a pipeline load that may pass on a retry SluiceRetryableError, for the state machine’s retrier', async () => {
    const throttled = new SluiceError('cannot read the pipeline s3://config/pipeline.yaml: SlowDown', { code: 'CONFIG_UNREADABLE', stage: 'config', retryable: true });
    const handler = createMapItemHandler({ pipeline: () => Promise.reject(throttled), logger: memoryLogger().logger });

    await assert.rejects(handler({ Key: KEY }, roomyContext()), (err: unknown) => err instanceof SluiceError && err.name === 'SluiceRetryableError' && err.code === 'CONFIG_UNREADABLE');
  });
});

describe('loadPipelineConfig', () => {
  it('reads a pipeline YAML from an s3:// URI and reports YAML errors with their line', async () => {
    await world.s3.putObject('flow-logs', 'config/pipeline.yaml', 'name: from-s3\nsource:\n  uri: s3://flow-logs/AWSLogs/\nformat: vpcflow\nsinks:\n  - type: stdout\n');
    await world.s3.putObject('flow-logs', 'config/broken.yaml', 'name: x\nsource: [\n');

    const config = await loadPipelineConfig('s3://flow-logs/config/pipeline.yaml', { s3Client: world.s3.client });

    assert.equal(config.name, 'from-s3');
    assert.equal(config.source.uri, 's3://flow-logs/AWSLogs/');
    await assert.rejects(loadPipelineConfig('s3://flow-logs/config/broken.yaml', { s3Client: world.s3.client }), (err: unknown) => err instanceof SluiceError && err.code === 'CONFIG_SYNTAX' && /broken\.yaml:\d+:\d+/.test(err.message));
    await assert.rejects(loadPipelineConfig('s3://flow-logs/config/absent.yaml', { s3Client: world.s3.client }), (err: unknown) => err instanceof SluiceError && err.code === 'CONFIG_UNREADABLE');
  });
});
