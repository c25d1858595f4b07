/**
 * An incremental scanner for CloudTrail delivery files (`{"Records":[ {...}, {...} ]}`): it finds
 * the text of each element of the `Records` array without ever holding the whole file, so the
 * caller can `JSON.parse` one record at a time.
 *
 * Invariants:
 * - Input is decoded text fed in pieces of any size (`push`), then `finish()` at the end. The
 *   events reported depend on the text alone, never on where the pieces were cut: every piece of
 *   state that spans a cut (depth, "inside a string", a pending backslash, partial captures) is
 *   carried over explicitly.
 * - Each element of a `Records` array is reported exactly once, in order, with its 1-based
 *   ordinal counted over the whole input (so several documents back to back, e.g. concatenated
 *   gzip members, never reuse an ordinal). Text is never reported twice, so a record can never be
 *   duplicated, whatever the damage.
 * - The structure around the elements (the top-level object, its keys, the commas and brackets
 *   of the array) is checked exactly; the first structural error or the end of the input in the
 *   middle of a value ends the scan with one `fatal` event. Elements already reported stay
 *   reported. Inside an element only strings and bracket depth are tracked: whether the element
 *   is valid JSON is for `JSON.parse` to say, one element at a time.
 * - Memory is bounded by `maxChars` (the largest element or record-less object kept whole) plus
 *   the current piece: an element longer than that is reported as oversized with only its head,
 *   and the rest of it is scanned without being kept.
 * - A top-level object without a `Records` array (a digest file, a lone event, anything else) is
 *   kept whole (up to `maxChars`) and reported as such when it ends; the caller classifies it.
 *
 * Speed: strings, which are most of CloudTrail's bytes, are skipped with `indexOf('"')` and a
 * backward count of backslashes; the rest of an element is walked with `charCodeAt`, looking only
 * at quotes and brackets. The structure outside elements (a handful of characters per record) is
 * walked one character at a time with an explicit state.
 */

/** What the scanner found, reported as it goes. */
export interface RecordsScanHandler {
  /** One complete element of a `Records` array: its JSON text, not parsed yet. */
  element(text: string, ordinal: number): void;
  /** An element longer than the cap: only its first `HEAD_CHARS` characters were kept. */
  oversizedElement(head: string, ordinal: number, length: number): void;
  /**
   * A complete top-level value that is an object without a `Records` array. `text` is its whole
   * JSON text, or undefined when it was longer than the cap (then `head` is its start).
   */
  objectWithoutRecords(text: string | undefined, head: string, length: number): void;
  /** The scan cannot go on; nothing after this point of the input is reported. */
  fatal(problem: ScanProblem): void;
}

export interface ScanProblem {
  kind: 'truncated' | 'badJson' | 'notAnObject' | 'empty';
  /** What was expected and what was found, with the position. */
  detail: string;
  /** The start of the value being read when the problem happened, if any. */
  raw?: string;
  /** Elements completed (reported) before the problem. */
  elementsBefore: number;
}

/** Characters kept of an oversized value or a damaged one, for dead letters. */
export const HEAD_CHARS = 4096;

// Scanner states. The document object is the top-level `{...}`; elements are the values of its
// `Records` array.
const S_TOP = 0; // between top-level values: whitespace or '{'
const S_KEY_OR_END = 1; // just after the document's '{': a key or '}'
const S_KEY = 2; // after a ',' in the document object: a key
const S_IN_KEY = 3; // inside a key string of the document object
const S_COLON = 4; // after a key: ':'
const S_VALUE = 5; // after ':': a value ('[' after the key "Records" starts the records)
const S_SKIP_VALUE = 6; // inside a value of the document object other than the records
const S_AFTER_VALUE = 7; // after a value of the document object: ',' or '}'
const S_ARRAY_FIRST = 8; // just after the records' '[': an element or ']'
const S_ARRAY_NEXT = 9; // after a ',' in the records: an element
const S_ELEMENT = 10; // inside an element
const S_AFTER_ELEMENT = 11; // after an element: ',' or ']'
const S_DONE = 12; // a fatal problem was reported: the rest is ignored

