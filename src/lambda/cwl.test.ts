/**
 * The CloudWatch Logs handler with the real subscription payloads of test/fixtures: direct
 * `awslogs` events, Kinesis batches and Firehose transformations, sinking into temp folders.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { parsePipeline } from '../pipeline/config.js';
import { SluiceError } from '../core/errors.js';
import { idCountsInOutputs, listFiles } from '../testing/output-oracle.js';
import { createCwlHandler, type FirehoseTransformationResponse, type KinesisBatchResponse } from './cwl.js';
import { openLambdaPipeline } from './lambda-pipeline.js';
import { memoryLogger, readFixtureJson, roomyContext } from '../testing/lambda-test-world.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-cwl-lambda-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
async function handlerWith(format: unknown, sinkPath?: string) {
  const out = sinkPath ?? path.join(tmp, `out-${++n}`);
  const config = parsePipeline({ name: 'cwl-test', source: { uri: tmp }, format, sinks: [{ type: 'files', path: out, format: 'ndjson' }], runtime: { deadLetters: path.join(tmp, `dead-${n}`) } }, path.join(tmp, 'p.yaml'));
  const lambda = await openLambdaPipeline(config);
  const log = memoryLogger();
  return { handler: createCwlHandler({ pipeline: async () => lambda, logger: log.logger }), out, dead: config.runtime.deadLetters!, lines: log.lines };
}

const VPCFLOW_IN_CWL = { type: 'cwl', inner: 'vpcflow' };

describe('cwlHandler: direct CloudWatch Logs subscription', () => {
  it('delivers the flow log events of a DATA_MESSAGE with the events’ ids', async () => {
    const { handler, out } = await handlerWith(VPCFLOW_IN_CWL);

    const result = await handler(readFixtureJson('constructed', 'lambda-cwlogs-subscription-event.vpcflow.json'), roomyContext());

    assert.deepEqual(result, { recordsIn: 2, recordsOut: 2, recordsRejected: 0, recordsFiltered: 0 });
    assert.deepEqual([...idCountsInOutputs(out).keys()].sort(), ['cwl-eventId1', 'cwl-eventId2']);
  });

  it('acknowledges a CONTROL_MESSAGE without delivering anything', async () => {
    const { handler, out } = await handlerWith(VPCFLOW_IN_CWL);

    const result = await handler(readFixtureJson('constructed', 'lambda-cwlogs-subscription-event.control-message.json'), roomyContext());

    assert.deepEqual(result, { recordsIn: 1, recordsOut: 0, recordsRejected: 0, recordsFiltered: 1 });
    assert.equal(existsSync(out) ? idCountsInOutputs(out).size : 0, 0);
  });

  it('wraps a plain line format around the payload: the AWS documentation event read as text and as flow logs', async () => {
    const event = readFixtureJson('aws-docs', 'lambda-events', 'cloudwatch-logs.json');
    const text = await handlerWith({ type: 'cwl', inner: 'text' });
    assert.deepEqual(await text.handler(event, roomyContext()), { recordsIn: 2, recordsOut: 2, recordsRejected: 0, recordsFiltered: 0 });

    // "[ERROR] First test message" is no flow log line: rejected into dead letters, not retried.
    const flows = await handlerWith('vpcflow');
    assert.deepEqual(await flows.handler(event, roomyContext()), { recordsIn: 2, recordsOut: 0, recordsRejected: 2, recordsFiltered: 0 });
    assert.equal(listFiles(flows.dead).length, 1);
  });
});

describe('cwlHandler: Kinesis', () => {
  it('processes a batch of DATA and CONTROL payloads with no failures', async () => {
    const { handler, out, dead } = await handlerWith(VPCFLOW_IN_CWL);

    const response = await handler(readFixtureJson('constructed', 'lambda-kinesis-event.cwlogs-subscription-vpcflow-control-cloudtrail.json'), roomyContext());

    assert.deepEqual(response, { batchItemFailures: [] });
    assert.equal(idCountsInOutputs(out).size, 2, 'the two flow log events');
    assert.equal(listFiles(dead).length, 1, 'the CloudTrail event is no flow log line: one dead-letter file');
  });

  it('turns payloads that are not CloudWatch Logs data into dead letters, not retries', async () => {
    const { handler, dead } = await handlerWith(VPCFLOW_IN_CWL);

    const response = await handler(readFixtureJson('aws-docs', 'lambda-events', 'kinesis-record.json'), roomyContext());

    assert.deepEqual(response, { batchItemFailures: [] });
    assert.equal(listFiles(dead).length, 2);
  });

  it('reports the sequence numbers whose records the sink did not take', async () => {
    // A files sink whose folder cannot be created (its parent is a file) fails every unit with records.
    const blocker = path.join(tmp, 'not-a-folder');
    writeFileSync(blocker, 'x');
    const { handler } = await handlerWith(VPCFLOW_IN_CWL, path.join(blocker, 'out'));
    const event = readFixtureJson('constructed', 'lambda-kinesis-event.cwlogs-subscription-vpcflow-control-cloudtrail.json') as { Records: Array<{ kinesis: { sequenceNumber: string } }> };
    event.Records.forEach((r, i) => (r.kinesis.sequenceNumber = `4959033827149025660855969253836157109592157598913658889${i}`));

    const response = (await handler(event, roomyContext())) as KinesisBatchResponse;

    // Record 1 is a CONTROL_MESSAGE and record 2 a CloudTrail event (a dead letter for a flow log
    // pipeline): nothing to write, so nothing to fail. Only the flow log record needed the sink.
    assert.deepEqual(response.batchItemFailures.map((f) => f.itemIdentifier), [event.Records[0]!.kinesis.sequenceNumber]);
  });
});

describe('cwlHandler: Firehose transformation', () => {
  it('returns Ok with the records as NDJSON, and Dropped for the CONTROL_MESSAGE', async () => {
    const { handler } = await handlerWith(VPCFLOW_IN_CWL);

    const response = (await handler(readFixtureJson('constructed', 'firehose-transformation-event.cwlogs-subscription.json'), roomyContext())) as FirehoseTransformationResponse;

    assert.deepEqual(response.records.map((r) => [r.recordId, r.result]), [['495900', 'Ok'], ['495901', 'Dropped']]);
    const lines = Buffer.from(response.records[0]!.data, 'base64').toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines.map((l) => [l._id, l.srcaddr, l.action]), [['cwl-eventId1', '172.31.16.139', 'ACCEPT'], ['cwl-eventId2', '172.31.9.69', 'REJECT']]);
    assert.equal(response.records[1]!.data, '');
  });

  it('returns ProcessingFailed with the original bytes for records that are not CloudWatch Logs payloads', async () => {
    const { handler } = await handlerWith(VPCFLOW_IN_CWL);
    for (const file of ['firehose-record.json', 'firehose-transformation-event.kinesis-source.json']) {
      const event = readFixtureJson('aws-docs', 'lambda-events', file) as { records: Array<{ recordId: string; data: string }> };

      const response = (await handler(event, roomyContext())) as FirehoseTransformationResponse;

      assert.deepEqual(response.records, event.records.map((r) => ({ recordId: r.recordId, result: 'ProcessingFailed', data: r.data })), file);
    }
  });
});

describe('cwlHandler: unknown events', () => {
  it('throws a clear error naming what it got', async () => {
    const { handler } = await handlerWith(VPCFLOW_IN_CWL);
    await assert.rejects(handler(readFixtureJson('constructed', 'lambda-sqs-event.eventbridge-object-created.json'), roomyContext()), (err: unknown) => err instanceof SluiceError && /cwlHandler was invoked with an event of unknown shape \(keys: Records\)/.test(err.message) && /sqsHandler/.test(err.hint ?? ''));
    await assert.rejects(handler({ awslogs: {} }, roomyContext()), /awslogs\.data/);
  });
});
