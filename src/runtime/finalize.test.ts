/**
 * The aggregate's cross-unit merge through the whole runtime: flow objects whose 10-minute
 * buckets span several objects, one unit per object writing partials, the finalize unit merging
 * them and POSTing the seed's shape `{ip: count}` to `<endpoint>/connection_sets/<bucket>` through
 * the http sink's URL template and `asObject`, against a local HTTP server.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { parsePipeline, type PipelineConfig } from '../pipeline/config.js';
import { writeFlowLogObjects } from '../demo/flow-log-generator.js';
import { buildDemoInventory } from '../demo/inventory.js';
import { openLedger } from './ledger/open-ledger.js';
import { planPipeline, runPipeline, workPipeline } from './run-pipeline.js';
import { finalizePipelineName } from './finalize.js';

interface Post {
  url: string;
  body: Record<string, number>;
  idempotencyKey?: string;
}

/** The seed's Python loop, over the raw gzip files: {bucket: {ip: distinct peers}}. */
function bruteForce(files: string[]): Map<number, Map<string, number>> {
  const sets = new Map<number, Map<string, Set<string>>>();
  for (const file of files) {
    for (const line of gunzipSync(readFileSync(file)).toString('utf8').split('\n')) {
      const f = line.split(' ');
      if (f.length < 14 || f[0] === 'version' || f[3] === '-') continue;
      const bucket = Math.floor(Number(f[10]) / 600) * 600;
      const b = sets.get(bucket) ?? sets.set(bucket, new Map()).get(bucket)!;
      (b.get(f[3]!) ?? b.set(f[3]!, new Set()).get(f[3]!)!).add(f[4]!);
      (b.get(f[4]!) ?? b.set(f[4]!, new Set()).get(f[4]!)!).add(f[3]!);
    }
  }
  return new Map([...sets].map(([bucket, ips]) => [bucket, new Map([...ips].map(([ip, s]) => [ip, s.size]))]));
}