// Kinds of the value being skipped or captured.
const K_CONTAINER = 0; // object or array: ends when the depth is back to 0
const K_STRING = 1; // a string: ends at its closing quote
const K_SCALAR = 2; // number or literal: ends before a ',', ']', '}' or whitespace

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const LBRACE = 123;
const RBRACE = 125;
const LBRACKET = 91;
const RBRACKET = 93;

/** Characters of context kept before a structural error, for dead letters. */
const CONTEXT_CHARS = 256;
/** Longest key text kept: only "Records" matters, longer keys are compared by length first. */
const MAX_KEY_CHARS = 16;

export class RecordsDocumentScanner {
  private state = S_TOP;
  private sawTopValue = false;
  /** Elements started, and elements completed (reported). */
  private elements = 0;
  private completedElements = 0;

  // The value being skipped or captured (shared by S_SKIP_VALUE and S_ELEMENT).
  private kind = K_CONTAINER;
  private depth = 0;
  private inString = false;
  /** A string was open at the end of the last piece, and that piece ended with an odd run of backslashes. */
  private pendingBackslash = false;

  // The document object: its text is kept until a `Records` array shows up in it.
  private sawRecordsArray = false;
  private objectCapturing = false;
  private objectParts: string[] = [];
  private objectStart = 0;
  private objectLength = 0;
  private objectOversized = false;
  private objectHead = '';

  // The current key of the document object.
  private keyParts: string[] = [];
  private keyStart = 0;
  private keyLength = 0;
  private key = '';

  // The current element.
  private elementParts: string[] = [];
  private elementStart = 0;
  private elementLength = 0;
  private elementOversized = false;
  private elementHead = '';

  // Position of the current piece in the whole text, for messages.
  private piece = '';
  /** The last CONTEXT_CHARS characters before the current piece. */
  private recentText = '';
  private lineBase = 1;
  private columnBase = 0;

  constructor(
    private readonly handler: RecordsScanHandler,
    private readonly maxChars: number,
  ) {}

  /** Elements of `Records` arrays seen so far (complete or not). */
  get elementCount(): number {
    return this.elements;
  }

  /** True once a fatal problem was reported. */
  get stopped(): boolean {
    return this.state === S_DONE;
  }

