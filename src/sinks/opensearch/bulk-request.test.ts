import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SluiceError } from '../../core/errors.js';
import type { SluiceRecord } from '../../core/record.js';
import { BulkBatch, createBulkEncoder } from './bulk-request.js';
import { compileIndexTemplate } from './index-name.js';

const MAY_1 = Date.UTC(2024, 4, 1, 10);
const record = (n: number, fields: Record<string, unknown> = { n }, time: number | null = MAY_1): SluiceRecord => ({
  id: `ab-${n}`,
  origin: { object: 's3://b/k', line: n },
  ...(time === null ? {} : { time }),
  fields,
});

/** The NDJSON lines of a batch, parsed. */
const lines = (batch: BulkBatch) => batch.payload().toString('utf8').split('\n').slice(0, -1).map((l) => JSON.parse(l) as unknown);

describe('bulk encoding', () => {
  it('writes an action line with _index and _id, then the fields as the document', () => {
    // Prepare
    const encoder = createBulkEncoder({ action: 'index', index: compileIndexTemplate('flows-%Y.%m.%d'), indexTemplate: 'flows-%Y.%m.%d' });
    const batch = new BulkBatch(4096);
    // Act
    assert.equal(encoder.append(record(1, { srcaddr: '10.0.0.1', note: 'ünï "q"' }), batch), true);
    assert.equal(encoder.append(record(2, { big: 12345678901234567890n }), batch), true);
    // Assess
    assert.deepEqual(lines(batch), [
      { index: { _index: 'flows-2024.05.01', _id: 'ab-1' } },
      { srcaddr: '10.0.0.1', note: 'ünï "q"' },
      { index: { _index: 'flows-2024.05.01', _id: 'ab-2' } },
      { big: 12345678901234567890 },
    ]);
    assert.equal(batch.count, 2);
    assert.equal(batch.ends[1], batch.length);
    assert.equal(batch.length, Buffer.byteLength(batch.payload().toString('utf8')));
  });

  it('create with a timestamp field for data streams', () => {
    const encoder = createBulkEncoder({ action: 'create', index: compileIndexTemplate('logs-flows'), indexTemplate: 'logs-flows', timestampField: '@timestamp' });
    const batch = new BulkBatch(4096);
    encoder.append(record(1, { a: 1 }), batch);
    encoder.append(record(2, {}), batch);
    encoder.append(record(3, { '@timestamp': 'kept' }), batch);
    assert.deepEqual(lines(batch), [
      { create: { _index: 'logs-flows', _id: 'ab-1' } },
      { '@timestamp': '2024-05-01T10:00:00.000Z', a: 1 },
      { create: { _index: 'logs-flows', _id: 'ab-2' } },
      { '@timestamp': '2024-05-01T10:00:00.000Z' },
      { create: { _index: 'logs-flows', _id: 'ab-3' } },
      { '@timestamp': 'kept' },
    ]);
  });

  it('refuses what does not fit and leaves the batch unchanged; throws for records it cannot encode', () => {
    const encoder = createBulkEncoder({ action: 'index', index: compileIndexTemplate('f-%Y'), indexTemplate: 'f-%Y' });
    const batch = new BulkBatch(120);
    assert.equal(encoder.append(record(1), batch), true);
    const before = batch.length;
    assert.equal(encoder.append(record(2, { pad: 'x'.repeat(100) }), batch), false);
    assert.equal(batch.length, before);
    assert.equal(batch.count, 1);
    // sizeOf is exact: a batch of that size takes the record, plain id or not.
    for (const big of [record(2, { pad: 'x'.repeat(100) }), { ...record(5, { pad: 'é'.repeat(60) }), id: 'odd "id"\n' }]) {
      const alone = new BulkBatch(encoder.sizeOf(big));
      assert.equal(encoder.append(big, alone), true);
      assert.equal(alone.length, alone.body.length);
    }
    assert.throws(() => encoder.append(record(3, { n: 3 }, null), batch), (err: unknown) => err instanceof SluiceError && err.code === 'SINK_RECORD_NO_TIME');
    const circular: Record<string, unknown> = {};
    circular['self'] = circular;
    assert.throws(() => encoder.append(record(4, circular), batch), (err: unknown) => err instanceof SluiceError && err.code === 'SINK_RECORD_UNSERIALIZABLE');
    assert.equal(batch.count, 1);
  });

  it('slices and picks keep each document whole, with its bookkeeping', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 30 }), { minLength: 1, maxLength: 40 }), fc.integer({ min: 0, max: 1000 }), (texts, seed) => {
        const encoder = createBulkEncoder({ action: 'index', index: compileIndexTemplate('i'), indexTemplate: 'i' });
        const batch = new BulkBatch(64 * 1024);
        texts.forEach((t, i) => encoder.append(record(i, { t }), batch));
        const whole = lines(batch);
        const cut = seed % (texts.length + 1);
        const halves = [...lines(batch.slice(0, cut)), ...lines(batch.slice(cut, batch.count))];
        const chosen = texts.map((_, i) => i).filter((i) => (i + seed) % 3 === 0);
        const picked = batch.pick(chosen);
        return (
          JSON.stringify(halves) === JSON.stringify(whole) &&
          JSON.stringify(lines(picked)) === JSON.stringify(chosen.flatMap((i) => [whole[2 * i], whole[2 * i + 1]])) &&
          picked.records.every((r, k) => r.id === `ab-${chosen[k]}`)
        );
      }),
    );
  });
});
