/**
 * The CloudWatch Logs handler with the real subscription payloads of test/fixtures: direct
 * `awslogs` events, Kinesis batches and Firehose transformations, sinking into temp folders, with
 * dead letters in S3 (an S3-protocol server) as a Lambda deployment must have them.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { parsePipeline } from '../pipeline/config.js';
import { SluiceError } from '../core/errors.js';
import { idCountsInOutputs } from '../testing/output-oracle.js';
import { createCwlHandler, type FirehoseTransformationResponse, type KinesisBatchResponse } from './cwl.js';
import { closeLambdaPipeline, loadPipelineConfig, openLambdaPipeline, type LambdaPipeline } from './lambda-pipeline.js';
import { memoryLogger, readFixtureJson, roomyContext, startLambdaTestWorld, type LambdaTestWorld } from '../testing/lambda-test-world.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-cwl-lambda-'));
let world: LambdaTestWorld;
const opened: LambdaPipeline[] = [];
before(async () => {
  world = await startLambdaTestWorld([]);
});
after(async () => {
  await Promise.allSettled(opened.map(closeLambdaPipeline));
  await world?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

let n = 0;
async function handlerWith(format: unknown, sinkPath?: string) {
  const out = sinkPath ?? path.join(tmp, `out-${++n}`);
  const runtime = world.durableRuntime();
  const config = parsePipeline({ name: 'cwl-test', source: { uri: tmp }, format, sinks: [{ type: 'files', path: out, format: 'ndjson' }], runtime }, path.join(tmp, 'p.yaml'));
  const lambda = await openLambdaPipeline(config);
  opened.push(lambda);
  const log = memoryLogger();
  return { handler: createCwlHandler({ pipeline: async () => lambda, logger: log.logger }), out, dead: runtime.deadLetters, lines: log.lines };
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
    assert.equal((await world.deadLetterObjects(flows.dead)).length, 1);
  });
});

describe('cwlHandler: Kinesis', () => {
  it('processes a batch of DATA and CONTROL payloads with no failures', async () => {
    const { handler, out, dead } = await handlerWith(VPCFLOW_IN_CWL);

    const response = await handler(readFixtureJson('constructed', 'lambda-kinesis-event.cwlogs-subscription-vpcflow-control-cloudtrail.json'), roomyContext());

    assert.deepEqual(response, { batchItemFailures: [] });
    assert.equal(idCountsInOutputs(out).size, 2, 'the two flow log events');
    assert.equal((await world.deadLetterObjects(dead)).length, 1, 'the CloudTrail event is no flow log line: one dead-letter object');
  });

  it('turns payloads that are not CloudWatch Logs data into dead letters, not retries', async () => {
    const { handler, dead } = await handlerWith(VPCFLOW_IN_CWL);

    const response = await handler(readFixtureJson('aws-docs', 'lambda-events', 'kinesis-record.json'), roomyContext());

    assert.deepEqual(response, { batchItemFailures: [] });
    assert.equal((await world.deadLetterObjects(dead)).length, 2);
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

describe('cwlHandler: dead letters in S3', () => {
  it('fails the Kinesis record whose dead letter S3 refuses, and only that one', async () => {
    const { handler, dead, lines } = await handlerWith(VPCFLOW_IN_CWL);
    const event = readFixtureJson('constructed', 'lambda-kinesis-event.cwlogs-subscription-vpcflow-control-cloudtrail.json') as { Records: Array<{ kinesis: { sequenceNumber: string } }> };
    event.Records.forEach((r, i) => (r.kinesis.sequenceNumber = `4959033827149025660855969253836157109592157598913658889${i}`));
    const accept = world.refuseWrites(dead);

    let response: KinesisBatchResponse;
    try {
      response = (await handler(event, roomyContext())) as KinesisBatchResponse;
    } finally {
      accept();
    }

    // Record 2 is the CloudTrail event: a dead letter for a flow log pipeline, which S3 did not take.
    const refused = event.Records[2]!.kinesis.sequenceNumber;
    assert.deepEqual(response.batchItemFailures, [{ itemIdentifier: refused }]);
    assert.deepEqual(await world.deadLetterObjects(dead), []);
    const failure = lines.find((l) => l.level === 50 && l.item === refused);
    assert.equal(failure?.code, 'S3_WRITE_FAILED');
    assert.ok(String(failure?.msg).includes(`S3 publishing ${dead}`) && /InternalError \(HTTP 500\)/.test(String(failure?.msg)), String(failure?.msg));
  });

  it('answers ProcessingFailed with the original bytes for a Firehose record whose dead letter S3 refuses, Ok once S3 takes it', async () => {
    const { handler, dead } = await handlerWith(VPCFLOW_IN_CWL);
    // The fixture's DATA_MESSAGE with one more event that is no flow log line: Ok only with its dead letter written.
    const ok = readFixtureJson('constructed', 'firehose-transformation-event.cwlogs-subscription.json') as { records: Array<{ recordId: string; data: string }> };
    const payload = JSON.parse(gunzipSync(Buffer.from(ok.records[0]!.data, 'base64')).toString('utf8')) as { logEvents: Array<{ id: string; timestamp: number; message: string }> };
    payload.logEvents.push({ id: 'garbage-event', timestamp: payload.logEvents[0]!.timestamp, message: 'no flow log line' });
    const data = gzipSync(JSON.stringify(payload)).toString('base64');
    const event = { ...ok, records: [{ recordId: 'mixed', data }] };
    const accept = world.refuseWrites(dead);

    let refused: FirehoseTransformationResponse;
    try {
      refused = (await handler(event, roomyContext())) as FirehoseTransformationResponse;
    } finally {
      accept();
    }
    const taken = (await handler(event, roomyContext())) as FirehoseTransformationResponse;

    assert.deepEqual(refused.records, [{ recordId: 'mixed', result: 'ProcessingFailed', data }], 'Firehose keeps the original bytes in its error output');
    assert.deepEqual(taken.records.map((r) => [r.recordId, r.result]), [['mixed', 'Ok']]);
    const letters = (await world.deadLetterObjects(dead)).flatMap((o) => o.letters);
    assert.deepEqual(letters.map((l) => l.raw), ['no flow log line']);
  });
});

describe('cwlHandler: a pipeline whose dead letters would not survive the container', () => {
  it('fails the whole invocation, direct, Kinesis and Firehose, with DEAD_LETTERS_NOT_DURABLE saying what to set', async () => {
    const file = path.join(tmp, 'not-durable.yaml');
    writeFileSync(file, `name: not-durable\nsource:\n  uri: ${tmp}\nformat:\n  type: cwl\n  inner: vpcflow\nsinks:\n  - type: files\n    path: ${path.join(tmp, 'not-durable-out')}\n`);
    const log = memoryLogger();
    const handler = createCwlHandler({ pipeline: () => loadPipelineConfig(file).then(openLambdaPipeline), logger: log.logger });
    const notDurable = (err: unknown) =>
      err instanceof SluiceError && err.code === 'DEAD_LETTERS_NOT_DURABLE' && err.message.includes('which does not survive the container: set runtime.deadLetters to an s3://bucket/prefix/');
    const kinesis = readFixtureJson('constructed', 'lambda-kinesis-event.cwlogs-subscription-vpcflow-control-cloudtrail.json') as { Records: Array<{ kinesis: { sequenceNumber: string } }> };
    const firehose = readFixtureJson('constructed', 'firehose-transformation-event.cwlogs-subscription.json') as { records: Array<{ recordId: string }> };

    await assert.rejects(handler(readFixtureJson('constructed', 'lambda-cwlogs-subscription-event.vpcflow.json'), roomyContext()), notDurable);
    await assert.rejects(handler(kinesis, roomyContext()), notDurable);
    await assert.rejects(handler(firehose, roomyContext()), notDurable);

    const failures = log.lines.filter((l) => l.code === 'DEAD_LETTERS_NOT_DURABLE');
    assert.equal(failures.length, 3);
    assert.match(String(failures[0]!.msg), /^pipeline not loaded, the CloudWatch Logs event returned unprocessed: /);
    assert.match(String(failures[0]!.object), /^cwl:\/\/awslogs\//);
    assert.deepEqual(failures[1]!.sequenceNumbers, kinesis.Records.map((r) => r.kinesis.sequenceNumber));
    assert.match(String(failures[1]!.msg), new RegExp(`^pipeline not loaded, all ${kinesis.Records.length} Kinesis records returned unprocessed: `));
    assert.deepEqual(failures[2]!.recordIds, firehose.records.map((r) => r.recordId));
    assert.ok(failures.every((l) => l.level === 50 && /runtime\.deadLetters/.test(String(l.hint))));
    assert.equal(existsSync(path.join(tmp, 'not-durable-out')), false);
  });
});
