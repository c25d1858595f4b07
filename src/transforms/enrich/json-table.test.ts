import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../../core/errors.js';
import { parseJsonTable } from './json-table.js';

function assertFails(run: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(err instanceof SluiceError, String(err));
    for (const pattern of patterns) assert.match(err.message, pattern);
    return true;
  });
}

describe('parseJsonTable', () => {
  it('reads an array of objects; columns are all keys in first-seen order, missing and empty values null', () => {
    // Prepare
    const text = JSON.stringify([
      { vpc_id: 'vpc-1', vpc_name: 'prod', tags: { team: 'core' } },
      { vpc_id: 'vpc-2', owner: 42, vpc_name: '' },
    ]);
    // Act
    const table = parseJsonTable(text, 'vpcs.json', 'json');
    // Assess
    assert.deepEqual(table.columns, ['vpc_id', 'vpc_name', 'tags', 'owner']);
    assert.deepEqual(table.rows, [
      ['vpc-1', 'prod', { team: 'core' }, null],
      ['vpc-2', null, null, 42],
    ]);
    assert.equal(table.describeRow(1), 'vpcs.json element 2 (row 2)');
  });

  it('reads NDJSON, also from a .json file that is not an array', () => {
    // Prepare
    const text = '{"id":"i-1","name":"web-1"}\r\n\n{"id":"i-2","name":"web-2"}\n';
    // Act
    const ndjson = parseJsonTable(text, 'i.ndjson', 'ndjson');
    const json = parseJsonTable(text, 'i.json', 'json');
    // Assess
    assert.deepEqual(ndjson.rows, [
      ['i-1', 'web-1'],
      ['i-2', 'web-2'],
    ]);
    assert.deepEqual(json.rows, ndjson.rows);
    assert.equal(ndjson.describeRow(1), 'i.ndjson line 3 (row 2)');
  });

  it('names the file and line of a bad NDJSON line', () => {
    assertFails(() => parseJsonTable('{"a":1}\n{"a":\n', 't.ndjson', 'ndjson'), /t\.ndjson line 2 \(row 2\): not valid JSON/);
    assertFails(() => parseJsonTable('{"a":1}\n[1,2]\n', 't.ndjson', 'ndjson'), /t\.ndjson line 2 \(row 2\): expected a JSON object, found an array/);
  });

  it('names the element of a bad array member, and the line of a syntax error', () => {
    assertFails(() => parseJsonTable('[{"a":1}, "x"]', 't.json', 'json'), /t\.json element 2 \(row 2\): expected an object, found a string/);
    assertFails(() => parseJsonTable('[\n{"a":1},\n{"a":}\n]', 't.json', 'json'), /t\.json line 3 \(element 2\): not valid JSON \(Unexpected token/);
    assertFails(() => parseJsonTable('  \n', 't.json', 'json'), /t\.json: the table is empty/);
  });
});
