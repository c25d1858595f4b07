/**
 * The CloudTrail layout walk and partition planning over a local folder: where the root may sit,
 * what is skipped (digests), what is its own stream (Insights), windows (`--from/--to`, `--days`
 * with a fixed clock), the pipeline file taken verbatim, `status` listing partitions, and
 * the ordered concurrent reads inside a unit.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Source } from '../src/core/component.js';
import { loadPipelineFile } from '../src/pipeline/config.js';
import type { ObjectRef } from '../src/core/record.js';
import { generateCloudTrailOrg, writeCloudTrailOrg, type GeneratedTrail } from '../src/demo/cloudtrail-generator.js';
import { collectStatus } from '../src/cli/commands/status.js';
import { findCloudTrailRegions, listRegionDays } from '../src/runtime/plan/cloudtrail-layout.js';
import { createDirSource } from '../src/sources/dir/index.js';
import { daysWindow, parseWindow, windowFromFlags } from '../src/core/key-dates.js';
import { openLedger } from '../src/runtime/ledger/open-ledger.js';
import { readObjectsInOrder } from '../src/runtime/ordered-reads.js';
import { runPipeline } from '../src/runtime/run-pipeline.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-ct-layout-'));
const ORG = 'o-abcd1234ef';
let trail: GeneratedTrail;

before(async () => {
  trail = generateCloudTrailOrg({
    seed: 3, organization: ORG, accounts: ['111122223333', '999988887777'], regions: ['us-east-1', 'us-west-2'],
    days: ['2024-02-29', '2024-03-01', '2024-03-02'], filesPerDay: 24, insightFilesPerDay: 1,
  });
  await writeCloudTrailOrg(path.join(tmp, 'trail'), trail);
  // Another service's logs beside the trail: not CloudTrail, never planned.
  const other = path.join(tmp, 'trail', 'AWSLogs', ORG, '111122223333', 'vpcflowlogs', 'us-east-1', '2024', '03', '01');
  await import('node:fs/promises').then((fs) => fs.mkdir(other, { recursive: true }));
  writeFileSync(path.join(other, 'flow.log'), 'version account-id\n');
});

after(() => rmSync(tmp, { recursive: true, force: true }));

describe('CloudTrail layout', () => {
  it('finds account × stream × region folders from the bucket, AWSLogs/, the organization or an account folder', async () => {
    // Prepare
    const roots = ['trail', 'trail/AWSLogs', `trail/AWSLogs/${ORG}`, `trail/AWSLogs/${ORG}/111122223333`];

    // Act
    const found = await Promise.all(roots.map((r) => findCloudTrailRegions(createDirSource(path.join(tmp, r)))));

    // Assess
    const describe = (list: typeof found[number]) => list.map((r) => `${r.account}/${r.stream}/${r.region}`);
    // Key order: `CloudTrail-Insight/` sorts before `CloudTrail/` ('-' < '/').
    const all = [
      '111122223333/CloudTrail-Insight/us-east-1', '111122223333/CloudTrail-Insight/us-west-2',
      '111122223333/CloudTrail/us-east-1', '111122223333/CloudTrail/us-west-2',
      '999988887777/CloudTrail-Insight/us-east-1', '999988887777/CloudTrail-Insight/us-west-2',
      '999988887777/CloudTrail/us-east-1', '999988887777/CloudTrail/us-west-2',
    ];
    assert.deepEqual(describe(found[0]!), all);
    assert.deepEqual(describe(found[1]!), all);
    assert.deepEqual(describe(found[2]!), all);
    assert.deepEqual(describe(found[3]!), all.slice(0, 4));
    assert.ok(found.flat().every((r) => !r.prefix.includes('Digest')), 'digest folders are never walked');
  });

  it('lists the days of a window, or every day of the months it touches', async () => {
    // Prepare
    const source = createDirSource(path.join(tmp, 'trail', 'AWSLogs'));
    const region = (await findCloudTrailRegions(source)).find((r) => r.stream === 'CloudTrail');
    const window = parseWindow('2024-03-01', '2024-03-01');

    // Act
    const inWindow = await listRegionDays(source, region!, { window });
    const wholeMonths = await listRegionDays(source, region!, { window, wholeMonths: true });
    const unbounded = await listRegionDays(source, region!, {});

    // Assess
    assert.deepEqual(inWindow.map((d) => d.day), ['2024-03-01']);
    assert.deepEqual(wholeMonths.map((d) => d.day), ['2024-03-01', '2024-03-02']);
    assert.deepEqual(unbounded.map((d) => d.day), ['2024-02-29', '2024-03-01', '2024-03-02']);
    const keys = inWindow[0]!.objects.map((o) => o.key);
    assert.deepEqual(keys, [...keys].sort(), 'objects in key order');
    assert.equal(keys.length, 6);
  });

  it('--days N is the last N UTC days from the clock, today included, and excludes --from/--to', () => {
    // Prepare
    const now = Date.parse('2024-03-02T17:45:00Z');

    // Act
    const two = daysWindow(2, now);

    // Assess
    assert.deepEqual(two, { from: Date.UTC(2024, 2, 1), to: Date.UTC(2024, 2, 3) });
    assert.deepEqual(windowFromFlags({ days: 1 }, () => now), { from: Date.UTC(2024, 2, 2), to: Date.UTC(2024, 2, 3) });
    assert.throws(() => windowFromFlags({ days: 1, from: '2024-03-01' }, () => now), /cannot be combined/);
    assert.throws(() => daysWindow(0, now), /1 or more/);
  });
});

describe('the issue\'s pipeline file, verbatim, over a folder', () => {
  it('plans partitions, writes days under yyyy/mm/dd/ and the month under yyyy/mm/, and status lists the partitions', async () => {
    // Prepare
    const dir = path.join(tmp, 'issue');
    await import('node:fs/promises').then((fs) => fs.cp(path.join(tmp, 'trail'), path.join(dir, 'trail'), { recursive: true }));
    const file = path.join(dir, 'cloudtrail.yaml');
    writeFileSync(
      file,
      [
        'name: cloudtrail-compact',
        'source: { uri: ./trail/AWSLogs/ }',
        'format: cloudtrail',
        'sinks:',
        '  - { type: files, path: ./out/ct-daily, format: ndjson, partition: day, targetSizeMb: 64 }',
        '  - { type: files, path: ./out/ct-monthly, format: parquet, partition: month, schema: cloudtrail }',
        'runtime: { state: ./.sluice/ct.db }',
        '',
      ].join('\n'),
    );
    const config = loadPipelineFile(file);
    config.runtime = { ...config.runtime, workers: 0 };

    // Act: the days of --days 2 on 2 March 2024 (1 and 2 March) and the whole of March
    const report = await runPipeline(config, { window: daysWindow(2, Date.parse('2024-03-02T10:00:00Z')) });
    const ledger = await openLedger(config.runtime.state);
    const status = await collectStatus(ledger, config.name);
    await ledger.close();

    // Assess
    const dayUnits = 2 * 2 * 2 * 2; // accounts × regions × streams × days
    const monthUnits = 2 * 2 * 2;
    assert.equal(report.units.done, dayUnits + monthUnits);
    assert.deepEqual(readdirSync(path.join(dir, 'out', 'ct-daily', '2024', '03')).sort(), ['01', '02']);
    assert.ok(readdirSync(path.join(dir, 'out', 'ct-monthly', '2024', '03')).every((f) => f.endsWith('.parquet')));
    const marchEvents = trail.objects.filter((o) => o.kind !== 'digest' && /\/2024\/03\//.test(o.key)).reduce((n, o) => n + o.events - o.duplicates, 0);
    assert.equal(report.partitions!.month.recordsOut, marchEvents);
    assert.equal(report.partitions!.day.recordsOut, marchEvents, 'the window covers every March day there is');
    assert.equal(status.partitions.length, dayUnits + monthUnits);
    assert.ok(status.partitions.some((p) => p.key === `month:${ORG}/999988887777/CloudTrail/us-west-2/2024/03/` && p.state === 'done'));
  });
});

describe('ordered concurrent reads', () => {
  it('keeps at most `concurrency` GETs in flight and hands objects out in order, errors at their turn', async () => {
    // Prepare
    const dir = path.join(tmp, 'objects');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
    for (let i = 0; i < 120; i++) writeFileSync(path.join(dir, `o${String(i).padStart(3, '0')}.txt`), `object ${i}\n`);
    const base = createDirSource(dir);
    const refs: ObjectRef[] = [];
    for await (const page of base.list()) refs.push(...page);
    let inFlight = 0;
    let peak = 0;
    let n = 0;
    const source: Source = {
      ...base,
      async open(ref, signal) {
        inFlight++;
        peak = Math.max(peak, inFlight);
        // Later objects answer sooner, so completion order is far from key order.
        await new Promise((r) => setTimeout(r, (n++ * 7) % 11));
        inFlight--;
        if (ref.key === 'o050.txt') throw new Error('boom at o050');
        return base.open(ref, signal);
      },
    };

    // Act
    const seen: string[] = [];
    for await (const read of readObjectsInOrder(source, refs, { concurrency: 8, maxBufferedBytes: 1 << 20, maxPrefetchObjectBytes: 1 << 20 })) {
      if (read.error) seen.push(`error ${(read.error as Error).message}`);
      else seen.push(Buffer.from(read.bytes!).toString('utf8').trim());
    }

    // Assess
    assert.ok(peak <= 8 && peak > 1, `peak in flight ${peak}`);
    assert.equal(seen.length, 120);
    assert.equal(seen[50], 'error boom at o050');
    assert.deepEqual(seen.filter((_, i) => i !== 50), refs.map((_, i) => `object ${i}`).filter((_, i) => i !== 50));
  });
});
