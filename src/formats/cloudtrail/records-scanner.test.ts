import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HEAD_CHARS, RecordsDocumentScanner, type ScanProblem } from './records-scanner.js';

type Event =
  | ['element', string, number]
  | ['oversized', string, number, number]
  | ['object', string | undefined, number]
  | ['fatal', ScanProblem['kind'], string, number];

/** Feeds `text` cut at `cuts` (indexes) and returns what the scanner reported. */
function scan(text: string, cuts: number[] = [], maxChars = 1 << 20): Event[] {
  const events: Event[] = [];
  const scanner = new RecordsDocumentScanner(
    {
      element: (t, ordinal) => events.push(['element', t, ordinal]),
      oversizedElement: (head, ordinal, length) => events.push(['oversized', head, ordinal, length]),
      objectWithoutRecords: (t, _head, length) => events.push(['object', t, length]),
      fatal: (problem) => events.push(['fatal', problem.kind, problem.detail, problem.elementsBefore]),
    },
    maxChars,
  );
  let from = 0;
  for (const cut of [...cuts, text.length]) {
    scanner.push(text.slice(from, cut));
    from = cut;
  }
  scanner.finish();
  return events;
}

/** Every way of cutting `text` in two. */
function everySplit(text: string): number[][] {
  return Array.from({ length: text.length + 1 }, (_, i) => [i]);
}

describe('RecordsDocumentScanner', () => {
  it('reports each element text with its ordinal, brackets and quotes inside strings ignored', () => {
    // Prepare
    const text = '{"Records":[{"a":"}]{[\\"\\\\"},[1,2],"s\\"]",-1.5e3,true,null]}';

    // Act
    const events = scan(text);

    // Assess
    assert.deepEqual(events, [
      ['element', '{"a":"}]{[\\"\\\\"}', 1],
      ['element', '[1,2]', 2],
      ['element', '"s\\"]"', 3],
      ['element', '-1.5e3', 4],
      ['element', 'true', 5],
      ['element', 'null', 6],
    ]);
  });

  it('reports the same events however the text is cut, escapes included', () => {
    // Prepare: backslash runs at every position relative to a cut
    const text = ' {"x":{"k":"\\\\"},"Records" :\n[ {"a":"\\\\\\"x"} ,\t{"b":"\\\\\\\\"}\n]\n,"y":"\\""}  {"Records":[]}';
    const expected = scan(text);

    // Act + Assess
    assert.deepEqual(expected, [
      ['element', '{"a":"\\\\\\"x"}', 1],
      ['element', '{"b":"\\\\\\\\"}', 2],
    ]);
    for (const cuts of everySplit(text)) assert.deepEqual(scan(text, cuts), expected, `cut at ${cuts[0]}`);
    const everyChar = Array.from({ length: text.length }, (_, i) => i);
    assert.deepEqual(scan(text, everyChar), expected);
  });

  it('reports a top-level object without Records whole, and goes on to the next document', () => {
    // Act
    const events = scan('{"digestStartTime":"x","logFiles":[{"s3Object":"Records"}]}\n{"Records":[{"a":1}]}');

    // Assess
    assert.deepEqual(events, [
      ['object', '{"digestStartTime":"x","logFiles":[{"s3Object":"Records"}]}', 59],
      ['element', '{"a":1}', 1],
    ]);
  });

  it('keeps only the head of an element over the cap, the same for any cut', () => {
    // Prepare
    const element = `{"p":"${'y'.repeat(HEAD_CHARS + 500)}"}`;
    const text = `{"Records":[${element},{"b":2}]}`;

    // Act
    const whole = scan(text, [], 100);
    const cut = scan(text, [15, 60, 4000, 4200], 100);

    // Assess
    assert.deepEqual(whole, [
      ['oversized', element.slice(0, HEAD_CHARS), 1, element.length],
      ['element', '{"b":2}', 2],
    ]);
    assert.deepEqual(cut, whole);
  });

  it('stops at the first structural error with its line and column', () => {
    // Act
    const events = scan('{"Records":[\n  {"a":1},\n  {"b":2}}\n,{"c":3}]}');

    // Assess
    assert.deepEqual(events, [
      ['element', '{"a":1}', 1],
      ['element', '{"b":2}', 2],
      ['fatal', 'badJson', 'expected "," or "]" after record 2 but found "}" (line 3, column 10)', 2],
    ]);
  });

  it('tells truncation inside an element, between elements and at the top apart', () => {
    // Act + Assess
    assert.deepEqual(scan('{"Records":[{"a":"x'), [['fatal', 'truncated', 'the JSON ends inside record 1 (at line 1, column 20)', 0]]);
    assert.deepEqual(scan('{"Records":[{"a":1}\n'), [
      ['element', '{"a":1}', 1],
      ['fatal', 'truncated', 'the JSON ends after record 1, before the "]" closing the Records array (at line 2, column 1)', 1],
    ]);
    assert.deepEqual(scan('{"digestStartTime":'), [['fatal', 'truncated', 'the JSON ends inside the top-level object, before any Records array (at line 1, column 20)', 0]]);
    assert.deepEqual(scan(''), [['fatal', 'empty', 'the file holds no JSON at all (empty or only whitespace)', 0]]);
  });

  it('rejects a trailing comma, a missing colon and text after the document', () => {
    // Act + Assess
    assert.deepEqual(scan('{"Records":[{"a":1},]}').at(-1), ['fatal', 'badJson', 'expected record 2 after "," but found "]" (line 1, column 21)', 1]);
    assert.deepEqual(scan('{"Records" [1]}'), [['fatal', 'badJson', 'expected ":" after a key but found "[" (line 1, column 12)', 0]]);
    assert.deepEqual(scan('{"Records":[]} x'), [['fatal', 'badJson', 'expected nothing but whitespace after the end of the JSON document but found "x" (line 1, column 16)', 0]]);
  });
});
