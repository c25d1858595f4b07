/**
 * The shared line splitter for line-oriented formats (vpcflow, s3access, alb, delimited, ndjson).
 *
 * Invariants:
 * - Every physical line of the input is emitted exactly once, in order, with its 1-based line
 *   number: batches are contiguous (`firstLine` of a batch = `firstLine + lines.length` of the
 *   one before). A line ends at `\n`; one `\r` before the `\n` is dropped; a final line without a
 *   newline is emitted; an input ending with `\n` has no empty line after it; an empty input has
 *   no lines.
 * - Text is decoded as UTF-8 only in pieces that end just after a `\n` byte (or at the end of the
 *   input). The byte 0x0A never occurs inside a multi-byte UTF-8 sequence, so no character is
 *   ever cut in two, however the input was chunked: the output depends on the bytes alone, not
 *   on where the chunk boundaries fell. Invalid bytes become U+FFFD, never an exception. A
 *   leading byte-order mark is dropped.
 * - Memory is bounded by `maxLineBytes` plus one gathered window and the largest input chunk,
 *   whatever the input: a line longer than the cap is cut to its first `maxLineBytes` bytes (or
 *   characters, when it was already decoded), the rest of it is read and dropped, and its line
 *   number goes into the batch's `oversized` set so that the format can reject it. The line is
 *   still counted.
 *
 * Speed: chunks are gathered until at least `GATHER_BYTES` are pending (no per-chunk overhead and
 * no quadratic string growth when a stream arrives in tiny pieces); the gathered bytes are cut at
 * their last newline with `lastIndexOf` and decoded in pieces of at most `DECODE_PIECE_BYTES`,
 * each ending at a newline; lines are found with `indexOf('\n')` and cut with `slice`. Only the
 * unfinished tail is copied over to the next round.
 */

/** A run of consecutive lines. */
export interface LineBatch {
  /** The lines, without their `\n` / `\r\n`. */
  lines: string[];
  /** 1-based number of `lines[0]` in the whole input. */
  firstLine: number;
  /**
   * Absolute line numbers (same numbering as `firstLine`) of lines longer than the cap. Their
   * text in `lines` is only the start of the line; formats should reject them. Empty (and
   * shared, do not mutate) in the usual case.
   */
  oversized: ReadonlySet<number>;
}

export interface SplitLinesOptions {
  /** Longest line kept whole, in bytes of UTF-8. Default 1 MiB. */
  maxLineBytes?: number;
  /** Lines per emitted batch (the last batch may be shorter). Default 256. */
  batchLines?: number;
}

export const DEFAULT_MAX_LINE_BYTES = 1 << 20;
/**
 * Small batches keep the records in flight (each stage's objects for every line of the batch)
 * small enough to die in the young generation: with 2048 lines, flow logs enriched and mapped to
 * OCSF (~2 KB of objects per record) kept several MB alive at each scavenge, which copied them.
 * Measured in one process, 256 lines against 2048: ~20 % less CPU on vpc-to-lake (decode ->
 * enrich -> ocsf -> Parquet) and on vpcflow -> NDJSON, so the extra per-batch steps do not show.
 */
export const DEFAULT_BATCH_LINES = 256;
// Bytes gathered before splitting, and the largest piece decoded into one string. Strings over
// ~128 KiB go to V8's large-object space, which is many times slower to allocate (measured: 64
// KiB pieces decode at ~7 GB/s, 256 KiB pieces at ~0.2 GB/s on the same machine).
const GATHER_BYTES = 64 * 1024;
const DECODE_PIECE_BYTES = 64 * 1024;
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
// Raw byte counts below allow for the `\r\n` (or a lone `\r`) that is not part of the line, so
// a line of exactly maxLineBytes is never taken for an over-long one; pushLine measures the rest.
const CR_LF_BYTES = 2;

const NO_OVERSIZED: ReadonlySet<number> = new Set<number>();

/**
 * Splits a byte stream into batches of text lines.
 *
 * @example
 * for await (const { lines, firstLine, oversized } of splitLines(stream)) {
 *   lines.forEach((text, i) => handle(firstLine + i, text, oversized.has(firstLine + i)));
 * }
 */
