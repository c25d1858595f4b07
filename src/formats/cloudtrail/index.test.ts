import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { SluiceError } from '../../core/errors.js';
import type { Rejection, SluiceRecord } from '../../core/record.js';
import { fixturePath } from '../../testing/repo-root.js';
import { CLOUDTRAIL_REJECT_CODES, cloudtrailFormat, type CloudtrailOptions } from './index.js';

const ID_PREFIX = '0123456789abcdef';

interface Decoded {
  records: SluiceRecord[];
  rejects: Rejection[];
  filtered: number;
  batches: number;
}

async function* chunks(bytes: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function decode(
  bytes: Uint8Array | string,
  options?: CloudtrailOptions,
  key = 'AWSLogs/123456789012/CloudTrail/us-east-1/2023/07/19/trail.json.gz',
  chunkSize = 64 * 1024,
): Promise<Decoded> {
  const input = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  const out: Decoded = { records: [], rejects: [], filtered: 0, batches: 0 };
  const ctx = { object: { uri: `s3://trail-bucket/${key}`, key }, idPrefix: ID_PREFIX };
  for await (const batch of cloudtrailFormat(options).decode(chunks(input, chunkSize), ctx)) {
    out.records.push(...batch.records);
    out.rejects.push(...batch.rejects);
    out.filtered += batch.filtered ?? 0;
    out.batches++;
  }
  return out;
}

function readFixture(...parts: string[]): Buffer {
  const bytes = readFileSync(fixturePath(...parts));
  return parts[parts.length - 1].endsWith('.gz') ? gunzipSync(bytes) : bytes;
}

const ids = (records: SluiceRecord[]): string[] => records.map((r) => r.id);
const field = (record: SluiceRecord, name: string): unknown => record.fields[name];

describe('cloudtrail format: AWS documentation examples (delivery files)', () => {
  it('reads a one-record file with a deterministic id, origin, time and the event as parsed', async () => {
    // Prepare
    const bytes = readFixture('aws-docs', 'cloudtrail', 'ec2-StartInstances.json');

    // Act
    const decoded = await decode(bytes);

    // Assess
    assert.deepEqual(decoded.rejects, []);
    assert.equal(decoded.records.length, 1);
    const [record] = decoded.records;
    assert.equal(record.id, `${ID_PREFIX}-1`);
    assert.deepEqual(record.origin, { object: 's3://trail-bucket/AWSLogs/123456789012/CloudTrail/us-east-1/2023/07/19/trail.json.gz', line: 1 });
    assert.equal(record.time, Date.parse('2014-03-06T21:22:54Z'));
    assert.deepEqual(record.fields, JSON.parse(bytes.toString('utf8')).Records[0]);
    assert.equal(field(record, 'eventName'), 'StartInstances');
  });

  it('reads every single-record example with its event name and time', async () => {
    // Prepare
    const examples: Array<[string, string, string]> = [
      ['ec2-StopInstances.json', 'StopInstances', '2014-03-06T21:01:59Z'],
      ['ec2-CreateKeyPair.json', 'CreateKeyPair', '2014-03-06T17:10:34Z'],
      ['iam-CreateUser.json', 'CreateUser', '2014-03-24T21:11:59Z'],
      ['iam-AddUserToGroup.json', 'AddUserToGroup', '2014-03-25T21:08:14Z'],
      ['error-UpdateTrail-TrailNotFound.json', 'UpdateTrail', '2016-07-14T19:15:45Z'],
    ];

    for (const [file, eventName, eventTime] of examples) {
      // Act
      const decoded = await decode(readFixture('aws-docs', 'cloudtrail', file));

      // Assess
      assert.deepEqual(decoded.rejects, [], file);
      assert.deepEqual(
        decoded.records.map((r) => [r.id, field(r, 'eventName'), r.time]),
        [[`${ID_PREFIX}-1`, eventName, Date.parse(eventTime)]],
        file,
      );
    }
    const error = (await decode(readFixture('aws-docs', 'cloudtrail', 'error-UpdateTrail-TrailNotFound.json'))).records[0];
    assert.equal(field(error, 'errorCode'), 'TrailNotFoundException');
  });

  it('keeps the URL-encoded policy of the repaired CreateRole example as text', async () => {
    // Act
    const { records, rejects } = await decode(readFixture('aws-docs', 'cloudtrail', 'iam-CreateRole-urlencoded-policy.json'));

    // Assess
    assert.deepEqual(rejects, []);
    const role = (field(records[0], 'responseElements') as { role: { assumeRolePolicyDocument: string } }).role;
    assert.ok(role.assumeRolePolicyDocument.startsWith('%7B%0A%20%20%22Version%22%3A%20%222012-10-17%22'));
    assert.equal(decodeURIComponent(role.assumeRolePolicyDocument).includes('"Effect": "Allow"'), true);
  });

  it('reads the 10 wrapped console sign-in events in order, nested objects kept', async () => {
    // Act
    const { records, rejects } = await decode(readFixture('aws-docs', 'cloudtrail', 'console-signin-events.wrapped.json'));

    // Assess
    assert.deepEqual(rejects, []);
    assert.deepEqual(ids(records), Array.from({ length: 10 }, (_, i) => `${ID_PREFIX}-${i + 1}`));
    assert.deepEqual(
      records.map((r) => field(r, 'eventName')),
      ['ConsoleLogin', 'ConsoleLogin', 'ConsoleLogin', 'CheckMfa', 'CheckMfa', 'ConsoleLogin', 'ConsoleLogin', 'ConsoleLogin', 'EnableMFADevice', 'PasswordUpdated'],
    );
    assert.deepEqual(field(records[2], 'responseElements'), { ConsoleLogin: 'Failure' });
    assert.equal((field(records[1], 'additionalEventData') as { MFAUsed: string }).MFAUsed, 'Yes');
    assert.ok(records.every((r) => r.time === Date.parse('2022-11-10T16:24:34Z')));
  });

  it('reads the Insights start/end pair like any other records', async () => {
    // Act
    const { records, rejects } = await decode(readFixture('aws-docs', 'cloudtrail', 'insights-ApiCallRateInsight-start-end.json'));

    // Assess
    assert.deepEqual(rejects, []);
    assert.equal(records.length, 2);
    assert.deepEqual(
      records.map((r) => [(field(r, 'insightDetails') as { state: string }).state, r.time]),
      [
        ['Start', Date.parse('2019-11-14T00:51:00Z')],
        ['End', Date.parse('2019-11-14T00:52:00Z')],
      ],
    );
    assert.equal(field(records[0], 'sharedEventID'), field(records[1], 'sharedEventID'));
    assert.equal(field(records[0], 'eventType'), 'AwsCloudTrailInsight');
  });

  it('counts a digest file as one filtered input, not records and not an error', async () => {
    // Act: under an ordinary key, so the digest is recognised by its content
    const decoded = await decode(readFixture('aws-docs', 'cloudtrail', 'digest-file-example.json'), undefined, 'exports/digest-file-example.json');

    // Assess
    assert.deepEqual(decoded, { records: [], rejects: [], filtered: 1, batches: 1 });
  });

  it('never parses an object under CloudTrail-Digest/, whatever it holds', async () => {
    // Prepare: not even JSON
    const key = 'AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_trail_us-east-2_20150817T150131Z.json.gz';

    // Act
    const decoded = await decode(Buffer.from([0xff, 0x00, 0x7b, 0x7b]), undefined, key);

    // Assess
    assert.deepEqual(decoded, { records: [], rejects: [], filtered: 1, batches: 1 });
  });
});

describe('cloudtrail format: OpenTelemetry collector test data', () => {
  it('reads the 7 records of cloudtrail_log.json, whose odd ",\\n    ,{" spacing is valid JSON', async () => {
    // Prepare
    const bytes = readFixture('opentelemetry-collector-contrib', 'cloudtraillog', 'cloudtrail_log.json');
    const expected = JSON.parse(bytes.toString('utf8')).Records as Array<Record<string, unknown>>;

    // Act
    const { records, rejects } = await decode(bytes);

    // Assess: the file is valid JSON (JSON.parse above) and every record comes out as parsed
    assert.deepEqual(rejects, []);
    assert.equal(expected.length, 7);
    assert.deepEqual(
      records.map((r) => r.fields),
      expected,
    );
    assert.deepEqual(
      records.map((r) => field(r, 'eventType')),
      ['AwsApiCall', 'AwsApiCall', 'AwsApiCall', 'AwsCloudTrailInsight', 'AwsApiCall', 'AwsConsoleSignIn', 'AwsServiceEvent'],
    );
    const identityCenter = records[5];
    assert.deepEqual(field(identityCenter, 'userIdentity'), {
      type: 'IdentityCenterUser',
      userId: 'd-12345abcde',
      identityStoreArn: 'arn:aws:identitystore::123456789012:identitystore/d-12345abcde',
      arn: 'arn:aws:iam::123456789012:user/identity-center-user',
      accountId: '123456789012',
      accessKeyId: '',
    });
    assert.equal((field(identityCenter, 'additionalEventData') as { MFAUsed: boolean }).MFAUsed, true);
    assert.equal(field(records[6], 'sourceIPAddress'), 'AWS Internal');
    assert.equal(records[6].time, Date.parse('2021-01-14T01:41:59Z'));
  });

  it('decodes the constructed gzip object (same content) identically', async () => {
    // Act
    const gz = await decode(readFixture('constructed', '123456789012_CloudTrail_us-east-1_20230719T2120Z_AbCdEfGhIjKlMnOp.json.gz'));
    const plain = await decode(readFixture('opentelemetry-collector-contrib', 'cloudtraillog', 'cloudtrail_log.json'));

    // Assess
    assert.equal(gz.records.length, 7);
    assert.deepEqual(gz, plain);
  });

  it('filters the digest with malformed timestamps', async () => {
    // Act
    const decoded = await decode(readFixture('opentelemetry-collector-contrib', 'cloudtraillog', 'cloudtrail_digest.json'));

    // Assess
    assert.deepEqual(decoded, { records: [], rejects: [], filtered: 1, batches: 1 });
  });

  it('rejects a CloudWatch Logs payload carrying CloudTrail, pointing at the cwl format', async () => {
    // Act
    const { records, rejects } = await decode(readFixture('opentelemetry-collector-contrib', 'cloudtraillog', 'cloudtrail_log_cw.json'));

    // Assess
    assert.deepEqual(records, []);
    assert.equal(rejects.length, 1);
    assert.equal(rejects[0].code, CLOUDTRAIL_REJECT_CODES.badRecord);
    assert.equal(rejects[0].origin.line, 1);
    assert.match(rejects[0].reason, /not a CloudTrail event .*messageType.*cwl format/);
  });
});

describe('cloudtrail format: Elastic Beats test data (one event per line)', () => {
  it('reads an NDJSON AssumeRole event with its session tags', async () => {
    // Act
    const { records, rejects } = await decode(readFixture('elastic-beats', 'cloudtrail', 'assume-role-json.log'));

    // Assess
    assert.deepEqual(rejects, []);
    assert.equal(records.length, 1);
    assert.equal(records[0].id, `${ID_PREFIX}-1`);
    assert.equal(field(records[0], 'eventID'), '1917948f-3042-46ec-98e2-62865EXAMPLE');
    assert.equal((field(records[0], 'requestParameters') as { roleSessionName: string }).roleSessionName, 'Role2WithTags');
    assert.equal(records[0].time, Date.parse('2019-10-02T22:12:29Z'));
  });

  it('reads console logins line by line, with line numbers as ordinals', async () => {
    // Act
    const { records, rejects } = await decode(readFixture('elastic-beats', 'cloudtrail', 'console-login-json.log'));

    // Assess
    assert.deepEqual(rejects, []);
    assert.deepEqual(
      records.map((r) => [r.id, r.origin.line, field(r, 'responseElements'), field(r, 'errorMessage')]),
      [
        [`${ID_PREFIX}-1`, 1, { ConsoleLogin: 'Success' }, undefined],
        [`${ID_PREFIX}-2`, 2, { ConsoleLogin: 'Failure' }, 'Failed authentication'],
      ],
    );
    assert.equal((field(records[1], 'additionalEventData') as { MFAUsed: string }).MFAUsed, 'No');
  });

  it('filters a one-line digest', async () => {
    // Act
    const decoded = await decode(readFixture('elastic-beats', 'cloudtrail', 'cloudtrail-digest-json.log'));

    // Assess
    assert.deepEqual(decoded, { records: [], rejects: [], filtered: 1, batches: 1 });
  });

  it('keeps the Insight event with its unknown (typo) key as it is', async () => {
    // Act
    const { records, rejects } = await decode(readFixture('elastic-beats', 'cloudtrail', 'insight-json.log'));

    // Assess
    assert.deepEqual(rejects, []);
    const details = field(records[0], 'insightDetails') as Record<string, unknown>;
    assert.deepEqual(Object.keys(details), ['state', 'eventSource', 'eventName', 'insightType', 'insffightContext']);
    assert.equal(details.state, 'End');
  });
});

describe('cloudtrail format: Splunk sample object', () => {
  it('reads the 14 records of the real gzip object in order', async () => {
    // Prepare
    const bytes = readFixture('splunk-aws-gdi-toolkit', 'sample-cloudtrail.json.gz');

    // Act: in tiny chunks, to cross every boundary
    const { records, rejects } = await decode(bytes, undefined, 'AWSLogs/841154226728/CloudTrail/ap-south-1/2023/01/04/x.json.gz', 7);

    // Assess
    assert.deepEqual(rejects, []);
    assert.deepEqual(
      records.map((r) => r.fields),
      JSON.parse(bytes.toString('utf8')).Records,
    );
    assert.deepEqual(
      records.map((r) => field(r, 'eventName')),
      ['AssumeRole', 'DescribeNatGateways', 'AssumeRole', 'AssumeRole', 'AssumeRole', 'AssumeRole', 'ListLocations', 'ListCodeRepositories', 'AssumeRole', 'AssumeRole', 'ListLocations', 'DescribeFileSystems', 'ListStateMachines', 'AssumeRole'],
    );
    assert.deepEqual([records[13].id, field(records[13], 'eventID'), records[13].time], [`${ID_PREFIX}-14`, '05f0174a-339d-4f24-8cab-30eae8a60467', Date.parse('2023-01-04T04:09:23Z')]);
  });
});

describe('cloudtrail format: files that are not delivery files', () => {
  it('rejects a CloudWatch Logs payload (pretty-printed) as one file-level rejection with a hint', async () => {
    // Act
    const { records, rejects } = await decode(readFixture('aws-docs', 'cloudwatch-logs', 'kinesis-doc.decoded-cloudtrail-data-message.json'), undefined, 'cwl/message.json');

    // Assess
    assert.deepEqual(records, []);
    assert.equal(rejects.length, 1);
    assert.equal(rejects[0].code, CLOUDTRAIL_REJECT_CODES.noRecords);
    assert.equal(rejects[0].origin.line, 0);
    assert.match(rejects[0].reason, /^cwl\/message\.json: expected a CloudTrail delivery file .* but found a JSON object with keys owner, logGroup, .*cwl format/);
  });

  it('rejects an object without Records, naming the keys it found', async () => {
    // Act
    const { records, rejects } = await decode(readFixture('aws-docs', 's3-events', 's3-TestEvent.json'), undefined, 'events/test.json');

    // Assess
    assert.deepEqual(records, []);
    assert.deepEqual(
      rejects.map((r) => [r.code, r.origin.line, r.reason]),
      [[CLOUDTRAIL_REJECT_CODES.noRecords, 0, 'events/test.json: expected a CloudTrail delivery file ({"Records":[...]}) but found a JSON object with keys Service, Event, Time, Bucket, RequestId, HostId']],
    );
  });

  it('rejects a Records key that is not an array, saying what it holds', async () => {
    // Act
    const { records, rejects } = await decode('{"Records": {"eventVersion":"1.08"}}', undefined, 'odd.json');

    // Assess
    assert.deepEqual(records, []);
    assert.deepEqual(
      rejects.map((r) => [r.code, r.reason]),
      [[CLOUDTRAIL_REJECT_CODES.noRecords, 'odd.json: expected a CloudTrail delivery file ({"Records":[...]}) but found a Records key holding a JSON object with keys eventVersion instead of an array']],
    );
  });

  it('rejects an empty file, a top-level array and binary garbage without throwing', async () => {
    // Act
    const empty = await decode(' \n ');
    const array = await decode('[{"eventVersion":"1.08"}]');
    const garbage = await decode(Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x22]));

    // Assess
    assert.deepEqual(
      [empty, array, garbage].map((d) => [d.records.length, d.rejects.map((r) => r.code)]),
      [
        [0, [CLOUDTRAIL_REJECT_CODES.noRecords]],
        [0, [CLOUDTRAIL_REJECT_CODES.noRecords]],
        [0, [CLOUDTRAIL_REJECT_CODES.badJson]],
      ],
    );
    assert.match(empty.rejects[0].reason, /holds no JSON at all/);
    assert.match(array.rejects[0].reason, /holds a JSON array \(line 1, column 1\)/);
    assert.match(garbage.rejects[0].reason, /expected a JSON object \("\{"\) but found the character U\+FFFD \(line 1, column 1\)/);
  });
});

