import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { decodeInChunks } from '../../testing/line-format-properties.js';
import { fixturePath } from '../../testing/repo-root.js';
import { ALB_RECORD_KEYS } from './fields.js';
import { ALB_REJECT_CODES, albFormat, type AlbOptions } from './index.js';

const ID_PREFIX = 'a1b2c3d4e5f60718';
const TARGET_GROUP = 'arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067';

const CTX = { object: { uri: 's3://lb-logs/AWSLogs/123456789012/elasticloadbalancing/us-east-2/2018/07/02/x.log.gz', key: 'x.log.gz' }, idPrefix: ID_PREFIX };

const decode = (bytes: Uint8Array | string, options?: AlbOptions, chunkSize?: number) => decodeInChunks(albFormat(options), bytes, CTX, chunkSize);

const readFixture = (...parts: string[]): Buffer => readFileSync(fixturePath(...parts));

/** Record fields: every key, the given ones set and the rest null. */
function fieldsWith(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(ALB_RECORD_KEYS.map((key) => [key, values[key] ?? null]));
}

describe('alb format: AWS documentation examples (29 fields)', () => {
  it('types every field of the HTTP example', async () => {
    // Act
    const { records, rejects } = await decode(readFixture('aws-docs', 'alb', 'alb-doc-examples.joined.log'));

    // Assess
    assert.deepEqual(rejects, []);
    assert.equal(records.length, 7);
    assert.deepEqual(records[0], {
      id: `${ID_PREFIX}-1`,
      origin: { object: 's3://lb-logs/AWSLogs/123456789012/elasticloadbalancing/us-east-2/2018/07/02/x.log.gz', line: 1 },
      time: Date.parse('2018-07-02T22:23:00.186Z'),
      fields: fieldsWith({
        type: 'http',
        time: '2018-07-02T22:23:00.186641Z',
        elb: 'app/my-loadbalancer/50dc6c495c0c9188',
        client_ip: '192.168.131.39',
        client_port: 2817,
        target_ip: '10.0.0.1',
        target_port: 80,
        request_processing_time: 0,
        target_processing_time: 0.001,
        response_processing_time: 0,
        elb_status_code: 200,
        target_status_code: 200,
        received_bytes: 34,
        sent_bytes: 366,
        request: 'GET http://www.example.com:80/ HTTP/1.1',
        request_method: 'GET',
        request_url: 'http://www.example.com:80/',
        request_protocol: 'HTTP/1.1',
        user_agent: 'curl/7.46.0',
        target_group_arn: TARGET_GROUP,
        trace_id: 'Root=1-58337262-36d228ad5d99923122bbe354',
        matched_rule_priority: 0,
        request_creation_time: '2018-07-02T22:22:48.364000Z',
        actions_executed: 'forward',
        target_port_list: '10.0.0.1:80',
        target_status_code_list: '200',
      }),
    });
  });

  it('reads HTTPS, HTTP/2, WebSockets, redirects and the Lambda error example', async () => {
    // Act
    const { records } = await decode(readFixture('aws-docs', 'alb', 'alb-doc-examples.joined.log'));

    // Assess
    const https = records[1].fields;
    assert.deepEqual(
      [https.ssl_cipher, https.ssl_protocol, https.domain_name, https.chosen_cert_arn, https.actions_executed, https.request_processing_time],
      ['ECDHE-RSA-AES128-GCM-SHA256', 'TLSv1.2', 'www.example.com', 'arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012', 'authenticate,forward', 0.086],
    );
    assert.deepEqual([records[2].fields.type, records[2].fields.request_protocol, records[2].fields.redirect_url], ['h2', 'HTTP/2.0', 'https://example.com:80/']);
    assert.deepEqual([records[3].fields.type, records[3].fields.elb_status_code, records[3].fields.user_agent], ['ws', 101, null]);
    const lambda = records[6].fields;
    assert.deepEqual(
      [lambda.target_ip, lambda.target_port, lambda.elb_status_code, lambda.target_status_code, lambda.error_reason, lambda.target_port_list],
      [null, null, 502, null, 'LambdaInvalidResponse', null],
    );
    assert.equal(records[6].time, Date.parse('2018-11-30T22:23:00.186Z'));
  });
});

