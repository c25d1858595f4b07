import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SluiceError } from '../../core/errors.js';
import { parseCsvTable } from './csv-table.js';

/** Asserts that parsing throws a SluiceError whose message matches every pattern. */
function assertFails(text: string, ...patterns: RegExp[]): void {
  assert.throws(
    () => parseCsvTable(text, 'tables/subnets.csv'),
    (err: unknown) => {
      assert.ok(err instanceof SluiceError, String(err));
      for (const pattern of patterns) assert.match(err.message, pattern);
      assert.ok(err.hint, 'every table error carries a hint');
      return true;
    },
  );
}

describe('parseCsvTable', () => {
  it('reads a header and rows, with RFC 4180 quoting', () => {
    // Prepare
    const text = 'id,name,note\r\ni-1,"web, 1","says ""hi"""\r\ni-2,db,"two\nlines"\r\n';
    // Act
    const table = parseCsvTable(text, 't.csv');
    // Assess
    assert.deepEqual(table.columns, ['id', 'name', 'note']);
    assert.deepEqual(table.rows, [
      ['i-1', 'web, 1', 'says "hi"'],
      ['i-2', 'db', 'two\nlines'],
    ]);
    assert.equal(table.describeRow(1), 't.csv line 3 (row 2)');
  });

  it('treats empty fields as null, skips empty lines, drops a BOM and accepts a missing final newline', () => {
    // Act
    const table = parseCsvTable('\ufeffa,b,c\n\n1,,3\n\n"",x,\n4,5,6', 't.csv');
    // Assess
    assert.deepEqual(table.columns, ['a', 'b', 'c']);
    assert.deepEqual(table.rows, [
      ['1', null, '3'],
      [null, 'x', null],
      ['4', '5', '6'],
    ]);
    assert.equal(table.describeRow(2), 't.csv line 6 (row 3)');
  });

  it('takes another delimiter', () => {
    // Act
    const table = parseCsvTable('a\tb\n1\t"x\ty"\n', 't.tsv', '\t');
    // Assess
    assert.deepEqual(table.rows, [['1', 'x\ty']]);
  });

  it('names the file, line and row of a row with the wrong field count', () => {
    assertFails('subnet_id,subnet_name,cidr\ns-1,a,10.0.0.0/24\ns-2,b\n', /tables\/subnets\.csv line 3 \(row 2\)/, /expected 3 fields as in the header, found 2/);
    assertFails('a,b\n1,2,3\n', /line 2 \(row 1\)/, /found 3/);
  });

  it('counts lines inside quoted fields when naming a later bad row', () => {
    assertFails('a,b\n"multi\nline",2\n1\n', /line 4 \(row 2\)/);
  });

  it('rejects stray and unclosed quotes with their line', () => {
    assertFails('a,b\n1,x"y\n', /line 2 \(row 1\)/, /field 2 has a quote but does not start with one/);
    assertFails('a,b\n1,"x"y\n', /line 2 \(row 1\)/, /text after its closing quote/);
    assertFails('a,b\n1,2\n3,"open\n4,5\n', /opened on line 3 is never closed/);
  });

  it('rejects an empty file, unnamed and repeated columns', () => {
    assertFails('', /the table is empty/);
    assertFails('\n\n', /the table is empty/);
    assertFails('a,,c\n1,2,3\n', /line 1 \(header row\): column 2 has no name/);
    assertFails('a,b,a\n1,2,3\n', /column "a" appears twice/);
  });

  it('reads back any table written with RFC 4180 quoting (property)', () => {
    // Prepare: cells drawn from characters that need quoting, plus ordinary ones
    const cell = fc.string({ unit: fc.constantFrom('a', 'Z', '0', ' ', ',', '"', '\n', '\r\n', 'é', '-'), minLength: 1, maxLength: 8 });
    const quote = (v: string) => (/[",\n\r]/.test(v) || v === '' ? `"${v.replace(/"/g, '""')}"` : v);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }).chain((width) =>
          fc.tuple(fc.shuffledSubarray(['id', 'name', 'cidr', 'vpc_id', 'note', 'x_1'], { minLength: width, maxLength: width }), fc.array(fc.array(cell, { minLength: width, maxLength: width }), { maxLength: 6 })),
        ),
        fc.constantFrom('\n', '\r\n'),
        ([header, rows], eol) => {
          const text = [header, ...rows].map((row) => row.map(quote).join(',')).join(eol) + eol;
          // Act
          const table = parseCsvTable(text, 'p.csv');
          // Assess
          assert.deepEqual(table.columns, header);
          assert.deepEqual(table.rows, rows);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never throws anything but a SluiceError on arbitrary input (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', ',', '"', '\n', '\r', ' '), maxLength: 30 }), (text) => {
        // Act / Assess
        try {
          parseCsvTable(text, 'fuzz.csv');
        } catch (err) {
          assert.ok(err instanceof SluiceError, String(err));
          assert.match(err.message, /^fuzz\.csv/);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
