/**
 * Fault tests of the bulk sink against the bulk-API test server. Every test checks the same
 * invariant with exact accounting (accountDelivery): each record written ends indexed exactly
 * once by _id, or in SinkCommit.rejected with its reason; nothing else.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Sink, SinkCommit, UnitContext } from '../../core/component.js';
import { parsePipeline } from '../../pipeline/config.js';
import { SluiceError } from '../../core/errors.js';
import type { SluiceRecord } from '../../core/record.js';
import { seededRandom, type RetryTiming } from '../../core/retry.js';
import { accountDelivery, startBulkServer, type BulkServerOptions, type RunningBulkServer } from '../../testing/bulk-server.js';
import { createBulkSink, type BulkSinkConfig, type BulkSinkOptions } from './index.js';

const MAY_1 = Date.UTC(2024, 4, 1, 22);
const unit: UnitContext = { id: 'unit-a', outputStem: 'a1b2c3d4e5f60718', objects: [] };

/** Flow-log-like records over two days (22:00 May 1 to ~May 2), ids `<prefix>-<n>`. */
function flowRecords(count: number, prefix = 'a1b2c3d4e5f60718'): SluiceRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${i + 1}`,
    origin: { object: 's3://logs/a.log.gz', line: i + 2 },
    time: MAY_1 + i * 17_000,
    fields: {
      version: 2, 'account-id': '123456789012', 'interface-id': `eni-0b48${String(i % 97).padStart(13, '0')}`,
      srcaddr: `10.0.${i % 256}.${(i * 7) % 256}`, dstaddr: `172.21.${(i * 3) % 256}.101`, srcport: (i * 131) % 65536,
      dstport: 443, protocol: 6, packets: 1 + (i % 50), bytes: 40 + i * 13, action: i % 9 ? 'ACCEPT' : 'REJECT', 'log-status': 'OK',
    },
  }));
}

function sinkConfig(url: string, overrides: Record<string, unknown> = {}): BulkSinkConfig {
  const config = parsePipeline({
    name: 't', source: { uri: '/tmp' }, format: 'vpcflow', runtime: { literalSecrets: true },
    sinks: [{ type: 'opensearch', url, index: 'flows-%Y.%m.%d', ...overrides }],
  }).sinks[0]!;
  return config as BulkSinkConfig;
}

/** Sleeps return at once and move a fake clock; the delays asked for are kept for assertions. */
function instantTiming(seed = 1): Partial<RetryTiming> & { delays: number[] } {
  let now = Date.UTC(2024, 5, 1);
  const delays: number[] = [];
  return {
    delays,
    now: () => now,
    random: seededRandom(seed),
    sleep: async (ms: number, signal?: AbortSignal) => {
      signal?.throwIfAborted();
      delays.push(ms);
      now += ms;
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

async function writeAll(sink: Sink, records: SluiceRecord[], batch = 250, u: UnitContext = unit): Promise<SinkCommit> {
  const writer = sink.openUnit(u);
  try {
    for (let i = 0; i < records.length; i += batch) await writer.write(records.slice(i, i + batch));
    return await writer.commit();
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

const servers: RunningBulkServer[] = [];
const sinks: Sink[] = [];
after(async () => {
  await Promise.all(sinks.map((s) => s.close?.()));
  await Promise.all(servers.map((s) => s.stop()));
});

async function server(options: BulkServerOptions = {}): Promise<RunningBulkServer> {
  const s = await startBulkServer(options);
  servers.push(s);
  return s;
}

function sink(config: BulkSinkConfig, options: BulkSinkOptions = {}): Sink {
  const s = createBulkSink(config, options);
  sinks.push(s);
  return s;
}

describe('opensearch sink: delivery', () => {
  it('indexes every record once by _id into the index of its day, in bounded bulk requests', async () => {
    // Prepare
    const es = await server();
    const records = flowRecords(2_500);
    const target = sink(sinkConfig(es.url, { batchMaxRecords: 500 }), { timing: instantTiming() });
    // Act
    const commit = await writeAll(target, records);
    // Assess
    assert.equal(commit.delivered, 2_500);
    assert.deepEqual(commit.rejected, []);
    assert.deepEqual(accountDelivery(es, records, commit.rejected, (r) => r.fields).problems, []);
    assert.deepEqual(commit.outputs, [`${es.url}/flows-2024.05.01`, `${es.url}/flows-2024.05.02`]);
    assert.ok(es.documents.has(`flows-2024.05.01/${records[0]!.id}`));
    assert.ok(es.documents.has(`flows-2024.05.02/${records[2_499]!.id}`));
    assert.equal(es.requests.length, 5, 'five requests of 500 documents');
    assert.ok(es.requests.every((r) => r.documents === 500));
  });

  it('splits batches by bytes as well as by count', async () => {
    const es = await server();
    const records = flowRecords(1_000);
    const target = sink(sinkConfig(es.url, { batchMaxBytes: 20_000 }), { timing: instantTiming() });
    const commit = await writeAll(target, records);
    assert.deepEqual(accountDelivery(es, records, commit.rejected, (r) => r.fields).problems, []);
    assert.ok(es.requests.length > 10);
    assert.ok(es.requests.every((r) => r.bytes <= 20_000), `largest request ${Math.max(...es.requests.map((r) => r.bytes))} bytes`);
  });

  it('overwrites on replay: a unit sent twice leaves one document per _id', async () => {
    const es = await server();
    const records = flowRecords(600);
    const target = sink(sinkConfig(es.url), { timing: instantTiming() });
    await writeAll(target, records);
    const second = await writeAll(target, records);
    assert.equal(second.delivered, 600);
    assert.deepEqual(accountDelivery(es, records, second.rejected, (r) => r.fields).problems, []);
    assert.ok([...es.writes.values()].every((n) => n === 2));
  });

  it('data streams: op_type create with @timestamp, and a 409 on replay counts as delivered', async () => {
    const es = await server();
    const records = flowRecords(300);
    const target = sink(sinkConfig(es.url, { index: 'logs-flows', dataStream: true }), { timing: instantTiming() });
    const first = await writeAll(target, records);
    const replay = await writeAll(target, records);
    assert.equal(first.delivered, 300);
    assert.equal(replay.delivered, 300);
    assert.deepEqual(replay.rejected, []);
    const withStamp = (r: { fields: Record<string, unknown> }) => ({ '@timestamp': '', ...r.fields });
    const account = accountDelivery(es, records, [], (r) => ({ ...withStamp(r), '@timestamp': new Date(MAY_1 + (Number(r.id.split('-')[1]) - 1) * 17_000).toISOString() }));
    assert.deepEqual(account.problems, []);
    assert.ok([...es.writes.values()].every((n) => n === 1), 'create never overwrote');
    assert.ok([...es.attempts.values()].every((n) => n === 2), 'each document was offered twice');
  });

  it('rejects records it cannot send (no event time for a dated index) and goes on', async () => {
    const es = await server();
    const records = flowRecords(50);
    delete records[7]!.time;
    const target = sink(sinkConfig(es.url), { timing: instantTiming() });
    const commit = await writeAll(target, records);
    assert.equal(commit.delivered, 49);
    assert.equal(commit.rejected.length, 1);
    assert.equal(commit.rejected[0]!.code, 'SINK_RECORD_NO_TIME');
    assert.match(commit.rejected[0]!.reason, /no event time.*flows-%Y\.%m\.%d/);
    assert.deepEqual(accountDelivery(es, records, commit.rejected).problems, []);
  });

  it('compresses bodies with gzip when asked', async () => {
    const es = await server();
    const records = flowRecords(400);
    const target = sink(sinkConfig(es.url, { compression: 'gzip' }), { timing: instantTiming() });
    const commit = await writeAll(target, records);
    assert.deepEqual(accountDelivery(es, records, commit.rejected, (r) => r.fields).problems, []);
    assert.equal(es.requests[0]!.headers['content-encoding'], 'gzip');
    assert.ok(es.requests[0]!.bytes < 400 * 200, 'the body went compressed');
  });
});

describe('opensearch sink: per-item results', () => {
  it('mixed 201/429/503/400 items: transient ones retried, mapping errors rejected exactly', async () => {
    // Prepare: a known set of documents the server refuses for good, and random transient item errors
    const records = flowRecords(3_000);
    const poison = new Set(records.filter((_, i) => i % 37 === 5).map((r) => r.id));
    const es = await server({
      faults: { seed: 11, itemFaults: { 429: 0.2, 503: 0.05 } },
      rejectDocument: ({ id }) => (poison.has(id) ? 'failed to parse field [bytes] of type [long] in document' : undefined),
    });
    const timing = instantTiming();
    const target = sink(sinkConfig(es.url, { batchMaxRecords: 400 }), { timing });
    // Act
    const commit = await writeAll(target, records);
    // Assess
    const account = accountDelivery(es, records, commit.rejected, (r) => r.fields);
    assert.deepEqual(account.problems, []);
    assert.deepEqual(new Set(commit.rejected.map((r) => r.record.id)), poison, 'exactly the poison records are rejected');
    for (const r of commit.rejected) {
      assert.equal(r.code, 'SINK_ITEM_400');
      assert.match(r.reason, /^HTTP 400 mapper_parsing_exception: failed to parse field \[bytes\]/);
    }
    assert.equal(commit.delivered + commit.rejected.length, 3_000);
    assert.ok([...es.attempts.values()].some((n) => n > 1), 'some documents needed more than one attempt');
    assert.ok(timing.delays.length > 0, 'item retries backed off');
  });

  it('a document that keeps getting 429 is rejected with the last error after maxAttempts', async () => {
    const es = await server({ faults: { seed: 3, itemFaults: { 429: 1 } } });
    const records = flowRecords(20);
    const timing = instantTiming();
    const target = sink(sinkConfig(es.url, { retry: { maxAttempts: 4 } }), { timing });
    const commit = await writeAll(target, records);
    assert.equal(commit.delivered, 0);
    assert.equal(commit.rejected.length, 20);
    for (const r of commit.rejected) {
      assert.equal(r.code, 'SINK_ITEM_RETRIES_EXHAUSTED');
      assert.match(r.reason, /^HTTP 429 es_rejected_execution_exception: .*\(gave up after 4 attempts over [\d.]+ s\)$/);
    }
    assert.ok([...es.attempts.values()].every((n) => n === 4));
    assert.deepEqual(accountDelivery(es, records, commit.rejected).problems, []);
  });

  it('transient item errors stop being retried after maxElapsedMs', async () => {
    const es = await server({ faults: { seed: 3, itemFaults: { 503: 1 } } });
    const records = flowRecords(5);
    const timing = instantTiming();
    const target = sink(sinkConfig(es.url, { retry: { maxAttempts: 1000, initialDelayMs: 1000, maxDelayMs: 1000, maxElapsedMs: 10_000 } }), { timing });
    const commit = await writeAll(target, records);
    assert.equal(commit.rejected.length, 5);
    assert.ok(timing.delays.reduce((a, b) => a + b, 0) <= 10_000);
    assert.match(commit.rejected[0]!.reason, /unavailable_shards_exception/);
  });
});

describe('opensearch sink: request-level faults', () => {
  it('request-level 429: waits at least Retry-After, then delivers', async () => {
    const es = await server({ faults: { seed: 1, script: [{ kind: 'throttle', retryAfterS: 7 }, { kind: 'throttle', retryAfterS: 2 }] } });
    const records = flowRecords(100);
    const timing = instantTiming();
    const target = sink(sinkConfig(es.url), { timing });
    const commit = await writeAll(target, records);
    assert.deepEqual(accountDelivery(es, records, commit.rejected, (r) => r.fields).problems, []);
    assert.equal(timing.delays.length, 2);
    assert.ok(timing.delays[0]! >= 7_000, `first wait ${timing.delays[0]} ms`);
    assert.ok(timing.delays[1]! >= 2_000, `second wait ${timing.delays[1]} ms`);
    assert.deepEqual(es.requests.map((r) => r.outcome), ['throttle', 'throttle', 'ok']);
  });

  it('413: splits the request in halves until it fits; a document too large alone is rejected', async () => {
    const records = flowRecords(800);
    records[123]!.fields['payload'] = 'x'.repeat(30_000);
    const es = await server({ maxBodyBytes: 24_000 });
    const target = sink(sinkConfig(es.url, { batchMaxRecords: 800 }), { timing: instantTiming() });
    const commit = await writeAll(target, records, 800);
    assert.deepEqual(accountDelivery(es, records, commit.rejected, (r) => r.fields).problems, []);
    assert.deepEqual(commit.rejected.map((r) => [r.record.id, r.code]), [[records[123]!.id, 'SINK_RECORD_TOO_LARGE']]);
    assert.match(commit.rejected[0]!.reason, /^HTTP 413/);
    assert.ok(es.requests.filter((r) => r.outcome === '413').length > 3);
    assert.ok(es.requests.filter((r) => r.outcome === 'ok').every((r) => r.bytes <= 24_000));
  });

  it('dropped connections, before or after the writes: everything indexed exactly once', async () => {
    const es = await server({
      faults: { seed: 5, requestFaults: [{ fault: { kind: 'drop-before' }, probability: 0.2 }, { fault: { kind: 'drop-after' }, probability: 0.2 }] },
    });
    const records = flowRecords(4_000);
    const target = sink(sinkConfig(es.url, { batchMaxRecords: 200 }), { timing: instantTiming() });
    const commit = await writeAll(target, records);
    assert.deepEqual(accountDelivery(es, records, commit.rejected, (r) => r.fields).problems, []);
    assert.equal(commit.delivered, 4_000);
    assert.ok(es.requests.some((r) => r.outcome === 'drop-before'));
    assert.ok(es.requests.some((r) => r.outcome === 'drop-after'));
    assert.ok([...es.writes.values()].some((n) => n > 1), 'writes the client never heard of were redone, not duplicated');
  });

  it('5xx for whole requests, then success', async () => {
    const es = await server({ faults: { seed: 2, script: [{ kind: 'unavailable', status: 503 }, { kind: 'unavailable', status: 502 }, null, { kind: 'unavailable' }] } });
    const records = flowRecords(900);
    const target = sink(sinkConfig(es.url, { batchMaxRecords: 300, maxInFlight: 1 }), { timing: instantTiming() });
    const commit = await writeAll(target, records);
    assert.deepEqual(accountDelivery(es, records, commit.rejected, (r) => r.fields).problems, []);
    assert.equal(es.requests.filter((r) => r.outcome === 'unavailable').length, 3);
  });

  it('a response slower than the timeout is retried; the redone write does not duplicate', async () => {
    const es = await server({ faults: { seed: 1, script: [{ kind: 'slow', delayMs: 800 }] } });
    const records = flowRecords(50);
    const target = sink(sinkConfig(es.url, { timeoutMs: 150 }), { timing: instantTiming() });
    const commit = await writeAll(target, records);
    assert.deepEqual(accountDelivery(es, records, commit.rejected, (r) => r.fields).problems, []);
    assert.ok([...es.writes.values()].every((n) => n === 2), 'written by the slow request, then again by the retry');
  });

  it('a sink that is down fails the unit (retryable) without rejecting anything; a later attempt delivers all', async () => {
    // Prepare: the cluster is down
    const es = await server();
    await es.pause();
    const records = flowRecords(700);
    const target = sink(sinkConfig(es.url, { retry: { maxAttempts: 3 } }), { timing: instantTiming() });
    // Act + Assess: the unit fails, retryable, and says what is wrong
    await assert.rejects(writeAll(target, records), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'SINK_UNREACHABLE');
      assert.equal(err.retryable, true);
      assert.match(err.message, /^opensearch http:\/\/127\.0\.0\.1:\d+: POST \/_bulk: no response \(ECONNREFUSED.*gave up after 3 attempts/);
      return true;
    });
    // Act: the cluster is back, the ledger retries the unit with a new writer
    await es.resume();
    const commit = await writeAll(target, records);
    // Assess
    assert.deepEqual(accountDelivery(es, records, commit.rejected, (r) => r.fields).problems, []);
  });

  it('a sink that is down for a while, then back: write waits, commit completes', async () => {
    const es = await server();
    const records = flowRecords(500);
    const target = sink(sinkConfig(es.url, { batchMaxRecords: 100, retry: { initialDelayMs: 20, maxDelayMs: 50, maxAttempts: 1000, maxElapsedMs: 60_000 } }));
    await es.pause();
    setTimeout(() => void es.resume(), 400);
    const commit = await writeAll(target, records);
    assert.deepEqual(accountDelivery(es, records, commit.rejected, (r) => r.fields).problems, []);
  });

  it('wrong credentials fail the unit at once (not retryable), without the password in the message', async () => {
    const es = await server({ auth: { username: 'admin', password: 'right-password' } });
    process.env['SLUICE_TEST_OS_PASSWORD'] = 'wrong-password';
    const target = sink(sinkConfig(es.url, { auth: { username: 'admin', password: 'env:SLUICE_TEST_OS_PASSWORD' } }), { timing: instantTiming() });
    await assert.rejects(writeAll(target, flowRecords(10)), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'HTTP_401');
      assert.equal(err.retryable, false);
      assert.ok(!err.message.includes('wrong-password') && !err.describe().includes('wrong-password'));
      return true;
    });
    assert.equal(es.requests.length, 1, 'no retry of a 401');
    delete process.env['SLUICE_TEST_OS_PASSWORD'];
  });

  it('credentials in the URL are used and masked in every message and output', async () => {
    const es = await server({ auth: { username: 'admin', password: 'hunter2-secret' } });
    const url = es.url.replace('http://', 'http://admin:hunter2-secret@');
    const records = flowRecords(30);
    const target = sink(sinkConfig(url), { timing: instantTiming() });
    const commit = await writeAll(target, records);
    assert.deepEqual(accountDelivery(es, records, commit.rejected).problems, []);
    assert.ok(commit.outputs.every((o) => !o.includes('hunter2')));
    // A failing request names the cluster without the password.
    await es.pause();
    const failing = sink(sinkConfig(url, { retry: { maxAttempts: 1 } }), { timing: instantTiming() });
    await assert.rejects(writeAll(failing, records), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.ok(!JSON.stringify(err.toJSON()).includes('hunter2'), err.message);
      assert.ok(!err.describe().includes('hunter2'));
      return true;
    });
    await es.resume();
  });

  it('API key auth', async () => {
    const es = await server({ auth: { apiKey: 'VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==' } });
    process.env['SLUICE_TEST_ES_KEY'] = 'VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==';
    const records = flowRecords(10);
    const target = sink(sinkConfig(es.url, { type: 'elasticsearch', auth: { apiKey: 'env:SLUICE_TEST_ES_KEY' } } as Record<string, unknown>), { timing: instantTiming() });
    const commit = await writeAll(target, records);
    assert.equal(target.name, 'elasticsearch');
    assert.deepEqual(accountDelivery(es, records, commit.rejected).problems, []);
    delete process.env['SLUICE_TEST_ES_KEY'];
  });

  it('AWS SigV4: requests verify against the credentials; a wrong key is refused', async () => {
    const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
    const es = await server({ sigv4: { ...credentials, region: 'eu-west-1', service: 'es' } });
    const records = flowRecords(120);
    const good = sink(sinkConfig(es.url, { auth: { aws: { region: 'eu-west-1' } } }), { timing: instantTiming(), awsCredentials: credentials });
    const commit = await writeAll(good, records);
    assert.deepEqual(accountDelivery(es, records, commit.rejected, (r) => r.fields).problems, []);
    assert.match(String(es.requests[0]!.headers['authorization']), /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/es\/aws4_request/);
    const bad = sink(sinkConfig(es.url, { auth: { aws: { region: 'eu-west-1' } } }), {
      timing: instantTiming(),
      awsCredentials: { ...credentials, secretAccessKey: 'not-the-key' },
    });
    await assert.rejects(writeAll(bad, flowRecords(3, 'ffff')), (err: unknown) => err instanceof SluiceError && err.code === 'HTTP_403' && !err.retryable);
  });
});

describe('opensearch sink: backpressure and lifecycle', () => {
  it('never has more than maxInFlight requests out; write() waits for a slot', async () => {
    const es = await server({ faults: { seed: 1, requestFaults: [{ fault: { kind: 'slow', delayMs: 40 }, probability: 1 }] } });
    const records = flowRecords(2_000);
    const target = sink(sinkConfig(es.url, { batchMaxRecords: 100, maxInFlight: 2 }), { timing: instantTiming() });
    // Two units share the sink instance, as units of one worker thread do.
    const [a, b] = await Promise.all([
      writeAll(target, records.slice(0, 1_000), 100, unit),
      writeAll(target, records.slice(1_000), 100, { ...unit, id: 'unit-b' }),
    ]);
    assert.deepEqual(accountDelivery(es, records, [...a.rejected, ...b.rejected], (r) => r.fields).problems, []);
    assert.equal(es.peakConcurrentRequests, 2);
  });

  it('abort() stops retries at once', async () => {
    const es = await server();
    await es.pause();
    const target = sink(sinkConfig(es.url, { batchMaxRecords: 10, retry: { initialDelayMs: 60_000, maxDelayMs: 60_000, maxAttempts: 100, maxElapsedMs: 3_600_000 } }), {
      timing: { random: () => 0.99 },
    });
    const writer = target.openUnit(unit);
    await writer.write(flowRecords(10));
    const started = Date.now();
    await writer.abort();
    assert.ok(Date.now() - started < 2_000, 'abort did not wait for the 60 s backoff');
    await assert.rejects(writer.commit(), (err: unknown) => err instanceof SluiceError);
    await es.resume();
  });

  it("the unit's abort signal ends a write() waiting for a slot and a commit() waiting in backoff", { timeout: 20_000 }, async () => {
    // Every request is throttled and every backoff lasts until aborted: without the signal,
    // write() would wait for the slot forever (the test would time out).
    const es = await server({ faults: { seed: 1, requestFaults: [{ fault: { kind: 'throttle', retryAfterS: 1 }, probability: 1 }] } });
    const sleeps: number[] = [];
    const target = sink(sinkConfig(es.url, { batchMaxRecords: 1, maxInFlight: 1 }), {
      timing: {
        random: () => 0.5,
        sleep: (ms: number, signal?: AbortSignal) =>
          new Promise<void>((_resolve, reject) => {
            sleeps.push(ms);
            signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
          }),
      },
    });
    const controller = new AbortController();
    const writer = target.openUnit(unit, { signal: controller.signal });
    // The first record takes the only slot and sits in backoff; the second waits for the slot.
    const writing = writer.write(flowRecords(2));
    while (sleeps.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort(new Error('lease lost'));
    await assert.rejects(writing, (err: unknown) => err instanceof SluiceError && err.code === 'ABORTED');
    await assert.rejects(writer.commit(), (err: unknown) => err instanceof SluiceError && err.code === 'ABORTED');
    await writer.abort();
    // A writer opened with an already aborted signal refuses work at once.
    const late = target.openUnit(unit, { signal: controller.signal });
    await assert.rejects(late.write(flowRecords(1)), (err: unknown) => err instanceof SluiceError && err.code === 'ABORTED');
  });

  it('rejects a bad index template and a missing env secret when the sink is created', () => {
    assert.throws(() => createBulkSink(sinkConfig('http://127.0.0.1:9', { index: 'flows-%Q' })), /unknown directive %Q/);
    delete process.env['SLUICE_TEST_MISSING_PW'];
    assert.throws(
      () => createBulkSink(sinkConfig('http://127.0.0.1:9', { auth: { username: 'admin', password: 'env:SLUICE_TEST_MISSING_PW' } })),
      (err: unknown) => err instanceof SluiceError && err.code === 'SECRET_NOT_FOUND',
    );
  });
});
