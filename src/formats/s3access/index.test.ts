import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { decodeInChunks } from '../../testing/line-format-properties.js';
import { fixturePath } from '../../testing/repo-root.js';
import { parseAccessLogTime } from './access-log-time.js';
import { S3ACCESS_FIELDS } from './fields.js';
import { S3ACCESS_REJECT_CODES, s3accessFormat, type S3accessOptions } from './index.js';

const ID_PREFIX = 'feedfacecafebeef';
const OWNER = '79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be';

const CTX = { object: { uri: 's3://logs/access/2019-02-06-00-00-38-EXAMPLE', key: 'access/2019-02-06-00-00-38-EXAMPLE' }, idPrefix: ID_PREFIX };

const decode = (bytes: Uint8Array | string, options?: S3accessOptions, chunkSize?: number) => decodeInChunks(s3accessFormat(options), bytes, CTX, chunkSize);

const readFixture = (...parts: string[]): Buffer => readFileSync(fixturePath(...parts));

/** A record's fields with every documented key, the given ones set and the rest null. */
function fieldsWith(values: Partial<Record<(typeof S3ACCESS_FIELDS)[number], unknown>>): Record<string, unknown> {
  return Object.fromEntries(S3ACCESS_FIELDS.map((name) => [name, values[name] ?? null]));
}

describe('s3access format: AWS documentation (LogFormat.md, 26 fields)', () => {
  it('types every field of the first example line', async () => {
    // Act
    const { records, rejects } = await decode(readFixture('aws-docs', 's3access', 'logformat-5-records.log'));

    // Assess
    assert.deepEqual(rejects, []);
    assert.equal(records.length, 5);
    assert.deepEqual(records[0], {
      id: `${ID_PREFIX}-1`,
      origin: { object: 's3://logs/access/2019-02-06-00-00-38-EXAMPLE', line: 1 },
      time: Date.parse('2019-02-06T00:00:38Z'),
      fields: fieldsWith({
        bucket_owner: OWNER,
        bucket: 'DOC-EXAMPLE-BUCKET1',
        time: '2019-02-06T00:00:38Z',
        remote_ip: '192.0.2.3',
        requester: OWNER,
        request_id: '3E57427F3EXAMPLE',
        operation: 'REST.GET.VERSIONING',
        request_uri: 'GET /DOC-EXAMPLE-BUCKET1?versioning HTTP/1.1',
        http_status: 200,
        bytes_sent: 113,
        total_time: 7,
        user_agent: 'S3Console/0.4',
        host_id: 's9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234=',
        signature_version: 'SigV4',
        cipher_suite: 'ECDHE-RSA-AES128-GCM-SHA256',
        authentication_type: 'AuthHeader',
        host_header: 'DOC-EXAMPLE-BUCKET1.s3.us-west-1.amazonaws.com',
        tls_version: 'TLSV1.2',
        access_point_arn: 'arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP',
        acl_required: 'Yes',
      }),
    });
  });

  it('reads the error line (with its trailing space) and the PUT with object size and turn-around time', async () => {
    // Act
    const { records } = await decode(readFixture('aws-docs', 's3access', 'logformat-5-records.log'));

    // Assess
    const policy = records[2].fields;
    assert.deepEqual([policy.http_status, policy.error_code, policy.bytes_sent, policy.acl_required, policy.access_point_arn], [404, 'NoSuchBucketPolicy', 297, 'Yes', null]);
    const put = records[4];
    assert.equal(put.time, Date.parse('2019-02-06T00:01:57Z'));
    assert.deepEqual(
      [put.fields.key, put.fields.request_uri, put.fields.bytes_sent, put.fields.object_size, put.fields.total_time, put.fields.turn_around_time, put.fields.cipher_suite],
      ['s3-dg.pdf', 'PUT /DOC-EXAMPLE-BUCKET1/s3-dg.pdf HTTP/1.1', null, 4406583, 41754, 28, 'ECDHE-RSA-AES128-SHA'],
    );
  });
});