  push(p: string): void {
    if (this.state === S_DONE || p.length === 0) return;
    this.piece = p;
    const n = p.length;
    let i = 0;

    while (i < n) {
      const state = this.state;

      if (state === S_ELEMENT || state === S_SKIP_VALUE) {
        const end = this.scanValue(p, i);
        if (end === -1) {
          i = n;
          break;
        }
        if (state === S_ELEMENT) {
          this.completeElement(p, end);
          this.state = S_AFTER_ELEMENT;
        } else {
          this.state = S_AFTER_VALUE;
        }
        i = end;
        continue;
      }

      if (state === S_IN_KEY) {
        const end = this.skipString(p, i);
        if (end === -1) {
          i = n;
          break;
        }
        this.appendKey(p.slice(this.keyStart, end - 1));
        this.key = this.keyLength > MAX_KEY_CHARS ? '' : this.keyParts.join('');
        this.state = S_COLON;
        i = end;
        continue;
      }

      const c = p.charCodeAt(i);
      if (c === 32 || c === 10 || c === 13 || c === 9) {
        i++;
        continue;
      }

      switch (state) {
        case S_TOP:
          if (c !== LBRACE) {
            this.failAtTop(c, i);
            return;
          }
          this.sawTopValue = true;
          this.sawRecordsArray = false;
          this.objectCapturing = true;
          this.objectParts = [];
          this.objectStart = i;
          this.objectLength = 0;
          this.objectOversized = false;
          this.objectHead = '';
          this.state = S_KEY_OR_END;
          i++;
          break;

        case S_KEY_OR_END:
        case S_KEY:
          if (c === QUOTE) {
            this.keyParts = [];
            this.keyLength = 0;
            this.keyStart = i + 1;
            this.pendingBackslash = false;
            this.state = S_IN_KEY;
            i++;
          } else if (c === RBRACE && state === S_KEY_OR_END) {
            this.completeObject(p, i + 1);
            i++;
          } else {
            this.fail('badJson', i, state === S_KEY ? 'a key (a string) after ","' : 'a key (a string) or "}"');
            return;
          }
          break;

        case S_COLON:
          if (c !== COLON) {
            this.fail('badJson', i, '":" after a key');
            return;
          }
          this.state = S_VALUE;
          i++;
          break;

        case S_VALUE:
          if (c === LBRACKET && this.key === 'Records') {
            this.sawRecordsArray = true;
            // A delivery file: what came before the records is of no use, stop keeping it.
            this.objectCapturing = false;
            this.objectParts = [];
            this.state = S_ARRAY_FIRST;
            i++;
          } else if (isValueStart(c)) {
            this.beginValue(c);
            this.state = S_SKIP_VALUE;
          } else {
            this.fail('badJson', i, 'a value after ":"');
            return;
          }
          break;

        case S_AFTER_VALUE:
          if (c === COMMA) {
            this.state = S_KEY;
          } else if (c === RBRACE) {
            this.completeObject(p, i + 1);
          } else {
            this.fail('badJson', i, '"," or "}" after a value of the top-level object');
            return;
          }
          i++;
          break;

        case S_ARRAY_FIRST:
        case S_ARRAY_NEXT:
          if (isValueStart(c)) {
            this.beginElement(i, c);
            this.state = S_ELEMENT;
          } else if (c === RBRACKET && state === S_ARRAY_FIRST) {
            this.state = S_AFTER_VALUE;
            i++;
          } else {
            this.fail(
              'badJson',
              i,
              state === S_ARRAY_FIRST ? 'a record or "]" after "Records":[' : `record ${this.elements + 1} after ","`,
            );
            return;
          }
          break;

        case S_AFTER_ELEMENT:
          if (c === COMMA) {
            this.state = S_ARRAY_NEXT;
          } else if (c === RBRACKET) {
            this.state = S_AFTER_VALUE;
          } else {
            this.fail('badJson', i, `"," or "]" after record ${this.elements}`);
            return;
          }
          i++;
          break;
      }
      if (this.state === S_DONE) return;
    }

    // The piece ended: keep the unfinished parts for the next one.
    if (this.state === S_ELEMENT) {
      this.appendElement(p.slice(this.elementStart));
      this.elementStart = 0;
    }
    if (this.objectCapturing) {
      this.appendObject(p.slice(this.objectStart));
      this.objectStart = 0;
    }
    if (this.state === S_IN_KEY) {
      this.appendKey(p.slice(this.keyStart));
      this.keyStart = 0;
    }
    this.recentText = n >= CONTEXT_CHARS ? p.slice(-CONTEXT_CHARS) : (this.recentText + p).slice(-CONTEXT_CHARS);
    const lastNewline = p.lastIndexOf('\n');
    if (lastNewline === -1) {
      this.columnBase += n;
    } else {
      this.lineBase += countNewlines(p);
      this.columnBase = n - lastNewline - 1;
    }
    this.piece = '';
  }

  /** The end of the input: reports a truncated document, or an empty one. */
  finish(): void {
    const state = this.state;
    if (state === S_DONE) return;
    this.state = S_DONE;
    if (state === S_TOP) {
      if (!this.sawTopValue) {
        this.handler.fatal({ kind: 'empty', detail: 'the file holds no JSON at all (empty or only whitespace)', elementsBefore: 0 });
      }
      return;
    }
    const at = `at line ${this.lineBase}, column ${this.columnBase + 1}`;
    let detail: string;
    let raw: string | undefined;
    if (state === S_ELEMENT) {
      detail = `the JSON ends inside record ${this.elements} (${at})`;
      raw = this.elementOversized ? this.elementHead : headOf(this.elementParts.join(''));
    } else if (state === S_ARRAY_FIRST || state === S_ARRAY_NEXT || state === S_AFTER_ELEMENT) {
      detail = `the JSON ends after record ${this.elements}, before the "]" closing the Records array (${at})`;
    } else if (this.sawRecordsArray) {
      detail = `the JSON ends after the Records array, before the "}" closing the top-level object (${at})`;
    } else {
      detail = `the JSON ends inside the top-level object, before any Records array (${at})`;
      raw = this.objectOversized ? this.objectHead : headOf(this.objectParts.join(''));
    }
    this.handler.fatal({ kind: 'truncated', detail, raw, elementsBefore: this.completedElements });
  }

