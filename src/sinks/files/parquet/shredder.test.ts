import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { SluiceRecord } from '../../../core/record.js';
import { inferParquetFields } from './schema.js';
import { RecordShredder, type LeafColumn } from './shredder.js';

/** Everything a leaf holds for the current row group, as plain arrays. */
function snapshot(leaf: LeafColumn): unknown {
  return {
    path: leaf.path.join('.'),
    def: [...leaf.defLevels.subarray(0, leaf.levelCount)],
    rep: leaf.repLevels === undefined ? undefined : [...leaf.repLevels.subarray(0, leaf.levelCount)],
    numbers: leaf.numbers === undefined ? undefined : [...leaf.numbers.subarray(0, leaf.valueCount)],
    flags: leaf.flags === undefined ? undefined : [...leaf.flags.subarray(0, leaf.valueCount)],
    strings:
      leaf.type !== 'string' && leaf.type !== 'json'
        ? undefined
        : leaf.interning
          ? [...leaf.indexes!.subarray(0, leaf.valueCount)].map((i) => leaf.dictionary[i])
          : leaf.strings.slice(0, leaf.valueCount),
  };
}

function record(i: number, fields: Record<string, unknown>): SluiceRecord {
  return { id: `r-${i}`, origin: { object: 'gen', line: i + 1 }, fields };
}

// Values of every kind the shredder tells apart, so that samples and later records disagree.
const scalar = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.double({ noNaN: true }),
  fc.string({ maxLength: 6 }),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.bigInt({ min: -(2n ** 60n), max: 2n ** 60n }),
);
const leafish = fc.oneof(scalar, fc.array(fc.oneof(fc.string({ maxLength: 3 }), fc.constant(null)), { maxLength: 3 }));
const inner = fc.record({ ip: scalar, port: scalar, tags: leafish }, { requiredKeys: [] });
const fieldsArbitrary = fc.record(
  {
    time: fc.oneof(fc.integer({ min: 0, max: 2 ** 42 }), scalar),
    action: scalar,
    src: fc.oneof(inner, scalar),
    hops: fc.oneof(fc.array(fc.oneof(inner, fc.constant(null)), { maxLength: 3 }), scalar),
    nested: fc.oneof(fc.record({ a: fc.record({ b: scalar }, { requiredKeys: [] }) }, { requiredKeys: [] }), scalar),
    extra: leafish,
  },
  { requiredKeys: [] },
);

test('the generated record walk writes exactly what the generic walk writes, misfits included', () => {
  fc.assert(
    fc.property(fc.array(fieldsArbitrary, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 40 }), (all, sampleSize) => {
      // Prepare: the schema comes from the first records only, so later ones drift.
      const fields = inferParquetFields(all.slice(0, sampleSize), { reserved: ['_id', '_overflow'] });
      const compiled = new RecordShredder(fields, '_id');
      const generic = new RecordShredder(fields, '_id', { compile: false });

      // Act
      all.forEach((f, i) => {
        compiled.add(record(i, f));
        generic.add(record(i, f));
      });

      // Assess
      assert.equal(compiled.rows, all.length);
      assert.deepEqual(compiled.leaves.map(snapshot), generic.leaves.map(snapshot));
    }),
    { numRuns: 300 },
  );
});

test('a record that cannot be written leaves every leaf as it was before it', () => {
  // Prepare: a list column, a JSON column, and a record whose JSON value is circular.
  const samples = [
    { tags: ['a'], blob: [1, 'x'], src: { ip: '10.0.0.1' } },
    { tags: ['b', 'c'], blob: ['y', 2], src: { ip: '10.0.0.2' } },
  ];
  const shredder = new RecordShredder(inferParquetFields(samples), '_id');
  samples.forEach((f, i) => shredder.add(record(i, f)));
  const before = shredder.leaves.map(snapshot);
  const circular: Record<string, unknown> = {};
  circular.self = circular;

  // Act
  const error = (() => {
    try {
      shredder.add(record(9, { tags: ['d', 'e', 'f'], blob: circular, src: { ip: '10.0.0.9' }, more: 'x' }));
    } catch (err) {
      return err as { code?: string; message: string };
    }
    return undefined;
  })();

  // Assess
  assert.equal(error?.code, 'SINK_RECORD_UNSERIALIZABLE');
  assert.match(error!.message, /record r-9 \(gen line 10\) cannot be written to Parquet/);
  assert.deepEqual(shredder.leaves.map(snapshot), before);
  assert.equal(shredder.rows, 2);
  shredder.add(record(3, samples[0]!));
  assert.equal(shredder.rows, 3);
});

test('a list column keeps every repetition level, whatever the sizes of the buffers released before it', () => {
  // Prepare: released buffers are taken back last in, first out. A part whose last columns are a
  // mostly-null boolean and `_overflow` leaves a 1,024-entry value buffer under an 8,192-entry
  // level buffer, which the next part's first column, a list, takes as its two level buffers.
  const before = new RecordShredder([{ kind: 'leaf', name: 'flag', type: 'boolean' }], undefined);
  for (let i = 0; i < 5000; i++) before.add(record(i, { flag: i === 0 ? true : null }));
  before.release();
  const shredder = new RecordShredder([{ kind: 'list', name: 'tags', element: { kind: 'leaf', name: 'element', type: 'string' } }], undefined);

  // Act: 3,000 levels, more than the shorter buffer holds.
  for (let i = 0; i < 1000; i++) shredder.add(record(i, { tags: ['a', 'b', `c${i % 3}`] }));

  // Assess
  const tags = snapshot(shredder.leaves[0]!) as { rep: number[]; def: number[]; strings: string[] };
  assert.deepEqual(tags.rep, Array.from({ length: 3000 }, (_, k) => (k % 3 === 0 ? 0 : 1)));
  assert.equal(tags.def.length, 3000);
  assert.deepEqual(tags.strings.slice(-3), ['a', 'b', 'c0']);
});
