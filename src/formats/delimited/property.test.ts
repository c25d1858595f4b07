/**
 * Property tests of the delimited format over generated and mangled input: decoding never
 * throws, every non-blank record line becomes exactly one record or one rejection, values that
 * were written quoted come back exactly, and the output does not depend on chunking.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { RecordBatch } from '../../core/component.js';
import { delimitedFormat, splitFields, type DelimitedOptions } from './index.js';
import { fuzzRuns } from '../../testing/fuzz.js';

async function decodeChunks(chunks: Uint8Array[], options: DelimitedOptions) {
  async function* input() {
    yield* chunks;
  }
  const out: { records: Array<{ line: number; fields: Record<string, unknown> }>; rejects: number[] } = { records: [], rejects: [] };
  for await (const batch of delimitedFormat(options).decode(input(), { object: { uri: 'x', key: 'x' }, idPrefix: 'p' }) as AsyncIterable<RecordBatch>) {
    for (const r of batch.records) out.records.push({ line: r.origin.line, fields: r.fields });
    for (const r of batch.rejects) out.rejects.push(r.origin.line);
  }
  return out;
}

function chunk(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const p of points) {
    out.push(bytes.subarray(at, p));
    at = p;
  }
  out.push(bytes.subarray(at));
  return out;
}

const cell = fc.string({ unit: fc.constantFrom(...'ab,"| x\t[]é-'.split('')), maxLength: 8 });

describe('delimited format: properties', () => {
  it('round-trips quoted CSV cells exactly, whatever they hold (commas, quotes, spaces)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(cell, { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 20 }), fc.array(fc.nat(), { maxLength: 5 }), async (rows, cuts) => {
        const text = rows.map((r) => r.map((c) => `"${c.replace(/"/g, '""')}"`).join(',')).join('\n') + '\n';
        const bytes = Buffer.from(text);
        const { records, rejects } = await decodeChunks(chunk(bytes, cuts), { columns: ['a', 'b', 'c'] });
        // Quoted cells never hold a newline here, so every line is a record.
        assert.deepEqual(rejects, []);
        assert.deepEqual(records.map((r) => [r.fields.a, r.fields.b, r.fields.c]), rows);
      }),
      { numRuns: fuzzRuns(200) },
    );
  });

  it('never throws on arbitrary bytes; every non-blank line is one record or one rejection; chunking does not matter', async () => {
    const line = fc.oneof(
      fc.string({ unit: fc.constantFrom(...'ab "[] ,\t\r-1:/'.split('')), maxLength: 30 }),
      fc.uint8Array({ maxLength: 30 }).map((b) => Buffer.from(b).toString('latin1').replace(/\n/g, '')),
    );
    const options = fc.constantFrom<DelimitedOptions>(
      { delimiter: ' ', brackets: true, columns: ['a', 'b', 'c'] },
      { delimiter: ',', columns: ['a', 'b'] },
      { delimiter: '|', header: true },
      { delimiter: ' ', columns: ['a', 'b', 't'], timestamp: { field: 't', format: 'epoch' } },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 25 }), options, fc.array(fc.nat(), { maxLength: 6 }), async (lines, opts, cuts) => {
        const bytes = Buffer.from(lines.join('\n'), 'latin1');
        const whole = await decodeChunks([bytes], opts);
        const split = await decodeChunks(chunk(bytes, cuts), opts);
        assert.deepEqual(split, whole);
        const seen = [...whole.records.map((r) => r.line), ...whole.rejects].sort((a, b) => a - b);
        assert.equal(new Set(seen).size, seen.length, 'a line produced two outcomes');
        // Count the lines a decoder must account for: non-blank ones, less the header when there is one.
        const textLines = Buffer.from(lines.join('\n'), 'latin1').toString('utf8').split('\n').map((l) => l.replace(/\r$/, ''));
        const nonBlank = textLines.map((l, i) => [l, i + 1] as const).filter(([l]) => l.trim() !== '');
        // The header line is consumed when it reads, and rejected (so counted) when it does not.
        const headerReads = nonBlank.length > 0 && !('error' in splitFields(nonBlank[0]![0], { delimiter: opts.delimiter === ' ' ? null : opts.delimiter ?? ',', quote: '"', brackets: opts.brackets ?? false }));
        const expected = opts.header && headerReads ? nonBlank.length - 1 : nonBlank.length;
        assert.equal(seen.length, expected);
      }),
      { numRuns: fuzzRuns(300) },
    );
  });
});
