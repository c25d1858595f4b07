import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { accountDelivery, startBulkServer, type BulkServerOptions, type RunningBulkServer } from './bulk-server.js';

const started: RunningBulkServer[] = [];
after(() => Promise.all(started.map((s) => s.stop())));

async function server(options: BulkServerOptions = {}): Promise<RunningBulkServer> {
  const s = await startBulkServer(options);
  started.push(s);
  return s;
}

function ndjson(...lines: unknown[]): string {
  return lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
}

async function bulk(url: string, body: string | Buffer, headers: Record<string, string> = {}, path = '/_bulk') {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', ...headers }, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? (JSON.parse(text) as any) : undefined };
}

describe('bulk server: the _bulk protocol', () => {
  it('indexes, overwrites by _id, and answers one item per action in order', async () => {
    // Prepare
    const es = await server();
    // Act
    const first = await bulk(es.url, ndjson({ index: { _index: 'flows', _id: 'a' } }, { n: 1 }, { index: { _index: 'flows', _id: 'b' } }, { n: 2 }));
    const second = await bulk(es.url, ndjson({ index: { _index: 'flows', _id: 'a' } }, { n: 3 }));
    // Assess
    assert.equal(first.status, 200);
    assert.equal(first.json.errors, false);
    assert.deepEqual(first.json.items.map((i: any) => [i.index._id, i.index.status, i.index.result]), [['a', 201, 'created'], ['b', 201, 'created']]);
    assert.deepEqual(second.json.items[0].index, { _index: 'flows', _id: 'a', _version: 2, result: 'updated', status: 200 });
    assert.deepEqual(es.documents.get('flows/a'), { n: 3 });
    assert.equal(es.attempts.get('flows/a'), 2);
    assert.equal(es.writes.get('flows/a'), 2);
  });

  it('create answers 409 for an existing _id; the path index is the default; update and delete work', async () => {
    const es = await server();
    await bulk(es.url, ndjson({ create: { _id: 'x' } }, { v: 1 }), {}, '/logs-flows/_bulk');
    const again = await bulk(es.url, ndjson({ create: { _id: 'x' } }, { v: 2 }, { update: { _id: 'x' } }, { doc: { w: 1 } }, { delete: { _id: 'nope' } }), {}, '/logs-flows/_bulk');
    assert.equal(again.json.errors, true);
    assert.equal(again.json.items[0].create.status, 409);
    assert.equal(again.json.items[0].create.error.type, 'version_conflict_engine_exception');
    assert.equal(again.json.items[1].update.status, 200);
    assert.equal(again.json.items[2].delete.status, 404);
    assert.deepEqual(es.documents.get('logs-flows/x'), { v: 1, w: 1 });
  });

  it('answers item-level 400 for a source that is not an object, and for refused documents', async () => {
    const es = await server({ rejectDocument: ({ source }) => (typeof source['bytes'] === 'string' ? 'failed to parse field [bytes] of type [long]' : undefined) });
    const res = await bulk(es.url, `${JSON.stringify({ index: { _index: 'i', _id: '1' } })}\n[1,2]\n${ndjson({ index: { _index: 'i', _id: '2' } }, { bytes: 'many' }, { index: { _index: 'i', _id: '3' } }, { bytes: 3 })}`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json.items.map((i: any) => i.index.status), [400, 400, 201]);
    assert.equal(res.json.items[1].index.error.type, 'mapper_parsing_exception');
    assert.deepEqual([...es.documents.keys()], ['i/3']);
  });

  it('refuses a body without the final newline (400), a wrong content type (406), and a missing index (400)', async () => {
    const es = await server();
    const unterminated = await bulk(es.url, JSON.stringify({ index: { _index: 'i', _id: '1' } }) + '\n{"a":1}');
    assert.equal(unterminated.status, 400);
    assert.match(unterminated.json.error.reason, /must be terminated by a newline/);
    const res = await fetch(es.url + '/_bulk', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: ndjson({ index: { _index: 'i' } }, {}) });
    assert.equal(res.status, 406);
    const noIndex = await bulk(es.url, ndjson({ index: { _id: '1' } }, {}));
    assert.equal(noIndex.status, 400);
    assert.equal(es.documents.size, 0);
  });

  it('accepts gzip bodies and generates ids when none is given', async () => {
    const es = await server();
    const res = await bulk(es.url, gzipSync(ndjson({ index: { _index: 'i' } }, { a: 1 })), { 'content-encoding': 'gzip' });
    assert.equal(res.json.items[0].index.status, 201);
    assert.equal(es.documents.size, 1);
    assert.match(res.json.items[0].index._id, /^[\w-]{10,}$/);
  });

  it('checks basic credentials and API keys (401 otherwise)', async () => {
    const basic = await server({ auth: { username: 'admin', password: 'pw' } });
    const body = ndjson({ index: { _index: 'i', _id: '1' } }, {});
    assert.equal((await bulk(basic.url, body)).status, 401);
    assert.equal((await bulk(basic.url, body, { authorization: `Basic ${Buffer.from('admin:wrong').toString('base64')}` })).status, 401);
    assert.equal((await bulk(basic.url, body, { authorization: `Basic ${Buffer.from('admin:pw').toString('base64')}` })).status, 200);
    const keyed = await server({ auth: { apiKey: 'k3y' } });
    assert.equal((await bulk(keyed.url, body, { authorization: 'ApiKey nope' })).status, 401);
    assert.equal((await bulk(keyed.url, body, { authorization: 'ApiKey k3y' })).status, 200);
  });

  it('answers 413 above the size limit without storing anything', async () => {
    const es = await server({ maxBodyBytes: 100 });
    const res = await bulk(es.url, ndjson({ index: { _index: 'i', _id: '1' } }, { pad: 'x'.repeat(200) }));
    assert.equal(res.status, 413);
    assert.equal(es.documents.size, 0);
    assert.equal(es.requests[0]!.outcome, '413');
  });

  it('count mode acknowledges every action without storing documents', async () => {
    const es = await server({ mode: 'count' });
    const res = await bulk(es.url, ndjson({ index: { _index: 'i', _id: 'a' } }, { x: 1 }, { create: { _index: 'i', _id: 'b' } }, { x: 2 }));
    assert.deepEqual(res.json.items, [{ index: { _id: 'a', status: 201 } }, { create: { _id: 'b', status: 201 } }]);
    assert.equal(es.indexedCount, 2);
    assert.equal(es.documents.size, 0);
  });

  it('count mode reads a body that arrives in many pieces, action lines cut between pieces included', async () => {
    // Prepare: ~2 MB, so the body reaches the server in many pieces, cut at arbitrary bytes.
    const es = await server({ mode: 'count' });
    const lines: unknown[] = [];
    for (let i = 0; i < 4000; i++) lines.push(i % 7 === 3 ? { delete: { _index: 'i', _id: `d-${i}` } } : { index: { _index: 'i', _id: `id-${i}` } }, ...(i % 7 === 3 ? [] : [{ pad: 'x'.repeat(i % 900), n: i }]));
    // Act
    const res = await bulk(es.url, ndjson(...lines));
    const unterminated = await bulk(es.url, ndjson({ index: { _index: 'i', _id: 'a' } }, { x: 1 }).slice(0, -1));
    const sourceless = await bulk(es.url, `${JSON.stringify({ index: { _index: 'i', _id: 'a' } })}\n`);
    // Assess
    assert.equal(res.status, 200);
    assert.equal(res.json.items.length, 4000);
    res.json.items.forEach((item: Record<string, { _id: string; status: number }>, i: number) => {
      assert.deepEqual(item, i % 7 === 3 ? { delete: { _id: `d-${i}`, status: 201 } } : { index: { _id: `id-${i}`, status: 201 } });
    });
    assert.equal(unterminated.status, 400);
    assert.equal(sourceless.status, 400);
    assert.equal(es.requests[0]!.bytes, Buffer.byteLength(ndjson(...lines)));
  });

  it('serves the cluster banner on GET /', async () => {
    const es = await server();
    const res = await fetch(es.url + '/');
    assert.equal(((await res.json()) as { version: { distribution: string } }).version.distribution, 'opensearch');
  });
});