describe('alb format: Vector VRL test lines (30 and 33 fields)', () => {
  it('reads conn_trace_id, unquoted target lists and the three request-transform fields', async () => {
    // Act
    const { records, rejects } = await decode(readFixture('vectordotdev-vrl', 'alb-test-lines.log'));

    // Assess
    assert.deepEqual(rejects, []);
    assert.equal(records.length, 13);
    assert.deepEqual([records[0].fields.target_port_list, records[0].fields.target_status_code_list, records[0].fields.conn_trace_id], ['10.0.0.1:80', '200', 'TID_dc57cebed65b444ebc8177bb698fe166']);
    const last = records[12].fields;
    assert.deepEqual([last.conn_trace_id, last.transformed_host, last.transformed_uri, last.request_transform_status, 'extra_fields' in last], ['TID_dc57cebed65b444ebc8177bb698fe166', null, null, null, false]);
    assert.equal(records[11].fields.conn_trace_id, null);
  });

  it('keeps -1 processing times as numbers and reads a malformed request as far as it goes', async () => {
    // Act
    const { records } = await decode(readFixture('vectordotdev-vrl', 'alb-test-lines.log'));

    // Assess
    const malformed = records[8].fields;
    assert.deepEqual(
      [malformed.request_processing_time, malformed.target_processing_time, malformed.response_processing_time, malformed.elb_status_code, malformed.target_status_code],
      [-1, -1, -1, 400, null],
    );
    assert.deepEqual(
      [malformed.request, malformed.request_method, malformed.request_url, malformed.request_protocol],
      ['- http://awseb-awseb-1kgu6fbag3fad-640112591.us-east-1.elb.amazonaws.com:80- -', null, 'http://awseb-awseb-1kgu6fbag3fad-640112591.us-east-1.elb.amazonaws.com:80-', null],
    );
    assert.deepEqual([malformed.target_group_arn, malformed.matched_rule_priority, malformed.request_creation_time], [null, null, '2021-03-17T18:54:13.967000Z']);
    assert.equal(records[9].fields.user_agent, 'Mozilla/5.0 (X11; Linux x86_64; rv:60.0) Gecko/20100101 Firefox/60.0');
  });

  it('splits IPv6 client and target endpoints at their last colon', async () => {
    // Act
    const { records } = await decode(readFixture('vectordotdev-vrl', 'alb-test-lines.log'));

    // Assess
    const v6 = records[10].fields;
    assert.deepEqual(
      [v6.client_ip, v6.client_port, v6.target_ip, v6.target_port, v6.target_port_list, v6.actions_executed],
      ['2601:6bbc:c529:9dad:6bbc:c529:9dad:6bbc', 50599, 'fd6d:6bbc:c529:6::face:ed83:f46', 80, 'fd6d:6bbc:c529:27ff:b::dead:ed84:80', 'waf,forward'],
    );
    assert.deepEqual([v6.request_method, v6.request_url], ['POST', 'https://test.domain.com:443/api/deposits/transactions:search?detailsLevel=FULL&offset=0&limit=50']);
  });
});