  /**
   * Advances through the value being skipped or captured, from `i`. Returns the index just after
   * its end, or -1 when the piece ended first (the state says where it stopped).
   */
  private scanValue(p: string, i: number): number {
    const n = p.length;
    if (this.kind === K_SCALAR) {
      while (i < n) {
        const c = p.charCodeAt(i);
        if (c === COMMA || c === RBRACKET || c === RBRACE || c === 32 || c === 10 || c === 13 || c === 9) return i;
        i++;
      }
      return -1;
    }
    for (;;) {
      if (this.inString) {
        const end = this.skipString(p, i);
        if (end === -1) return -1;
        this.inString = false;
        i = end;
        if (this.kind === K_STRING) return i;
      }
      let c = 0;
      while (i < n) {
        c = p.charCodeAt(i++);
        if (c === QUOTE) break;
        if (c === LBRACE || c === LBRACKET) this.depth++;
        else if ((c === RBRACE || c === RBRACKET) && --this.depth === 0) return i;
      }
      if (c !== QUOTE || this.inString) return -1;
      // (The loop above ended on a quote only if it broke out; i === n with a quote as the last
      // character also lands here and opens the string.)
      this.inString = true;
      this.pendingBackslash = false;
    }
  }

  /**
   * Finds the end of the string that is open at `from` (just after its opening quote, or the
   * start of a piece). Returns the index just after the closing quote, or -1 if the piece ended
   * first, remembering whether the piece ended with an odd run of backslashes.
   */
  private skipString(p: string, from: number): number {
    let j = from;
    for (;;) {
      const q = p.indexOf('"', j);
      if (q === -1) {
        let b = p.length - 1;
        while (b >= from && p.charCodeAt(b) === BACKSLASH) b--;
        let run = p.length - 1 - b;
        if (b < from && from === 0 && this.pendingBackslash) run++;
        this.pendingBackslash = (run & 1) === 1;
        return -1;
      }
      let b = q - 1;
      while (b >= from && p.charCodeAt(b) === BACKSLASH) b--;
      let run = q - 1 - b;
      if (b < from && from === 0 && this.pendingBackslash) run++;
      if ((run & 1) === 0) {
        this.pendingBackslash = false;
        return q + 1;
      }
      // An escaped quote: the carried backslash has been used up, look further.
      if (from === 0) this.pendingBackslash = false;
      from = q + 1;
      j = q + 1;
    }
  }

  private beginValue(c: number): void {
    this.depth = 0;
    this.inString = false;
    this.pendingBackslash = false;
    this.kind = c === LBRACE || c === LBRACKET ? K_CONTAINER : c === QUOTE ? K_STRING : K_SCALAR;
  }

  private beginElement(i: number, c: number): void {
    this.elements++;
    this.elementParts = [];
    this.elementStart = i;
    this.elementLength = 0;
    this.elementOversized = false;
    this.elementHead = '';
    this.beginValue(c);
  }

  private appendElement(text: string): void {
    if (this.elementOversized) {
      // The head grows to HEAD_CHARS whatever the cap, so it does not depend on the chunking.
      if (this.elementHead.length < HEAD_CHARS) this.elementHead += text.slice(0, HEAD_CHARS - this.elementHead.length);
      this.elementLength += text.length;
      return;
    }
    if (this.elementLength + text.length > this.maxChars) {
      this.elementOversized = true;
      this.elementHead = headOf(this.elementParts.join('') + text.slice(0, HEAD_CHARS));
      this.elementParts = [];
    } else {
      this.elementParts.push(text);
    }
    this.elementLength += text.length;
  }

  private completeElement(p: string, end: number): void {
    this.completedElements++;
    const tail = p.slice(this.elementStart, end);
    this.appendElement(tail);
    if (this.elementOversized) {
      this.handler.oversizedElement(this.elementHead, this.elements, this.elementLength);
    } else {
      const parts = this.elementParts;
      this.handler.element(parts.length === 1 ? parts[0] : parts.join(''), this.elements);
    }
    this.elementParts = [];
  }

