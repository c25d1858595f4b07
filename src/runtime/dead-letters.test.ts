import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { UnitContext } from '../core/component.js';
import type { Rejection, SluiceRecord } from '../core/record.js';
import { MAX_RAW_BYTES, openDeadLetterWriter, truncateUtf8 } from './dead-letters.js';

const scratch = await mkdtemp(path.join(tmpdir(), 'sluice-dead-letters-'));
after(() => rm(scratch, { recursive: true, force: true }));
let folderCount = 0;

async function freshFolder(): Promise<string> {
  folderCount += 1;
  const dir = path.join(scratch, String(folderCount));
  await mkdir(dir);
  return dir;
}

const unit: UnitContext = { id: 'vpc/a.log.gz', outputStem: 'a1b2c3d4e5f60718', objects: [] };

function rejections(count: number, raw = (i: number) => `2 123456789012 eni-x ${i} garbage`): Rejection[] {
  return Array.from({ length: count }, (_, i) => ({
    origin: { object: 's3://logs/a.log.gz', line: i + 2 },
    reason: `expected 14 fields, found ${i % 14}`,
    code: 'VPCFLOW_FIELD_COUNT',
    raw: raw(i),
  }));
}

async function readDeadLetters(file: string): Promise<unknown[]> {
  const text = await readFile(file, 'utf8');
  return text.trimEnd().split('\n').map((line) => JSON.parse(line) as unknown);
}

test('rejected lines and records round-trip with object, line, code, reason and stage', async () => {
  // Prepare
  const dir = path.join(await freshFolder(), '_rejected');
  const record: SluiceRecord = { id: 'a1b2c3d4e5f60718-9', origin: { object: 's3://logs/a.log.gz', line: 10 }, time: 1_700_000_000_000, fields: { a: 1 } };
  const writer = openDeadLetterWriter(dir, unit);

  // Act
  writer.add(rejections(2), 'decode');
  writer.addRecords([{ record, reason: 'mapper_parsing_exception', code: 'OPENSEARCH_REJECTED' }], 'opensearch');
  const file = await writer.commit();

  // Assess
  assert.equal(file, path.join(dir, 'a1b2c3d4e5f60718.rejected.ndjson'));
  assert.equal(writer.count, 3);
  assert.deepEqual(await readDeadLetters(file!), [
    { object: 's3://logs/a.log.gz', line: 2, code: 'VPCFLOW_FIELD_COUNT', reason: 'expected 14 fields, found 0', stage: 'decode', raw: '2 123456789012 eni-x 0 garbage' },
    { object: 's3://logs/a.log.gz', line: 3, code: 'VPCFLOW_FIELD_COUNT', reason: 'expected 14 fields, found 1', stage: 'decode', raw: '2 123456789012 eni-x 1 garbage' },
    {
      object: 's3://logs/a.log.gz', line: 10, code: 'OPENSEARCH_REJECTED', reason: 'mapper_parsing_exception', stage: 'sink', sink: 'opensearch',
      record: { id: 'a1b2c3d4e5f60718-9', time: 1_700_000_000_000, fields: { a: 1 } },
    },
  ]);
  assert.deepEqual(await readdir(dir), ['a1b2c3d4e5f60718.rejected.ndjson']);
});

test('re-running a unit writes a byte-identical dead-letter file', async () => {
  // Prepare
  const dir = await freshFolder();
  const contents: Buffer[] = [];

  // Act
  for (let run = 0; run < 2; run++) {
    const writer = openDeadLetterWriter(dir, unit);
    writer.add(rejections(50), 'decode');
    contents.push(await readFile((await writer.commit())!));
  }

  // Assess
  assert.deepEqual(contents[1], contents[0]);
  assert.ok(contents[0]!.length > 0);
});

