/**
 * What the line-per-record formats (`alb`, `s3access`) share around their own field scanners: the
 * loop from split lines to record batches (blank lines skipped, over-long lines rejected with the
 * format's code), and the small text helpers their messages use. Their field scanning is in
 * field-line-parser.ts.
 */
import type { DecodeContext, Format, RecordBatch } from '../component.js';
import type { Rejection, SluiceRecord } from '../record.js';
import { DEFAULT_MAX_LINE_BYTES, splitLines, type SplitLinesOptions } from './lines.js';

/** Longest `raw` kept in a rejection, in UTF-16 code units. */
export const MAX_RAW_LENGTH = 4096;

/** A format's scanner for one non-blank line: it appends a record or a rejection. */
export interface LineParser {
  parse(line: string, from: number, lineNumber: number, records: SluiceRecord[], rejects: Rejection[]): void;
}

export interface LineRecordsOptions {
  lines?: SplitLinesOptions;
  /** Rejection code of a line longer than `lines.maxLineBytes`. */
  lineTooLongCode: string;
  /** What the object should have been, for messages: "an ALB access log". */
  expected: string;
}

/** A format that reads each object line by line with a parser of its own from `createParser`. */
export function lineRecordsFormat(name: string, createParser: (object: string, idPrefix: string) => LineParser, options: LineRecordsOptions): Format {
  return {
    name,
    decode: (input, ctx) => decodeLineRecords(input, ctx, createParser(ctx.object.uri, ctx.idPrefix), options),
  };
}

/** Decodes an object line by line with `parser`, one batch per split chunk. */
export async function* decodeLineRecords(input: AsyncIterable<Uint8Array>, ctx: DecodeContext, parser: LineParser, options: LineRecordsOptions): AsyncIterable<RecordBatch> {
  const object = ctx.object.uri;
  const maxLineBytes = options.lines?.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  for await (const { lines, firstLine, oversized } of splitLines(input, options.lines)) {
    const records: SluiceRecord[] = [];
    const rejects: Rejection[] = [];
    const checkOversized = oversized.size > 0;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const lineNumber = firstLine + i;
      if (checkOversized && oversized.has(lineNumber)) {
        rejects.push({
          origin: { object, line: lineNumber },
          code: options.lineTooLongCode,
          reason: `line ${lineNumber}: longer than ${maxLineBytes} bytes; no line of ${options.expected} is this long, so this object is not ${options.expected} or is corrupt (raw holds the line's start)`,
          raw: truncateRaw(line),
        });
        continue;
      }
      const first = firstNonSpace(line);
      if (first === -1) continue;
      parser.parse(line, first, lineNumber, records, rejects);
    }
    if (records.length > 0 || rejects.length > 0) yield { records, rejects };
  }
}

/** Space, tab or CR (a CRLF line's CR, when the splitter keeps it). */
export function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 13;
}

export function firstNonSpace(line: string): number {
  for (let i = 0; i < line.length; i++) if (!isSpace(line.charCodeAt(i))) return i;
  return -1;
}

export function truncateRaw(line: string): string {
  return line.length > MAX_RAW_LENGTH ? line.slice(0, MAX_RAW_LENGTH) : line;
}

/** A value quoted for an error message, cut at 64 characters. */
export function quoteValue(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}