  private appendObject(text: string): void {
    if (this.objectOversized) {
      if (this.objectHead.length < HEAD_CHARS) this.objectHead += text.slice(0, HEAD_CHARS - this.objectHead.length);
      this.objectLength += text.length;
      return;
    }
    if (this.objectLength + text.length > this.maxChars) {
      this.objectOversized = true;
      this.objectHead = headOf(this.objectParts.join('') + text.slice(0, HEAD_CHARS));
      this.objectParts = [];
    } else {
      this.objectParts.push(text);
    }
    this.objectLength += text.length;
  }

  /** The document object closed (its '}' ends just before `end`). */
  private completeObject(p: string, end: number): void {
    this.state = S_TOP;
    if (this.sawRecordsArray) return;
    this.appendObject(p.slice(this.objectStart, end));
    this.objectCapturing = false;
    if (this.objectOversized) {
      this.handler.objectWithoutRecords(undefined, this.objectHead, this.objectLength);
    } else {
      const text = this.objectParts.join('');
      this.handler.objectWithoutRecords(text, headOf(text), this.objectLength);
    }
    this.objectParts = [];
  }

  private appendKey(text: string): void {
    if (this.keyLength <= MAX_KEY_CHARS) this.keyParts.push(text.slice(0, MAX_KEY_CHARS + 1));
    this.keyLength += text.length;
  }

  private failAtTop(c: number, i: number): void {
    if (!this.sawTopValue && (c === LBRACKET || c === QUOTE || c === 45 || (c >= 48 && c <= 57) || c === 116 || c === 102 || c === 110)) {
      const what = c === LBRACKET ? 'a JSON array' : c === QUOTE ? 'a JSON string' : c === 116 || c === 102 || c === 110 ? 'a JSON literal' : 'a JSON number';
      this.fail('notAnObject', i, `a JSON object with a Records array, but the file holds ${what}`);
      return;
    }
    this.fail('badJson', i, this.sawTopValue ? 'nothing but whitespace after the end of the JSON document' : 'a JSON object ("{")');
  }

  private fail(kind: ScanProblem['kind'], i: number, expected: string): void {
    const found = describeCharAt(this.piece, i);
    const detail = kind === 'notAnObject' ? `expected ${expected} (${this.where(i)})` : `expected ${expected} but found ${found} (${this.where(i)})`;
    // What precedes the problem, up to and including it: the same text however the input was cut.
    const raw =
      this.objectCapturing && !this.objectOversized
        ? headOf(this.objectParts.join('') + this.piece.slice(this.objectStart, i + 1))
        : (this.recentText + this.piece.slice(0, i + 1)).slice(-CONTEXT_CHARS);
    this.state = S_DONE;
    this.handler.fatal({ kind, detail, raw, elementsBefore: this.completedElements });
  }

  /** "line L, column C" of index i of the current piece. */
  private where(i: number): string {
    const p = this.piece;
    const lastNewline = i > 0 ? p.lastIndexOf('\n', i - 1) : -1;
    if (lastNewline === -1) return `line ${this.lineBase}, column ${this.columnBase + i + 1}`;
    return `line ${this.lineBase + countNewlines(p, i)}, column ${i - lastNewline}`;
  }
}

function isValueStart(c: number): boolean {
  return c === LBRACE || c === LBRACKET || c === QUOTE || c === 45 || (c >= 48 && c <= 57) || c === 116 || c === 102 || c === 110;
}

function countNewlines(text: string, end = text.length): number {
  let count = 0;
  let at = text.indexOf('\n');
  while (at !== -1 && at < end) {
    count++;
    at = text.indexOf('\n', at + 1);
  }
  return count;
}

function headOf(text: string): string {
  return text.length > HEAD_CHARS ? text.slice(0, HEAD_CHARS) : text;
}

function describeCharAt(text: string, i: number): string {
  const c = text.charCodeAt(i);
  if (Number.isNaN(c)) return 'the end of the input';
  const ch = text[i];
  if (c < 32 || c === 0xfffd) return `the character U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
  return JSON.stringify(ch);
}