describe('s3access format: Elastic Beats test data (24 fields)', () => {
  it('reads assumed-role requesters and long user agents with commas; the 3 newest fields are null', async () => {
    // Act
    const { records, rejects } = await decode(readFixture('elastic-beats', 's3access', 's3_server_access.log'));

    // Assess
    assert.deepEqual(rejects, []);
    assert.equal(records.length, 5);
    const first = records[0].fields;
    assert.equal(first.requester, 'arn:aws:sts::627959692251:assumed-role/AWSServiceRoleForTrustedAdvisor/TrustedAdvisor_627959692251_784ab70b-8cc9-4d37-a2ec-2ff4d0c08af9');
    assert.equal(
      first.user_agent,
      'AWS-Support-TrustedAdvisor, aws-internal/3 aws-sdk-java/1.11.590 Linux/4.9.137-0.1.ac.218.74.329.metal1.x86_64 OpenJDK_64-Bit_Server_VM/25.212-b03 java/1.8.0_212 vendor/Oracle_Corporation',
    );
    assert.deepEqual([first.tls_version, first.access_point_arn, first.acl_required, first.source_region], ['TLSv1.2', null, null, null]);
    assert.equal(records[2].fields.turn_around_time, 1);
  });

  it('reads unquoted "-" for request URI, referer and user agent (BATCH.DELETE.OBJECT)', async () => {
    // Act
    const { records } = await decode(readFixture('elastic-beats', 's3access', 's3_server_access.log'));

    // Assess
    const batchDelete = records[4];
    assert.equal(batchDelete.time, Date.parse('2019-09-10T15:11:07Z'));
    assert.deepEqual(
      [batchDelete.fields.operation, batchDelete.fields.key, batchDelete.fields.request_uri, batchDelete.fields.http_status, batchDelete.fields.object_size, batchDelete.fields.referer, batchDelete.fields.user_agent],
      ['BATCH.DELETE.OBJECT', 'jolokia-war-1.5.0.war', null, 204, 344017, null, null],
    );
  });

  it('honours a +0200 offset in the bracketed time', async () => {
    // Act
    const { records, rejects } = await decode(readFixture('elastic-beats', 's3access', 'test.log'));

    // Assess
    assert.deepEqual(rejects, []);
    const fake = records[5];
    assert.equal(fake.time, Date.parse('2021-02-09T12:48:42Z'));
    assert.deepEqual([fake.fields.time, fake.fields.operation, fake.fields.request_uri, fake.fields.signature_version], ['2021-02-09T14:48:42+02:00', 'REST.OPTIONS.FAKE', 'OPTIONS * HTTP/1.0', 'SigV4']);
    assert.equal(records[0].fields.signature_version, 'SigV2');
  });
});

