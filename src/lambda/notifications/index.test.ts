import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fixturePath } from '../../testing/repo-root.js';
import { decodeS3Key, NotificationShapeError, readNotification, readNotificationValue, sqsEventSchema } from './index.js';

const constructed = (name: string) => fixturePath('constructed', name);
const json = (file: string): unknown => JSON.parse(readFileSync(file, 'utf8'));
const sqsBodies = (name: string) => sqsEventSchema.parse(json(constructed(name))).Records.map((r) => r.body);

describe('readNotification', () => {
  it('decodes every key of the mixed batch exactly as expected, and names the non-JSON body', () => {
    const bodies = sqsBodies('lambda-sqs-event.mixed-batch-tricky-keys.json');
    const expected = json(constructed('lambda-sqs-event.mixed-batch-tricky-keys.expected-decoded-keys.json')) as Array<{ raw: string; decoded: string }>;
    const decoded = bodies.slice(0, -1).map((body) => {
      const n = readNotification(body);
      assert.deepEqual(n.route, ['s3']);
      assert.equal(n.objects.length, 1);
      return { raw: n.objects[0]!.rawKey, decoded: n.objects[0]!.key };
    });
    assert.deepEqual(decoded, expected);
    assert.throws(() => readNotification(bodies.at(-1)!), (err: unknown) => err instanceof NotificationShapeError && /not JSON/.test(err.message) && /this is not json/.test(err.message));
  });

  it('reads an S3 event inside an SNS envelope (raw delivery off) with bucket, size and etag', () => {
    const [body] = sqsBodies('lambda-sqs-event.sns-envelope-wrapping-s3-event.json');
    const n = readNotification(body!);
    assert.deepEqual(n.route, ['sns', 's3']);
    assert.deepEqual(n.objects, [
      {
        bucket: '841154226728-us-west-2-vpcflowlog',
        key: 'AWSLogs/841154226728/vpcflowlogs/us-west-2/2023/01/21/841154226728_vpcflowlogs_us-west-2_fl-055401975c87952e8_20230121T2100Z_1ce1bf4b.log.gz',
        rawKey: 'AWSLogs/841154226728/vpcflowlogs/us-west-2/2023/01/21/841154226728_vpcflowlogs_us-west-2_fl-055401975c87952e8_20230121T2100Z_1ce1bf4b.log.gz',
        size: 2595,
        etag: '0557d1d84c8f071523cc7d18ebf58d5a',
        versionId: undefined,
        event: 'ObjectCreated:Put',
      },
    ]);
  });

  it('recognises s3:TestEvent sent directly and through SNS', () => {
    const routes = sqsBodies('lambda-sqs-event.s3-testevent-direct-and-via-sns.json').map((body) => {
      const n = readNotification(body);
      assert.equal(n.testEvent, true);
      assert.equal(n.objects.length, 0);
      return n.route;
    });
    assert.deepEqual(routes, [['s3'], ['sns', 's3']]);
  });

  it('reads EventBridge "Object Created" (lower-case etag, version-id) and ignores deletions and restores', () => {
    const [body] = sqsBodies('lambda-sqs-event.eventbridge-object-created.json');
    const n = readNotification(body!);
    assert.deepEqual(n.route, ['eventbridge']);
    assert.equal(n.objects[0]!.bucket, 'my-cloudtrail-bucket');
    assert.equal(n.objects[0]!.etag, 'b1946ac92492d2347c6235b4d2611184');
    assert.equal(n.objects[0]!.versionId, 'IYV3p45BT0ac8hjHg1houSdS1a.Mro8e');
    assert.equal(n.objects[0]!.size, 5);

    const outcome = (file: string) => {
      const r = readNotification(readFileSync(fixturePath('aws-docs', 's3-events', file), 'utf8'));
      return { objects: r.objects.map((o) => o.key), ignored: r.ignored.map((i) => i.event), route: r.route };
    };
    assert.deepEqual(outcome('eventbridge-ObjectCreated.json'), { objects: ['example-key'], ignored: [], route: ['eventbridge'] });
    assert.deepEqual(outcome('eventbridge-ObjectDeleted-DeleteObject.json'), { objects: [], ignored: ['Object Deleted'], route: ['eventbridge'] });
    assert.deepEqual(outcome('eventbridge-ObjectDeleted-Lifecycle.json'), { objects: [], ignored: ['Object Deleted'], route: ['eventbridge'] });
    assert.deepEqual(outcome('eventbridge-ObjectRestoreCompleted.json'), { objects: [], ignored: ['Object Restore Completed'], route: ['eventbridge'] });
  });

  it('gives the AWS documentation S3 events their expected outcome', () => {
    const read = (file: string) => readNotification(readFileSync(fixturePath('aws-docs', 's3-events', file), 'utf8'));
    const put = read('s3-ObjectCreated-Put.v2.1.json');
    assert.deepEqual(put.objects.map((o) => [o.bucket, o.key, o.size, o.etag, o.versionId]), [['mybucket', 'HappyFace.jpg', 1024, 'd41d8cd98f00b204e9800998ecf8427e', '096fKKXTRTtl3on89fVO.nfljtsv6qko']]);
    assert.equal(read('s3-TestEvent.json').testEvent, true);
    // The v2.2 structure is a template (placeholder strings): its `size` is text, which a real event never has.
    assert.throws(() => read('s3-event-structure-v2.2.template.json'), /Records\.0\.s3\.object\.size/);
  });

  it('reads Lambda-rendered S3 events (empty versionId, Java-style keys) and rejects SNS text messages', () => {
    const java = readNotificationValue(json(fixturePath('aws-docs', 'lambda-events', 's3-notification.json')), []);
    assert.deepEqual(java.objects.map((o) => [o.bucket, o.key, o.versionId]), [['BUCKET_NAME', 'inbound/sample-java-s3.png', undefined]]);
    const doc = readNotificationValue(json(fixturePath('aws-docs', 'lambda-events', 's3-event.lambda-doc.json')), []);
    assert.equal(doc.objects[0]!.key, 'b21b84d653bb07b05b1e6b33684dc11b');

    const envelope = readFileSync(fixturePath('aws-docs', 'sns', 'sqs-body-sns-envelope.raw-delivery-disabled.json'), 'utf8');
    assert.throws(() => readNotification(envelope), /SNS message dc1e94d9-56c5-5e96-808d-cc7f68faa162 from arn:aws:sns:us-east-2:111122223333:ExampleTopic1 is not JSON/);
    const raw = readFileSync(fixturePath('aws-docs', 'sns', 'sqs-body.raw-delivery-enabled.txt'), 'utf8');
    assert.throws(() => readNotification(raw), /body is not JSON \(starts with "This is a test message/);
  });

  it('names what it saw for shapes it does not know', () => {
    assert.throws(() => readNotification('{"hello":"world","n":1}'), /unknown message shape \(top-level keys: hello, n\)/);
    assert.throws(() => readNotification('[1,2]'), /JSON array, not an object/);
    assert.throws(() => readNotification('{"Records":[]}'), /S3 event notification but Records/);
    assert.throws(() => readNotification('{"Records":[{"eventSource":"aws:sqs"}]}'), /Records\.0\.eventSource/);
  });
});

describe('decodeS3Key', () => {
  it('treats + as a space and %2B as a plus', () => {
    assert.equal(decodeS3Key('my+flow+logs/c%2B%2B/x%3Dy'), 'my flow logs/c++/x=y');
    assert.throws(() => decodeS3Key('bad%ZZkey'), NotificationShapeError);
  });

  it('inverts S3’s form-style encoding for any key', () => {
    const formEncode = (key: string) => encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
    fc.assert(fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }), (key) => decodeS3Key(formEncode(key)) === key));
  });
});