test('no file when there is nothing to write, and a stale file of an earlier attempt is removed', async () => {
  // Prepare: an earlier attempt left a file and a crashed one a temp file; another unit's file stays.
  const dir = await freshFolder();
  await writeFile(path.join(dir, 'a1b2c3d4e5f60718.rejected.ndjson'), '{"old":true}\n');
  await writeFile(path.join(dir, '.a1b2c3d4e5f60718.rejected.ndjson.sluice-tmp-1-1'), 'partial');
  await writeFile(path.join(dir, 'other.rejected.ndjson'), '{"other":true}\n');
  const writer = openDeadLetterWriter(dir, unit);

  // Act
  writer.add([], 'decode');
  const file = await writer.commit();

  // Assess
  assert.equal(file, null);
  assert.equal(writer.count, 0);
  assert.deepEqual(await readdir(dir), ['other.rejected.ndjson']);
});

test('an empty commit does not create the folder', async () => {
  // Prepare
  const dir = path.join(await freshFolder(), 'not-yet');

  // Act
  const file = await openDeadLetterWriter(dir, unit).commit();

  // Assess
  assert.equal(file, null);
  await assert.rejects(readdir(dir), { code: 'ENOENT' });
});

test('raw is cut to 4 KiB of UTF-8 without splitting a character, and marked as cut', async () => {
  // Prepare: 3-byte characters, so 4096 bytes fall inside one.
  const dir = await freshFolder();
  const long = '€'.repeat(2000);
  const writer = openDeadLetterWriter(dir, unit);

  // Act
  writer.add(rejections(1, () => long), 'decode');
  const [letter] = (await readDeadLetters((await writer.commit())!)) as Array<{ raw: string; rawTruncated?: boolean }>;

  // Assess
  assert.equal(letter!.raw, '€'.repeat(1365));
  assert.equal(letter!.rawTruncated, true);
  assert.equal(truncateUtf8('short', MAX_RAW_BYTES), 'short');
  assert.equal(truncateUtf8('a'.repeat(5000), MAX_RAW_BYTES).length, 4096);
});

test('more than the buffer limit of dead letters is spilled to the temp file and kept in order', async () => {
  // Prepare: about 4 MB of dead letters.
  const dir = await freshFolder();
  const writer = openDeadLetterWriter(dir, unit);

  // Act
  for (let batch = 0; batch < 10; batch++) writer.add(rejections(1000, (i) => `${batch}:${i}:` + 'x'.repeat(400)), 'decode');
  const spilled = (await readdir(dir)).filter((name) => name.includes('.sluice-tmp'));
  const letters = (await readDeadLetters((await writer.commit())!)) as Array<{ raw: string }>;

  // Assess
  assert.equal(spilled.length, 1, 'a temp file was written before commit');
  assert.equal(letters.length, 10_000);
  assert.deepEqual(letters.map((l) => l.raw.slice(0, l.raw.indexOf('x'))), Array.from({ length: 10_000 }, (_, n) => `${Math.floor(n / 1000)}:${n % 1000}:`));
  assert.deepEqual(await readdir(dir), ['a1b2c3d4e5f60718.rejected.ndjson']);
});

test('abort leaves no file, also after a spill; the writer is closed afterwards', async () => {
  // Prepare
  const dir = await freshFolder();
  const writer = openDeadLetterWriter(dir, unit);
  writer.add(rejections(3000, () => 'y'.repeat(500)), 'decode');

  // Act
  await writer.abort();

  // Assess
  assert.deepEqual(await readdir(dir), []);
  assert.throws(() => writer.add(rejections(1), 'decode'), { code: 'DEAD_LETTERS_CLOSED' });
});

test('a record whose fields JSON cannot hold still becomes a dead letter', async () => {
  // Prepare
  const dir = await freshFolder();
  const fields: Record<string, unknown> = { big: 2n ** 70n };
  fields.self = fields;
  const record: SluiceRecord = { id: 'r-1', origin: { object: 'o', line: 1 }, fields };
  const writer = openDeadLetterWriter(dir, unit);

  // Act
  writer.addRecords([{ record, reason: 'circular', code: 'SINK_RECORD_UNSERIALIZABLE' }], 'files');
  const [letter] = await readDeadLetters((await writer.commit())!);

  // Assess
  assert.deepEqual(letter, {
    object: 'o', line: 1, code: 'SINK_RECORD_UNSERIALIZABLE', reason: 'circular', stage: 'sink', sink: 'files',
    record: { id: 'r-1', fields: { big: '1180591620717411303424', self: '[circular]' } },
  });
});