describe('s3access format: OpenTelemetry collector test data', () => {
  it('reads a valid line and a multi-line stream', async () => {
    // Act
    const one = await decode(readFixture('opentelemetry-collector-contrib', 's3-access-log', 'valid_s3_access_log.log'));
    const multi = await decode(readFixture('opentelemetry-collector-contrib', 's3-access-log', 'stream', 'valid_log_multi.log'));

    // Assess
    assert.deepEqual(one.rejects, []);
    assert.equal(one.records[0].fields.bucket, 'amzn-s3-demo-bucket1');
    assert.deepEqual(multi.rejects, []);
    assert.deepEqual(
      multi.records.map((r) => [r.id, r.fields.operation, r.fields.acl_required]),
      [
        [`${ID_PREFIX}-1`, 'REST.GET.VERSIONING', 'Yes'],
        [`${ID_PREFIX}-2`, 'REST.GET.LOGGING_STATUS', null],
        [`${ID_PREFIX}-3`, 'REST.GET.BUCKETPOLICY', 'Yes'],
      ],
    );
  });

  it('reads a quoted "-" request URI as null', async () => {
    // Act
    const { records } = await decode(readFixture('opentelemetry-collector-contrib', 's3-access-log', 'unknown_request_uri.log'));

    // Assess
    assert.equal(records[0].fields.request_uri, null);
    assert.equal(records[0].fields.http_status, 200);
  });

  it('keeps the 27th field as source_region and later ones in extra_fields', async () => {
    // Act
    const { records, rejects } = await decode(readFixture('opentelemetry-collector-contrib', 's3-access-log', 'too_many_values.log'));

    // Assess
    assert.deepEqual(rejects, []);
    assert.deepEqual([records[0].fields.source_region, records[0].fields.extra_fields], ['us-east-1', ['ExtraUnknownField']]);
  });

  it('rejects a line with too few fields, naming the line and the count', async () => {
    // Act
    const { records, rejects } = await decode(readFixture('opentelemetry-collector-contrib', 's3-access-log', 'too_few_values.log'));

    // Assess
    assert.deepEqual(records, []);
    assert.deepEqual(
      rejects.map((r) => [r.code, r.origin.line, r.reason]),
      [[S3ACCESS_REJECT_CODES.fieldCount, 1, 'line 1: expected at least 18 fields (bucket_owner … version_id; newer lines have up to 27) but found 10']],
    );
  });
});

describe('s3access format: Splunk sample (26 fields, real)', () => {
  it('reads SSO requesters with an e-mail in the ARN and very long user agents', async () => {
    // Act
    const { records, rejects } = await decode(readFixture('splunk-aws-gdi-toolkit', 'sample-s3ServerAccess'));

    // Assess
    assert.deepEqual(rejects, []);
    assert.equal(records.length, 3);
    const first = records[0].fields;
    assert.equal(first.bucket_owner, 'd2b1828e428fd0fc94f09e0df9e09766e034d88de30f07560182746128287467d42d');
    assert.equal(first.requester, 'arn:aws:sts::841154226728:assumed-role/AWSReservedSSO_SPLKAdministratorAccess_8c0000887680558c/user@splunk.com');
    assert.deepEqual([first.request_uri, first.bytes_sent, first.total_time, first.turn_around_time], ['GET /?versions&max-keys=1&encoding-type=url HTTP/1.1', 892, 106, 105]);
    assert.ok(String(first.user_agent).endsWith('vendor/Oracle_Corporation cfg/retry-mode/standard'));
    assert.deepEqual(
      records.map((r) => [r.fields.http_status, r.fields.error_code, r.time]),
      [
        [200, null, Date.parse('2022-11-08T14:11:33Z')],
        [404, 'NoSuchWebsiteConfiguration', Date.parse('2022-11-08T14:11:33Z')],
        [404, 'NoSuchBucketPolicy', Date.parse('2022-11-08T14:11:33Z')],
      ],
    );
  });
});