describe('bulk server: the plain receiver (/ingest/<collection>)', () => {
  async function ingest(url: string, body: string, contentType = 'application/json', path = '/ingest/events') {
    const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': contentType }, body });
    return { status: res.status, json: (await res.json()) as any };
  }

  it('stores JSON arrays and NDJSON by _id, overwriting, and answers 200 with the count', async () => {
    // Prepare
    const es = await server();

    // Act
    const first = await ingest(es.url, JSON.stringify([{ _id: 'a', n: 1 }, { _id: 'b', n: 2 }]));
    const second = await ingest(es.url, `${JSON.stringify({ _id: 'a', n: 3 })}\n${JSON.stringify({ _id: 7, n: 4 })}\n`, 'application/x-ndjson');

    // Assess
    assert.deepEqual([first.status, first.json.accepted, second.status, second.json.accepted], [200, 2, 200, 2]);
    assert.deepEqual([...es.documents], [['events/a', { _id: 'a', n: 3 }], ['events/b', { _id: 'b', n: 2 }], ['events/7', { _id: 7, n: 4 }]]);
    assert.equal(es.writes.get('events/a'), 2);
    assert.deepEqual(es.requests.map((r) => [r.path, r.documents, r.outcome]), [['/ingest/events', 2, 'ok'], ['/ingest/events', 2, 'ok']]);
  });

  it('refuses the whole request, storing nothing, for one refused document (422) or one it cannot read (400)', async () => {
    // Prepare
    const es = await server({ rejectDocument: ({ id }) => (id === 'bad' ? 'field [n] of type [long]' : undefined) });

    // Act
    const refused = await ingest(es.url, JSON.stringify([{ _id: 'ok', n: 1 }, { _id: 'bad', n: 'x' }]));
    const noId = await ingest(es.url, JSON.stringify([{ n: 1 }]));
    const notJson = await ingest(es.url, '[{"_id":');

    // Assess
    assert.equal(refused.status, 422);
    assert.match(refused.json.error.reason, /document 2 \(_id bad\): field \[n\] of type \[long\]/);
    assert.equal(noId.status, 400);
    assert.match(noId.json.error.reason, /document 1 has no _id/);
    assert.equal(notJson.status, 400);
    assert.equal(es.documents.size, 0);
  });

  it('plays request faults as _bulk does', async () => {
    // Prepare
    const es = await server({ faults: { seed: 1, script: [{ kind: 'throttle', retryAfterS: 2 }, { kind: 'drop-after' }] } });

    // Act
    const throttled = await ingest(es.url, JSON.stringify([{ _id: 'a' }]));
    const dropped = await fetch(es.url + '/ingest/events', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ _id: 'b' }]) }).then(
      () => 'answered',
      () => 'dropped',
    );

    // Assess
    assert.equal(throttled.status, 429);
    assert.equal(dropped, 'dropped');
    assert.deepEqual([...es.documents.keys()], ['events/b'], 'the writes of a drop-after request are applied');
  });
});

