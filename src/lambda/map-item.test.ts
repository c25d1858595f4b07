/**
 * The Step Functions Distributed Map handler with items as the S3 ItemReader gives them, and the
 * pipeline loaded from an s3:// URI as SLUICE_PIPELINE allows.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SluiceError } from '../core/errors.js';
import { idCountsInOutputs } from '../testing/output-oracle.js';
import { loadPipelineConfig } from './lambda-pipeline.js';
import { memoryLogger, roomyContext, startLambdaTestWorld, VPCFLOW_OBJECT, VPCFLOW_RECORDS, type LambdaTestWorld } from '../testing/lambda-test-world.js';
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
