/**
 * What the line formats' property tests share: an input cut into chunks at arbitrary offsets,
 * a whole decode into records and rejects, and generated lines joined into an object's bytes with
 * the texts the decoder should see for them.
 */
import type { Format } from '../core/component.js';
import type { Rejection, SluiceRecord } from '../core/record.js';

/** `bytes` as chunks cut at `cuts` (out-of-range and repeated cuts ignored). */
export async function* chunkedAt(bytes: Buffer, cuts: number[]): AsyncIterable<Uint8Array> {
  let from = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (cut <= from || cut >= bytes.length) continue;
    yield bytes.subarray(from, cut);
    from = cut;
  }
  if (from < bytes.length) yield bytes.subarray(from);
}

/** Every record and rejection `format` makes of `bytes` read in chunks cut at `cuts`. */
export async function decodeChunked(format: Format, bytes: Buffer, cuts: number[], name: string): Promise<{ records: SluiceRecord[]; rejects: Rejection[] }> {
  const records: SluiceRecord[] = [];
  const rejects: Rejection[] = [];
  for await (const batch of format.decode(chunkedAt(bytes, cuts), { object: { uri: `mem://${name}`, key: name }, idPrefix: 'p' })) {
    records.push(...batch.records);
    rejects.push(...batch.rejects);
  }
  return { records, rejects };
}

/**
 * The object's bytes for generated lines, and the text of each line as the splitter yields it (a
 * leading BOM dropped; no last empty line without a final newline).
 */
export function joinLines(lines: ReadonlyArray<{ text: string | Uint8Array }>, crlf: boolean, finalNewline: boolean): { bytes: Buffer; texts: string[] } {
  const eol = Buffer.from(crlf ? '\r\n' : '\n');
  const parts: Buffer[] = [];
  lines.forEach((l, i) => {
    parts.push(typeof l.text === 'string' ? Buffer.from(l.text, 'utf8') : Buffer.from(l.text));
    if (i < lines.length - 1 || finalNewline) parts.push(eol);
  });
  const texts = lines.map((l) => (typeof l.text === 'string' ? l.text : Buffer.from(l.text).toString('utf8')));
  if (texts.length > 0 && texts[0]!.charCodeAt(0) === 0xfeff) texts[0] = texts[0]!.slice(1);
  if (!finalNewline && texts.length > 0 && texts[texts.length - 1] === '') texts.pop();
  return { bytes: Buffer.concat(parts), texts };
}

export const isBlank = (text: string): boolean => /^[ \t\r]*$/.test(text);
