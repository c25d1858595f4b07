/**
 * Long tier, scale: one flow-log object of 2 GB uncompressed (peak RSS of the whole `sluice run`
 * must stay under 512 MB), 100,000 tiny objects in one day read as one unit per hour with
 * `source.group` (open files and RSS bounded, time stated), and a ledger of 1M units (`sluice status` must stay fast). Every record of the first
 * two is checked out exactly once with a bitmap per object, so the check itself stays small.
 */
import { createReadStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createFlowLogGenerator, writeFlowLogObjects } from '../../src/demo/flow-log-generator.js';
import { buildDemoInventory } from '../../src/demo/inventory.js';
import { objectIdPrefix } from '../../src/core/record.js';
import { openSqliteLedger } from '../../src/runtime/ledger/sqlite.js';
import { createDirSource } from '../../src/sources/dir/index.js';
import type { UnitSpec } from '../../src/runtime/ledger/types.js';
import { listFiles } from '../../src/testing/output-oracle.js';
import { recordScenario, startSluice } from '../../src/testing/reliability.js';

const MiB = 1024 * 1024;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-scale-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function pipelineFile(dir: string, name: string, source: string, extra = '', sourceExtra = ''): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    [`name: ${name}`, `source: { uri: ${source}${sourceExtra} }`, 'format: vpcflow', 'sinks:', `  - { type: files, path: ${path.join(dir, 'out')}, format: ndjson }`, `runtime: { state: ${path.join(dir, 'state.db')}${extra} }`, ''].join('\n'),
  );
  return file;
}

/** Counts every `_id` of the outputs into per-object bitmaps: returns lost and duplicated counts. */
async function checkOnce(outDir: string, linesPerObject: Map<string, number>): Promise<{ out: number; lost: number; duplicated: number; unexpected: number }> {
  const seen = new Map<string, Uint8Array>();
  for (const [prefix, lines] of linesPerObject) seen.set(prefix, new Uint8Array(lines + 2));
  let out = 0;
  let duplicated = 0;
  let unexpected = 0;
  for (const file of listFiles(outDir).filter((f) => f.endsWith('.ndjson.gz'))) {
    const lines = createInterface({ input: createReadStream(file).pipe(createGunzip()), crlfDelay: Infinity });
    for await (const line of lines) {
      const m = /"_id":"([0-9a-f]{16})-(\d+)"/.exec(line);
      const bits = m ? seen.get(m[1]!) : undefined;
      const n = m ? Number(m[2]) : -1;
      if (!bits || n >= bits.length) {
        unexpected++;
        continue;
      }
      out++;
      if (bits[n]) duplicated++;
      bits[n] = 1;
    }
  }
  let lost = 0;
  for (const [prefix, lines] of linesPerObject) {
    const bits = seen.get(prefix)!;
    for (let n = 2; n <= lines + 1; n++) if (!bits[n]) lost++; // line 1 is the header
  }
  return { out, lost, duplicated, unexpected };
}

/** Samples the open file descriptors of a process (Linux /proc) until stopped. */
function sampleOpenFiles(pid: number): { stop(): number } {
  let peak = 0;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, readdirSync(`/proc/${pid}/fd`).length);
    } catch {
      // the process has ended
    }
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

async function prefixesOf(dir: string, lines: number): Promise<Map<string, number>> {
  const map = new Map<string, number>();
  for await (const page of createDirSource(dir).list()) for (const ref of page) map.set(objectIdPrefix(ref), lines);
  return map;
}

interface ScaleRun {
  report: { peakRssBytes: number; elapsedMs: number; records: { in: number; out: number }; units: { done: number }; partitions?: { day: { filesRead: number } } };
  check: { out: number; lost: number; duplicated: number; unexpected: number };
  peakOpenFiles: number;
}

/** Runs `sluice run` over `<dir>/logs` watching its open files, then checks every record once and keeps the figures. */
async function runAndCheck(dir: string, scenario: string, linesPerObject: number, started: number, details: Record<string, unknown>, runtimeExtra = '', sourceExtra = ''): Promise<ScaleRun> {
  const run = startSluice(['run', '-c', pipelineFile(dir, scenario, path.join(dir, 'logs'), runtimeExtra, sourceExtra), '--json', '--no-progress']);
  const fds = sampleOpenFiles(run.child.pid!);
  const exit = await run.exited;
  const peakOpenFiles = fds.stop();
  assert.equal(exit.code, 0, exit.stderr.slice(-2000));
  const report = JSON.parse(exit.stdout) as ScaleRun['report'];
  const check = await checkOnce(path.join(dir, 'out'), await prefixesOf(path.join(dir, 'logs'), linesPerObject));
  recordScenario({
    scenario,
    tier: 'long',
    runs: 1,
    faultsInjected: 0,
    records: { in: report.records.in, out: check.out, dead: 0 },
    lost: check.lost,
    duplicated: check.duplicated,
    peakRssBytes: report.peakRssBytes,
    elapsedMs: Math.round(performance.now() - started),
    details: { ...details, runElapsedMs: report.elapsedMs, peakOpenFiles },
  });
  assert.deepEqual({ lost: check.lost, duplicated: check.duplicated, unexpected: check.unexpected }, { lost: 0, duplicated: 0, unexpected: 0 });
  return { report, check, peakOpenFiles };
}

