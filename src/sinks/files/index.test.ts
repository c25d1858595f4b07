import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { UnitContext } from '../../core/component.js';
import type { FilesSinkConfig } from './config.js';
import { SluiceError } from '../../core/errors.js';
import type { SluiceRecord } from '../../core/record.js';
import { createFilesSink } from './index.js';

const scratch = await mkdtemp(path.join(tmpdir(), 'sluice-files-sink-'));
after(() => rm(scratch, { recursive: true, force: true }));
let folderCount = 0;

async function freshFolder(): Promise<string> {
  folderCount += 1;
  const dir = path.join(scratch, String(folderCount));
  await mkdir(dir);
  return dir;
}

function config(dir: string, overrides: Partial<FilesSinkConfig> = {}): FilesSinkConfig {
  return {
    type: 'files', path: dir, format: 'ndjson', layout: 'date', partition: 'day', targetSizeMb: 64,
    compression: 'gzip', gzipLevel: 6, parquetCompression: 'snappy', rowGroupRows: 65_536, schema: 'inferred',
    idField: '_id', ...overrides,
  };
}

const unit: UnitContext = { id: 'vpc/2024-05-18/a.log.gz', outputStem: 'a1b2c3d4e5f60718', objects: [] };

const DAY = 86_400_000;
const MAY_18 = Date.UTC(2024, 4, 18, 10);

/** Flow-log-like records; `timeOf(i)` decides each record's time (undefined = none). */
function flowRecords(count: number, timeOf: (i: number) => number | undefined = (i) => MAY_18 + i * 1000): SluiceRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const time = timeOf(i);
    return {
      id: `a1b2c3d4e5f60718-${i + 1}`,
      origin: { object: 's3://logs/a.log.gz', line: i + 2 },
      ...(time === undefined ? {} : { time }),
      fields: {
        version: 2, 'account-id': '123456789012', 'interface-id': `eni-0b48${String(i % 97).padStart(13, '0')}`,
        srcaddr: `10.0.${i % 256}.${(i * 7) % 256}`, dstaddr: `172.21.${(i * 3) % 256}.101`,
        srcport: (i * 131) % 65536, dstport: 443, protocol: 6, packets: 1 + (i % 50), bytes: 40 + i * 13,
        start: Math.floor((time ?? 0) / 1000), end: Math.floor((time ?? 0) / 1000) + 30, action: i % 9 ? 'ACCEPT' : 'REJECT',
        'log-status': 'OK', note: i % 11 === 0 ? 'ünïcødé → ok' : undefined,
      },
    };
  });
}

/** All files under `dir`, relative, `/`-separated, sorted. */
async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath ?? e.path, e.name)).split(path.sep).join('/'))
    .sort();
}

