import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { RecordBatch } from '../../core/component.js';
import type { ObjectRef } from '../../core/record.js';
import { vpcflowFormat } from '../vpcflow/index.js';
import { cloudtrailFormat } from '../cloudtrail/index.js';
import { decompressByMagic } from '../../core/decompress.js';
import { fixturePath } from '../../testing/repo-root.js';
import { parsePipeline } from '../../pipeline/config.js';
import { createFormat } from '../../pipeline/catalog.js';
import { fuzzRuns } from '../../testing/fuzz.js';
import {
  CWL_REJECT_CODES,
  cwlFormat,
  cwlPayloadsOf,
  cwlPayloadToBatch,
  decodeCwlPayload,
  tryDecodeCwlPayload,
  type CwlInner,
} from './index.js';

const object: ObjectRef = { uri: '/in/cwl-object', key: 'cwl-object' };

async function* chunks(bytes: Uint8Array, size = bytes.length): AsyncIterable<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function decodeObject(bytes: Uint8Array, inner: CwlInner, chunkSize?: number, metadata = false): Promise<RecordBatch> {
  const out: RecordBatch = { records: [], rejects: [], filtered: 0 };
  const format = cwlFormat({ inner, metadata });
  for await (const b of format.decode(decompressByMagic(chunks(bytes, chunkSize), object.uri), { object, idPrefix: 'p' })) {
    out.records.push(...b.records);
    out.rejects.push(...b.rejects);
    out.filtered! += b.filtered ?? 0;
  }
  return out;
}

const json = (rel: string) => JSON.parse(readFileSync(fixturePath(rel), 'utf8')) as Record<string, unknown>;
const b64gzip = (text: string) => gzipSync(Buffer.from(text)).toString('base64');

describe('cwl payload decoding (Lambda API)', () => {
  it('decodes a direct Lambda subscription event (awslogs.data) into its flow log records', async () => {
    const event = json('constructed/lambda-cwlogs-subscription-event.vpcflow.json');
    const [item] = cwlPayloadsOf(event);
    const payload = decodeCwlPayload(item!.data as string);
    assert.equal(payload.messageType, 'DATA_MESSAGE');
    assert.equal(payload.logGroup, '/aws/vpc/flowlogs');
    const batch = await cwlPayloadToBatch(item!.data, { inner: vpcflowFormat() });
    assert.deepEqual(batch.records.map((r) => [r.id, r.fields.srcaddr, r.fields.dstaddr, r.fields.action]), [
      ['cwl-eventId1', '172.31.16.139', '172.31.16.21', 'ACCEPT'],
      ['cwl-eventId2', '172.31.9.69', '172.31.9.12', 'REJECT'],
    ]);
    assert.equal(batch.records[0]!.time, 1418530010 * 1000);
    assert.equal(batch.rejects.length, 0);
  });

  it('acknowledges a control message as one filtered record', async () => {
    const event = json('constructed/lambda-cwlogs-subscription-event.control-message.json');
    const batch = await cwlPayloadToBatch(cwlPayloadsOf(event)[0]!.data, { inner: vpcflowFormat() });
    assert.equal(batch.payload?.messageType, 'CONTROL_MESSAGE');
    assert.deepEqual([batch.records.length, batch.rejects.length, batch.filtered], [0, 0, 1]);
  });

  it('lists Kinesis records with their sequence numbers and decodes each', async () => {
    const items = cwlPayloadsOf(json('constructed/lambda-kinesis-event.cwlogs-subscription-vpcflow-control-cloudtrail.json'));
    assert.equal(items.length, 3);
    assert.ok(items.every((i) => i.via === 'kinesis' && typeof i.itemId === 'string'));
    const types = items.map((i) => decodeCwlPayload(i.data as string).messageType);
    assert.deepEqual(types, ['DATA_MESSAGE', 'CONTROL_MESSAGE', 'DATA_MESSAGE']);
    const cloudtrail = await cwlPayloadToBatch(items[2]!.data, { inner: cloudtrailFormat({ mode: 'ndjson' }) });
    assert.equal(cloudtrail.records.length, 1);
    assert.equal(cloudtrail.records[0]!.fields.eventName, 'PutObject');
  });

  it('lists Firehose transformation records with their recordId', () => {
    const items = cwlPayloadsOf(json('constructed/firehose-transformation-event.cwlogs-subscription.json'));
    assert.deepEqual(items.map((i) => [i.via, i.itemId]), [['firehose', '495900'], ['firehose', '495901']]);
    assert.equal(decodeCwlPayload(items[0]!.data as string).logEvents.length, 2);
  });

  it('rejects bad payloads with the reason', () => {
    const reason = (data: string | Uint8Array) => {
      const r = tryDecodeCwlPayload(data);
      assert.equal(r.ok, false);
      return r.ok ? '' : `${r.error.code} ${r.error.reason}`;
    };
    assert.equal(reason('not*base64!'), `${CWL_REJECT_CODES.notBase64} not base64`);
    assert.equal(reason(Buffer.from('hello world').toString('base64')), `${CWL_REJECT_CODES.notGzip} not gzip`);
    assert.equal(reason(gzipSync(Buffer.from('hello world')).subarray(0, 12)), `${CWL_REJECT_CODES.notGzip} not gzip`);
    assert.equal(reason(b64gzip('{"messageType":"DATA_MESSAGE", oops')), `${CWL_REJECT_CODES.notJson} not JSON`);
    assert.equal(reason(b64gzip('{"messageType":"DATA_MESSAGE","logGroup":"g"}')), `${CWL_REJECT_CODES.missingLogEvents} missing logEvents`);
    assert.equal(reason(b64gzip('{"logEvents":[]}')), `${CWL_REJECT_CODES.missingMessageType} missing messageType`);
    const bomb = gzipSync(Buffer.alloc(1024 * 1024, 0x20));
    const r = tryDecodeCwlPayload(bomb, { maxPayloadBytes: 1000 });
    assert.equal(r.ok ? '' : r.error.code, CWL_REJECT_CODES.tooLarge);
  });

  it('turns a bad payload into one rejection instead of throwing', async () => {
    const batch = await cwlPayloadToBatch('%%%', { inner: 'text', object: 'kinesis:123' });
    assert.equal(batch.records.length, 0);
    assert.equal(batch.rejects.length, 1);
    assert.match(batch.rejects[0]!.reason, /kinesis:123: not base64/);
  });
});

