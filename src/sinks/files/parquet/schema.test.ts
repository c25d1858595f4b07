import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inferParquetFields, MAX_NESTING, namedParquetSchema, toSchemaElements, type ParquetField } from './schema.js';

test('scalars: integers int64, top-level time a timestamp, mixed numbers double, strings, booleans, Dates', () => {
  // Prepare
  const samples = [
    { time: 1715000000000, bytes: 40, ratio: 1, ok: true, action: 'ACCEPT', seen: new Date(0), big: 12n },
    { time: 1715000001000, bytes: 41, ratio: 0.5, ok: false, action: 'REJECT', seen: new Date(1), big: 13n },
  ];

  // Act
  const fields = inferParquetFields(samples);

  // Assess
  assert.deepEqual(fields, [
    { kind: 'leaf', name: 'time', type: 'timestamp' },
    { kind: 'leaf', name: 'bytes', type: 'int64' },
    { kind: 'leaf', name: 'ratio', type: 'double' },
    { kind: 'leaf', name: 'ok', type: 'boolean' },
    { kind: 'leaf', name: 'action', type: 'string' },
    { kind: 'leaf', name: 'seen', type: 'timestamp' },
    { kind: 'leaf', name: 'big', type: 'int64' },
  ]);
});

test('nested objects become structs, fields in order of first appearance across the sample', () => {
  // Prepare: the second record brings a field the first lacks, and nulls never decide a type.
  const samples = [
    { src_endpoint: { ip: '10.0.0.1', port: 443 }, cloud: null },
    { src_endpoint: { port: 80, ip: '10.0.0.2', name: 'web-7' }, cloud: { account: { uid: '1234' }, region: 'eu-west-1' } },
  ];

  // Act
  const fields = inferParquetFields(samples);

  // Assess
  assert.deepEqual(fields, [
    {
      kind: 'struct',
      name: 'src_endpoint',
      fields: [
        { kind: 'leaf', name: 'ip', type: 'string' },
        { kind: 'leaf', name: 'port', type: 'int64' },
        { kind: 'leaf', name: 'name', type: 'string' },
      ],
    },
    {
      kind: 'struct',
      name: 'cloud',
      fields: [
        { kind: 'struct', name: 'account', fields: [{ kind: 'leaf', name: 'uid', type: 'string' }] },
        { kind: 'leaf', name: 'region', type: 'string' },
      ],
    },
  ]);
});

test('arrays become lists of their element type; what a fixed schema cannot hold becomes JSON', () => {
  // Prepare
  const samples = [
    {
      profiles: ['cloud', 'datetime'],
      observables: [{ name: 'src_endpoint.ip', type_id: 2 }],
      mixed: [1, 'two'],
      nested: [[1], [2]],
      empty: [],
      inner: [{ tags: ['a'] }],
      kind_varies: 'text',
      no_fields: {},
      nothing: null,
    },
    { profiles: [], observables: [{ name: 'x', type_id: 1, value: 'v' }], kind_varies: { a: 1 }, no_fields: {} },
  ];

  // Act
  const fields = inferParquetFields(samples);

  // Assess
  const byName = new Map(fields.map((f) => [f.name, f]));
  assert.deepEqual(byName.get('profiles'), { kind: 'list', name: 'profiles', element: { kind: 'leaf', name: 'element', type: 'string' } });
  assert.deepEqual(byName.get('observables'), {
    kind: 'list',
    name: 'observables',
    element: {
      kind: 'struct',
      name: 'element',
      fields: [
        { kind: 'leaf', name: 'name', type: 'string' },
        { kind: 'leaf', name: 'type_id', type: 'int64' },
        { kind: 'leaf', name: 'value', type: 'string' },
      ],
    },
  });
  assert.deepEqual(byName.get('mixed'), { kind: 'leaf', name: 'mixed', type: 'json' });
  assert.deepEqual(byName.get('nested'), { kind: 'leaf', name: 'nested', type: 'json' });
  assert.deepEqual(byName.get('empty'), { kind: 'leaf', name: 'empty', type: 'json' });
  // An array inside a list element would need a second repetition level: JSON instead.
  assert.deepEqual(byName.get('inner'), {
    kind: 'list',
    name: 'inner',
    element: { kind: 'struct', name: 'element', fields: [{ kind: 'leaf', name: 'tags', type: 'json' }] },
  });
  assert.deepEqual(byName.get('kind_varies'), { kind: 'leaf', name: 'kind_varies', type: 'json' });
  assert.deepEqual(byName.get('no_fields'), { kind: 'leaf', name: 'no_fields', type: 'json' });
  assert.deepEqual(byName.get('nothing'), { kind: 'leaf', name: 'nothing', type: 'string' });
});

test('reserved names and empty keys get no column, time is a timestamp only at the top level', () => {
  // Prepare
  const samples = [{ _id: 'x', _overflow: 1, '': 'blank', inner: { time: 5, '': 1 }, time: 7 }];

  // Act
  const fields = inferParquetFields(samples, { reserved: ['_id', '_overflow'] });

  // Assess
  assert.deepEqual(fields, [
    { kind: 'struct', name: 'inner', fields: [{ kind: 'leaf', name: 'time', type: 'int64' }] },
    { kind: 'leaf', name: 'time', type: 'timestamp' },
  ]);
});

test('objects nested deeper than MAX_NESTING are written as JSON at the limit', () => {
  // Prepare: a chain of MAX_NESTING + 2 objects.
  let deep: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < MAX_NESTING + 1; i++) deep = { d: deep };

  // Act
  const fields = inferParquetFields([{ deep }]);

  // Assess: structs down to the limit, then one JSON leaf.
  let field: ParquetField = fields[0]!;
  let depth = 1;
  while (field.kind === 'struct') {
    field = field.fields[0]!;
    depth += 1;
  }
  assert.deepEqual(field, { kind: 'leaf', name: 'd', type: 'json' });
  assert.equal(depth, MAX_NESTING);
});

test('schema elements: id first, overflow last, every field optional, lists in the 3-level layout', () => {
  // Prepare
  const fields: ParquetField[] = [
    { kind: 'struct', name: 'src', fields: [{ kind: 'leaf', name: 'ip', type: 'string' }] },
    { kind: 'list', name: 'tags', element: { kind: 'leaf', name: 'element', type: 'string' } },
    { kind: 'leaf', name: 'time', type: 'timestamp' },
  ];

  // Act
  const elements = toSchemaElements(fields, '_id');

  // Assess
  assert.deepEqual(
    elements.map((e) => [e.name, e.type ?? null, e.repetition_type ?? null, e.converted_type ?? null, e.num_children ?? null]),
    [
      ['root', null, null, null, 5],
      ['_id', 'BYTE_ARRAY', 'OPTIONAL', 'UTF8', null],
      ['src', null, 'OPTIONAL', null, 1],
      ['ip', 'BYTE_ARRAY', 'OPTIONAL', 'UTF8', null],
      ['tags', null, 'OPTIONAL', 'LIST', 1],
      ['list', null, 'REPEATED', null, 1],
      ['element', 'BYTE_ARRAY', 'OPTIONAL', 'UTF8', null],
      ['time', 'INT64', 'OPTIONAL', 'TIMESTAMP_MILLIS', null],
      ['_overflow', 'BYTE_ARRAY', 'OPTIONAL', 'JSON', null],
    ],
  );
});

test('named schemas: inferred has none, an unknown name is an error listing the known ones', () => {
  // Act + Assess
  assert.equal(namedParquetSchema('inferred'), undefined);
  assert.throws(() => namedParquetSchema('nope'), /unknown Parquet schema "nope"; known: inferred/);
});
