import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { UnitContext } from '../../core/component.js';
import { SluiceError } from '../../core/errors.js';
import type { SluiceRecord } from '../../core/record.js';
import { createStdoutSink } from './index.js';

const unit: UnitContext = { id: 'u1', outputStem: 'u1', objects: [] };

function records(count: number): SluiceRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `abc-${i + 1}`,
    origin: { object: 'o', line: i + 1 },
    fields: { n: i, text: 'x'.repeat(100) },
  }));
}

/** A slow stream with a tiny buffer, recording each chunk it was given. */
function slowStream(): { out: Writable; chunks: string[]; maxBuffered: () => number } {
  const chunks: string[] = [];
  let maxBuffered = 0;
  const out = new Writable({
    highWaterMark: 1024,
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      setTimeout(callback, 1);
    },
  });
  const write = out.write.bind(out) as (chunk: unknown, cb?: (err?: Error | null) => void) => boolean;
  out.write = ((chunk: unknown, cb?: (err?: Error | null) => void) => {
    const ok = write(chunk, cb);
    maxBuffered = Math.max(maxBuffered, out.writableLength);
    return ok;
  }) as typeof out.write;
  return { out, chunks, maxBuffered: () => maxBuffered };
}

test('writes one NDJSON line per record, whole batches per chunk, waiting for drain', async () => {
  // Prepare
  const { out, chunks, maxBuffered } = slowStream();
  const writer = createStdoutSink({ idField: '_id' }, out).openUnit(unit);
  const input = records(200);

  // Act
  for (let i = 0; i < 200; i += 20) await writer.write(input.slice(i, i + 20));
  const commit = await writer.commit();

  // Assess
  assert.deepEqual(commit, { outputs: ['stdout'], delivered: 200, rejected: [] });
  assert.equal(chunks.length, 10);
  assert.ok(chunks.every((c) => c.endsWith('\n')));
  assert.deepEqual(
    chunks.join('').trimEnd().split('\n').map((l) => JSON.parse(l) as unknown),
    input.map((r) => ({ _id: r.id, ...r.fields })),
  );
  // Each write waited for the previous chunk, so at most one batch was ever buffered.
  assert.ok(maxBuffered() <= Buffer.byteLength(chunks[0]!) * 1.1, `buffered ${maxBuffered()}`);
});

test('a failing stream fails the unit with a sink error', async () => {
  // Prepare
  const out = new Writable({
    write(_chunk, _encoding, callback) {
      callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    },
  });
  out.on('error', () => undefined);
  const writer = createStdoutSink({ idField: false }, out).openUnit(unit);

  // Act
  const failure = await writer.write(records(3)).then(() => writer.commit()).then(
    () => undefined,
    (err: unknown) => err,
  );

  // Assess
  assert.ok(failure instanceof SluiceError, String(failure));
  assert.equal(failure.stage, 'sink');
  assert.equal(failure.retryable, true);
});