export async function* splitLines(
  input: AsyncIterable<Uint8Array>,
  options: SplitLinesOptions = {},
): AsyncIterable<LineBatch> {
  const maxLineBytes = positiveInteger(options.maxLineBytes, DEFAULT_MAX_LINE_BYTES, 'maxLineBytes');
  const batchLines = positiveInteger(options.batchLines, DEFAULT_BATCH_LINES, 'batchLines');

  let lines: string[] = [];
  let firstLine = 1;
  let oversized: Set<number> | undefined;
  let atStart = true;
  // Bytes after the last newline seen, not decoded yet (at most one unfinished line).
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  // Decode when this many bytes are pending. Raised while one line spans several windows, so
  // that a long line arriving in tiny chunks is re-gathered once per window, not once per chunk.
  let windowAt = GATHER_BYTES;
  // Set while the tail of an over-long line is being skipped: the start of that line.
  let longLineHead: Buffer | undefined;

  const takeBatch = (): LineBatch => {
    const batch: LineBatch = { lines, firstLine, oversized: oversized ?? NO_OVERSIZED };
    firstLine += lines.length;
    lines = [];
    oversized = undefined;
    return batch;
  };

  const pushOversized = (head: string): void => {
    (oversized ??= new Set()).add(firstLine + lines.length);
    lines.push(head);
  };

  const pushLine = (text: string): void => {
    if (text.length > 0 && text.charCodeAt(text.length - 1) === CARRIAGE_RETURN) text = text.slice(0, -1);
    // A string's UTF-8 size is between its length and three times its length.
    if (text.length * 3 > maxLineBytes && Buffer.byteLength(text) > maxLineBytes) {
      pushOversized(text.slice(0, maxLineBytes));
    } else {
      lines.push(text);
    }
  };

  const decode = (bytes: Buffer): string => {
    if (atStart) {
      atStart = false;
      if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    }
    return bytes.toString('utf8');
  };

  // Splits text made of whole lines, each ending with '\n'; yields batches as they fill up.
  function* scanText(text: string): Generator<LineBatch> {
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl === -1) return;
      pushLine(text.slice(start, nl));
      start = nl + 1;
      if (lines.length >= batchLines) yield takeBatch();
    }
  }

  // Emits the lines of bytes[0, end), where end is just after a newline, decoding at most
  // DECODE_PIECE_BYTES at a time (each piece ending at a newline) so strings stay small.
  function* scanBytes(bytes: Buffer, end: number): Generator<LineBatch> {
    let pos = 0;
    while (pos < end) {
      let stop = end - pos <= DECODE_PIECE_BYTES ? end : bytes.lastIndexOf(NEWLINE, pos + DECODE_PIECE_BYTES - 1) + 1;
      if (stop <= pos) {
        // One line longer than a piece: take it alone, or only its head if it is over the cap.
        stop = bytes.indexOf(NEWLINE, pos) + 1;
        if (stop - pos > maxLineBytes + CR_LF_BYTES) {
          pushOversized(decode(bytes.subarray(pos, pos + maxLineBytes)));
          pos = stop;
          if (lines.length >= batchLines) yield takeBatch();
          continue;
        }
      }
      yield* scanText(decode(bytes.subarray(pos, stop)));
      pos = stop;
    }
  }

  for await (const chunk of input) {
    if (chunk.byteLength === 0) continue;
    let bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);

    if (longLineHead !== undefined) {
      const nl = bytes.indexOf(NEWLINE);
      if (nl === -1) continue; // still inside the over-long line: drop these bytes
      pushOversized(decode(longLineHead));
      longLineHead = undefined;
      if (lines.length >= batchLines) yield takeBatch();
      bytes = bytes.subarray(nl + 1);
      if (bytes.length === 0) continue;
    }

    pending.push(bytes);
    pendingBytes += bytes.length;
    if (pendingBytes < windowAt) continue;

    const window = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
    const cut = window.lastIndexOf(NEWLINE) + 1;
    if (cut === 0) {
      // No newline in a whole window: one unfinished line.
      if (window.length > maxLineBytes + 1) {
        longLineHead = Buffer.from(window.subarray(0, maxLineBytes));
        pending = [];
        pendingBytes = 0;
        windowAt = GATHER_BYTES;
      } else {
        pending = [window];
        windowAt = pendingBytes + GATHER_BYTES;
      }
      continue;
    }
    windowAt = GATHER_BYTES;
    const tail = window.subarray(cut);
    // Copy the tail so the window's memory is not kept alive by a few bytes.
    pending = tail.length > 0 ? [Buffer.from(tail)] : [];
    pendingBytes = tail.length;
    yield* scanBytes(window, cut);
  }

  if (longLineHead !== undefined) {
    pushOversized(decode(longLineHead));
  } else if (pendingBytes > 0) {
    const rest = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
    const cut = rest.lastIndexOf(NEWLINE) + 1;
    yield* scanBytes(rest, cut);
    if (cut < rest.length) {
      if (rest.length - cut > maxLineBytes + 1) {
        pushOversized(decode(rest.subarray(cut, cut + maxLineBytes)));
      } else {
        const last = decode(rest.subarray(cut));
        // Empty only when the whole input was a byte-order mark: an empty file, no line.
        if (last.length > 0) pushLine(last);
      }
    }
  }
  pending = [];
  if (lines.length > 0) yield takeBatch();
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`splitLines: ${name} must be a positive integer, got ${value}`);
  }
  return value;
}