async function readLines(file: string): Promise<unknown[]> {
  const bytes = await readFile(file);
  const text = (file.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
  assert.ok(text.endsWith('\n'), `${file} ends with a newline`);
  return text.slice(0, -1).split('\n').map((line) => JSON.parse(line) as unknown);
}

/** What a record should read back as: `{_id, ...fields}` without undefined values. */
function expectedLine(record: SluiceRecord): unknown {
  return JSON.parse(JSON.stringify({ _id: record.id, ...record.fields }));
}

async function runUnit(cfg: FilesSinkConfig, records: SluiceRecord[], batchSize = 100, options = {}) {
  const writer = createFilesSink(cfg, options).openUnit(unit);
  for (let i = 0; i < records.length; i += batchSize) await writer.write(records.slice(i, i + batchSize));
  return writer.commit();
}

async function readAllBytes(files: string[]): Promise<Buffer[]> {
  return Promise.all(files.map((f) => readFile(f)));
}

test('re-running a unit writes byte-identical outputs under the same names', async () => {
  // Prepare: two days, records without time, several parts per partition.
  const dir = await freshFolder();
  const records = flowRecords(3000, (i) => (i % 10 === 9 ? undefined : MAY_18 + (i % 2) * DAY + i));
  const cfg = config(dir, { targetSizeMb: 0.2 });

  // Act
  const first = await runUnit(cfg, records);
  const firstBytes = await readAllBytes(first.outputs);
  const second = await runUnit(cfg, records, 77);
  const secondBytes = await readAllBytes(second.outputs);

  // Assess
  assert.deepEqual(second.outputs, first.outputs);
  assert.deepEqual(secondBytes, firstBytes);
  assert.equal(second.delivered, 3000);
  assert.ok(first.outputs.length >= 4, `several parts, got ${first.outputs.length}`);
  assert.deepEqual(await listTree(dir), first.outputs.map((f) => path.relative(dir, f).split(path.sep).join('/')));
  for (const bytes of firstBytes) assert.deepEqual([...bytes.subarray(4, 8)], [0, 0, 0, 0], 'gzip mtime is 0');
});

test('gunzipping the parts gives back every record once, in input order, as {_id, ...fields}', async () => {
  // Prepare
  const dir = await freshFolder();
  const records = flowRecords(2500);

  // Act
  const commit = await runUnit(config(dir, { targetSizeMb: 0.1 }), records);
  const lines = (await Promise.all(commit.outputs.map(readLines))).flat();

  // Assess
  assert.deepEqual(lines, records.map(expectedLine));
  assert.equal(commit.delivered, 2500);
  assert.deepEqual(commit.rejected, []);
});

test('a part rolls over once its uncompressed size reaches the target, so it exceeds it by under one line', async () => {
  // Prepare: target 2,000 bytes; lines are about 330 bytes.
  const dir = await freshFolder();
  const records = flowRecords(100);
  const target = 2000;

  // Act
  const commit = await runUnit(config(dir, { targetSizeMb: target / 1e6 }), records, 7);

  // Assess
  const names = commit.outputs.map((f) => path.basename(f));
  assert.deepEqual(names, names.map((_, i) => `a1b2c3d4e5f60718-${String(i).padStart(4, '0')}.ndjson.gz`));
  let total = 0;
  for (const [i, file] of commit.outputs.entries()) {
    const text = gunzipSync(await readFile(file)).toString('utf8');
    const lastLine = text.slice(text.lastIndexOf('\n', text.length - 2) + 1);
    const size = Buffer.byteLength(text);
    total += text.split('\n').length - 1;
    if (i < commit.outputs.length - 1) {
      assert.ok(size >= target, `part ${i} has ${size} bytes, at least the target`);
      assert.ok(size - Buffer.byteLength(lastLine) < target, `part ${i} was below the target before its last line`);
    } else {
      assert.ok(size <= target + Buffer.byteLength(lastLine), 'the last part is a remainder');
    }
  }
  assert.equal(total, 100);
});

test('day, hour and none partitioning, with records without a time in unknown-time', async () => {
  // Prepare: hour 10 and 11 of May 18, one record the next day, two without time.
  const times = [MAY_18, MAY_18 + 3_600_000, MAY_18 + 60_000, MAY_18 + DAY, undefined, undefined];
  const records = flowRecords(times.length, (i) => times[i]);
  const layouts: Record<string, string[]> = {};

  // Act
  for (const partition of ['day', 'hour', 'none'] as const) {
    const dir = await freshFolder();
    const commit = await runUnit(config(dir, { partition }), records);
    layouts[partition] = await listTree(dir);
    assert.equal(commit.delivered, records.length);
  }

  // Assess
  assert.deepEqual(layouts.day, [
    '2024/05/18/a1b2c3d4e5f60718-0000.ndjson.gz',
    '2024/05/19/a1b2c3d4e5f60718-0000.ndjson.gz',
    'unknown-time/a1b2c3d4e5f60718-0000.ndjson.gz',
  ]);
  assert.deepEqual(layouts.hour, [
    '2024/05/18/10/a1b2c3d4e5f60718-0000.ndjson.gz',
    '2024/05/18/11/a1b2c3d4e5f60718-0000.ndjson.gz',
    '2024/05/19/10/a1b2c3d4e5f60718-0000.ndjson.gz',
    'unknown-time/a1b2c3d4e5f60718-0000.ndjson.gz',
  ]);
  assert.deepEqual(layouts.none, ['a1b2c3d4e5f60718-0000.ndjson.gz']);
});

test('records keep their input order within each partition', async () => {
  // Prepare: alternating days.
  const dir = await freshFolder();
  const records = flowRecords(400, (i) => MAY_18 + (i % 2) * DAY);

  // Act
  await runUnit(config(dir), records);

  // Assess
  assert.deepEqual(
    await readLines(path.join(dir, '2024/05/19/a1b2c3d4e5f60718-0000.ndjson.gz')),
    records.filter((_, i) => i % 2 === 1).map(expectedLine),
  );
});

test('plain NDJSON without compression and without an id field', async () => {
  // Prepare
  const dir = await freshFolder();
  const records = flowRecords(20);

  // Act
  const commit = await runUnit(config(dir, { compression: 'none', idField: false }), records);

  // Assess
  assert.deepEqual(commit.outputs, [path.join(dir, '2024/05/18/a1b2c3d4e5f60718-0000.ndjson')]);
  const text = await readFile(commit.outputs[0]!, 'utf8');
  assert.equal(text, records.map((r) => JSON.stringify(r.fields) + '\n').join(''));
});

test('abort leaves no part and no temp file, also after parts rolled over', async () => {
  // Prepare
  const dir = await freshFolder();
  const writer = createFilesSink(config(dir, { targetSizeMb: 0.005 })).openUnit(unit);
  await writer.write(flowRecords(200, (i) => MAY_18 + (i % 3) * DAY));
  assert.ok((await listTree(dir)).some((f) => f.includes('.sluice-tmp')), 'temp files exist before abort');

  // Act
  await writer.abort();

  // Assess
  assert.deepEqual(await listTree(dir), []);
  await assert.rejects(writer.write(flowRecords(1)), (err: unknown) => err instanceof SluiceError && err.code === 'SINK_WRITER_CLOSED');
});

test('nothing appears under a final name before commit', async () => {
  // Prepare
  const dir = await freshFolder();
  const writer = createFilesSink(config(dir, { targetSizeMb: 0.005 })).openUnit(unit);

  // Act
  await writer.write(flowRecords(200));
  const beforeCommit = await listTree(dir);
  const commit = await writer.commit();

  // Assess
  assert.ok(beforeCommit.length > 1);
  assert.ok(beforeCommit.every((f) => path.basename(f).startsWith('.') && f.includes('.sluice-tmp-')), beforeCommit.join());
  assert.equal((await listTree(dir)).length, commit.outputs.length);
});

test('after a crash mid-unit, the next attempt leaves exactly one set of outputs', async () => {
  // Prepare: a child process writes part of the unit (parts rolled over, so temp files are on
  // disk), then dies by SIGKILL before commit.
  const dir = await freshFolder();
  const cfg = config(dir, { targetSizeMb: 0.01 });
  const records = flowRecords(600, (i) => MAY_18 + (i % 2) * DAY);
  const child = `
    const { createFilesSink } = await import(${JSON.stringify(new URL('./index.js', import.meta.url).href)});
    let input = '';
    for await (const chunk of process.stdin) input += chunk;
    const [cfg, unit, records] = JSON.parse(input);
    const writer = createFilesSink(cfg).openUnit(unit);
    await writer.write(records);
    process.kill(process.pid, 'SIGKILL');
  `;
  const signal = await new Promise<NodeJS.Signals | null>((resolve, reject) => {
    const proc = spawn(process.execPath, ['--input-type=module', '-e', child], { stdio: ['pipe', 'inherit', 'inherit'] });
    proc.on('error', reject);
    proc.stdin.end(JSON.stringify([cfg, unit, records.slice(0, 400)]));
    proc.on('exit', (_code, sig) => resolve(sig));
  });
  const leftovers = await listTree(dir);

  // Act
  const commit = await runUnit(cfg, records);

  // Assess
  assert.equal(signal, 'SIGKILL');
  assert.ok(leftovers.length > 2 && leftovers.every((f) => f.includes('.sluice-tmp')), `crash left temp files: ${leftovers}`);
  const tree = await listTree(dir);
  assert.deepEqual(tree, commit.outputs.map((f) => path.relative(dir, f).split(path.sep).join('/')));
  const clean = await freshFolder();
  const reference = await runUnit(config(clean, { targetSizeMb: 0.01 }), records);
  assert.deepEqual(await readAllBytes(commit.outputs), await readAllBytes(reference.outputs));
  const lines = (await Promise.all(commit.outputs.map(readLines))).flat() as Array<{ _id: string }>;
  assert.equal(new Set(lines.map((l) => l._id)).size, 600);
  assert.equal(lines.length, 600);
});

test('commit deletes parts of an earlier attempt that this attempt did not produce, and only those', async () => {
  // Prepare: the first attempt writes many small parts; another unit whose stem starts with
  // this unit's stem, and an unrelated file, share the folder.
  const dir = await freshFolder();
  const records = flowRecords(300);
  const first = await runUnit(config(dir, { targetSizeMb: 0.01 }), records);
  const day = path.join(dir, '2024/05/18');
  const neighbours = ['a1b2c3d4e5f60718-0001-0000.ndjson.gz', 'a1b2c3d4e5f60718-extra.txt', 'other-0000.ndjson.gz'];
  for (const name of neighbours) await writeFile(path.join(day, name), 'not ours');
  await writeFile(path.join(day, '.a1b2c3d4e5f60718-0009.ndjson.gz.sluice-tmp-1-1'), 'stale temp of this unit');

  // Act: the config changed (bigger parts), so this attempt writes fewer parts.
  const second = await runUnit(config(dir, { targetSizeMb: 0.05 }), records);

  // Assess
  assert.ok(first.outputs.length > second.outputs.length + 1, `${first.outputs.length} parts, then ${second.outputs.length}`);
  assert.deepEqual(await listTree(day), [...second.outputs.map((f) => path.basename(f)), ...neighbours].sort());
  const lines = (await Promise.all(second.outputs.map(readLines))).flat();
  assert.deepEqual(lines, records.map(expectedLine));
});

test('more partitions than the open-part cap: least recently used parts are finished, all records kept', async () => {
  // Prepare: five days round-robin with at most three parts open, so every record finds its
  // partition's part finished and opens the next part number there.
  const records = flowRecords(20, (i) => MAY_18 + (i % 5) * DAY);
  const dirs = [await freshFolder(), await freshFolder()];

  // Act
  const commits = [];
  for (const dir of dirs) commits.push(await runUnit(config(dir), records, 6, { maxOpenParts: 3 }));

  // Assess
  const [first, second] = commits;
  const relative = (dir: string, files: string[]) => files.map((f) => path.relative(dir, f).split(path.sep).join('/'));
  assert.equal(first!.outputs.length, 20);
  assert.deepEqual(relative(dirs[0]!, first!.outputs).slice(0, 4), [
    '2024/05/18/a1b2c3d4e5f60718-0000.ndjson.gz',
    '2024/05/18/a1b2c3d4e5f60718-0001.ndjson.gz',
    '2024/05/18/a1b2c3d4e5f60718-0002.ndjson.gz',
    '2024/05/18/a1b2c3d4e5f60718-0003.ndjson.gz',
  ]);
  assert.deepEqual(relative(dirs[1]!, second!.outputs), relative(dirs[0]!, first!.outputs));
  assert.deepEqual(await readAllBytes(second!.outputs), await readAllBytes(first!.outputs));
  const may20 = first!.outputs.filter((f) => f.includes('2024/05/20'.split('/').join(path.sep)));
  assert.deepEqual((await Promise.all(may20.map(readLines))).flat(), records.filter((_, i) => i % 5 === 2).map(expectedLine));
});

test('a partition that comes back after eviction continues in input order across its parts', async () => {
  // Prepare: runs of 10 records per day over 4 days, twice, with 2 open parts at most.
  const records = flowRecords(80, (i) => MAY_18 + (Math.floor(i / 10) % 4) * DAY);
  const dir = await freshFolder();

  // Act
  const commit = await runUnit(config(dir), records, 13, { maxOpenParts: 2 });

  // Assess
  const may18 = commit.outputs.filter((f) => f.includes(['2024', '05', '18'].join(path.sep)));
  assert.equal(may18.length, 2);
  assert.deepEqual((await Promise.all(may18.map(readLines))).flat(), [...records.slice(0, 10), ...records.slice(40, 50)].map(expectedLine));
});

test('a record JSON cannot hold is rejected with its reason; the others are written', async () => {
  // Prepare
  const dir = await freshFolder();
  const records = flowRecords(3);
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  records[1] = { ...records[1]!, fields: circular };

  // Act
  const commit = await runUnit(config(dir), records);

  // Assess
  assert.equal(commit.delivered, 2);
  assert.equal(commit.rejected.length, 1);
  assert.equal(commit.rejected[0]!.record, records[1]);
  assert.equal(commit.rejected[0]!.code, 'SINK_RECORD_UNSERIALIZABLE');
  assert.deepEqual((await readLines(commit.outputs[0]!)).length, 2);
});

test('a unit without records commits no output', async () => {
  // Prepare
  const dir = await freshFolder();

  // Act
  const commit = await runUnit(config(dir), []);

  // Assess
  assert.deepEqual(commit, { outputs: [], delivered: 0, rejected: [] });
  assert.deepEqual(await listTree(dir), []);
});

test('a line longer than the write batch goes through intact', async () => {
  // Prepare: one 700 kB record between small ones.
  const dir = await freshFolder();
  const records = flowRecords(3);
  records[1] = { ...records[1]!, fields: { blob: 'x€'.repeat(350_000) } };

  // Act
  const commit = await runUnit(config(dir), records);

  // Assess
  assert.deepEqual(await readLines(commit.outputs[0]!), records.map(expectedLine));
  assert.ok((await stat(commit.outputs[0]!)).size > 0);
});

test('a folder that cannot be created fails the write with a sink error naming the unit', async () => {
  // Prepare: a file sits where the year folder should go.
  const dir = await freshFolder();
  await writeFile(path.join(dir, '2024'), 'in the way');
  const writer = createFilesSink(config(dir)).openUnit(unit);

  // Act
  const failure = await writer.write(flowRecords(5)).then(
    () => undefined,
    (err: unknown) => err,
  );
  await writer.abort();

  // Assess
  assert.ok(failure instanceof SluiceError, String(failure));
  assert.equal(failure.stage, 'sink');
  assert.match(failure.message, /vpc\/2024-05-18\/a\.log\.gz/);
  await assert.rejects(writer.commit(), SluiceError);
  assert.deepEqual(await listTree(dir), ['2024']);
});