describe('cwl format (objects from a folder or S3)', () => {
  it('reads a Firehose-to-S3 object of concatenated gzip members', async () => {
    const bytes = readFileSync(fixturePath('constructed/firehose-s3-object.cwlogs-concatenated-gzip-members.gz'));
    for (const chunkSize of [undefined, 7]) {
      const out = await decodeObject(bytes, vpcflowFormat(), chunkSize);
      assert.deepEqual(out.records.map((r) => [r.id, r.origin.line, r.fields.srcaddr]), [
        ['cwl-eventId1', 1, '172.31.16.139'],
        ['cwl-eventId2', 2, '172.31.9.69'],
      ]);
      assert.equal(out.filtered, 1, 'the control message');
      // The CloudTrail payload's message is not a flow log line: rejected with the event's ordinal.
      assert.equal(out.rejects.length, 1);
      assert.equal(out.rejects[0]!.origin.line, 4);
      assert.match(out.rejects[0]!.reason, /event id eventId1/);
    }
  });

  it('reads concatenated bare JSON payloads (subscription-filter fixtures)', async () => {
    const bytes = readFileSync(fixturePath('opentelemetry-collector-contrib/subscription-filter/multiple_json_objects.json'));
    const out = await decodeObject(bytes, 'text', 13, true);
    assert.deepEqual(out.records.map((r) => [r.fields.message, r.fields.cwl_log_group, r.time]), [
      ['some text', '/my/first/log/group', 1771015786034],
      ['some other text', '/my/second/log/group', 1771015671000],
    ]);
    assert.deepEqual(out.records.map((r) => r.id), ['cwl-39494971786919662926967737244165955921131981322179969024', 'cwl-39494969221575739759196034780948230027606320717924401152']);
  });

  it('rejects messages that are not JSON under inner json, and keeps extracted fields', async () => {
    const truncated = await decodeObject(readFileSync(fixturePath('opentelemetry-collector-contrib/subscription-filter/valid_cloudwatch_log.json')), 'json');
    assert.equal(truncated.records.length, 0);
    assert.deepEqual(truncated.rejects.map((r) => [r.code, r.origin.line]), [['CWL_MESSAGE_NOT_JSON', 1], ['CWL_MESSAGE_NOT_JSON', 2], ['CWL_MESSAGE_NOT_JSON', 3]]);
    const control = await decodeObject(readFileSync(fixturePath('opentelemetry-collector-contrib/subscription-filter/valid_cloudwatch_log_control.json')), 'json');
    assert.deepEqual([control.records.length, control.rejects.length, control.filtered], [0, 0, 1]);
    const extracted = await decodeObject(readFileSync(fixturePath('opentelemetry-collector-contrib/subscription-filter/extracted_fields_both.json')), 'text', undefined, true);
    assert.deepEqual(extracted.records[0]!.fields.cwl_extracted, { '@aws.account': '999888777666', '@aws.region': 'us-west-2' });
  });

  it('reads files of Lambda, Kinesis and Firehose events, and goes on past bad payloads', async () => {
    const lambda = readFileSync(fixturePath('constructed/lambda-cwlogs-subscription-event.vpcflow.json'), 'utf8');
    const kinesis = readFileSync(fixturePath('constructed/lambda-kinesis-event.cwlogs-subscription-vpcflow-control-cloudtrail.json'), 'utf8');
    const bad = JSON.stringify({ awslogs: { data: Buffer.from('plain text').toString('base64') } });
    const text = `${lambda}\nnot json at all\n${bad}{"Records":[{"kinesis":{"data":"@@"}}]}${kinesis}{"truncated": `;
    const out = await decodeObject(Buffer.from(text), vpcflowFormat(), 50);
    assert.equal(out.records.length, 4, 'two flow records from the Lambda event, two from the Kinesis one');
    assert.deepEqual(out.rejects.map((r) => r.code), [
      CWL_REJECT_CODES.notJson, // the junk line
      CWL_REJECT_CODES.notGzip,
      CWL_REJECT_CODES.notBase64,
      'VPCFLOW_FIELD_COUNT', // the CloudTrail message read as a flow log
      CWL_REJECT_CODES.notJson, // the truncated tail
    ]);
    assert.equal(out.filtered, 1);
    const lines = [...out.records, ...out.rejects].map((r) => r.origin.line);
    assert.equal(new Set(lines).size, lines.length, 'every record and rejection has its own ordinal');
  });

  it('is registered as format cwl with an inner format', async () => {
    const config = parsePipeline({
      name: 'cwl-flows',
      source: { uri: '/tmp/in' },
      format: { type: 'cwl', inner: { type: 'vpcflow', fields: 'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status' } },
      sinks: [{ type: 'stdout' }],
    });
    const format = createFormat(config.format);
    assert.equal(format.name, 'cwl');
    const bytes = readFileSync(fixturePath('constructed/firehose-s3-object.cwlogs-concatenated-gzip-members.gz'));
    const out: RecordBatch = { records: [], rejects: [] };
    for await (const b of format.decode(decompressByMagic(chunks(bytes), 'x'), { object, idPrefix: 'p' })) out.records.push(...b.records);
    assert.equal(out.records.length, 2);
    assert.throws(() => parsePipeline({ name: 'x', source: { uri: '/in' }, format: { type: 'cwl', inner: { type: 'vpcflow', feilds: 'x' } }, sinks: [{ type: 'stdout' }] }), /feilds/);
  });
});