describe('alb format: newer and bad lines', () => {
  const doc = readFixture('aws-docs', 'alb', 'alb-doc-examples.joined.log').toString('utf8').split('\n')[0];

  it('keeps fields after the 33 documented ones in extra_fields', async () => {
    // Prepare
    const line = `${doc} TID_1 "new.example.com" "/rewritten" "TransformSucceeded" 10.0.0.9`;

    // Act
    const { records, rejects } = await decode(line);

    // Assess
    assert.deepEqual(rejects, []);
    const f = records[0].fields;
    assert.deepEqual([f.conn_trace_id, f.transformed_host, f.transformed_uri, f.request_transform_status, f.extra_fields], ['TID_1', 'new.example.com', '/rewritten', 'TransformSucceeded', ['10.0.0.9']]);
  });

  it('reads the original 18-field format with the rest null', async () => {
    // Prepare
    const line = doc.split(' "-" "-" 0 ')[0];

    // Act
    const { records, rejects } = await decode(line);

    // Assess
    assert.deepEqual(rejects, []);
    assert.deepEqual([records[0].fields.trace_id, records[0].fields.domain_name, records[0].fields.classification], ['Root=1-58337262-36d228ad5d99923122bbe354', null, null]);
  });

  it('rejects a line whose last quoted field is never closed', async () => {
    // Act
    const { records, rejects } = await decode(`${doc.slice(0, -1)}`);

    // Assess
    assert.deepEqual(records, []);
    assert.deepEqual(
      rejects.map((r) => [r.code, r.reason]),
      [[ALB_REJECT_CODES.badQuote, `line 1: field "classification_reason" (field 29) opens a quote at column ${doc.length - 2} that is never closed`]],
    );
  });

  it('keeps \\x22 as logged, and does not end a quoted field at a backslash-escaped quote', async () => {
    // Act
    const hex = await decode(doc.replace('GET http://www.example.com:80/ HTTP/1.1', 'GET http://www.example.com:80/?q=\\x22 HTTP/1.1'));

    // Assess
    assert.deepEqual(hex.rejects, []);
    assert.equal(hex.records[0].fields.request_url, 'http://www.example.com:80/?q=\\x22');
  });

  it('does not end a quoted field at an escaped quote', async () => {
    // Act
    const { records, rejects } = await decode(doc.replace('"curl/7.46.0"', '"agent \\" x"'));

    // Assess
    assert.deepEqual(rejects, []);
    assert.equal(records[0].fields.user_agent, 'agent \\" x');
  });

  it('rejects each bad line with its number and reason, and keeps the good ones', async () => {
    // Prepare
    const lines = [
      doc,
      doc.replace('2018-07-02T22:23:00.186641Z', '2018-07-02 22:23:00'),
      doc.replace('192.168.131.39:2817', '192.168.131.39'),
      doc.replace(' 0.000 0.001 ', ' 0.000 fast '),
      doc.replace('"curl/7.46.0"', '"curl/7.46.0'),
      doc.split(' ').slice(0, 10).join(' '),
      '   ',
      doc,
    ];

    // Act
    const { records, rejects } = await decode(lines.join('\n'), undefined, 100);

    // Assess
    assert.deepEqual(
      records.map((r) => r.origin.line),
      [1, 8],
    );
    assert.deepEqual(
      rejects.map((r) => [r.origin.line, r.code, r.reason]),
      [
        [2, ALB_REJECT_CODES.badTime, 'line 2: field "time" (field 2) must be an ISO 8601 UTC time like 2018-07-02T22:23:00.186641Z, found "2018-07-02"'],
        [3, ALB_REJECT_CODES.badAddress, 'line 3: field "client:port" (field 4) must be ip:port or "-", found "192.168.131.39"'],
        [4, ALB_REJECT_CODES.badNumber, 'line 4: field "target_processing_time" (field 7) must be a number (like 0.001 or -1) or "-", found "fast"'],
        [
          5,
          ALB_REJECT_CODES.badQuote,
          `line 5: field "user_agent" (field 14) opens a quote at column ${lines[4].indexOf('"curl') + 1} whose closing quote (column ${lines[4].indexOf('"Root') + 1}) is followed by "R" instead of a space; ALB writes quotes inside fields as \\x22, so the line is damaged`,
        ],
        [6, ALB_REJECT_CODES.fieldCount, 'line 6: expected at least 18 fields (type … trace_id; newer lines have up to 33) but found 10'],
      ],
    );
    assert.equal(rejects[1].raw, lines[2]);
  });
});
