import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SluiceError } from './errors.js';
import type { SluiceRecord } from './record.js';
import { createNdjsonLineEncoder } from './ndjson-line.js';

function record(fields: Record<string, unknown>, id = 'a1b2c3d4e5f60718-7'): SluiceRecord {
  return { id, origin: { object: 's3://logs/x.log.gz', line: 8 }, fields };
}

test('the id comes first under idField, then the fields in their order', () => {
  // Prepare
  const encode = createNdjsonLineEncoder('_id');

  // Act
  const line = encode(record({ srcaddr: '10.0.0.1', bytes: 120, action: 'ACCEPT' }));

  // Assess
  assert.equal(line, '{"_id":"a1b2c3d4e5f60718-7","srcaddr":"10.0.0.1","bytes":120,"action":"ACCEPT"}\n');
});

test('empty fields, idField false and an id field name needing escapes', () => {
  // Prepare
  const withId = createNdjsonLineEncoder('_id');
  const withoutId = createNdjsonLineEncoder(false);
  const oddName = createNdjsonLineEncoder('event "id"');

  // Act
  const lines = [withId(record({})), withoutId(record({ a: 1 })), withoutId(record({})), oddName(record({ a: 1 }, 'x"y'))];

  // Assess
  assert.deepEqual(lines, [
    '{"_id":"a1b2c3d4e5f60718-7"}\n',
    '{"a":1}\n',
    '{}\n',
    '{"event \\"id\\"":"x\\"y","a":1}\n',
  ]);
});

test('a field named like idField is replaced by the record id, so the key appears once', () => {
  // Prepare
  const encode = createNdjsonLineEncoder('_id');

  // Act
  const line = encode(record({ a: 1, _id: 'from-the-log', b: 2 }));

  // Assess
  assert.equal(line, '{"_id":"a1b2c3d4e5f60718-7","a":1,"b":2}\n');
});

test('a bigint is written as a JSON number; a circular value is an unserializable record', () => {
  // Prepare
  const encode = createNdjsonLineEncoder('_id');
  const circular: Record<string, unknown> = { a: 1 };
  circular.self = circular;

  // Act
  const line = encode(record({ bytes: 12345678901234567890n, note: 'ok' }));
  let error: unknown;
  try {
    encode(record(circular));
  } catch (err) {
    error = err;
  }

  // Assess
  assert.equal(line, '{"_id":"a1b2c3d4e5f60718-7","bytes":12345678901234567890,"note":"ok"}\n');
  assert.ok(error instanceof SluiceError);
  assert.equal(error.code, 'SINK_RECORD_UNSERIALIZABLE');
  assert.match(error.message, /s3:\/\/logs\/x\.log\.gz line 8/);
});

test('every line parses back to {idField: id, ...fields} and holds exactly one newline (property)', () => {
  // Prepare
  const encode = createNdjsonLineEncoder('_id');
  const fields = fc.dictionary(
    fc.string().filter((k) => k !== '_id' && k !== '__proto__'),
    fc.jsonValue(),
  );

  // Act + Assess
  fc.assert(
    fc.property(fields, fc.string(), (f, id) => {
      const line = encode(record(f as Record<string, unknown>, id));
      assert.equal(line.indexOf('\n'), line.length - 1);
      assert.deepEqual(JSON.parse(line), JSON.parse(JSON.stringify({ _id: id, ...f })));
    }),
  );
});
