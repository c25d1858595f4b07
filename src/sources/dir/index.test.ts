import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Source, TimeWindow } from '../../core/component.js';
import { SluiceError } from '../../core/errors.js';
import type { ObjectRef } from '../../core/record.js';
import { createDirSource } from './index.js';

async function listAll(source: Source, window?: TimeWindow): Promise<{ refs: ObjectRef[]; pages: number }> {
  const refs: ObjectRef[] = [];
  let pages = 0;
  for await (const page of source.list(window)) {
    pages++;
    refs.push(...page);
  }
  return { refs, pages };
}

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const chunk of stream) parts.push(chunk);
  return Buffer.concat(parts).toString();
}

function writeFiles(root: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    const full = path.join(root, rel);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
}

describe('createDirSource', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'sluice-dir-source-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('lists nested files in S3 key order, skipping dot-files and in-progress files', async () => {
    // Prepare: names whose order depends on how folders sort against '-', '.', '0'
    const dir = path.join(root, 'order');
    writeFiles(dir, {
      'a/x.log': 'ax',
      'a-b.log': 'ab',
      'a.txt': 'at',
      'a0.log': 'a0',
      'b/c/d.log': 'bcd',
      'B.log': 'B',
      '.hidden': 'no',
      '.state/db': 'no',
      'b/part-1.gz.sluice-tmp-123': 'no',
    });
    const source = createDirSource(dir);
    // Act
    const { refs } = await listAll(source);
    // Assess
    const keys = refs.map((r) => r.key);
    assert.deepEqual(keys, ['B.log', 'a-b.log', 'a.txt', 'a/x.log', 'a0.log', 'b/c/d.log']);
    assert.deepEqual([...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))), keys);
    const ref = refs.find((r) => r.key === 'b/c/d.log')!;
    assert.equal(ref.uri, path.join(dir, 'b', 'c', 'd.log'));
    assert.equal(ref.size, 3);
    assert.match(ref.etag!, /^3-[\d.]+$/);
    assert.ok(!Number.isNaN(Date.parse(ref.lastModified!)));
    assert.equal(source.root, dir);
  });

  it('yields pages of at most pageSize refs', async () => {
    // Prepare
    const dir = path.join(root, 'paged');
    const files: Record<string, string> = {};
    for (let i = 0; i < 25; i++) files[`f${String(i).padStart(2, '0')}.log`] = 'x';
    writeFiles(dir, files);
    // Act
    const { refs, pages } = await listAll(createDirSource(dir, { pageSize: 10 }));
    // Assess
    assert.equal(refs.length, 25);
    assert.equal(pages, 3);
  });

  it('applies include and exclude to keys', async () => {
    const dir = path.join(root, 'filters');
    writeFiles(dir, {
      'CloudTrail/us-east-1/2024/01/02/a.json.gz': '1',
      'CloudTrail-Digest/us-east-1/2024/01/02/a.json.gz': '2',
      'notes.txt': '3',
    });
    const { refs } = await listAll(createDirSource(dir, { include: /\.json\.gz$/, exclude: /CloudTrail-Digest\// }));
    assert.deepEqual(refs.map((r) => r.key), ['CloudTrail/us-east-1/2024/01/02/a.json.gz']);
  });

  it('prunes by the date in folders and file names, keeping undated files', async () => {
    // Prepare
    const dir = path.join(root, 'dated');
    writeFiles(dir, {
      'vpc/2024/01/01/f_20240101T2355Z_a.log.gz': '',
      'vpc/2024/01/02/f_20240102T0300Z_a.log.gz': '',
      'vpc/2024/01/02/f_20240102T0400Z_a.log.gz': '',
      'vpc/2024/01/03/f_20240103T0000Z_a.log.gz': '',
      'lake/year=2024/month=01/day=02/hour=03/p.parquet': '',
      'lake/year=2024/month=01/day=02/hour=05/p.parquet': '',
      'lake/year=2023/month=12/day=31/hour=23/p.parquet': '',
      'README.txt': '',
    });
    const window = { from: Date.UTC(2024, 0, 2, 3), to: Date.UTC(2024, 0, 2, 4) };
    // Act
    const { refs } = await listAll(createDirSource(dir), window);
    // Assess
    assert.deepEqual(refs.map((r) => r.key), [
      'README.txt',
      'lake/year=2024/month=01/day=02/hour=03/p.parquet',
      'vpc/2024/01/02/f_20240102T0300Z_a.log.gz',
    ]);
  });

  it('opens a file as a stream of its bytes', async () => {
    // Prepare
    const dir = path.join(root, 'open');
    writeFiles(dir, { 'big.log': 'y'.repeat(600 * 1024) });
    const source = createDirSource(dir);
    const [page] = await (async () => {
      const pages: ObjectRef[][] = [];
      for await (const p of source.list()) pages.push(p);
      return pages;
    })();
    // Act
    const text = await readAll(await source.open(page![0]!));
    // Assess
    assert.equal(text.length, 600 * 1024);
  });

  it('refuses to read a file that changed after it was listed', async () => {
    // Prepare
    const dir = path.join(root, 'changed');
    writeFiles(dir, { 'f.log': 'one' });
    const source = createDirSource(dir);
    const { refs } = await listAll(source);
    writeFileSync(path.join(dir, 'f.log'), 'one two');
    utimesSync(path.join(dir, 'f.log'), new Date(), new Date(Date.now() + 5000));
    // Act + Assess
    await assert.rejects(source.open(refs[0]!), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'OBJECT_CHANGED');
      assert.ok(err.message.includes(path.join(dir, 'f.log')));
      return true;
    });
  });

  it('reports a file deleted after listing as OBJECT_NOT_FOUND', async () => {
    const dir = path.join(root, 'deleted');
    writeFiles(dir, { 'gone.log': 'x' });
    const source = createDirSource(dir);
    const { refs } = await listAll(source);
    rmSync(path.join(dir, 'gone.log'));
    await assert.rejects(source.open(refs[0]!), (err: unknown) => err instanceof SluiceError && err.code === 'OBJECT_NOT_FOUND' && err.retryable === false);
  });

  it('follows symbolic links but not links back to a folder being walked', async () => {
    // Prepare
    const dir = path.join(root, 'links');
    writeFiles(dir, { 'real/a.log': 'a', 'real/deep/b.log': 'b' });
    symlinkSync(path.join(dir, 'real'), path.join(dir, 'alias'));
    symlinkSync(dir, path.join(dir, 'real', 'to-root'));
    symlinkSync(path.join(dir, 'real'), path.join(dir, 'real', 'deep', 'to-parent'));
    // Act
    const { refs } = await listAll(createDirSource(dir));
    // Assess: a linked folder is listed under its link name; loops stop at once
    assert.deepEqual(refs.map((r) => r.key), ['alias/a.log', 'alias/deep/b.log', 'real/a.log', 'real/deep/b.log']);
  });

  it('lists a single file given as the root', async () => {
    const dir = path.join(root, 'single');
    writeFiles(dir, { 'one.log.gz': 'z' });
    const { refs } = await listAll(createDirSource(path.join(dir, 'one.log.gz')));
    assert.deepEqual(refs.map((r) => [r.key, r.uri]), [['one.log.gz', path.join(dir, 'one.log.gz')]]);
  });

  it('names a missing root folder', async () => {
    const missing = path.join(root, 'no-such-folder');
    await assert.rejects(listAll(createDirSource(missing)), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'SOURCE_NOT_FOUND');
      assert.equal(err.message, `source folder ${missing} does not exist`);
      return true;
    });
  });
});
