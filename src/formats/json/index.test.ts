import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Format, RecordBatch } from '../../core/component.js';
import { jsonFormat, ndjsonFormat } from './index.js';
import { fuzzRuns } from '../../testing/fuzz.js';

async function decode(format: Format, chunks: Array<string | Uint8Array>) {
  async function* input() {
    for (const c of chunks) yield typeof c === 'string' ? Buffer.from(c) : c;
  }
  const records = [];
  const rejects = [];
  for await (const batch of format.decode(input(), { object: { uri: 's3://b/k.json', key: 'k.json' }, idPrefix: 'p' }) as AsyncIterable<RecordBatch>) {
    records.push(...batch.records);
    rejects.push(...batch.rejects);
  }
  return { records, rejects };
}

describe('json and ndjson formats', () => {
  it('ndjson: one record per line, bad lines rejected with their line number, time by pattern', async () => {
    const text = '{"a":1,"ts":"2024-01-02T00:00:00Z"}\n\nnot json\n[1]\n{"a":2,"ts":"later"}\n{"a":3,"ts":"2024-01-03T00:00:00Z"}\n';
    const { records, rejects } = await decode(ndjsonFormat({ timestamp: { field: 'ts', format: 'iso8601' } }), [text]);
    assert.deepEqual(records.map((r) => [r.origin.line, r.fields.a, r.time]), [[1, 1, Date.UTC(2024, 0, 2)], [6, 3, Date.UTC(2024, 0, 3)]]);
    assert.deepEqual(rejects.map((r) => [r.origin.line, r.code]), [[3, 'JSON_SYNTAX'], [4, 'JSON_NOT_AN_OBJECT'], [5, 'JSON_BAD_TIME']]);
  });

  it('ndjson with a record path: each line holds an array of records', async () => {
    const { records, rejects } = await decode(ndjsonFormat({ recordPath: 'data.events' }), ['{"data":{"events":[{"x":1},{"x":2}]}}\n{"data":{}}\n']);
    assert.deepEqual(records.map((r) => [r.id, r.fields.x]), [['p-1.1', 1], ['p-1.2', 2]]);
    assert.deepEqual(rejects.map((r) => r.code), ['JSON_NO_RECORDS_AT_PATH']);
  });

  it('json: a document with records at a path, an array, or one object; a broken document is one rejection', async () => {
    const atPath = await decode(jsonFormat({ recordPath: 'Records' }), ['{"Records":[{"e":1},', '{"e":2}]}']);
    assert.deepEqual(atPath.records.map((r) => [r.origin.line, r.fields.e]), [[1, 1], [2, 2]]);
    const array = await decode(jsonFormat(), ['[{"e":1},{"e":2},3]']);
    assert.equal(array.records.length, 2);
    assert.deepEqual(array.rejects.map((r) => [r.origin.line, r.code]), [[3, 'JSON_NOT_AN_OBJECT']]);
    const one = await decode(jsonFormat(), ['{"e":1}']);
    assert.equal(one.records.length, 1);
    const broken = await decode(jsonFormat(), ['{"e":']);
    assert.deepEqual(broken.rejects.map((r) => r.code), ['JSON_SYNTAX']);
    const big = await decode(jsonFormat({ maxObjectMb: 0.000001 }), ['[{"e":1}]']);
    assert.deepEqual(big.rejects.map((r) => r.code), ['JSON_DOCUMENT_TOO_LARGE']);
  });

  it('property: never throws on mangled JSON; each non-blank ndjson line is one record or one rejection; chunking does not matter', async () => {
    const line = fc.oneof(
      fc.json(),
      fc.json().map((j) => j.slice(0, Math.max(0, j.length - 1))),
      fc.string({ unit: fc.constantFrom(...'{}[]":,ab1 \\'.split('')), maxLength: 20 }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 20 }), fc.nat(), async (lines, cut) => {
        const text = lines.map((l) => l.replace(/\n/g, ' ')).join('\n');
        const bytes = Buffer.from(text);
        const at = cut % (bytes.length + 1);
        const whole = await decode(ndjsonFormat(), [bytes]);
        const split = await decode(ndjsonFormat(), [bytes.subarray(0, at), bytes.subarray(at)]);
        assert.deepEqual(split, whole);
        const nonBlank = text.split('\n').filter((l) => l.trim() !== '').length;
        assert.equal(whole.records.length + whole.rejects.length, nonBlank);
        const doc = await decode(jsonFormat({ recordPath: 'x' }), [bytes]);
        assert.ok(doc.records.length + doc.rejects.length >= 0);
      }),
      { numRuns: fuzzRuns(300) },
    );
  });
});