describe('cwl property: malformed payloads never stop a batch', () => {
  const validPayload = (group: number, n: number) =>
    JSON.stringify({
      messageType: 'DATA_MESSAGE',
      logGroup: `g${group}`,
      logStream: 's',
      logEvents: Array.from({ length: n }, (_, i) => ({ id: `${group}-${i}`, timestamp: 1000 + i, message: `m ${group} ${i}` })),
    });
  const piece = fc.oneof(
    fc.record({ kind: fc.constant('good' as const), n: fc.integer({ min: 0, max: 4 }), wrap: fc.constantFrom('bare', 'lambda', 'kinesis', 'firehose') }),
    fc.record({ kind: fc.constant('badData' as const), data: fc.string({ maxLength: 40 }) }),
    fc.record({ kind: fc.constant('badGzip' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
    fc.record({ kind: fc.constant('badInner' as const), text: fc.string({ maxLength: 40 }) }),
  );

  it('every good payload\'s events come out exactly once; every bad one is a rejection', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 8 }), fc.integer({ min: 1, max: 64 }), async (pieces, chunkSize) => {
        let expectedRecords = 0;
        let expectedRejects = 0;
        const parts = pieces.map((p, i) => {
          if (p.kind === 'good') {
            expectedRecords += p.n;
            const payload = validPayload(i, p.n);
            if (p.wrap === 'bare') return payload;
            const data = b64gzip(payload);
            if (p.wrap === 'lambda') return JSON.stringify({ awslogs: { data } });
            if (p.wrap === 'kinesis') return JSON.stringify({ Records: [{ kinesis: { data, sequenceNumber: `${i}` } }] });
            return JSON.stringify({ records: [{ recordId: `${i}`, data }] });
          }
          expectedRejects++;
          if (p.kind === 'badData') return JSON.stringify({ awslogs: { data: p.data } });
          if (p.kind === 'badGzip') {
            const bytes = Buffer.from(p.bytes);
            bytes[0] = 0x1f;
            if (bytes.length > 1) bytes[1] = 0x8b;
            return JSON.stringify({ awslogs: { data: bytes.toString('base64') } });
          }
          return JSON.stringify({ awslogs: { data: b64gzip(`{"messageType":"DATA_MESSAGE","logEvents":${p.text}`) } });
        });
        const out = await decodeObject(Buffer.from(parts.join('\n')), 'text', chunkSize);
        const goodIds = out.records.map((r) => r.id);
        assert.equal(out.records.length, expectedRecords);
        assert.equal(new Set(goodIds).size, goodIds.length);
        // A "bad" inner text can by chance be a valid logEvents array (e.g. "[]"): at most one reject per bad piece.
        assert.ok(out.rejects.length <= expectedRejects);
        for (const r of out.rejects) assert.ok(r.reason.length > 0 && r.code.startsWith('CWL_'), r.code);
      }),
      { numRuns: fuzzRuns(150) },
    );
  });

  it('tryDecodeCwlPayload never throws on arbitrary strings or bytes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.base64String({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 })), (data) => {
        const r = tryDecodeCwlPayload(data);
        if (!r.ok) assert.ok(Object.values(CWL_REJECT_CODES).includes(r.error.code as never), r.error.code);
      }),
      { numRuns: fuzzRuns(500) },
    );
  });
});
