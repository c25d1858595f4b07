import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import type { Sink, SinkCommit, UnitContext } from '../../core/component.js';
import { parsePipeline } from '../../pipeline/config.js';
import { SluiceError } from '../../core/errors.js';
import type { SluiceRecord } from '../../core/record.js';
import { seededRandom } from '../../core/retry.js';
import { batchIdempotencyKey, createHttpSink, type HttpSinkConfig } from './index.js';

interface Received {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A receiver answering from a script of statuses (then 200), remembering every request. */
async function startReceiver(script: Array<number | { status: number; headers?: Record<string, string> }> = []) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
      received.push({ method: req.method!, path: req.url!, headers: req.headers, body });
      const step = script[received.length - 1] ?? 200;
      const { status, headers = {} } = typeof step === 'number' ? { status: step } : step;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(status < 300 ? '{"ok":true}' : `{"error":"status ${status}","echo":"${String(req.headers['authorization'] ?? '')}"}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  receivers.push(server);
  return { url, received, server };
}

const receivers: Server[] = [];
const sinks: Sink[] = [];
after(async () => {
  await Promise.all(sinks.map((s) => s.close?.()));
  await Promise.all(receivers.map((s) => new Promise((r) => s.close(r))));
});

function config(url: string, overrides: Record<string, unknown> = {}): HttpSinkConfig {
  return parsePipeline({ name: 't', source: { uri: '/tmp' }, format: 'vpcflow', runtime: { literalSecrets: true }, sinks: [{ type: 'http', url, ...overrides }] }).sinks[0] as HttpSinkConfig;
}

function instantTiming() {
  let now = 0;
  const delays: number[] = [];
  return {
    delays,
    now: () => now,
    random: seededRandom(3),
    sleep: async (ms: number) => {
      delays.push(ms);
      now += ms;
    },
  };
}

function sink(cfg: HttpSinkConfig, timing = instantTiming()): Sink {
  const s = createHttpSink(cfg, { timing });
  sinks.push(s);
  return s;
}

const unit: UnitContext = { id: 'u1', outputStem: 'u1', objects: [] };

function peerRecords(): SluiceRecord[] {
  // Two 10-minute buckets, as the aggregate transform emits them.
  const rows: Array<[number, string, number]> = [
    [1714557600, '198.51.100.1', 30], [1714557600, '192.0.2.1', 10], [1714557600, '192.0.2.2', 20],
    [1714558200, '198.51.100.1', 4], [1714558200, '192.0.2.9', 1],
  ];
  return rows.map(([bucket, ip, peers], i) => ({ id: `agg-${i}`, origin: { object: 'o', line: i + 1 }, fields: { bucket_start: bucket, ip, peers } }));
}

function records(n: number): SluiceRecord[] {
  return Array.from({ length: n }, (_, i) => ({ id: `r-${i}`, origin: { object: 's3://b/k', line: i + 1 }, fields: { n: i, s: 'x' } }));
}

async function writeAll(target: Sink, input: SluiceRecord[]): Promise<SinkCommit> {
  const writer = target.openUnit(unit);
  try {
    await writer.write(input);
    return await writer.commit();
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

describe('http sink', () => {
  it('POSTs JSON arrays in batches, with headers from secrets and a deterministic idempotency key', async () => {
    // Prepare
    const rx = await startReceiver();
    process.env.SLUICE_TEST_HTTP_TOKEN = 'Bearer t0ken-value';
    const input = records(25);
    const target = sink(config(`${rx.url}/ingest`, { batchMaxRecords: 10, headers: { Authorization: 'env:SLUICE_TEST_HTTP_TOKEN', 'X-Source': 'sluice' } }));
    // Act
    const commit = await writeAll(target, input);
    // Assess
    assert.equal(commit.delivered, 25);
    assert.deepEqual(commit.outputs, [`${rx.url}/ingest`]);
    assert.equal(rx.received.length, 3);
    assert.deepEqual(rx.received.map((r) => (JSON.parse(r.body) as unknown[]).length), [10, 10, 5]);
    assert.deepEqual(JSON.parse(rx.received[0]!.body)[0], { _id: 'r-0', n: 0, s: 'x' });
    const first = rx.received[0]!;
    assert.equal(first.method, 'POST');
    assert.equal(first.headers['content-type'], 'application/json');
    assert.equal(first.headers['authorization'], 'Bearer t0ken-value');
    assert.equal(first.headers['x-source'], 'sluice');
    assert.equal(first.headers['idempotency-key'], batchIdempotencyKey(input.slice(0, 10)));
    // The same input sends the same keys again (a re-run of the unit).
    await writeAll(target, input);
    assert.deepEqual(rx.received.slice(3).map((r) => r.headers['idempotency-key']), rx.received.slice(0, 3).map((r) => r.headers['idempotency-key']));
    delete process.env.SLUICE_TEST_HTTP_TOKEN;
  });

  it("posts the seed's shape: {ip: peers} per bucket to <endpoint>/connection_sets/{bucket_start}", async () => {
    const rx = await startReceiver();
    const target = sink(config(`${rx.url}/connection_sets/{bucket_start}`, { asObject: { key: 'ip', value: 'peers' } }));
    const commit = await writeAll(target, peerRecords());
    assert.equal(commit.delivered, 5);
    const byPath = Object.fromEntries(rx.received.map((r) => [r.path, JSON.parse(r.body) as unknown]));
    assert.deepEqual(byPath, {
      '/connection_sets/1714557600': { '198.51.100.1': 30, '192.0.2.1': 10, '192.0.2.2': 20 },
      '/connection_sets/1714558200': { '198.51.100.1': 4, '192.0.2.9': 1 },
    });
    assert.deepEqual(commit.outputs, [`${rx.url}/connection_sets/1714557600`, `${rx.url}/connection_sets/1714558200`]);
  });

  it('sends NDJSON, gzip-compressed when asked', async () => {
    const rx = await startReceiver();
    const target = sink(config(rx.url + '/', { encoding: 'ndjson', compression: 'gzip', idField: false }));
    await writeAll(target, records(3));
    assert.equal(rx.received[0]!.headers['content-encoding'], 'gzip');
    assert.equal(rx.received[0]!.headers['content-type'], 'application/x-ndjson');
    assert.equal(rx.received[0]!.body, '{"n":0,"s":"x"}\n{"n":1,"s":"x"}\n{"n":2,"s":"x"}\n');
  });

  it('retries 429 (at least Retry-After) and 503, then delivers', async () => {
    const rx = await startReceiver([{ status: 429, headers: { 'retry-after': '5' } }, 503]);
    const timing = instantTiming();
    const commit = await writeAll(sink(config(rx.url + '/x'), timing), records(4));
    assert.equal(commit.delivered, 4);
    assert.equal(rx.received.length, 3);
    assert.ok(timing.delays[0]! >= 5_000);
    assert.equal(new Set(rx.received.map((r) => r.headers['idempotency-key'])).size, 1, 'every attempt carries the same key');
  });

  it('dead-letters a batch the server keeps answering 5xx, after maxAttempts', async () => {
    const rx = await startReceiver([500, 500, 500, 500]);
    const commit = await writeAll(sink(config(rx.url + '/x', { retry: { maxAttempts: 3 } })), records(4));
    assert.equal(commit.delivered, 0);
    assert.equal(commit.rejected.length, 4);
    assert.equal(rx.received.length, 3);
    for (const r of commit.rejected) {
      assert.equal(r.code, 'SINK_RETRIES_EXHAUSTED');
      assert.match(r.reason, /HTTP 500.*gave up after 3 attempts/);
    }
  });

  it('rejects a batch refused with 400 at once; fails the unit on 401 without leaking the token', async () => {
    const rx = await startReceiver([400]);
    const commit = await writeAll(sink(config(rx.url + '/x')), records(2));
    assert.deepEqual(commit.rejected.map((r) => r.code), ['HTTP_400', 'HTTP_400']);
    assert.equal(rx.received.length, 1);

    const locked = await startReceiver([401]);
    process.env.SLUICE_TEST_HTTP_TOKEN = 'Bearer leaked-if-you-see-me';
    const target = sink(config(locked.url + '/x', { headers: { Authorization: 'env:SLUICE_TEST_HTTP_TOKEN' } }));
    await assert.rejects(writeAll(target, records(2)), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'HTTP_401');
      assert.equal(err.retryable, false);
      // The receiver echoed the token in its error body: it must be redacted.
      assert.ok(!err.message.includes('leaked-if-you-see-me'), err.message);
      return true;
    });
    delete process.env.SLUICE_TEST_HTTP_TOKEN;
  });

  it('a receiver that is down fails the unit (retryable) and dead-letters nothing', async () => {
    const rx = await startReceiver();
    const url = rx.url;
    await new Promise((r) => rx.server.close(r));
    await assert.rejects(writeAll(sink(config(`http://user:pa55word@${url.slice(7)}/x`, { retry: { maxAttempts: 2 } })), records(3)), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'SINK_UNREACHABLE');
      assert.equal(err.retryable, true);
      assert.ok(!err.message.includes('pa55word'));
      assert.match(err.message, /\*\*\*:\*\*\*@/);
      return true;
    });
  });

  it('splits on 413 and rejects a single record still too large', async () => {
    const rx = await startReceiver([413, 413, 200, 413]);
    const commit = await writeAll(sink(config(rx.url + '/x')), records(4));
    // 4 -> 413; [0,1] -> 413; [0] -> 200; [1] -> 413 (rejected); [2,3] -> 200
    assert.equal(commit.delivered, 3);
    assert.deepEqual(commit.rejected.map((r) => [r.record.id, r.code]), [['r-1', 'SINK_RECORD_TOO_LARGE']]);
  });

  it('rejects records missing a field the URL needs', async () => {
    const rx = await startReceiver();
    const input = peerRecords();
    delete input[1]!.fields['bucket_start'];
    const commit = await writeAll(sink(config(`${rx.url}/connection_sets/{bucket_start}`)), input);
    assert.equal(commit.delivered, 4);
    assert.deepEqual(commit.rejected.map((r) => [r.record.id, r.code]), [['agg-1', 'SINK_URL_FIELD_MISSING']]);
  });

  it('keeps at most maxInFlight requests out', async () => {
    let inFlight = 0;
    let peak = 0;
    const server = createServer((req, res) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      req.resume();
      req.on('end', () =>
        setTimeout(() => {
          inFlight -= 1;
          res.end('{}');
        }, 15),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    receivers.push(server);
    const target = sink(config(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x`, { batchMaxRecords: 5, maxInFlight: 3 }));
    const commit = await writeAll(target, records(100));
    assert.equal(commit.delivered, 100);
    assert.equal(peak, 3);
  });
});

describe('http sink: the unit abort signal', () => {
  it('ends a write() waiting for a slot and a commit() waiting in backoff', { timeout: 20_000 }, async () => {
    const receiver = await startReceiver(Array.from({ length: 50 }, () => ({ status: 429, headers: { 'retry-after': '1' } })));
    const sleeps: number[] = [];
    const s = createHttpSink(config(receiver.url, { batchMaxRecords: 1, maxInFlight: 1 }), {
      timing: {
        now: () => 0,
        random: () => 0.5,
        // Backoff lasts until aborted: without the signal the test would time out.
        sleep: (ms: number, signal?: AbortSignal) =>
          new Promise<void>((_resolve, reject) => {
            sleeps.push(ms);
            signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
          }),
      },
    });
    sinks.push(s);
    const controller = new AbortController();
    const writer = s.openUnit(unit, { signal: controller.signal });
    const writing = writer.write(peerRecords().slice(0, 3));
    while (sleeps.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort(new Error('lease lost'));
    await assert.rejects(writing, (err: unknown) => err instanceof SluiceError && err.code === 'ABORTED');
    await assert.rejects(writer.commit(), (err: unknown) => err instanceof SluiceError && err.code === 'ABORTED');
    await writer.abort();
  });
});