describe('aggregate finalize: buckets merged across objects, posted per bucket', () => {
  let dir: string;
  let server: Server;
  let endpoint: string;
  const posts: Post[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sluice-finalize-'));
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        posts.push({ url: req.url!, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, number>, idempotencyKey: req.headers['idempotency-key'] as string | undefined });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const pipeline = (): PipelineConfig =>
    parsePipeline({
      name: 'peers',
      source: { uri: path.join(dir, 'logs') },
      format: 'vpcflow',
      transforms: [{ type: 'aggregate', bucketSeconds: 600 }],
      sinks: [{ type: 'http', url: `${endpoint}/connection_sets/{bucket_start}`, asObject: { key: 'ip', value: 'peers' }, batchMaxRecords: 1_000_000, batchMaxBytes: 50_000_000 }],
      runtime: { state: path.join(dir, 'state.db'), workers: 0, concurrency: 3 },
    });

  const postsByBucket = (from: number) => {
    const out = new Map<number, Record<string, number>>();
    for (const p of posts.slice(from)) {
      const m = /^\/connection_sets\/(\d+)$/.exec(p.url);
      assert.ok(m, p.url);
      assert.ok(!out.has(Number(m[1])), `one POST per bucket (${p.url})`);
      out.set(Number(m[1]), p.body);
    }
    return out;
  };

  it('posts one {ip: count} object per bucket equal to the brute-force count; a re-run posts nothing', async () => {
    const inventory = buildDemoInventory(5);
    // 6 objects over 30 minutes: 3 VPCs x 2 five-minute intervals per 10-minute bucket.
    const written = await writeFlowLogObjects({ dir: path.join(dir, 'logs'), inventory, seed: 11, objects: 6, linesPerObject: 800, start: Date.UTC(2024, 4, 1, 10, 0, 0) / 1000, durationMinutes: 30, format: 'v2', concurrency: 1 });
    const expected = bruteForce(written.files);
    assert.ok(expected.size >= 2);

    const report = await runPipeline(pipeline());
    assert.equal(report.units.done, 6);
    assert.equal(report.records.in, report.records.out + report.records.rejected + report.records.filtered);
    assert.equal(report.aggregate?.state, 'done', JSON.stringify(report.aggregate));
    assert.equal(report.aggregate.units, 6);
    const got = postsByBucket(0);
    assert.deepEqual([...got.keys()].sort(), [...expected.keys()].sort());
    for (const [bucket, counts] of expected) assert.deepEqual(got.get(bucket), Object.fromEntries(counts), `bucket ${bucket}`);
    const results = [...expected.values()].reduce((n, m) => n + m.size, 0);
    assert.deepEqual(report.aggregate.records, { in: results, out: results, rejected: 0 });

    const postsBefore = posts.length;
    const again = await runPipeline(pipeline());
    assert.equal(again.aggregate?.state, 'already-done');
    assert.equal(posts.length, postsBefore, 'nothing sent twice');
  });

  it('a new object adds a finalize unit whose counts include it, with the old partials reused', async () => {
    const inventory = buildDemoInventory(5);
    const more = await writeFlowLogObjects({ dir: path.join(dir, 'logs-more'), inventory, seed: 12, objects: 1, linesPerObject: 800, start: Date.UTC(2024, 4, 1, 10, 0, 0) / 1000, durationMinutes: 5, format: 'v2', concurrency: 1 });
    const target = path.join(dir, 'logs', 'extra.log.gz');
    rmSync(target, { force: true });
    (await import('node:fs')).copyFileSync(more.files[0]!, target);
    const all = (await import('node:fs')).readdirSync(path.join(dir, 'logs'), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith('.gz'))
      .map((e) => path.join(e.parentPath, e.name));
    const expected = bruteForce(all);
    const from = posts.length;
    const report = await runPipeline(pipeline());
    assert.equal(report.units.done, 1, 'only the new object is read');
    assert.equal(report.aggregate?.state, 'done');
    assert.equal(report.aggregate.units, 7);
    const got = postsByBucket(from);
    for (const [bucket, counts] of expected) assert.deepEqual(got.get(bucket), Object.fromEntries(counts), `bucket ${bucket}`);

    const ledger = await openLedger(path.join(dir, 'state.db'));
    try {
      const counts = await ledger.counts(finalizePipelineName('peers'));
      assert.equal(counts.done, 2, 'two finalize units: one per set of inputs');
    } finally {
      await ledger.close();
    }
  });

  it('waits while a unit is dead instead of sending a partial answer', async () => {
    (await import('node:fs')).writeFileSync(path.join(dir, 'logs', 'broken.log.gz'), Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]));
    const config = pipeline();
    config.runtime.maxAttempts = 1;
    const from = posts.length;
    const report = await runPipeline(config);
    assert.equal(report.units.dead, 1);
    assert.equal(report.aggregate?.state, 'blocked');
    assert.match(report.aggregate.reason ?? '', /dead unit/);
    assert.equal(posts.length, from);
  });

  it('fleet workers (plan + two workers) finalize once: one POST per bucket', async () => {
    const config = { ...pipeline(), name: 'peers-fleet' };
    config.runtime = { ...config.runtime, state: path.join(dir, 'fleet.db') };
    (await import('node:fs')).rmSync(path.join(dir, 'logs', 'broken.log.gz'), { force: true });
    const ledger = await openLedger(config.runtime.state);
    const from = posts.length;
    try {
      await planPipeline(config, { ledger });
      const [a, b] = await Promise.all([
        workPipeline(config, { ledger, owner: 'worker-a', reclaimAtStart: false }),
        workPipeline(config, { ledger, owner: 'worker-b', reclaimAtStart: false }),
      ]);
      assert.equal(a.units.done + b.units.done, 7);
      const states = [a.aggregate?.state, b.aggregate?.state].sort();
      assert.ok(states.includes('done'), JSON.stringify(states));
      assert.ok(states.every((s) => s === 'done' || s === 'already-done' || s === 'waiting'), JSON.stringify(states));
    } finally {
      await ledger.close();
    }
    const got = postsByBucket(from);
    assert.ok(got.size >= 2, 'each bucket posted exactly once (postsByBucket checks there is no second POST)');
  });

  it('a following worker finalizes each time new objects drain, and not again while nothing changes', async () => {
    const config = { ...pipeline(), name: 'peers-follow' };
    config.runtime = { ...config.runtime, state: path.join(dir, 'follow.db') };
    const ledger = await openLedger(config.runtime.state);
    const controller = new AbortController();
    const finalized: string[] = [];
    let drained!: () => void;
    let nextDrain = new Promise<void>((resolve) => (drained = resolve));
    const from = posts.length;
    try {
      await planPipeline(config, { ledger });
      const worker = workPipeline(config, {
        ledger,
        owner: 'follower',
        follow: true,
        pollMs: 20,
        signal: controller.signal,
        events: {
          onFinalized(summary) {
            finalized.push(summary.state);
            drained();
          },
        },
      });
      await nextDrain;
      const first = postsByBucket(from);
      assert.ok(first.size >= 2);
      // Idle polls while nothing changes: no second finalize.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(finalized, ['done']);

      // A new object arrives and is planned: the follower reads it and finalizes again with it counted.
      nextDrain = new Promise<void>((resolve) => (drained = resolve));
      const more = await writeFlowLogObjects({ dir: path.join(dir, 'logs-follow'), inventory: buildDemoInventory(5), seed: 13, objects: 1, linesPerObject: 500, start: Date.UTC(2024, 4, 1, 10, 0, 0) / 1000, durationMinutes: 5, format: 'v2', concurrency: 1 });
      (await import('node:fs')).copyFileSync(more.files[0]!, path.join(dir, 'logs', 'follow-extra.log.gz'));
      const fromSecond = posts.length;
      await planPipeline(config, { ledger });
      await nextDrain;
      controller.abort();
      const summary = await worker;
      assert.deepEqual(finalized, ['done', 'done']);
      assert.equal(summary.aggregate?.state, 'done');
      const all = (await import('node:fs')).readdirSync(path.join(dir, 'logs'), { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile() && e.name.endsWith('.gz') && e.name !== 'broken.log.gz')
        .map((e) => path.join(e.parentPath, e.name));
      const expected = bruteForce(all);
      const second = postsByBucket(fromSecond);
      for (const [bucket, counts] of expected) assert.deepEqual(second.get(bucket), Object.fromEntries(counts), `bucket ${bucket}`);
    } finally {
      controller.abort();
      await ledger.close();
    }
  });
});
