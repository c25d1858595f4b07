import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../../core/errors.js';
import { BulkBatch, createBulkEncoder } from './bulk-request.js';
import { compileIndexTemplate } from './index-name.js';
import { allDeliveredAsSent, readBulkResponse } from './bulk-response.js';

function items(n: number): BulkBatch {
  const encoder = createBulkEncoder({ action: 'index', index: compileIndexTemplate('i'), indexTemplate: 'i' });
  const batch = new BulkBatch(64 * 1024);
  for (let i = 0; i < n; i++) encoder.append({ id: `id-${i}`, origin: { object: 'o', line: i + 1 }, fields: {} }, batch);
  return batch;
}

const answer = (entries: unknown[], errors = true) => Buffer.from(JSON.stringify({ took: 3, errors, items: entries }));
const item = (i: number, status: number, error?: unknown, op = 'index') => ({ [op]: { _index: 'i', _id: `id-${i}`, status, ...(error ? { error } : {}) } });

describe('readBulkResponse', () => {
  it('sorts every item into exactly one outcome', () => {
    // Prepare
    const sent = items(8);
    const body = answer([
      item(0, 201),
      item(1, 200),
      item(2, 429, { type: 'es_rejected_execution_exception', reason: 'queue full' }),
      item(3, 503, { type: 'unavailable_shards_exception', reason: 'primary not active' }),
      item(4, 400, { type: 'mapper_parsing_exception', reason: 'failed to parse field [bytes]', caused_by: { type: 'number_format_exception', reason: 'For input string: "x"' } }),
      item(5, 403, { type: 'cluster_block_exception', reason: 'index [i] blocked by: [FORBIDDEN/8/index write (api)];' }),
      item(6, 409, { type: 'version_conflict_engine_exception', reason: 'exists' }),
      item(7, 404, 'index_not_found'),
    ]);
    // Act
    const outcome = readBulkResponse(body, sent, 'index', 'os');
    // Assess
    assert.deepEqual(outcome.delivered, [0, 1]);
    assert.deepEqual(outcome.retry, [2, 3, 5]);
    assert.equal(sent.lastErrors?.[2], 'HTTP 429 es_rejected_execution_exception: queue full');
    assert.deepEqual(
      outcome.rejected.map((r) => [sent.records[r.at]!.id, r.code, r.reason]),
      [
        ['id-4', 'SINK_ITEM_400', 'HTTP 400 mapper_parsing_exception: failed to parse field [bytes] (caused by number_format_exception: For input string: "x")'],
        ['id-6', 'SINK_ITEM_409', 'HTTP 409 version_conflict_engine_exception: exists'],
        ['id-7', 'SINK_ITEM_404', 'HTTP 404: index_not_found'],
      ],
    );
  });

  it('counts a 409 on create as delivered (already indexed)', () => {
    const sent = items(2);
    const outcome = readBulkResponse(answer([item(0, 201, undefined, 'create'), item(1, 409, { type: 'version_conflict_engine_exception' }, 'create')]), sent, 'create', 'os');
    assert.equal(outcome.delivered.length, 2);
  });

  it('takes the errors:false fast path, still checking ids', () => {
    const sent = items(3);
    assert.equal(readBulkResponse(answer([item(0, 201), item(1, 201), item(2, 200)], false), sent, 'index', 'os').delivered.length, 3);
    assert.throws(() => readBulkResponse(answer([item(0, 201), item(2, 201), item(1, 200)], false), sent, 'index', 'os'), /names _id "id-2" where "id-1" was sent/);
  });

  it('reads the compact all-success answer from its bytes, and only that exact shape', () => {
    // Prepare
    const sent = items(3);
    const compact = (ids: string[], statuses = [201, 201, 200], head = '{"took":12,"errors":false,"items":[', op = 'index') =>
      Buffer.from(`${head}${ids.map((id, i) => `{"${op}":{"_id":"${id}","status":${statuses[i]}}}`).join(',')}]}`);
    const ids = ['id-0', 'id-1', 'id-2'];
    // Act / Assess: the shapes the fast path takes
    assert.equal(allDeliveredAsSent(compact(ids), sent, 'index'), true);
    assert.equal(allDeliveredAsSent(compact(ids, undefined, '{"errors":false,"items":['), sent, 'index'), true);
    assert.equal(allDeliveredAsSent(Buffer.concat([compact(ids), Buffer.from('\n')]), sent, 'index'), true);
    assert.deepEqual(readBulkResponse(compact(ids), sent, 'index', 'os'), { delivered: [0, 1, 2], retry: [], rejected: [] });
    // Everything else goes through JSON.parse, which gives the same answer or the protocol error.
    const others: Array<[Buffer, 'index' | 'create']> = [
      [compact(['id-0', 'id-2', 'id-1']), 'index'],
      [compact(['id-0', 'id-1']), 'index'],
      [compact(['id-0', 'id-1', 'id-2', 'id-3']), 'index'],
      [compact(['id-0', 'id-1', 'id-22']), 'index'],
      [compact(ids, [201, 409, 201]), 'index'],
      [compact(ids, undefined, '{"took":1,"errors":true,"items":['), 'index'],
      [compact(ids, undefined, '{"errors": false,"items":['), 'index'],
      [compact(ids), 'create'],
      [compact(ids, undefined, undefined, 'create'), 'index'],
      [Buffer.from(compact(ids).toString().replace('"status":201}', '"status":201,"result":"created"}')), 'index'],
      [Buffer.from(compact(ids).toString().slice(0, -1)), 'index'],
    ];
    for (const [body, action] of others) assert.equal(allDeliveredAsSent(body, sent, action), false, body.toString());
    assert.throws(() => readBulkResponse(others[0]![0], sent, 'index', 'os'), /names _id "id-2" where "id-1" was sent/);
    assert.throws(() => readBulkResponse(others[1]![0], sent, 'index', 'os'), /2 items for 3 documents/);
    assert.deepEqual(readBulkResponse(others[4]![0], sent, 'index', 'os').delivered, [0, 1, 2]);
  });

  it('compares ids as bytes only when JSON writes them as they are', () => {
    const encoder = createBulkEncoder({ action: 'index', index: compileIndexTemplate('i'), indexTemplate: 'i' });
    const sent = new BulkBatch(4096);
    for (const id of ['a"b', 'é']) encoder.append({ id, origin: { object: 'o', line: 1 }, fields: {} }, sent);
    const body = Buffer.from(`{"errors":false,"items":[{"index":{"_id":${JSON.stringify('a"b')},"status":201}},{"index":{"_id":"é","status":201}}]}`);
    assert.equal(allDeliveredAsSent(body, sent, 'index'), false);
    assert.deepEqual(readBulkResponse(body, sent, 'index', 'os').delivered, [0, 1]);
  });

  it('refuses responses that break the protocol, as retryable errors', () => {
    const sent = items(2);
    for (const body of [Buffer.from('<html>login</html>'), answer([item(0, 201)]), Buffer.from('{"took":1}'), answer([item(0, 201), 'x'])]) {
      assert.throws(() => readBulkResponse(body, sent, 'index', 'opensearch http://h'), (err: unknown) => {
        assert.ok(err instanceof SluiceError);
        assert.equal(err.code, 'SINK_PROTOCOL_ERROR');
        assert.equal(err.retryable, true);
        assert.match(err.message, /^opensearch http:\/\/h: /);
        return true;
      });
    }
  });
});