describe('bulk server: seeded faults', () => {
  const body = ndjson({ index: { _index: 'i', _id: '1' } }, { a: 1 });

  it('plays a script: 429 with Retry-After, 503, a slow answer, then normal service', async () => {
    const es = await server({ faults: { seed: 1, script: [{ kind: 'throttle', retryAfterS: 4 }, { kind: 'unavailable', status: 502 }, { kind: 'slow', delayMs: 120 }] } });
    const throttled = await bulk(es.url, body);
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers.get('retry-after'), '4');
    assert.equal(throttled.json.error.type, 'es_rejected_execution_exception');
    assert.equal((await bulk(es.url, body)).status, 502);
    const t = Date.now();
    assert.equal((await bulk(es.url, body)).status, 200);
    assert.ok(Date.now() - t >= 100, 'the slow answer waited');
    assert.equal((await bulk(es.url, body)).status, 200);
    assert.deepEqual(es.requests.map((r) => r.outcome), ['throttle', 'unavailable', 'slow', 'ok']);
  });

  it('drops connections before or after applying the writes', async () => {
    const es = await server({ faults: { seed: 1, script: [{ kind: 'drop-before' }, { kind: 'drop-after' }] } });
    await assert.rejects(bulk(es.url, ndjson({ index: { _index: 'i', _id: 'before' } }, {})));
    await assert.rejects(bulk(es.url, ndjson({ index: { _index: 'i', _id: 'after' } }, {})));
    assert.deepEqual([...es.documents.keys()], ['i/after'], 'only the drop-after request was applied');
  });

  it('draws the same faults from the same seed', async () => {
    const run = async () => {
      const es = await server({ faults: { seed: 99, itemFaults: { 429: 0.3, 503: 0.1 } } });
      const lines: unknown[] = [];
      for (let i = 0; i < 200; i++) lines.push({ index: { _index: 'i', _id: String(i) } }, { i });
      const res = await bulk(es.url, ndjson(...lines));
      return res.json.items.map((i: any) => i.index.status as number);
    };
    const a = await run();
    const b = await run();
    assert.deepEqual(a, b);
    assert.ok(a.includes(429) && a.includes(503) && a.includes(201));
  });

  it('goes down and comes back on the same port', async () => {
    const es = await server();
    await es.pause();
    await assert.rejects(fetch(es.url + '/'));
    await es.resume();
    assert.equal((await fetch(es.url + '/')).status, 200);
  });
});

describe('accountDelivery', () => {
  it('finds lost, duplicated, doubly-accounted and foreign documents', () => {
    const records = [1, 2, 3, 4, 5].map((n) => ({ id: `r-${n}`, fields: { n } }));
    const documents = new Map<string, Record<string, unknown>>([
      ['a/r-1', { n: 1 }],
      ['a/r-2', { n: 2 }],
      ['b/r-2', { n: 2 }],
      ['a/r-3', { n: 3 }],
      ['a/r-9', { n: 9 }],
    ]);
    const rejected = [{ record: { id: 'r-3' }, reason: 'x' }, { record: { id: 'r-4' }, reason: 'bad' }];
    const account = accountDelivery({ documents }, records, rejected, (r) => r.fields);
    assert.deepEqual(account.problems, [
      'r-2: indexed 2 times (in a, b)',
      'r-3: both rejected and indexed',
      'r-5: neither indexed nor rejected (lost)',
      'r-9: indexed but never sent',
    ]);
    assert.equal(account.indexed, 1);
    assert.equal(account.rejected, 1);
  });
});
