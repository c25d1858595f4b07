/**
 * The dashboard end to end in real Chromium: `sluice serve` in one process, a small backfill
 * (demo flow logs -> enrich -> ocsf -> Parquet lake, plus one corrupt gzip object) in another
 * process writing the same SQLite ledger. The page must show the units progress and the dead unit
 * appear without a reload, redrive it, and the investigation view's peer table must match an
 * independent DuckDB query over the lake. Screenshots go to test-artifacts/dashboard/ (ignored by git).
 *
 * Needs /usr/bin/chromium (Debian package): without it this test fails, it does not skip.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { chromium, type Browser, type Page } from 'playwright-core';
import { writeFlowLogObjects } from '../src/demo/flow-log-generator.js';
import { buildDemoInventory, inventoryTablesCsv } from '../src/demo/inventory.js';
import { openSqliteLedger } from '../src/runtime/ledger/sqlite.js';
import { repoRoot } from '../src/testing/repo-root.js';

const CHROMIUM = '/usr/bin/chromium';
const OBJECTS = 6;
const LINES = 1500;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-dash-e2e-'));
const artifacts = path.join(repoRoot(), 'test-artifacts', 'dashboard');
const sluiceBin = path.join(repoRoot(), 'bin', 'sluice.js');
const corruptKey = 'AWSLogs/111122223333/vpcflowlogs/eu-west-1/2024/03/26/111122223333_vpcflowlogs_eu-west-1_fl-0corrupt0000000_20240326T0355Z_c0rrup70.log.gz';

function startProcess(args: string[]): { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> } {
  let out = '';
  let err = '';
  const child = spawn(process.execPath, [sluiceBin, ...args], { cwd: tmp, env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' } });
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function writeBackfill(): Promise<void> {
  const inventory = buildDemoInventory(1);
  mkdirSync(path.join(tmp, 'tables'), { recursive: true });
  for (const [name, csv] of Object.entries(inventoryTablesCsv(inventory))) writeFileSync(path.join(tmp, 'tables', name), csv);
  await writeFlowLogObjects({ dir: path.join(tmp, 'logs'), inventory, seed: 7, objects: OBJECTS, linesPerObject: LINES, start: new Date(Date.UTC(2024, 2, 26, 3)), format: 'v5' });
  // A gzip header followed by garbage: the read fails, and with maxAttempts 1 the unit is dead at once.
  const corrupt = path.join(tmp, 'logs', ...corruptKey.split('/'));
  mkdirSync(path.dirname(corrupt), { recursive: true });
  writeFileSync(corrupt, Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.from('this is not deflate data at all, just a damaged object')]));
  writeFileSync(
    path.join(tmp, 'pipeline.yaml'),
    [
      'name: e2e-flows',
      'source: { uri: ./logs }',
      'format: vpcflow',
      'transforms:',
      '  - type: enrich',
      '    tables:',
      '      interfaces: { file: ./tables/interfaces.csv, key: interface_id }',
      '      hosts: { file: ./tables/interfaces.csv, cidr: [private_ip, ipv6_address], fields: { interface_id: interface_id, interface_name: name, instance_id: instance_id } }',
      '      subnets: { file: ./tables/subnets.csv, key: subnet_id, cidr: [cidr, ipv6_cidr] }',
      '      vpcs: { file: ./tables/vpcs.csv, key: vpc_id, fields: [vpc_name] }',
      '      instances: { file: ./tables/instances.csv, key: instance_id, fields: [instance_name, instance_type] }',
      '      networks: { file: ./tables/networks.csv, cidr: cidr, fields: [network_name] }',
      '  - type: ocsf',
      '    mapping: builtin:vpcflow',
      'sinks:',
      '  - type: files',
      '    path: ./lake',
      '    format: parquet',
      '    layout: security-lake',
      'runtime: { state: ./state.db, concurrency: 1, maxAttempts: 1 }',
      '',
    ].join('\n'),
  );
}

/** A DOM node inside functions Playwright runs in the browser (this project has no DOM types). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type BrowserNode = any;

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}

describe('dashboard in Chromium', { timeout: 600_000 }, () => {
  let browser: Browser;
  let serve: ReturnType<typeof startProcess>;
  let run: ReturnType<typeof startProcess> | undefined;
  let url: string;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install the Debian chromium package (apt-get install chromium); this test does not skip without it`);
    mkdirSync(artifacts, { recursive: true });
    await writeBackfill();
    // serve reads an existing ledger and lake only: watching before the first run means creating them first.
    const migrate = spawnSync(process.execPath, [sluiceBin, 'migrate', '--state', 'state.db'], { cwd: tmp, encoding: 'utf8' });
    assert.equal(migrate.status, 0, migrate.stderr);
    mkdirSync(path.join(tmp, 'lake'));
    serve = startProcess(['serve', '--state', 'state.db', '--lake', 'lake', '--port', '0', '--poll-ms', '200']);
    for (let i = 0; !/http:\/\/127\.0\.0\.1:\d+\//.test(serve.stdout()); i++) {
      if (serve.child.exitCode !== null) throw new Error(`serve exited: ${serve.stderr()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    url = /http:\/\/127\.0\.0\.1:\d+\//.exec(serve.stdout())![0];
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  });
  after(async () => {
    await browser?.close();
    for (const p of [run, serve]) {
      if (p && p.child.exitCode === null) {
        p.child.kill('SIGTERM');
        await p.exited;
      }
    }
    rmSync(tmp, { recursive: true, force: true });
  });

  it('shows a backfill live, the dead unit with its error, redrives it, and investigates a host from the lake', async () => {
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));

    // Prepare: the page before any run, marked so a reload would be noticed.
    await page.goto(url);
    await page.waitForSelector('#live-status.on');
    assert.match(await page.textContent('#live') ?? '', /No runs yet/);
    // Browser-side code reaches the DOM through `globalThis as BrowserNode`: this project compiles without the DOM library.
    await page.evaluate(() => {
      const w = globalThis as BrowserNode;
      w.__marker = 42;
      w.__done = [];
      const live = w.document.getElementById('live');
      new w.MutationObserver(() => {
        const b = live.querySelector('[data-count="done"] b');
        if (b) w.__done.push(Number(b.textContent.replace(/,/g, '')));
      }).observe(live, { childList: true, subtree: true });
    });

    // Act: a backfill in another process, writing the same ledger.
    run = startProcess(['run', '-c', 'pipeline.yaml', '--no-progress', '--workers', '1']);
    await page.waitForSelector('section.pipeline[data-pipeline="e2e-flows"]', { timeout: 120_000 });
    await shot(page, '1-runs-in-progress');
    const dead = page.locator(`article.problem[data-state="dead"]`, { hasText: corruptKey });
    await dead.waitFor({ timeout: 240_000 });
    await page.waitForFunction((n) => (globalThis as BrowserNode).document.querySelector('[data-count="done"] b')?.textContent === String(n), OBJECTS, { timeout: 240_000 });
    const code = await run.exited;
    assert.equal(code, 2, `the run exits 2 because a unit is dead: ${run.stderr()}`);

    // Assess: live updates, no reload, the dead unit's full error and key.
    const seen = (await page.evaluate(() => ({ __marker: (globalThis as BrowserNode).__marker, __done: (globalThis as BrowserNode).__done }))) as { __marker: number; __done: number[] };
    assert.equal(seen.__marker, 42, 'the page was not reloaded');
    const distinct = [...new Set(seen.__done)];
    assert.ok(distinct.length >= 2 && distinct.includes(OBJECTS), `done counts seen live: ${distinct.join(', ')}`);
    const deadText = (await dead.textContent()) ?? '';
    assert.match(deadText, /CORRUPT_GZIP/);
    assert.match(deadText, /corrupt gzip data/);
    assert.match(await page.textContent('[data-count="dead"] b') ?? '', /^1$/);
    // attached, not visible: one bucket or a steady rate draws a point or a flat line, with no height.
    const line = await page.waitForSelector('svg.chart path.line', { state: 'attached' });
    assert.match((await line.getAttribute('d')) ?? '', /^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+)*$/);
    await shot(page, '2-runs-dead-unit');

    // Redrive from the page: the unit goes back to pending, as `sluice retry` would do.
    await dead.locator('button', { hasText: 'Redrive' }).click();
    await page.waitForSelector('#toast.show');
    assert.match(await page.textContent('#toast') ?? '', /redriven 1 dead unit/);
    await page.waitForFunction(() => (globalThis as BrowserNode).document.querySelector('[data-count="dead"] b')?.textContent === '0');
    await page.waitForSelector('table.units tr[data-state="pending"]');
    const ledger = openSqliteLedger(path.join(tmp, 'state.db'));
    try {
      const units = await ledger.listUnits('e2e-flows', { states: ['pending'] });
      assert.deepEqual(units.map((u) => u.key), [corruptKey]);
      assert.equal(units[0]!.attempts, 0);
    } finally {
      await ledger.close();
    }
    await shot(page, '3-runs-after-redrive');

    // Investigation: the busiest address in the lake, checked against DuckDB directly.
    const duck = await DuckDBInstance.create();
    const conn = await duck.connect();
    const files = path.join(tmp, 'lake', '**', '*.parquet');
    const [busiest] = (await conn.runAndReadAll(`SELECT src_endpoint.ip AS ip FROM read_parquet('${files}') WHERE src_endpoint.ip LIKE '10.%' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1`)).getRowObjectsJson();
    const ip = String(busiest!.ip);
    const expected = (
      await conn.runAndReadAll(
        `SELECT CASE WHEN src_endpoint.ip = $ip THEN dst_endpoint.ip ELSE src_endpoint.ip END AS peer,
                count(*) AS flows, sum(traffic.bytes) AS bytes,
                count(*) FILTER (WHERE action = 'Allowed') AS accepted, count(*) FILTER (WHERE action = 'Denied') AS rejected
         FROM read_parquet('${files}') WHERE src_endpoint.ip = $ip OR dst_endpoint.ip = $ip GROUP BY 1 ORDER BY 1`,
        { ip },
      )
    )
      .getRowObjectsJson()
      .map((r) => [String(r.peer), Number(r.flows), Number(r.bytes), Number(r.accepted), Number(r.rejected)].join(' '));
    const fanout = (
      await conn.runAndReadAll(
        `SELECT count(DISTINCT CASE WHEN src_endpoint.ip = $ip THEN dst_endpoint.ip ELSE src_endpoint.ip END) AS peers
         FROM read_parquet('${files}') WHERE src_endpoint.ip = $ip OR dst_endpoint.ip = $ip GROUP BY time_bucket(INTERVAL 10 MINUTES, time) ORDER BY time_bucket(INTERVAL 10 MINUTES, time)`,
        { ip },
      )
    )
      .getRowObjectsJson()
      .map((r) => Number(r.peers));
    conn.closeSync();
    duck.closeSync();

    await page.click('nav a[href="/investigate"]');
    await page.fill('input[name="host"]', ip);
    await page.click('form.investigate button[type="submit"]');
    await page.waitForSelector('#peers tbody tr');
    const shown = (await page.evaluate(() =>
      [...(globalThis as BrowserNode).document.querySelectorAll('#peers tbody tr')].map((tr: BrowserNode) => {
        const cells = [...tr.querySelectorAll('td')].map((td: BrowserNode) => td.textContent.trim().replace(/,/g, ''));
        return [cells[0], cells[6], tr.querySelector('td[data-bytes]').getAttribute('data-bytes'), cells[8], cells[9]].join(' ');
      }),
    )) as string[];
    assert.ok(expected.length > 3, `the demo host ${ip} has peers`);
    assert.deepEqual([...shown].sort(), [...expected].sort());
    const bars = (await page.evaluate(() => [...(globalThis as BrowserNode).document.querySelectorAll('rect.fan')].map((r: BrowserNode) => Number(r.getAttribute('data-peers'))))) as number[];
    assert.deepEqual(bars, fanout);

    // Second hop on demand, and the CSV export of the same table.
    await page.locator('g.peer.internal').first().dispatchEvent('click');
    await page.waitForSelector('#hop2 g[data-of]');
    await shot(page, '4-investigate');
    const csv = (await page.evaluate(() => fetch((globalThis as BrowserNode).document.getElementById('csv').href).then((r) => r.text()))) as string;
    const lines = csv.trim().split('\r\n');
    assert.equal(lines[0], 'peer_ip,name,instance_id,interface_id,network,ports,direction,flows,bytes,accepted,rejected,first_seen,last_seen');
    assert.equal(lines.length - 1, expected.length);
    assert.deepEqual(pageErrors, []);
  });
});
