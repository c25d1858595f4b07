/**
 * The SQS handler invoked in-process with real payloads (test/fixtures), reading the objects from
 * an S3-protocol server and writing NDJSON into temp folders.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Source } from '../core/component.js';
import { SluiceError } from '../core/errors.js';
import { flowLogHeader, flowLogLines } from '../demo/flow-log-generator.js';
import { buildDemoInventory } from '../demo/inventory.js';
import { idCountsInOutputs, listFiles } from '../testing/output-oracle.js';
import { fixturePath } from '../testing/repo-root.js';
import { deadLetterKeyFor } from '../runtime/dead-letters.js';
import type { LambdaPipeline } from './lambda-pipeline.js';
import { unitContextFor } from './object-unit.js';
import {
  CLOUDTRAIL_OBJECT,
  CLOUDTRAIL_RECORDS,
  DEAD_LETTER_BUCKET,
  memoryLogger,
  readFixtureJson,
  roomyContext,
  startLambdaTestWorld,
  VPCFLOW_OBJECT,
  VPCFLOW_RECORDS,
  type LambdaTestWorld,
} from '../testing/lambda-test-world.js';
import { createSqsHandler, type SqsBatchResponse } from './sqs.js';

type SqsEvent = { Records: Array<Record<string, unknown> & { messageId: string; body: string }> };

const MIXED = 'lambda-sqs-event.mixed-batch-tricky-keys';
const mixedEvent = () => readFixtureJson('constructed', `${MIXED}.json`) as SqsEvent;
const expectedResponse = readFixtureJson('constructed', `${MIXED}.expected-batch-response.json`);
const decodedKeys = (readFixtureJson('constructed', `${MIXED}.expected-decoded-keys.json`) as Array<{ decoded: string }>).map((k) => k.decoded);
const [hiveVpcKey, spacedVpcKey, digestKey, orgTrailKey, insightKey] = decodedKeys as [string, string, string, string, string, string];

const SNS_BUCKET = '841154226728-us-west-2-vpcflowlog';
const SNS_KEY = 'AWSLogs/841154226728/vpcflowlogs/us-west-2/2023/01/21/841154226728_vpcflowlogs_us-west-2_fl-055401975c87952e8_20230121T2100Z_1ce1bf4b.log.gz';
const EB_BUCKET = 'my-cloudtrail-bucket';
const EB_KEY = 'AWSLogs/111122223333/CloudTrail/ca-central-1/2021/11/12/111122223333_CloudTrail_ca-central-1_20211112T0000Z_Mu0KsOhtH1ar15ZZ.json.gz';

/** An SQS event whose messages carry these bodies, in the shape of the fixture's records. */
function sqsEventWith(bodies: string[], options: { fifo?: boolean } = {}): SqsEvent {
  const template = mixedEvent().Records[0]!;
  return {
    Records: bodies.map((body, i) => ({
      ...template,
      messageId: `msg-${i}`,
      body,
      eventSourceARN: options.fifo ? 'arn:aws:sqs:us-west-2:123456789012:logs.fifo' : template.eventSourceARN,
    })),
  };
}

