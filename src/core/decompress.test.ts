import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { SluiceError } from './errors.js';
import { decompressByMagic, sniffCompression } from './decompress.js';
import { repoRoot } from '../testing/repo-root.js';

const constructed = path.join(repoRoot(), 'test/fixtures/constructed');

async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<{ bytes: Buffer; chunks: number }> {
  const parts: Uint8Array[] = [];
  for await (const chunk of stream) parts.push(chunk);
  return { bytes: Buffer.concat(parts), chunks: parts.length };
}

async function decompressError(input: AsyncIterable<Uint8Array>, name: string): Promise<SluiceError> {
  try {
    await collect(decompressByMagic(input, name));
  } catch (err) {
    assert.ok(err instanceof SluiceError, `expected a SluiceError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected decompression to fail');
}

describe('decompressByMagic', () => {
  it('passes plain bytes through chunk for chunk', async () => {
    // Prepare
    const text = Buffer.from('version account-id\n2 123 eni-1\n');
    // Act
    const out = await collect(decompressByMagic(chunked(text, 4), 'plain.log'));
    // Assess
    assert.equal(out.bytes.toString(), text.toString());
    assert.equal(out.chunks, Math.ceil(text.length / 4));
  });

  it('yields nothing for empty input, also when the input yields empty chunks', async () => {
    const none = await collect(decompressByMagic(chunked(Buffer.alloc(0), 1), 'empty'));
    async function* emptyChunks() {
      yield new Uint8Array(0);
      yield new Uint8Array(0);
    }
    const empties = await collect(decompressByMagic(emptyChunks(), 'empty'));
    assert.equal(none.chunks, 0);
    assert.equal(empties.chunks, 0);
  });

  it('gunzips, even when the magic bytes arrive split over chunks', async () => {
    // Prepare
    const text = 'line\n'.repeat(100_000);
    const gz = gzipSync(text);
    // Act
    const out = await collect(decompressByMagic(chunked(gz, 1), 'x.gz'));
    // Assess
    assert.equal(out.bytes.toString(), text);
  });

  it('gunzips a real VPC Flow Logs object', async () => {
    const file = path.join(constructed, '123456789010_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz');
    const out = await collect(decompressByMagic(chunked(readFileSync(file), 64 * 1024), file));
    assert.match(out.bytes.toString(), /^version account-id interface-id srcaddr/);
  });

  it('reads every member of a multi-member gzip object (Firehose)', async () => {
    // Prepare
    const file = path.join(constructed, 'firehose-s3-object.cwlogs-concatenated-gzip-members.gz');
    const raw = readFileSync(file);
    // Act
    const out = await collect(decompressByMagic(chunked(raw, 100), file));
    // Assess: three payloads, in order, nothing dropped after the first member
    const text = out.bytes.toString();
    assert.equal(text, gunzipSync(raw).toString());
    assert.equal(text.match(/"messageType":/g)?.length, 3);
    assert.ok(text.includes('"CONTROL_MESSAGE"'));
    assert.ok(text.includes('CloudTrail') || text.includes('cloudtrail'));
  });

  it('reads two members split at an arbitrary chunk boundary', async () => {
    const gz = Buffer.concat([gzipSync('first\n'), gzipSync('second\n')]);
    const out = await collect(decompressByMagic(chunked(gz, 7), 'two.gz'));
    assert.equal(out.bytes.toString(), 'first\nsecond\n');
  });

  it('reports a truncated gzip as CORRUPT_GZIP naming the object and where it ended, at every cut', async () => {
    // Prepare
    const gz = gzipSync('2 123456789010 eni-1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1 2 ACCEPT OK\n'.repeat(2000));
    for (const cut of [2, 3, 9, 10, 11, 50, Math.floor(gz.length / 2), gz.length - 8, gz.length - 4, gz.length - 1]) {
      // Act
      const err = await decompressError(chunked(gz.subarray(0, cut), 16), 's3://logs/cut.log.gz');
      // Assess
      assert.equal(err.code, 'CORRUPT_GZIP', `cut at ${cut}`);
      assert.equal(err.stage, 'read');
      assert.equal(err.retryable, true);
      assert.match(err.message, /^s3:\/\/logs\/cut\.log\.gz: unexpected end of gzip data after \d+ bytes/);
      assert.ok(err.message.includes(`after ${cut} bytes`), err.message);
    }
  });

  it('reports flipped bits as CORRUPT_GZIP with zlib\'s reason', async () => {
    // Prepare
    const gz = gzipSync(Buffer.from('abcdefghij'.repeat(5000)));
    const flips = [12, Math.floor(gz.length / 2), gz.length - 6]; // deflate data, middle, CRC32
    for (const at of flips) {
      const damaged = Buffer.from(gz);
      damaged[at]! ^= 0x55;
      // Act
      const err = await decompressError(chunked(damaged, 1024), 'damaged.gz');
      // Assess
      assert.equal(err.code, 'CORRUPT_GZIP', `flip at ${at}`);
      assert.match(err.message, /^damaged\.gz: corrupt gzip data .*\(zlib: .+\)/);
    }
  });

  it('reports garbage after the last member instead of ignoring it', async () => {
    const gz = Buffer.concat([gzipSync('ok\n'), Buffer.from('not gzip')]);
    const err = await decompressError(chunked(gz, 1024), 'trailing.gz');
    assert.equal(err.code, 'CORRUPT_GZIP');
  });

  it('passes an error thrown by the input through unchanged', async () => {
    // Prepare: a connection that drops after the first chunk
    const gz = gzipSync('x'.repeat(100_000));
    const dropped = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    async function* dropping() {
      yield gz.subarray(0, 20);
      throw dropped;
    }
    // Act + Assess
    await assert.rejects(collect(decompressByMagic(dropping(), 'x.gz')), (err) => err === dropped);
  });

  it('closes the input when the consumer stops early', async () => {
    // Prepare
    const gz = gzipSync(Buffer.alloc(4 * 1024 * 1024, 'a'));
    let closed = false;
    async function* tracked() {
      try {
        yield* chunked(gz, 1024);
      } finally {
        closed = true;
      }
    }
    // Act
    for await (const chunk of decompressByMagic(tracked(), 'big.gz')) {
      assert.ok(chunk.length > 0);
      break;
    }
    // Assess
    assert.equal(closed, true);
  });

  it('refuses zstd clearly when this Node.js has no zstd decoder', async (t) => {
    // Prepare: a zstd frame header (enough for sniffing)
    const zstd = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x05, 0x29, 0x00, 0x00, 0x68, 0x65]);
    const hasZstd = typeof (await import('node:zlib') as { createZstdDecompress?: unknown }).createZstdDecompress === 'function';
    if (hasZstd) {
      t.diagnostic('this Node.js has zstd: only checking that the magic is recognised');
      assert.equal(sniffCompression(zstd), 'zstd');
      return;
    }
    // Act
    const err = await decompressError(chunked(zstd, 1024), 's3://b/x.zst');
    // Assess
    assert.equal(err.code, 'UNSUPPORTED_COMPRESSION');
    assert.equal(err.retryable, false);
    assert.match(err.message, /s3:\/\/b\/x\.zst is zstd-compressed, but this Node\.js \(v[\d.]+\) has no zstd decoder/);
  });

  it('recognises xz, bzip2 and zip instead of decoding them as text', async () => {
    const cases: Array<[number[], string]> = [
      [[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 0, 0, 0], 'xz'],
      [[0x42, 0x5a, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59], 'bzip2'],
      [[0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0, 0, 0], 'zip'],
    ];
    for (const [bytes, kind] of cases) {
      assert.equal(sniffCompression(Buffer.from(bytes)), kind);
      const err = await decompressError(chunked(Buffer.from(bytes), 3), `f.${kind}`);
      assert.equal(err.code, 'UNSUPPORTED_COMPRESSION');
      assert.match(err.message, new RegExp(`f\\.${kind} is ${kind}-compressed`));
    }
    // Text that merely starts with "BZh" is text.
    assert.equal(sniffCompression(Buffer.from('BZh9 is not bzip2 here')), 'none');
  });
});