describe('scale', () => {
  it('one 2 GB flow-log object: every record once, peak RSS < 512 MB', { timeout: 1_200_000 }, async () => {
    const started = performance.now();
    const dir = path.join(tmp, 'big');
    const inventory = buildDemoInventory(1);
    const sample = createFlowLogGenerator({ inventory, seed: 1, start: Date.UTC(2024, 2, 26) / 1000, durationS: 300, lines: 20_000, format: 'v2', vpcId: inventory.vpcs[0]!.id });
    while (sample.nextChunk()) {
      // measure the average line length
    }
    const lines = Math.round((2048 * MiB) / (sample.bytesWritten / sample.linesWritten));
    const data = await writeFlowLogObjects({ dir: path.join(dir, 'logs'), inventory, seed: 1, objects: 1, linesPerObject: lines, start: new Date(Date.UTC(2024, 2, 26)), format: 'v2', gzipLevel: 1 });
    const { report, check } = await runAndCheck(dir, 'scale-2gb-object', lines, started, { uncompressedBytes: data.uncompressedBytes });
    assert.equal(check.out, lines);
    assert.ok(report.peakRssBytes < 512 * MiB, `peak RSS ${Math.round(report.peakRssBytes / MiB)} MiB`);
  });

  it('100,000 tiny objects in one day: every record once, open files and RSS bounded', { timeout: 1_500_000 }, async () => {
    const started = performance.now();
    const dir = path.join(tmp, 'tiny');
    const day = path.join(dir, 'logs', 'AWSLogs', '111122223333', 'vpcflowlogs', 'eu-west-1', '2024', '03', '26');
    mkdirSync(day, { recursive: true });
    const inventory = buildDemoInventory(2);
    // One small generated object as a template: 100,000 objects of its first 3 records.
    const template = path.join(dir, 'template');
    await writeFlowLogObjects({ dir: template, inventory, seed: 2, objects: 1, linesPerObject: 3, start: new Date(Date.UTC(2024, 2, 26)), format: 'v2' });
    const body = readFileSync(listFiles(template)[0]!);
    const files = 100_000;
    for (let i = 0; i < files; i++) writeFileSync(path.join(day, `111122223333_vpcflowlogs_eu-west-1_fl-0123456789abcdef0_20240326T${String(Math.floor(i / 4200)).padStart(2, '0')}00Z_${i.toString(16).padStart(8, '0')}.log.gz`), body);
    // Grouped per folder and hour (source.group): 24 units of ~4,200 objects, each read with 64 GETs in flight.
    const { report, peakOpenFiles } = await runAndCheck(dir, 'scale-100k-tiny-objects', 3, started, { objects: files, group: 'hour' }, '', ', group: { by: hour }');
    assert.equal(report.units.done, 24);
    assert.equal(report.partitions?.day.filesRead, files);
    assert.ok(peakOpenFiles < 512, `open files peaked at ${peakOpenFiles}`);
    // Peak RSS is mostly planning: listing a folder of 100,000 files is ~3 KB of short-lived heap
    // per object in the main thread (stat results, refs, unit payloads), which V8 collects late.
    assert.ok(report.peakRssBytes < 1024 * MiB, `peak RSS ${Math.round(report.peakRssBytes / MiB)} MiB`);
  });

  it('a ledger of 1M units: `sluice status` answers in under 2 s', { timeout: 900_000 }, async () => {
    const started = performance.now();
    const dir = path.join(tmp, 'ledger');
    mkdirSync(dir, { recursive: true });
    const state = path.join(dir, 'state.db');
    const ledger = openSqliteLedger(state);
    try {
      for (let batch = 0; batch < 100; batch++) {
        const units: UnitSpec[] = Array.from({ length: 10_000 }, (_, i) => {
          const key = `AWSLogs/111122223333/vpcflowlogs/eu-west-1/2024/03/26/object-${batch}-${i}.log.gz`;
          return { id: `u-${batch}-${i}`, pipeline: 'million', kind: 'object', key, payload: { objects: [], outputStem: key }, size: 1000 };
        });
        await ledger.planUnits(units);
      }
    } finally {
      await ledger.close();
    }
    const config = pipelineFile(dir, 'million', path.join(dir, 'nowhere'));
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const exit = await startSluice(['status', '-c', config, '--json']).exited;
      times.push(performance.now() - t0);
      assert.equal(exit.code, 0, exit.stderr.slice(-2000));
      assert.equal((JSON.parse(exit.stdout) as { pipelines: Array<{ units: { pending: number } }> }).pipelines[0]!.units.pending, 1_000_000);
    }
    const best = Math.min(...times);
    recordScenario({
      scenario: 'scale-ledger-1m-units',
      tier: 'long',
      runs: 3,
      faultsInjected: 0,
      records: { in: 0, out: 0, dead: 0 },
      lost: 0,
      duplicated: 0,
      elapsedMs: Math.round(performance.now() - started),
      details: { units: 1_000_000, statusMs: times.map(Math.round) },
    });
    assert.ok(best < 2_000, `sluice status took ${Math.round(best)} ms over 1M units`);
  });
});