function s3Body(bucket: string, key: string): string {
  return JSON.stringify({
    Records: [{ eventVersion: '2.1', eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: bucket }, object: { key: encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+'), size: 10 } } }],
  });
}

const handlerFor = (lambda: LambdaPipeline, log = memoryLogger()) => ({ handler: createSqsHandler({ pipeline: async () => lambda, logger: log.logger }), lines: log.lines });

let world: LambdaTestWorld;

before(async () => {
  world = await startLambdaTestWorld(['my-log-bucket', SNS_BUCKET, EB_BUCKET]);
  // The digest and the S3 access log are deliberately absent: a GET for them would fail the message.
  await world.s3.seedObjects('my-log-bucket', [
    [hiveVpcKey, VPCFLOW_OBJECT],
    [spacedVpcKey, VPCFLOW_OBJECT],
    [orgTrailKey, CLOUDTRAIL_OBJECT],
    [insightKey, CLOUDTRAIL_OBJECT],
  ]);
  await world.s3.seedObjects(SNS_BUCKET, [[SNS_KEY, VPCFLOW_OBJECT]]);
  await world.s3.seedObjects(EB_BUCKET, [[EB_KEY, CLOUDTRAIL_OBJECT]]);
});

after(async () => {
  await world?.stop();
});

describe('sqsHandler: the mixed batch with tricky keys', () => {
  it('answers exactly the expected batch response; flow logs under decoded keys are read, the digest is skipped', async () => {
    // Prepare
    const lambda = await world.pipeline({ bucket: 'my-log-bucket', include: 'vpcflowlogs' });
    const { handler, lines } = handlerFor(lambda);

    // Act
    const response = await handler(mixedEvent(), roomyContext());

    // Assess
    assert.deepEqual(response, expectedResponse);
    const ids = idCountsInOutputs(lambda.out);
    assert.equal(ids.size, 2 * VPCFLOW_RECORDS, 'both flow-log objects (hive key with %3D, key with + and %2B) were read');
    assert.ok([...ids.values()].every((n) => n === 1));
    const done = lines.filter((l) => String(l.msg).startsWith('done ')).map((l) => l.object);
    assert.deepEqual(done.sort(), [`s3://my-log-bucket/${hiveVpcKey}`, `s3://my-log-bucket/${spacedVpcKey}`].sort());
    const skipped = lines.filter((l) => String(l.msg).startsWith('skipped ')).map((l) => [l.object, l.reason]);
    assert.deepEqual(new Map(skipped as Array<[string, string]>).get(`s3://my-log-bucket/${digestKey}`), 'CloudTrail digest file');
    assert.equal(skipped.length, 4, 'digest, org trail, insight and S3 access log are acknowledged with a reason');
    const failure = lines.find((l) => l.messageId === '22222222-0000-0000-0000-999999999999');
    assert.ok(failure && failure.level === 50 && /not JSON/.test(String(failure.msg)), 'the non-JSON message is named in an error line');
  });

  it('gives the same response to a CloudTrail pipeline, which reads the org-trail and Insight objects', async () => {
    const lambda = await world.pipeline({ bucket: 'my-log-bucket', format: 'cloudtrail', include: '/CloudTrail(-Insight)?/' });
    const { handler } = handlerFor(lambda);

    const response = await handler(mixedEvent(), roomyContext());

    assert.deepEqual(response, expectedResponse);
    assert.equal(idCountsInOutputs(lambda.out).size, 2 * CLOUDTRAIL_RECORDS);
  });

  it('rewrites byte-identical outputs when the batch is redelivered', async () => {
    const lambda = await world.pipeline({ bucket: 'my-log-bucket', include: 'vpcflowlogs' });
    const { handler } = handlerFor(lambda);
    const snapshot = async () => ({
      files: new Map(listFiles(lambda.out).map((f) => [f, readFileSync(f).toString('base64')])),
      deadLetters: await world.deadLetterObjects(lambda.deadLetters),
    });

    await handler(mixedEvent(), roomyContext());
    const first = await snapshot();
    await handler(mixedEvent(), roomyContext());

    assert.ok(first.files.size >= 2);
    assert.deepEqual(await snapshot(), first);
  });
});

describe('sqsHandler: message shapes', () => {
  it('reads an S3 event inside an SNS envelope', async () => {
    const lambda = await world.pipeline({ bucket: SNS_BUCKET });
    const { handler } = handlerFor(lambda);

    const response = await handler(readFixtureJson('constructed', 'lambda-sqs-event.sns-envelope-wrapping-s3-event.json'), roomyContext());

    assert.deepEqual(response, { batchItemFailures: [] });
    assert.equal(idCountsInOutputs(lambda.out).size, VPCFLOW_RECORDS);
  });

  it('reads the same S3 event with SNS raw delivery on (the body is the S3 event itself)', async () => {
    const lambda = await world.pipeline({ bucket: SNS_BUCKET });
    const { handler } = handlerFor(lambda);
    const event = readFixtureJson('constructed', 'lambda-sqs-event.sns-envelope-wrapping-s3-event.json') as SqsEvent;
    event.Records[0]!.body = (JSON.parse(event.Records[0]!.body) as { Message: string }).Message;

    const response = await handler(event, roomyContext());

    assert.deepEqual(response, { batchItemFailures: [] });
    assert.equal(idCountsInOutputs(lambda.out).size, VPCFLOW_RECORDS);
  });

  it('acknowledges s3:TestEvent, direct and via SNS, without reading anything', async () => {
    const lambda = await world.pipeline({ bucket: SNS_BUCKET });
    const { handler, lines } = handlerFor(lambda);

    const response = await handler(readFixtureJson('constructed', 'lambda-sqs-event.s3-testevent-direct-and-via-sns.json'), roomyContext());

    assert.deepEqual(response, { batchItemFailures: [] });
    assert.equal(existsSync(lambda.out), false);
    assert.deepEqual(await world.deadLetterObjects(lambda.deadLetters), []);
    assert.equal(lines.filter((l) => /s3:TestEvent, acknowledged/.test(String(l.msg))).length, 2);
  });

  it('reads an EventBridge "Object Created" event', async () => {
    const lambda = await world.pipeline({ bucket: EB_BUCKET, format: 'cloudtrail' });
    const { handler } = handlerFor(lambda);

    const response = await handler(readFixtureJson('constructed', 'lambda-sqs-event.eventbridge-object-created.json'), roomyContext());

    assert.deepEqual(response, { batchItemFailures: [] });
    assert.equal(idCountsInOutputs(lambda.out).size, CLOUDTRAIL_RECORDS);
  });

  it('acknowledges deletions and restores (AWS documentation EventBridge events) and fails the v2.2 template', async () => {
    const lambda = await world.pipeline({ bucket: 'my-log-bucket' });
    const { handler } = handlerFor(lambda);
    const doc = (file: string) => readFileSync(fixturePath('aws-docs', 's3-events', file), 'utf8');
    const event = sqsEventWith([
      doc('eventbridge-ObjectDeleted-DeleteObject.json'),
      doc('eventbridge-ObjectDeleted-Lifecycle.json'),
      doc('eventbridge-ObjectRestoreCompleted.json'),
      doc('s3-TestEvent.json'),
      doc('s3-event-structure-v2.2.template.json'),
    ]);

    const response = await handler(event, roomyContext());

    assert.deepEqual(response, { batchItemFailures: [{ itemIdentifier: 'msg-4' }] });
  });

  it('fails every message of the AWS documentation SQS events (their bodies are plain text)', async () => {
    const lambda = await world.pipeline({ bucket: 'my-log-bucket' });
    const { handler, lines } = handlerFor(lambda);
    for (const file of ['sqs-record.json', 'sqs-event.standard-queue.json', 'sqs-event.fifo-queue.json']) {
      const event = readFixtureJson('aws-docs', 'lambda-events', file) as SqsEvent;

      const response = (await handler(event, roomyContext())) as SqsBatchResponse;

      assert.deepEqual(response.batchItemFailures, event.Records.map((r) => ({ itemIdentifier: r.messageId })), file);
      for (const r of event.Records) assert.ok(lines.some((l) => l.messageId === r.messageId && /not JSON/.test(String(l.msg))), `${file}: a log line names ${r.messageId}`);
    }
  });
});

describe('sqsHandler: faults', () => {
  it('fails only the message whose object cannot be read', async () => {
    const lambda = await world.pipeline({ bucket: 'my-log-bucket' });
    const { handler, lines } = handlerFor(lambda);
    const event = sqsEventWith([s3Body('my-log-bucket', hiveVpcKey), s3Body('my-log-bucket', 'AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/05/01/missing.log.gz'), s3Body('my-log-bucket', spacedVpcKey)]);

    const response = await handler(event, roomyContext());

    assert.deepEqual(response, { batchItemFailures: [{ itemIdentifier: 'msg-1' }] });
    assert.equal(idCountsInOutputs(lambda.out).size, 2 * VPCFLOW_RECORDS);
    const failure = lines.find((l) => l.level === 50 && String(l.msg).includes('missing.log.gz'));
    assert.equal(failure?.code, 'OBJECT_NOT_FOUND');
    assert.deepEqual(failure?.messageIds, ['msg-1']);
  });

  it('fails a message for an object outside the pipeline source instead of dropping it', async () => {
    const lambda = await world.pipeline({ bucket: 'my-log-bucket', prefix: 'AWSLogs/aws-account-id=123456789012/' });
    const { handler, lines } = handlerFor(lambda);

    const response = await handler(sqsEventWith([s3Body('my-log-bucket', hiveVpcKey), s3Body('my-log-bucket', spacedVpcKey), s3Body(SNS_BUCKET, SNS_KEY)]), roomyContext());

    assert.deepEqual(response, { batchItemFailures: [{ itemIdentifier: 'msg-1' }, { itemIdentifier: 'msg-2' }] });
    assert.equal(lines.filter((l) => l.code === 'SOURCE_MISMATCH').length, 2);
  });

  it('in a FIFO batch, returns every message after a failed one unprocessed', async () => {
    const lambda = await world.pipeline({ bucket: 'my-log-bucket' });
    const { handler } = handlerFor(lambda);
    const event = sqsEventWith(['not json', s3Body('my-log-bucket', hiveVpcKey), s3Body('my-log-bucket', spacedVpcKey)], { fifo: true });

    const response = await handler(event, roomyContext());

    assert.deepEqual(response, { batchItemFailures: [{ itemIdentifier: 'msg-0' }, { itemIdentifier: 'msg-1' }, { itemIdentifier: 'msg-2' }] });
    assert.equal(existsSync(lambda.out), false, 'nothing after the failed message was processed');
    assert.deepEqual(await world.deadLetterObjects(lambda.deadLetters), [], 'nor dead-lettered');
  });

  it('processes an object named by two messages once', async () => {
    const lambda = await world.pipeline({ bucket: 'my-log-bucket' });
    const { handler, lines } = handlerFor(lambda);

    const response = await handler(sqsEventWith([s3Body('my-log-bucket', hiveVpcKey), s3Body('my-log-bucket', hiveVpcKey)]), roomyContext());

    assert.deepEqual(response, { batchItemFailures: [] });
    assert.equal(lines.filter((l) => String(l.msg).startsWith('done ')).length, 1);
  });

  it('throws a clear error for events that are not S3 notifications', async () => {
    const lambda = await world.pipeline({ bucket: 'my-log-bucket' });
    const { handler } = handlerFor(lambda);
    const unknown = [
      readFixtureJson('aws-docs', 'lambda-events', 'kinesis-record.json'),
      readFixtureJson('aws-docs', 'lambda-events', 'firehose-record.json'),
      readFixtureJson('aws-docs', 'lambda-events', 'cloudwatch-logs.json'),
      {},
    ];
    for (const event of unknown) {
      await assert.rejects(handler(event, roomyContext()), (err: unknown) => err instanceof SluiceError && /sqsHandler was invoked with an (event of unknown shape|SQS event)/.test(err.message) && err.hint !== undefined);
    }
    await assert.rejects(handler(readFixtureJson('aws-docs', 'lambda-events', 'sns-notification.json'), roomyContext()), /SNS message .* is not JSON/);
  });

  it('handles S3 events sent to Lambda directly: success returns counts, a failure throws naming the object', async () => {
    const lambda = await world.pipeline({ bucket: 'my-log-bucket' });
    const { handler } = handlerFor(lambda);
    const direct = JSON.parse(s3Body('my-log-bucket', hiveVpcKey)) as unknown;

    assert.deepEqual(await handler(direct, roomyContext()), { objects: 1, done: 1, skipped: 0 });
    await assert.rejects(handler(readFixtureJson('aws-docs', 'lambda-events', 's3-event.lambda-doc.json'), roomyContext()), (err: unknown) => err instanceof SluiceError && err.code === 'SOURCE_MISMATCH' && err.message.includes('s3://DOC-EXAMPLE-BUCKET/b21b84d653bb07b05b1e6b33684dc11b'));
  });
});

describe('sqsHandler: time budget', () => {
  it('leaves objects unstarted and their messages failed when the time left is within the margin', async () => {
    const lambda = await world.pipeline({ bucket: 'my-log-bucket' });
    const event = sqsEventWith([s3Body('my-log-bucket', hiveVpcKey), readFileSync(fixturePath('aws-docs', 's3-events', 's3-TestEvent.json'), 'utf8')]);

    const response = await createSqsHandler({ pipeline: async () => lambda, logger: memoryLogger().logger, budget: { marginMs: 5_000 } })(event, { getRemainingTimeInMillis: () => 4_000 });

    assert.deepEqual(response, { batchItemFailures: [{ itemIdentifier: 'msg-0' }] });
    assert.equal(existsSync(lambda.out), false);
    assert.deepEqual(await world.deadLetterObjects(lambda.deadLetters), []);
  });

  it('aborts an object that is still reading when the deadline comes near, committing nothing of it', async () => {
    // Prepare: a big object whose download stalls after a few chunks while the clock runs out.
    const key = 'AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/05/02/slow.log.gz';
    const text = [flowLogHeader('v2'), ...flowLogLines({ inventory: buildDemoInventory(3), lines: 40_000, start: 1_714_600_000, durationS: 600, seed: 7, format: 'v2' })].join('\n');
    await world.s3.putObject('my-log-bucket', key, gzipSync(text, { level: 1 }));
    const lambda = await world.pipeline({ bucket: 'my-log-bucket' });
    let remaining = 600_000;
    let chunksSeen = 0;
    const real = lambda.pipeline.source;
    const stalling: Source = {
      root: real.root,
      list: (w) => real.list(w),
      async open(ref, signal) {
        const body = await real.open(ref, signal);
        return (async function* () {
          for await (const chunk of body) {
            yield chunk;
            if (++chunksSeen === 3) {
              remaining = 1_000; // time passes while the network is slow
              await new Promise((_, reject) => signal!.addEventListener('abort', () => reject(signal!.reason), { once: true }));
            }
          }
        })();
      },
    };
    const log = memoryLogger();
    const handler = createSqsHandler({ pipeline: async () => ({ ...lambda, pipeline: { ...lambda.pipeline, source: stalling } }), logger: log.logger, budget: { marginMs: 5_000, pollMs: 10 } });

    // Act
    const response = await handler(sqsEventWith([s3Body('my-log-bucket', key)]), { getRemainingTimeInMillis: () => remaining });

    // Assess
    assert.ok(chunksSeen >= 3, 'the object was being read when the budget ran out');
    assert.deepEqual(response, { batchItemFailures: [{ itemIdentifier: 'msg-0' }] });
    assert.deepEqual(existsSync(lambda.out) ? listFiles(lambda.out) : [], [], 'no part or temp file is left behind');
    assert.deepEqual(await world.deadLetterObjects(lambda.deadLetters), [], 'no dead letter is left behind');
    assert.deepEqual(await world.openUploads(lambda.deadLetters), [], 'no dead-letter upload is left open');
    const failure = log.lines.find((l) => l.code === 'TIME_BUDGET_EXCEEDED');
    assert.ok(failure && /aborted before the function timeout/.test(String(failure.msg)));
  });
});

/** VPCFLOW_OBJECT with a line that is no flow log record after its `after`-th line (1-based header). */
function withGarbageLine(after: number, garbage: string): Buffer {
  const lines = gunzipSync(VPCFLOW_OBJECT).toString('utf8').split('\n');
  lines.splice(after, 0, garbage);
  return gzipSync(lines.join('\n'));
}

describe('sqsHandler: dead letters in S3', () => {
  const GARBAGE = 'this is not a flow log record';
  // Header on line 1, three records, then the garbage on line 5.
  const GARBAGE_LINE = 5;

  it('writes the dead letter of a garbage line as an object in S3 and acknowledges the message', async () => {
    // Prepare
    const key = 'AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/05/03/garbage.log.gz';
    const etag = await world.s3.putObject('my-log-bucket', key, withGarbageLine(GARBAGE_LINE - 1, GARBAGE));
    const lambda = await world.pipeline({ bucket: 'my-log-bucket' });
    const { handler, lines } = handlerFor(lambda);

    // Act
    const response = await handler(sqsEventWith([s3Body('my-log-bucket', key)]), roomyContext());

    // Assess
    assert.deepEqual(response, { batchItemFailures: [] });
    assert.equal(idCountsInOutputs(lambda.out).size, VPCFLOW_RECORDS);
    const stem = unitContextFor(lambda.config.name, { uri: `s3://my-log-bucket/${key}`, key, etag }).outputStem;
    const objects = await world.deadLetterObjects(lambda.deadLetters);
    assert.deepEqual(objects.map((o) => o.key), [`${lambda.deadLetters.replace(`s3://${DEAD_LETTER_BUCKET}/`, '')}${deadLetterKeyFor(stem)}`]);
    assert.equal(objects[0]!.letters.length, 1);
    const letter = objects[0]!.letters[0]!;
    assert.equal(letter.object, `s3://my-log-bucket/${key}`);
    assert.equal(letter.line, GARBAGE_LINE);
    assert.equal(letter.raw, GARBAGE);
    assert.equal(letter.stage, 'decode');
    assert.match(String(letter.reason), /\S/);
    const done = lines.find((l) => l.msg === `done s3://my-log-bucket/${key}`);
    assert.equal(done?.recordsRejected, 1);
    assert.equal(done?.outputs, listFiles(lambda.out).length + 1, 'the parts and the dead-letter object');
  });

  it('fails the message, naming why, when S3 refuses the dead letter; its redelivery then lands it', async () => {
    // Prepare
    const key = 'AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/05/03/garbage-refused.log.gz';
    await world.s3.putObject('my-log-bucket', key, withGarbageLine(GARBAGE_LINE - 1, GARBAGE));
    const lambda = await world.pipeline({ bucket: 'my-log-bucket' });
    const { handler, lines } = handlerFor(lambda);
    const event = sqsEventWith([s3Body('my-log-bucket', key), s3Body('my-log-bucket', hiveVpcKey)]);
    const accept = world.refuseWrites(lambda.deadLetters);

    // Act
    let response: unknown;
    try {
      response = await handler(event, roomyContext());
    } finally {
      accept();
    }

    // Assess
    assert.deepEqual(response, { batchItemFailures: [{ itemIdentifier: 'msg-0' }] }, 'only the message whose dead letter was refused');
    assert.deepEqual(await world.deadLetterObjects(lambda.deadLetters), []);
    const failure = lines.find((l) => l.level === 50 && String(l.msg).startsWith(`failed s3://my-log-bucket/${key}:`));
    assert.ok(failure, 'a log line names the object');
    assert.deepEqual(failure.messageIds, ['msg-0']);
    assert.equal(failure.code, 'S3_WRITE_FAILED');
    assert.equal(failure.retryable, true);
    assert.ok(String(failure.msg).includes(`S3 publishing ${lambda.deadLetters}`), String(failure.msg));
    assert.match(String(failure.msg), /\.rejected\.ndjson failed: InternalError \(HTTP 500\)/);

    const redelivered = await handler(sqsEventWith([s3Body('my-log-bucket', key)]), roomyContext());

    assert.deepEqual(redelivered, { batchItemFailures: [] });
    const objects = await world.deadLetterObjects(lambda.deadLetters);
    assert.deepEqual(objects.flatMap((o) => o.letters.map((l) => [l.object, l.line, l.raw])), [[`s3://my-log-bucket/${key}`, GARBAGE_LINE, GARBAGE]]);
    const ids = idCountsInOutputs(lambda.out);
    assert.equal(ids.size, 2 * VPCFLOW_RECORDS);
    assert.ok([...ids.values()].every((n) => n === 1), 'the redelivery rewrote the first attempt\'s part, no duplicates');
  });
});

describe('sqsHandler: a pipeline whose dead letters would not survive the container', () => {
  it('fails every message with DEAD_LETTERS_NOT_DURABLE, saying what to set, and processes nothing', async () => {
    const out = path.join(world.tmp, 'not-durable-out');
    const source = `source:\n  uri: s3://my-log-bucket/\n  endpoint: ${world.s3.endpoint}\n  forcePathStyle: true\nformat: vpcflow\nsinks:\n  - type: files\n    path: ${out}\n`;
    const cases = [
      { file: 'default-dead-letters.yaml', yaml: `name: not-durable\n${source}`, location: `${path.join(out, '_rejected')} (the default: runtime.deadLetters is not set)` },
      { file: 'tmp-dead-letters.yaml', yaml: `name: not-durable\n${source}runtime:\n  deadLetters: /tmp/sluice-dead-letters\n`, location: '/tmp/sluice-dead-letters' },
    ];
    const saved = process.env.SLUICE_PIPELINE;
    try {
      for (const { file, yaml, location } of cases) {
        writeFileSync(path.join(world.tmp, file), yaml);
        process.env.SLUICE_PIPELINE = path.join(world.tmp, file);
        const log = memoryLogger();
        // The container's own loader (SLUICE_PIPELINE), as deployed.
        const handler = createSqsHandler({ logger: log.logger });
        const event = sqsEventWith([s3Body('my-log-bucket', hiveVpcKey), s3Body('my-log-bucket', spacedVpcKey), 'not json']);

        await assert.rejects(
          handler(event, roomyContext()),
          (err: unknown) =>
            err instanceof SluiceError &&
            err.code === 'DEAD_LETTERS_NOT_DURABLE' &&
            err.message.includes(`dead letters would go to ${location}, which does not survive the container: set runtime.deadLetters to an s3://bucket/prefix/`),
          file,
        );
        const line = log.lines.find((l) => l.code === 'DEAD_LETTERS_NOT_DURABLE');
        assert.equal(line?.level, 50, file);
        assert.deepEqual(line?.messageIds, ['msg-0', 'msg-1', 'msg-2'], `${file}: the log line names every message`);
        assert.match(String(line?.msg), /^pipeline not loaded, all 3 SQS messages returned unprocessed: /);
        assert.match(String(line?.hint), /runtime\.deadLetters/);
        assert.equal(log.lines.filter((l) => String(l.msg).startsWith('done ')).length, 0, `${file}: nothing processed`);
        assert.equal(existsSync(out), false, `${file}: nothing written`);
      }
    } finally {
      if (saved === undefined) delete process.env.SLUICE_PIPELINE;
      else process.env.SLUICE_PIPELINE = saved;
    }
  });
});
