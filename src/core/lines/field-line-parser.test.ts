import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Rejection, SluiceRecord } from '../record.js';
import { BARE_FIELD, FieldLineParser, fieldLineLayout } from './field-line-parser.js';

/** A toy format: `at` (epoch ms digits, the record's time; `-` for none), `span` (`"a b"`, two keys; any field may be quoted, none bracketed), `n` (digits), `note`; at least 3 fields. */
const LAYOUT = fieldLineLayout(
  [
    { name: 'at', keys: ['at'] },
    { name: 'span', keys: ['from', 'to'] },
    { name: 'n', keys: ['n'] },
    { name: 'note', keys: ['note'] },
  ],
  3,
  'TOY_FIELD_COUNT',
);

class ToyParser extends FieldLineParser {
  protected override store(line: string, from: number, to: number, column: number): boolean {
    const text = line.slice(from, to);
    if (column === 0 && text === '-') {
      this.values[0] = null;
    } else if (column === 0 || column === 2) {
      if (!/^\d+$/.test(text)) return false;
      this.values[column === 0 ? 0 : 3] = Number(text);
      if (column === 0) this.epochMs = Number(text);
    } else if (column === 1) {
      const [a, b] = text.split(' ');
      this.values[1] = a;
      this.values[2] = b ?? null;
    } else {
      this.values[4] = text;
    }
    return true;
  }

  protected override badValue(): { code: string; expected: string } {
    return { code: 'TOY_BAD_NUMBER', expected: 'must be digits' };
  }

  protected override markedFieldEnd(line: string, open: number): number {
    return line[open] === '"' ? line.indexOf('"', open + 1) : BARE_FIELD;
  }

  protected override badMark(_line: string, open: number, close: number, column: number): { code: string; reason: string } {
    return { code: 'TOY_BAD_QUOTE', reason: `${this.fieldName(column)} opens a quote at column ${open + 1}${close === -1 ? ' that is never closed' : ` closed at column ${close + 1} before a non-space`}` };
  }
}

function parse(...lines: string[]): { records: SluiceRecord[]; rejects: Rejection[] } {
  const parser = new ToyParser('mem://toy', 'p', LAYOUT);
  const records: SluiceRecord[] = [];
  const rejects: Rejection[] = [];
  lines.forEach((line, i) => parser.parse(line, line.length - line.trimStart().length, i + 1, records, rejects));
  return { records, rejects };
}

describe('FieldLineParser', () => {
  it('builds one record per line: marked fields without their marks, missing fields null, extra fields kept', () => {
    // Act
    const { records, rejects } = parse('  1000 "a b"\t7  ', '2000 "c d" 8 hi x "y z"', '3000 [ 9 ["q r"]', '- "e" 10');

    // Assess
    assert.deepEqual(rejects, []);
    assert.deepEqual(records, [
      { id: 'p-1', origin: { object: 'mem://toy', line: 1 }, time: 1000, fields: { at: 1000, from: 'a', to: 'b', n: 7, note: null } },
      { id: 'p-2', origin: { object: 'mem://toy', line: 2 }, time: 2000, fields: { at: 2000, from: 'c', to: 'd', n: 8, note: 'hi', extra_fields: ['x', 'y z'] } },
      { id: 'p-3', origin: { object: 'mem://toy', line: 3 }, time: 3000, fields: { at: 3000, from: '[', to: null, n: 9, note: '["q', extra_fields: ['r"]'] } },
      { id: 'p-4', origin: { object: 'mem://toy', line: 4 }, fields: { at: null, from: 'e', to: null, n: 10, note: null } },
    ]);
  });

  it('rejects a bad mark before a short line, and a short line before a bad value', () => {
    // Act
    const { records, rejects } = parse('x "a b', 'x "a b"c 1', 'x 1', 'x "a" 1', '1 "a" y');

    // Assess
    assert.deepEqual(records, []);
    assert.deepEqual(
      rejects.map((r) => [r.origin.line, r.code, r.reason, r.raw]),
      [
        [1, 'TOY_BAD_QUOTE', 'line 1: field "span" (field 2) opens a quote at column 3 that is never closed', 'x "a b'],
        [2, 'TOY_BAD_QUOTE', 'line 2: field "span" (field 2) opens a quote at column 3 closed at column 7 before a non-space', 'x "a b"c 1'],
        [3, 'TOY_FIELD_COUNT', 'line 3: expected at least 3 fields (at … n; newer lines have up to 4) but found 2', 'x 1'],
        [4, 'TOY_BAD_NUMBER', 'line 4: field "at" (field 1) must be digits, found "x"', 'x "a" 1'],
        [5, 'TOY_BAD_NUMBER', 'line 5: field "n" (field 3) must be digits, found "y"', '1 "a" y'],
      ],
    );
  });
});
