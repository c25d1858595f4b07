/**
 * The dashboard's HTTP surface against a real SQLite ledger file: /healthz, /metrics (Vector
 * names, values from the ledger), the live event stream seeing another connection's writes,
 * redrive with its CSRF and origin checks, the loopback Host check, and token auth when bound
 * beyond loopback. (The page itself, in Chromium, is test/dashboard.services.test.ts.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SluiceError } from '../src/core/errors.js';
import { startDashboard, type DashboardServer } from '../src/dashboard/server.js';
import { openLake, type Lake } from '../src/lake/catalog.js';
import { openSqliteLedger } from '../src/runtime/ledger/sqlite.js';
import type { Ledger, UnitSpec } from '../src/runtime/ledger/types.js';
import { createLogger } from '../src/core/logger.js';
import { DuckDBInstance } from '@duckdb/node-api';
import { serveCommand } from '../src/cli/commands/serve.js';
import { repoRoot } from '../src/testing/repo-root.js';
import { startS3Server, type RunningS3Server } from '../src/testing/s3-server.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-dashboard-'));
const stateFile = path.join(tmp, 'state.db');
const logger = createLogger({ level: 'silent' });
const policy = { maxAttempts: 1, backoffMs: 10, maxBackoffMs: 10 };

function unit(key: string): UnitSpec {
  return { id: `id-${key}`, pipeline: 'p1', kind: 'object', key, payload: {}, size: 10 };
}

/** Three units: two done (100 + 50 records, 3 rejected, 2 filtered), one dead with a read error. */
async function seedLedger(ledger: Ledger): Promise<void> {
  await ledger.planUnits([unit('logs/a.log.gz'), unit('logs/b.log.gz'), unit('logs/corrupt.log.gz')]);
  for (const [recordsIn, rejected, filtered] of [[100, 3, 2], [50, 0, 0]] as const) {
    const lease = (await ledger.leaseNextUnit('p1', 'test', 60_000))!;
    await ledger.completeUnit(lease, { recordsIn, recordsOut: recordsIn - rejected - filtered, recordsRejected: rejected, recordsFiltered: filtered, outputs: [], durationMs: 5 });
  }
  const lease = (await ledger.leaseNextUnit('p1', 'test', 60_000))!;
  const outcome = await ledger.failUnit(lease, { message: 'logs/corrupt.log.gz: corrupt gzip data', code: 'CORRUPT_GZIP', stage: 'read', retryable: false }, { ...policy, retryable: false });
  assert.equal(outcome, 'dead');
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** node:http instead of fetch, so tests can set Host and Origin freely. */
function raw(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('sluice serve: HTTP API on loopback', () => {
  let ledger: Ledger;
  let lake: Lake;
  let dash: DashboardServer;
  let csrf: string;

  before(async () => {
    ledger = openSqliteLedger(stateFile);
    await seedLedger(ledger);
    lake = await openLake(path.join(tmp, 'no-lake-yet'));
    dash = await startDashboard({ ledger, lake, port: 0, ledgerLabel: 'state.db', lakeLabel: 'lake', pollMs: 50, logger });
    const page = await raw(dash.url);
    csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(page.body)![1]!;
  });
  after(async () => {
    await dash?.close();
    lake?.close();
    await ledger?.close();
  });

  it('binds 127.0.0.1 by default and answers /healthz', async () => {
    assert.match(dash.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const r = await raw(`${dash.url}healthz`);
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { ok: true });
  });

  it('/metrics: Prometheus text with Vector names, values from the ledger', async () => {
    const r = await raw(`${dash.url}metrics`);
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const lines = r.body.split('\n');
    const has = (line: string) => assert.ok(lines.includes(line), `missing "${line}" in\n${r.body}`);
    has('# TYPE component_received_events_total counter');
    has('component_received_events_total{component_id="p1"} 150');
    has('component_sent_events_total{component_id="p1"} 145');
    has('component_discarded_events_total{component_id="p1",intentional="true"} 2');
    has('component_discarded_events_total{component_id="p1",intentional="false"} 3');
    has('component_errors_total{component_id="p1",error_type="CORRUPT_GZIP",stage="read"} 1');
    has('sluice_units{component_id="p1",state="done"} 2');
    has('sluice_units{component_id="p1",state="dead"} 1');
  });

  it('the runs page shows the dead unit with its full error and key, escaped', async () => {
    const r = await raw(dash.url);
    assert.equal(r.status, 200);
    assert.match(r.body, /logs\/corrupt\.log\.gz: corrupt gzip data/);
    assert.match(r.body, /<code class="key" title="logs\/corrupt\.log\.gz">/);
    assert.match(String(r.headers['content-security-policy']), /script-src 'self'/);
    assert.match(r.body, /<script src="\/assets\/app\.js" defer><\/script>/);
    const js = await raw(`${dash.url}assets/app.js`);
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /text\/javascript/);
  });

  it('refuses a Host header that is not loopback (DNS rebinding)', async () => {
    const r = await raw(`${dash.url}`, { headers: { Host: `attacker.example:${dash.port}` } });
    assert.equal(r.status, 421);
    const ok = await raw(`${dash.url}healthz`, { headers: { Host: `localhost:${dash.port}` } });
    assert.equal(ok.status, 200);
  });

  it('the event stream sends the live region, then another connection\'s writes without a reload', async () => {
    const events: string[] = [];
    let wake: (() => void) | null = null;
    const req = httpRequest(`${dash.url}events`, (res) => {
      assert.equal(res.headers['content-type'], 'text/event-stream');
      let buffer = '';
      res.on('data', (c: Buffer) => {
        buffer += c.toString('utf8');
        let i: number;
        while ((i = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          const data = frame.split('\n').find((l) => l.startsWith('data: '));
          if (frame.startsWith('event: snapshot') && data) events.push((JSON.parse(data.slice(6)) as { html: string }).html);
          wake?.();
        }
      });
    });
    req.end();
    const waitFor = async (predicate: (html: string) => boolean): Promise<string> => {
      for (;;) {
        const hit = events.find(predicate);
        if (hit) return hit;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    };
    try {
      const first = await waitFor(() => true);
      assert.match(first, /corrupt\.log\.gz/);
      // Another connection to the same file, as a `sluice run` in another process would be.
      const writer = openSqliteLedger(stateFile);
      await writer.planUnits([unit('logs/new-object.log.gz')]);
      await writer.close();
      const next = await waitFor((html) => html.includes('new-object.log.gz'));
      assert.match(next, /<b>1<\/b> pending/);
    } finally {
      req.destroy();
    }
  });

  it('redrive: refused without the CSRF token, with a wrong one, or from another origin; then the same as `sluice retry`', async () => {
    const form = (token?: string) => new URLSearchParams({ pipeline: 'p1', unit: 'id-logs/corrupt.log.gz', ...(token ? { csrf: token } : {}) }).toString();
    const post = (body: string, headers: Record<string, string> = {}) =>
      raw(`${dash.url}api/redrive`, { method: 'POST', body, headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json', ...headers } });

    assert.equal((await post(form())).status, 403);
    assert.equal((await post(form('not-the-token'))).status, 403);
    assert.equal((await post(form(csrf), { Origin: 'https://attacker.example' })).status, 403);
    assert.equal((await ledger.getUnit('id-logs/corrupt.log.gz'))!.state, 'dead');

    const ok = await post(form(), { 'X-CSRF-Token': csrf, Origin: dash.url.slice(0, -1) });
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual(JSON.parse(ok.body), { pipeline: 'p1', redriven: 1 });
    const after = (await ledger.getUnit('id-logs/corrupt.log.gz'))!;
    assert.equal(after.state, 'pending');
    assert.equal(after.attempts, 0);

    // Without script the form posts and is sent back to the page.
    const again = await raw(`${dash.url}api/redrive`, { method: 'POST', body: form(csrf), headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    assert.equal(again.status, 303);
    assert.equal(again.headers.location, '/');
  });

  it('a GET cannot change state, and unknown actions are refused', async () => {
    assert.notEqual((await raw(`${dash.url}api/redrive?pipeline=p1`)).status, 200);
    assert.equal((await raw(`${dash.url}api/other`, { method: 'POST', body: '', headers: { 'X-CSRF-Token': csrf } })).status, 404);
  });

  it('investigation inputs are checked and never reach SQL as text', async () => {
    const r = await raw(`${dash.url}api/investigate?host=${encodeURIComponent("10.0.0.1' OR 1=1 --")}`);
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.body).error, /not an IP address, an ENI id/);
  });
});

describe('sluice serve: follows its ledger file', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-follow-'));
  const file = path.join(dir, 'state.db');
  const removeLedger = () => {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
  };
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function ledgerWith(pipeline: string, run?: { units: { total: number; done: number; dead: number; skipped: number } }): Promise<Ledger> {
    const ledger = openSqliteLedger(file);
    await ledger.planUnits([{ ...unit(`${pipeline}/a.log.gz`), id: `${pipeline}-a`, pipeline }]);
    if (run) {
      await ledger.startRun({ id: `${pipeline}-run`, pipeline, startedAt: Date.now() });
      await ledger.finishRun(`${pipeline}-run`, Date.now(), { ...run, records: { in: 0, out: 0, rejected: 0, filtered: 0 }, recordsPerSecond: 0, interrupted: false });
    }
    return ledger;
  }

  it('a deleted ledger file is said on the page; a new file under the name is read in its place', async () => {
    const first = await ledgerWith('old-pipeline', { units: { total: 13, done: 0, dead: 0, skipped: 13 } });
    const lake = await openLake(path.join(dir, 'no-lake'));
    const dash = await startDashboard({ ledger: first, ledgerFile: { path: file, reopen: async () => openSqliteLedger(file) }, lake, port: 0, ledgerLabel: 'state.db', lakeLabel: 'lake', pollMs: 50, logger });
    let writer: Ledger | undefined;
    try {
      const before = await raw(dash.url);
      assert.match(before.body, /data-pipeline="old-pipeline"/);
      assert.match(before.body, /<td class="n">13 already done<\/td>/, 'a resume-only run reads as done, not "0 / 13"');

      removeLedger();
      const gone = await raw(dash.url);
      assert.doesNotMatch(gone.body, /old-pipeline/);
      assert.match(gone.body, /The ledger file .*state\.db was deleted/);
      const snapshot = await raw(`${dash.url}api/snapshot`);
      assert.equal(snapshot.status, 503);
      assert.match(JSON.parse(snapshot.body).error, /was deleted/);

      // A second `npm start`: a new ledger under the same name, its writer still open (WAL not checkpointed).
      writer = await ledgerWith('new-pipeline');
      const after = JSON.parse((await raw(`${dash.url}api/snapshot`)).body) as { pipelines: Array<{ name: string }> };
      assert.deepEqual(after.pipelines.map((p) => p.name), ['new-pipeline']);
      assert.match((await raw(`${dash.url}metrics`)).body, /sluice_units\{component_id="new-pipeline",state="pending"\} 1/);
    } finally {
      await dash.close();
      lake.close();
    }
    // Closing the dashboard closed the stale connection too: the new ledger must be untouched by it.
    assert.ok(existsSync(`${file}-wal`), 'the new ledger keeps its WAL');
    const reader = openSqliteLedger(file);
    try {
      assert.deepEqual(await reader.pipelines(), ['new-pipeline']);
      assert.equal((await reader.counts('new-pipeline')).pending, 1);
    } finally {
      await reader.close();
      await writer?.close();
    }
  });
});

describe('sluice serve: beyond loopback', () => {
  let ledger: Ledger;
  let lake: Lake;
  before(async () => {
    ledger = openSqliteLedger(stateFile);
    lake = await openLake(path.join(tmp, 'no-lake-yet'));
  });
  after(async () => {
    lake?.close();
    await ledger?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('refuses to start without a token', async () => {
    await assert.rejects(
      startDashboard({ ledger, lake, host: '0.0.0.0', port: 0, ledgerLabel: 's', lakeLabel: 'l', logger }),
      (err: unknown) => err instanceof SluiceError && err.code === 'SERVE_TOKEN_REQUIRED',
    );
  });

  it('with a token: 401 without it, Bearer works, ?token= trades it for an HttpOnly cookie; /healthz stays open', async () => {
    const token = 'correct-horse-battery-staple-42';
    const dash = await startDashboard({ ledger, lake, host: '0.0.0.0', port: 0, token, ledgerLabel: 's', lakeLabel: 'l', logger });
    const base = `http://127.0.0.1:${dash.port}/`;
    try {
      assert.equal((await raw(base)).status, 401);
      assert.equal((await raw(`${base}metrics`)).status, 401);
      assert.equal((await raw(`${base}metrics`, { headers: { Authorization: 'Bearer wrong-token-wrong-token' } })).status, 401);
      assert.equal((await raw(`${base}metrics`, { headers: { Authorization: `Bearer ${token}` } })).status, 200);
      assert.equal((await raw(`${base}healthz`)).status, 200);
      assert.equal((await raw(`${base}?token=nope`)).status, 401);
      const login = await raw(`${base}investigate?token=${token}`);
      assert.equal(login.status, 303);
      assert.equal(login.headers.location, '/investigate');
      const cookie = String(login.headers['set-cookie']);
      assert.match(cookie, /HttpOnly/);
      assert.match(cookie, /SameSite=Strict/);
      const page = await raw(base, { headers: { Cookie: cookie.split(';')[0]! } });
      assert.equal(page.status, 200);
      // Bound beyond loopback the Host check is off (the token is the guard).
      assert.equal((await raw(`${base}healthz`, { headers: { Host: 'sluice.internal.example' } })).status, 200);
    } finally {
      await dash.close();
    }
  });
});

describe('sluice serve: an S3 lake', () => {
  let s3: RunningS3Server;
  let ledger: Ledger;
  let lake: Lake;
  let dash: DashboardServer;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-serve-s3-'));
  const cacheDir = path.join(dir, 'mirror');
  before(async () => {
    s3 = await startS3Server({ buckets: ['serve-lake'] });
    const duck = await DuckDBInstance.create();
    const c = await duck.connect();
    const ep = (ip: string, port: number) => `{'ip': '${ip}', 'port': ${port}}`;
    for (const [day, time] of [['20240326', '2024-03-26 03:01:00+00'], ['20240327', '2024-03-27 05:00:00+00']]) {
      const file = path.join(dir, `${day}.parquet`);
      await c.run(`COPY (SELECT TIMESTAMPTZ '${time}' AS time, ${ep('10.0.1.12', 49152)} AS src_endpoint, ${ep('10.0.2.40', 5432)} AS dst_endpoint, {'bytes': 1000::BIGINT} AS traffic, 'Allowed' AS action, 4001 AS class_uid) TO '${file}' (FORMAT parquet)`);
      await s3.putObject('serve-lake', `lake/region=eu-west-1/accountId=012345678901/eventDay=${day}/obj-${day}-class4001-0000.parquet`, readFileSync(file));
    }
    c.closeSync();
    duck.closeSync();
    ledger = openSqliteLedger(path.join(dir, 'state.db'));
    lake = await openLake('s3://serve-lake/lake/', { s3: { endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: s3.credentials }, cacheDir, download: 'on-demand' });
    dash = await startDashboard({ ledger, lake, port: 0, ledgerLabel: 'state.db', lakeLabel: 's3://serve-lake/lake/', pollMs: 50, logger });
  });
  after(async () => {
    await dash?.close();
    lake?.close();
    await ledger?.close();
    await s3?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the tables come from the listing; an investigation downloads the days of its window and answers', async () => {
    const tables = await raw(`${dash.url}tables`);
    assert.match(tables.body, /network_activity/);
    // The form's default window is the lake's days, from the listing: nothing is downloaded for it.
    const form = await raw(`${dash.url}investigate`);
    assert.equal(form.status, 200);
    assert.match(form.body, /2024-03-26T00:00/);
    assert.equal(existsSync(path.join(cacheDir, 'files')) ? readdirSync(path.join(cacheDir, 'files'), { recursive: true }).filter((f) => String(f).endsWith('.parquet')).length : 0, 0);

    const r = await raw(`${dash.url}api/investigate?host=10.0.1.12&from=2024-03-27T00:00&to=2024-03-28T00:00`);
    assert.equal(r.status, 200, r.body);
    const result = JSON.parse(r.body) as { flows: number; peers: Array<{ ip: string; bytes: number }> };
    assert.deepEqual([result.flows, result.peers.map((p) => [p.ip, p.bytes])], [1, [['10.0.2.40', 1000]]]);
    const mirrored = readdirSync(path.join(cacheDir, 'files'), { recursive: true }).map(String).filter((f) => f.endsWith('.parquet'));
    assert.deepEqual(mirrored.map((f) => /eventDay=(\d+)/.exec(f)?.[1]), ['20240327'], 'only the window\'s day was downloaded');
  });
});

describe('sluice serve: command-line guards', () => {
  it('refuses a non-loopback address without --token, and a token given literally', async () => {
    const flags = { state: path.join(tmp, 'guard.db'), lake: tmp, port: 0, host: '0.0.0.0' };
    await assert.rejects(serveCommand(flags), (err: unknown) => err instanceof SluiceError && err.code === 'SERVE_TOKEN_REQUIRED');
    await assert.rejects(serveCommand({ ...flags, token: 'hunter2-but-longer-than-16' }), (err: unknown) => err instanceof SluiceError && err.code === 'SERVE_TOKEN_LITERAL');
    process.env.SLUICE_TEST_SHORT_TOKEN = 'short';
    await assert.rejects(serveCommand({ ...flags, token: 'env:SLUICE_TEST_SHORT_TOKEN' }), (err: unknown) => err instanceof SluiceError && err.code === 'SERVE_TOKEN_WEAK');
  });
});

describe('sluice query', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-query-'));
  const lakeDir = path.join(dir, 'lake');
  before(async () => {
    const folder = path.join(lakeDir, 'region=eu-west-1', 'accountId=012345678901', 'eventDay=20240326');
    mkdirSync(folder, { recursive: true });
    const duck = await DuckDBInstance.create();
    const c = await duck.connect();
    await c.run(`COPY (SELECT * FROM (VALUES ('10.0.0.1', 443, 'Allowed'), ('10.0.0.2', 22, 'Denied'), ('10.0.0.1', 443, 'Allowed')) t(ip, port, action))
      TO '${path.join(folder, 'obj-1234-class4001-0000.parquet')}' (FORMAT parquet)`);
    c.closeSync();
    duck.closeSync();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const sluice = (...args: string[]) =>
    spawnSync(process.execPath, [path.join(repoRoot(), 'bin', 'sluice.js'), 'query', '--lake', lakeDir, ...args], { encoding: 'utf8', env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' } });

  it('runs SQL over the OCSF class views: CSV, JSON and the table', () => {
    const csv = sluice('--format', 'csv', "SELECT ip, count(*) AS n, any_value(accountId) AS account FROM network_activity GROUP BY ip ORDER BY ip");
    assert.equal(csv.status, 0, csv.stderr);
    assert.equal(csv.stdout, 'ip,n,account\r\n10.0.0.1,2,012345678901\r\n10.0.0.2,1,012345678901\r\n');
    const json = sluice('--format', 'json', "SELECT action, count(*) AS n FROM network_activity GROUP BY 1 ORDER BY 1");
    assert.deepEqual(JSON.parse(json.stdout), [{ action: 'Allowed', n: 2 }, { action: 'Denied', n: 1 }]);
    const table = sluice();
    assert.match(table.stdout, /network_activity\s+4001\s+3\s+1\s/, 'view, class, 3 rows, 1 file');
  });

  it('says when an interrupted compaction leaves rows missing', () => {
    const folder = path.join(lakeDir, 'region=eu-west-1', 'accountId=012345678901', 'eventDay=20240326');
    const pending = path.join(folder, '.sluice-compacted-class4001-0000.parquet.pending');
    copyFileSync(path.join(folder, 'obj-1234-class4001-0000.parquet'), pending);
    try {
      const r = sluice('SELECT count(*) AS n FROM network_activity');
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /warning: a compaction was interrupted in 1 folder\(s\) of .*lake \(region=eu-west-1\/accountId=012345678901\/eventDay=20240326\): their inputs' rows are missing until `sluice compact` finishes it/);
    } finally {
      rmSync(pending);
    }
    assert.doesNotMatch(sluice('SELECT 1').stderr, /warning/);
  });

  it('--explain prints the plan; a bad query names the views', () => {
    const plan = sluice('--explain', 'SELECT ip FROM network_activity WHERE port = 22');
    assert.equal(plan.status, 0, plan.stderr);
    assert.match(plan.stdout, /READ_PARQUET|PARQUET_SCAN|TABLE_SCAN/);
    const bad = sluice('SELECT * FROM network_activty');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /query failed: .*network_activty/);
    assert.match(bad.stderr, /hint: the lake's views: network_activity/);
  });
});