describe('cloudtrail format: damaged delivery files', () => {
  const otel = readFixture('opentelemetry-collector-contrib', 'cloudtraillog', 'cloudtrail_log.json');

  it('keeps the records read before a truncation, and rejects the file once with the position', async () => {
    // Prepare: cut inside the 5th record (its eventTime is on line 233 of the fixture)
    const cut = otel.subarray(0, otel.indexOf('"eventTime": "2023-07-19T21:35:03Z"'));

    // Act
    const { records, rejects } = await decode(cut);

    // Assess
    assert.deepEqual(ids(records), [`${ID_PREFIX}-1`, `${ID_PREFIX}-2`, `${ID_PREFIX}-3`, `${ID_PREFIX}-4`]);
    assert.equal(rejects.length, 1);
    assert.equal(rejects[0].code, CLOUDTRAIL_REJECT_CODES.truncated);
    assert.equal(rejects[0].origin.line, 0);
    assert.match(rejects[0].reason, /trail\.json\.gz: the JSON ends inside record 5 \(at line 233, column 13\); the 4 records before it were read/);
    assert.ok(rejects[0].raw?.startsWith('{\n            "eventVersion": "1.09",\n            "userIdentity"'));
  });

  it('reports a truncation between records and before the closing brace', async () => {
    // Act
    const afterRecord = await decode('{"Records":[{"eventVersion":"1.08","eventTime":"2024-01-01T00:00:00Z"},');
    const afterArray = await decode('{"Records":[{"eventVersion":"1.08"}]');

    // Assess
    assert.deepEqual([afterRecord.records.length, afterRecord.rejects.map((r) => r.code)], [1, [CLOUDTRAIL_REJECT_CODES.truncated]]);
    assert.match(afterRecord.rejects[0].reason, /ends after record 1, before the "\]" closing the Records array/);
    assert.deepEqual([afterArray.records.length, afterArray.rejects.map((r) => r.code)], [1, [CLOUDTRAIL_REJECT_CODES.truncated]]);
    assert.match(afterArray.rejects[0].reason, /ends after the Records array, before the "\}"/);
  });

  it('stops at invalid JSON between records, keeping what came before', async () => {
    // Prepare: a comma missing between two records
    const text = '{"Records":[{"eventVersion":"1","eventTime":"2024-01-01T00:00:00Z"}\n {"eventVersion":"2"},{"eventVersion":"3"}]}';

    // Act
    const { records, rejects } = await decode(text);

    // Assess
    assert.deepEqual(ids(records), [`${ID_PREFIX}-1`]);
    assert.deepEqual(
      rejects.map((r) => [r.code, r.origin.line, r.reason]),
      [
        [
          CLOUDTRAIL_REJECT_CODES.badJson,
          0,
          'AWSLogs/123456789012/CloudTrail/us-east-1/2023/07/19/trail.json.gz: invalid JSON: expected "," or "]" after record 1 but found "{" (line 2, column 2); the record before it was read (any incomplete one is rejected here); nothing after this point was read',
        ],
      ],
    );
  });

  it('rejects one bad record and goes on: invalid JSON inside, not an object, not an event', async () => {
    // Prepare
    const text = '{"Records":[{"eventVersion":"1"}, {"eventVersion":"2",,"x":1}, 42, {"Service":"x"}, "text", {"eventVersion":"6"}]}';

    // Act
    const { records, rejects } = await decode(text);

    // Assess
    assert.deepEqual(ids(records), [`${ID_PREFIX}-1`, `${ID_PREFIX}-6`]);
    assert.deepEqual(
      rejects.map((r) => [r.code, r.origin.line, r.raw]),
      [
        [CLOUDTRAIL_REJECT_CODES.badRecord, 2, '{"eventVersion":"2",,"x":1}'],
        [CLOUDTRAIL_REJECT_CODES.badRecord, 3, '42'],
        [CLOUDTRAIL_REJECT_CODES.badRecord, 4, '{"Service":"x"}'],
        [CLOUDTRAIL_REJECT_CODES.badRecord, 5, '"text"'],
      ],
    );
    assert.match(rejects[0].reason, /^record 2 of the Records array is not valid JSON: /);
    assert.equal(rejects[1].reason, 'record 3 of the Records array is a JSON number, not a JSON object (a CloudTrail event)');
    assert.match(rejects[2].reason, /^record 4 of the Records array is not a CloudTrail event \(no eventVersion or eventTime\): found a JSON object with keys Service$/);
  });

  it('rejects a record over the size cap with its head, and reads the next one', async () => {
    // Prepare
    const big = `{"eventVersion":"1","pad":"${'x'.repeat(5000)}"}`;
    const text = `{"Records":[${big},{"eventVersion":"2"}]}`;

    // Act
    const { records, rejects } = await decode(text, { maxRecordBytes: 1024 }, undefined, 100);

    // Assess
    assert.deepEqual(ids(records), [`${ID_PREFIX}-2`]);
    assert.equal(rejects.length, 1);
    assert.deepEqual([rejects[0].code, rejects[0].origin.line, rejects[0].raw], [CLOUDTRAIL_REJECT_CODES.recordTooLarge, 1, big.slice(0, 4096)]);
    assert.match(rejects[0].reason, /^record 1 of the Records array is 4\.9 KiB, over the 1 KiB limit \(raw holds its start\); raise the cloudtrail maxRecordMb option/);
  });

  it('decodes invalid UTF-8 as U+FFFD inside a record instead of failing', async () => {
    // Prepare
    const bytes = Buffer.concat([Buffer.from('{"Records":[{"eventVersion":"1","userName":"a'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('b"}]}')]);

    // Act
    const { records, rejects } = await decode(bytes, undefined, undefined, 1);

    // Assess
    assert.deepEqual(rejects, []);
    assert.equal(field(records[0], 'userName'), 'a\ufffd(\ufffdb');
  });

  it('numbers records on through several documents back to back (concatenated gzip members)', async () => {
    // Prepare
    const one = '{"Records":[{"eventVersion":"1"},{"eventVersion":"2"}]}';
    const two = '{"Records":[{"eventVersion":"3"}]}';

    // Act
    const { records, rejects } = await decode(`${one}\n${two}`);

    // Assess
    assert.deepEqual(rejects, []);
    assert.deepEqual(
      records.map((r) => [r.id, field(r, 'eventVersion')]),
      [
        [`${ID_PREFIX}-1`, '1'],
        [`${ID_PREFIX}-2`, '2'],
        [`${ID_PREFIX}-3`, '3'],
      ],
    );
  });

  it('ignores other keys of the delivery object and reads a Records key that is not first', async () => {
    // Prepare
    const text = '{"meta":{"a":[1,{"Records":[9]}]},"Records":[{"eventVersion":"1"}],"more":"]}"}';

    // Act
    const { records, rejects } = await decode(text, undefined, undefined, 3);

    // Assess
    assert.deepEqual(rejects, []);
    assert.deepEqual(ids(records), [`${ID_PREFIX}-1`]);
  });
});

describe('cloudtrail format: modes and batches', () => {
  it('with mode ndjson, counts blank lines and rejects a delivery file on one line', async () => {
    // Prepare
    const text = '{"eventVersion":"1"}\n\n  \n{"Records":[{"eventVersion":"2"}]}\nnot json\n{"eventVersion":"3"}';

    // Act
    const { records, rejects } = await decode(text, { mode: 'ndjson' });

    // Assess
    assert.deepEqual(
      records.map((r) => [r.id, r.origin.line]),
      [
        [`${ID_PREFIX}-1`, 1],
        [`${ID_PREFIX}-6`, 6],
      ],
    );
    assert.deepEqual(
      rejects.map((r) => [r.code, r.origin.line]),
      [
        [CLOUDTRAIL_REJECT_CODES.badRecord, 4],
        [CLOUDTRAIL_REJECT_CODES.badRecord, 5],
      ],
    );
    assert.match(rejects[0].reason, /holds a whole delivery file .*set the cloudtrail `mode` option to records/);
  });

  it('with mode records, reads an NDJSON file as one document and says what it found', async () => {
    // Act
    const { records, rejects } = await decode('{"eventVersion":"1","eventTime":"2024-01-01T00:00:00Z"}\n', { mode: 'records' });

    // Assess
    assert.deepEqual(records, []);
    assert.equal(rejects.length, 1);
    assert.match(rejects[0].reason, /found a JSON object with keys eventVersion, eventTime; this looks like a single CloudTrail event/);
  });

  it('auto-detects "{"Records":" with whitespace and a byte-order mark, cut anywhere', async () => {
    // Prepare
    const text = '\ufeff \n{ \n "Records" : [ {"eventVersion":"1"} ] }';

    // Act
    const whole = await decode(text);
    const bytewise = await decode(text, undefined, undefined, 1);

    // Assess
    assert.deepEqual(ids(whole.records), [`${ID_PREFIX}-1`]);
    assert.deepEqual(bytewise.records, whole.records);
    assert.deepEqual(bytewise.rejects, []);
  });

  it('emits batches of at most batchRecords records', async () => {
    // Prepare
    const text = `{"Records":[${Array.from({ length: 25 }, (_, i) => `{"eventVersion":"${i}"}`).join(',')}]}`;

    // Act
    const decoded = await decode(text, { batchRecords: 10 }, undefined, 16);

    // Assess
    assert.equal(decoded.records.length, 25);
    assert.ok(decoded.batches >= 3, `batches: ${decoded.batches}`);
  });

  it('refuses bad options with a config error', () => {
    // Act + Assess
    assert.throws(() => cloudtrailFormat({ mode: 'lines' as never }), (err: unknown) => err instanceof SluiceError && err.stage === 'config' && /unknown mode "lines"/.test(err.message));
    assert.throws(() => cloudtrailFormat({ maxRecordBytes: 0 }), (err: unknown) => err instanceof SluiceError && err.code === 'CLOUDTRAIL_BAD_OPTION');
  });

  it('gives a record without a valid eventTime no time, and keeps it', async () => {
    // Act
    const { records } = await decode('{"Records":[{"eventVersion":"1"},{"eventVersion":"1","eventTime":"2025-10-21TT00:52:27Z"}]}');

    // Assess
    assert.deepEqual(
      records.map((r) => 'time' in r),
      [false, false],
    );
  });
});