describe('s3access format: bad lines', () => {
  const good = readFixture('aws-docs', 's3access', 'logformat-5-records.log').toString('utf8').split('\n')[0];

  it('rejects each bad line with its number and reason, and keeps the good ones', async () => {
    // Prepare
    const lines = [
      good,
      good.replace('[06/Feb/2019:00:00:38 +0000]', '[06/Feb/2019:00:00:38 +0000'),
      good.replace('"S3Console/0.4"', '"S3Console/0.4'),
      good.replace(' 200 - 113 ', ' 2x0 - 113 '),
      good.replace('[06/Feb/2019:00:00:38 +0000]', '[31/Feb/2019:00:00:38 +0000]'),
      '',
      good,
    ];

    // Act
    const { records, rejects } = await decode(lines.join('\r\n'));

    // Assess
    assert.deepEqual(
      records.map((r) => r.origin.line),
      [1, 7],
    );
    assert.deepEqual(
      rejects.map((r) => [r.origin.line, r.code, r.reason]),
      [
        [2, S3ACCESS_REJECT_CODES.unterminated, `line 2: field "time" (field 3) opens a bracket at column ${good.indexOf('[') + 1} that is never closed (a closing ] followed by a space or the line's end)`],
        [3, S3ACCESS_REJECT_CODES.unterminated, `line 3: field "user_agent" (field 17) opens a quote at column ${good.indexOf('"S3Console') + 1} that is never closed (a closing " followed by a space or the line's end)`],
        [4, S3ACCESS_REJECT_CODES.badInteger, 'line 4: field "http_status" (field 10) must be a non-negative integer or "-", found "2x0"'],
        [5, S3ACCESS_REJECT_CODES.badTime, 'line 5: field "time" (field 3) must be a time like [06/Feb/2019:00:00:38 +0000], found "31/Feb/2019:00:00:38 +0000"'],
      ],
    );
    assert.equal(rejects[0].raw, lines[1]);
  });

  it('reads the unescaped quotes S3 writes inside quoted fields', async () => {
    // Prepare: a request path with a quote and a space, user agents with inner and trailing quotes
    const lines = [
      good.replace('"GET /DOC-EXAMPLE-BUCKET1?versioning HTTP/1.1"', '"GET /" HTTP/1.1"').replace('"S3Console/0.4"', '"Mozilla "x"y"'),
      good.replace('"S3Console/0.4"', '"Safari/604.1""'),
    ];

    // Act
    const { records, rejects } = await decode(lines.join('\n'));

    // Assess
    assert.deepEqual(rejects, []);
    assert.deepEqual(
      records.map((r) => [r.fields.request_uri, r.fields.http_status, r.fields.user_agent, r.fields.acl_required]),
      [
        ['GET /" HTTP/1.1', 200, 'Mozilla "x"y', 'Yes'],
        ['GET /DOC-EXAMPLE-BUCKET1?versioning HTTP/1.1', 200, 'Safari/604.1"', 'Yes'],
      ],
    );
  });

  it('rejects a line over the length cap and reads the next, cut anywhere', async () => {
    // Prepare
    const text = `${'x'.repeat(3000)}\n${good}\n`;

    // Act
    const { records, rejects } = await decode(text, { lines: { maxLineBytes: 2048 } }, 333);

    // Assess
    assert.deepEqual(
      records.map((r) => r.origin.line),
      [2],
    );
    assert.deepEqual(
      rejects.map((r) => [r.origin.line, r.code]),
      [[1, S3ACCESS_REJECT_CODES.lineTooLong]],
    );
  });

  it('reads the 18-field original format with the rest null', async () => {
    // Prepare
    const eighteen = good.split(' - s9lz')[0] + ' -';

    // Act
    const { records, rejects } = await decode(eighteen);

    // Assess
    assert.deepEqual(rejects, []);
    assert.deepEqual([records[0].fields.user_agent, records[0].fields.version_id, records[0].fields.host_id, records[0].fields.tls_version], ['S3Console/0.4', null, null, null]);
  });
});

describe('parseAccessLogTime', () => {
  it('reads offsets both ways and rejects impossible dates', () => {
    // Act + Assess
    assert.deepEqual(parseAccessLogTime('06/Feb/2019:00:00:38 +0000'), { epochMs: Date.parse('2019-02-06T00:00:38Z'), iso: '2019-02-06T00:00:38Z' });
    assert.deepEqual(parseAccessLogTime('31/Dec/2020:23:30:00 -0530'), { epochMs: Date.parse('2021-01-01T05:00:00Z'), iso: '2020-12-31T23:30:00-05:30' });
    assert.equal(parseAccessLogTime('29/Feb/2024:00:00:00 +0000')?.iso, '2024-02-29T00:00:00Z');
    for (const bad of ['29/Feb/2023:00:00:00 +0000', '06/Fev/2019:00:00:38 +0000', '06/Feb/2019:24:00:38 +0000', '06/Feb/2019:00:00:38 0000', '06/Feb/2019:00:00:38']) {
      assert.equal(parseAccessLogTime(bad), undefined, bad);
    }
  });
});
