/**
 * Splits a byte stream of concatenated JSON objects (`{...}{...}`, `{...}\n{...}`, as Firehose
 * writes CloudWatch Logs payloads to S3) into one byte slice per top-level object, without
 * parsing them. The scanner tracks only depth, strings and escapes, so it costs one pass over the
 * bytes; memory is one object at a time, capped at `maxObjectBytes`.
 *
 * Anything between objects that is not whitespace (junk, a truncated object, a stray `]`) is
 * reported as a `junk` piece with its byte offset, and scanning resumes at the next `{` at top
 * level: one bad stretch costs only itself. An object longer than the cap is reported as
 * `oversized` (its bytes are skipped, not kept).
 */

export type JsonObjectPiece =
  | { kind: 'object'; bytes: Uint8Array; offset: number }
  | { kind: 'junk'; text: string; offset: number }
  | { kind: 'oversized'; offset: number; bytes: number }
  | { kind: 'truncated'; offset: number; bytes: number };

const OPEN = 0x7b;
const CLOSE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const JUNK_KEEP = 256;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * @example
 * for await (const piece of splitJsonObjects(bytes)) if (piece.kind === 'object') JSON.parse(Buffer.from(piece.bytes).toString());
 */
export async function* splitJsonObjects(input: AsyncIterable<Uint8Array>, maxObjectBytes: number): AsyncIterable<JsonObjectPiece> {
  let depth = 0;
  let inString = false;
  let escaped = false;
  let parts: Uint8Array[] = [];
  let objectBytes = 0;
  let objectStart = 0;
  let skipping = false; // inside an oversized object: counting, not keeping
  let junk = '';
  let junkStart = -1;
  let base = 0;

  for await (const chunk of input) {
    let from = depth > 0 ? 0 : -1; // start of the current object's bytes within this chunk
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (depth === 0) {
        if (c === OPEN) {
          if (junkStart >= 0) {
            yield { kind: 'junk', text: junk, offset: junkStart };
            junk = '';
            junkStart = -1;
          }
          depth = 1;
          inString = false;
          escaped = false;
          from = i;
          objectStart = base + i;
          objectBytes = 0;
          parts = [];
          skipping = false;
          continue;
        }
        if (!isSpace(c)) {
          if (junkStart < 0) junkStart = base + i;
          if (junk.length < JUNK_KEEP) junk += String.fromCharCode(c);
        }
        continue;
      }
      if (inString) {
        if (escaped) escaped = false;
        else if (c === BACKSLASH) escaped = true;
        else if (c === QUOTE) inString = false;
        continue;
      }
      if (c === QUOTE) inString = true;
      else if (c === OPEN) depth++;
      else if (c === CLOSE) {
        depth--;
        if (depth === 0) {
          const slice = chunk.subarray(from, i + 1);
          objectBytes += slice.length;
          if (skipping || objectBytes > maxObjectBytes) {
            yield { kind: 'oversized', offset: objectStart, bytes: objectBytes };
          } else {
            parts.push(slice);
            yield { kind: 'object', bytes: parts.length === 1 ? parts[0]! : Buffer.concat(parts), offset: objectStart };
          }
          parts = [];
          from = -1;
        }
      }
    }
    if (depth > 0) {
      const rest = chunk.subarray(from);
      objectBytes += rest.length;
      if (!skipping && objectBytes > maxObjectBytes) {
        skipping = true;
        parts = [];
      }
      // The producer may reuse its chunk: keep a copy.
      if (!skipping) parts.push(Uint8Array.prototype.slice.call(rest));
    }
    base += chunk.length;
  }
  if (depth > 0) yield { kind: 'truncated', offset: objectStart, bytes: objectBytes };
  if (junkStart >= 0) yield { kind: 'junk', text: junk, offset: junkStart };
}
