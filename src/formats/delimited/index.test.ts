import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RecordBatch } from '../../core/component.js';
import { SluiceError } from '../../core/errors.js';
import { delimitedFormat, type DelimitedOptions } from './index.js';
import { compileTimestampPattern } from '../../core/timestamp-pattern.js';

async function decode(text: string | string[], options: DelimitedOptions) {
  const chunks = (Array.isArray(text) ? text : [text]).map((t) => Buffer.from(t));
  async function* input() {
    yield* chunks;
  }
  const records = [];
  const rejects = [];
  for await (const batch of delimitedFormat(options).decode(input(), { object: { uri: 's3://b/k.log', key: 'k.log' }, idPrefix: 'p' }) as AsyncIterable<RecordBatch>) {
    records.push(...batch.records);
    rejects.push(...batch.rejects);
  }
  return { records, rejects };
}

describe('delimited format', () => {
  it('reads the seed\'s whitespace + bracketed-timestamp case (S3 access log style)', async () => {
    const line = 'owner bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - "GET /bucket1?versioning HTTP/1.1" 200 "S3Console/0.4"\n';
    const { records, rejects } = await decode(line, {
      delimiter: ' ',
      brackets: true,
      columns: ['owner', 'bucket', 'time', 'ip', 'requester', 'request', 'status', 'agent'],
      timestamp: { field: 'time', format: 'dd/MMM/yyyy:HH:mm:ssZZZZ' },
    });
    assert.deepEqual(rejects, []);
    assert.equal(records.length, 1);
    assert.deepEqual(records[0]!.fields, {
      owner: 'owner', bucket: 'bucket1', time: '06/Feb/2019:00:00:38 +0000', ip: '192.0.2.3', requester: '-',
      request: 'GET /bucket1?versioning HTTP/1.1', status: '200', agent: 'S3Console/0.4',
    });
    assert.equal(records[0]!.time, Date.UTC(2019, 1, 6, 0, 0, 38));
    assert.equal(records[0]!.id, 'p-1');
  });

  it('reads CSV with a header, quoted fields holding delimiters and "" quotes, and any delimiter', async () => {
    const { records } = await decode('a,b,c\n1,"x, ""y""",3\n', { header: true });
    assert.deepEqual(records[0]!.fields, { a: '1', b: 'x, "y"', c: '3' });
    const piped = await decode('1::two::3\n', { delimiter: '::', columns: ['a', 'b', 'c'] });
    assert.deepEqual(piped.records[0]!.fields, { a: '1', b: 'two', c: '3' });
    const tabs = await decode('1\t2\n', { delimiter: '\\t', columns: ['a', 'b'] });
    assert.deepEqual(tabs.records[0]!.fields, { a: '1', b: '2' });
  });

  it('names columns column_N without a header or columns, keeps extra fields in _extra, turns nulls into null', async () => {
    const { records } = await decode('a - c\n', { delimiter: 'whitespace', nulls: ['-'] });
    assert.deepEqual(records[0]!.fields, { column_1: 'a', column_2: null, column_3: 'c' });
    const extra = await decode('1 2 3 4\n', { delimiter: ' ', columns: ['a', 'b'] });
    assert.deepEqual(extra.records[0]!.fields, { a: '1', b: '2', _extra: ['3', '4'] });
  });

  it('rejects short records, unterminated quotes and times that do not match, naming the line, and goes on', async () => {
    const text = 'h1 h2 t\n1 2 2024-01-02T03:04:05Z\n1 2\n1 "open 2024-01-02\n1 2 yesterday\n\n1 2 2024-01-02T03:04:06Z\n';
    const { records, rejects } = await decode(text, { delimiter: ' ', header: true, timestamp: { field: 't', format: 'iso8601' } });
    assert.deepEqual(records.map((r) => r.origin.line), [2, 7]);
    assert.deepEqual(rejects.map((r) => [r.origin.line, r.code]), [[3, 'DELIMITED_FIELD_COUNT'], [4, 'DELIMITED_UNTERMINATED_FIELD'], [5, 'DELIMITED_BAD_TIME']]);
    assert.match(rejects[0]!.reason, /^line 3: 2 fields, expected 3 \(h1 h2 t\)/);
    assert.match(rejects[2]!.reason, /"yesterday" does not match the timestamp format "iso8601" \(expected an ISO 8601/);
  });

  it('joins multiline records by a start-of-record pattern; leading fragments are rejected', async () => {
    const text = 'stray\n2024-01-02 a "first\ncontinued"\n2024-01-03 b "second"\n';
    const { records, rejects } = await decode(text, { delimiter: ' ', columns: ['day', 'id', 'msg'], multiline: { start: '^\\d{4}-' } });
    assert.deepEqual(records.map((r) => [r.origin.line, r.fields.msg]), [[2, 'first\ncontinued'], [4, 'second']]);
    assert.deepEqual(rejects.map((r) => [r.origin.line, r.code]), [[1, 'DELIMITED_FRAGMENT']]);
  });

  it('a header named __proto__ is a field, not the prototype', async () => {
    const { records } = await decode('__proto__,b\n1,2\n', { header: true });
    assert.equal(Object.getPrototypeOf(records[0]!.fields), Object.prototype);
    assert.deepEqual(Object.keys(records[0]!.fields), ['__proto__', 'b']);
  });

  it('gives the same records however the bytes are chunked', async () => {
    const text = 'a,b\n"x\ny",2\n3,4\n';
    const whole = await decode(text, { header: true, multiline: { start: '^"|^\\d' } });
    const split = await decode(text.split(''), { header: true, multiline: { start: '^"|^\\d' } });
    assert.deepEqual(split, whole);
  });

  it('refuses a bad multiline pattern or a timestamp column that is not a column, at config time', () => {
    assert.throws(() => delimitedFormat({ multiline: { start: '(' } }), SluiceError);
    assert.throws(() => delimitedFormat({ columns: ['a'], timestamp: { field: 'b', format: 'epoch' } }), /timestamp.field "b" is not one of the columns/);
  });
});

describe('timestamp patterns', () => {
  const cases: Array<[string, string, number | undefined]> = [
    ['dd/MMM/yyyy:HH:mm:ss Z', '06/Feb/2019:00:00:38 +0000', Date.UTC(2019, 1, 6, 0, 0, 38)],
    ['[dd/MMM/yyyy:HH:mm:ssZZZZ]', '[06/Feb/2019:00:00:38 +0200]', Date.UTC(2019, 1, 5, 22, 0, 38)],
    ['dd/MMM/yyyy:HH:mm:ssZZZZ', '06/Feb/2019:00:00:38 -0130', Date.UTC(2019, 1, 6, 1, 30, 38)],
    ['yyyy-MM-dd HH:mm:ss.SSS', '2024-02-29 23:59:59.5', Date.UTC(2024, 1, 29, 23, 59, 59, 500)],
    ["yyyy-MM-dd'T'HH:mm:ssXXX", '2024-01-02T03:04:05+01:00', Date.UTC(2024, 0, 2, 2, 4, 5)],
    ['yyyy-MM-dd', '2023-02-29', undefined],
    ['dd/MMM/yyyy:HH:mm:ss Z', '06/Foo/2019:00:00:38 +0000', undefined],
    ['iso8601', '2024-01-02T03:04:05.123Z', Date.UTC(2024, 0, 2, 3, 4, 5, 123)],
    ['iso8601', '2024-01-02', Date.UTC(2024, 0, 2)],
    ['epoch', '1477913708', 1477913708000],
    ['epoch', '1477913708123', 1477913708123],
    ['epoch_ms', '1000', 1000],
    ['epoch_s', '1.5', 1500],
    ['epoch', 'soon', undefined],
  ];
  for (const [pattern, text, expected] of cases) {
    it(`${pattern}: ${text}`, () => assert.equal(compileTimestampPattern(pattern)(text), expected));
  }

  it('refuses patterns without a date or with unknown letters, naming the expected form', () => {
    assert.throws(() => compileTimestampPattern('HH:mm'), /needs at least a year/);
    assert.throws(() => compileTimestampPattern('yyyy-MM-dd QQ'), /"QQ" is not a supported pattern letter/);
  });
});
