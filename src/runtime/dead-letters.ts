/**
 * Dead letters of one unit: every rejected line or record, with where it came from and why, in
 * `<place>/<outputStem>.rejected.ndjson` (one JSON object per line, uncompressed so it can be read
 * with any tool). The place is a local folder or an S3 prefix (core/place): in Lambda only the
 * latter survives the container.
 *
 * Invariants:
 * - The file is a function of the unit's input and config: no wall-clock time, lines in the
 *   order they were added, fixed key order. A re-run of the unit writes it byte-identical.
 * - It appears atomically at `commit()`: staged in the place, published whole (a rename; a
 *   PutObject or completed multipart upload). A dead letter that cannot be written fails the
 *   commit, and so the unit: rejected lines are never acknowledged without their letters.
 * - No file when there is nothing to write; an earlier attempt's file is then deleted, so the
 *   dead letters always describe the last committed attempt only.
 * - Memory is bounded: lines are buffered up to 1 MiB, then appended to a local spool file. `add`
 *   is synchronous (the runtime calls it between batches); it only touches the disk when a
 *   unit rejects more than 1 MiB of lines, which is rare and better slow than lost.
 */
import { closeSync, copyFileSync, mkdirSync, openSync, writeFileSync, close } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { UnitContext } from '../core/component.js';
import { SluiceError, toSluiceError } from '../core/errors.js';
import type { Rejection, SluiceRecord } from '../core/record.js';
import { removeFile, tempPathFor } from '../core/atomic-file.js';
import { crashPoint } from '../core/crash-points.js';
import { openPlace, type Place } from '../core/place/index.js';

/** Longest `raw` kept per dead letter, in UTF-8 bytes. */
export const MAX_RAW_BYTES = 4096;
/** Buffered dead-letter text (UTF-16 code units) before it is appended to the temp file. */
const BUFFER_LIMIT = 1024 * 1024;

const closeFd = promisify(close);

/** A record a sink rejected for good. */
export interface RejectedRecord {
  record: SluiceRecord;
  reason: string;
  code: string;
}

export interface DeadLetterWriter {
  /** Adds lines rejected before the sinks (decode, transform), tagged with that stage. */
  add(rejections: Rejection[], stage: string): void;
  /** Adds records a sink rejected, tagged with the sink's name. */
  addRecords(items: RejectedRecord[], sink: string): void;
  /** Dead letters added so far. */
  readonly count: number;
  /** Makes the file visible (or removes a stale one when empty); returns its location (path or s3:// URI) or null. */
  commit(): Promise<string | null>;
  /** Drops everything written by this attempt. */
  abort(): Promise<void>;
}

/**
 * Opens the dead-letter writer of one attempt of a unit.
 *
 * @example
 * const deadLetters = openDeadLetterWriter('/data/out/_rejected', unit);
 * deadLetters.add(batch.rejects, 'decode');
 * const file = await deadLetters.commit(); // '/data/out/_rejected/<stem>.rejected.ndjson' or null
 */
export function openDeadLetterWriter(place: Place | string, unit: UnitContext): DeadLetterWriter {
  return new UnitDeadLetterWriter(typeof place === 'string' ? openPlace(path.resolve(place)) : place, unit);
}

/** The name of a unit's dead-letter file in its place. */
export function deadLetterKeyFor(outputStem: string): string {
  return `${outputStem}.rejected.ndjson`;
}

class UnitDeadLetterWriter implements DeadLetterWriter {
  private added = 0;
  private readonly key: string;
  /** Local spool of buffered letters, used only when they outgrow the buffer. */
  private readonly spoolPath: string;
  private buffer = '';
  /** Temp file descriptor, opened only when the buffer overflows once. */
  private fd: number | undefined;
  private state: 'open' | 'committed' | 'aborted' = 'open';

  constructor(
    private readonly place: Place,
    private readonly unit: UnitContext,
  ) {
    this.key = deadLetterKeyFor(unit.outputStem);
    // Local: beside the final file (same disk as the output); S3: the OS temp folder.
    this.spoolPath = tempPathFor(place.kind === 'local' ? place.uri(this.key) : path.join(os.tmpdir(), 'sluice-dead-letters', this.key));
  }

  get count(): number {
    return this.added;
  }

  add(rejections: Rejection[], stage: string): void {
    this.assertOpen('add');
    for (const rejection of rejections) {
      const raw = rejection.raw === undefined ? undefined : truncateUtf8(rejection.raw, MAX_RAW_BYTES);
      this.append({
        object: rejection.origin.object,
        line: rejection.origin.line,
        code: rejection.code,
        reason: rejection.reason,
        stage,
        raw,
        rawTruncated: raw !== undefined && raw !== rejection.raw ? true : undefined,
      });
    }
    this.spillIfFull();
  }

  addRecords(items: RejectedRecord[], sink: string): void {
    this.assertOpen('add');
    for (const { record, reason, code } of items) {
      this.append({
        object: record.origin.object,
        line: record.origin.line,
        code,
        reason,
        stage: 'sink',
        sink,
        record: { id: record.id, time: record.time, fields: record.fields },
      });
    }
    this.spillIfFull();
  }

  async commit(): Promise<string | null> {
    this.assertOpen('commit');
    try {
      const written = this.added > 0 ? await this.writeFile() : null;
      // No letters this attempt: an earlier attempt's file must not describe it.
      if (written === null) await this.place.remove(this.key);
      await this.place.removeLeftovers(this.key);
      this.state = 'committed';
      return written;
    } catch (err) {
      await this.abort();
      throw toSluiceError(err, 'sink', `dead letters of unit ${this.unit.id} (${this.place.uri(this.key)})`);
    }
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    this.buffer = '';
    if (this.fd !== undefined) {
      const fd = this.fd;
      this.fd = undefined;
      await closeFd(fd).catch(() => undefined);
    }
    await removeFile(this.spoolPath).catch(() => undefined);
  }

  private append(entry: Record<string, unknown>): void {
    this.buffer += stringifyDeadLetter(entry) + '\n';
    this.added += 1;
  }

  private spillIfFull(): void {
    if (this.buffer.length < BUFFER_LIMIT) return;
    try {
      if (this.fd === undefined) {
        mkdirSync(path.dirname(this.spoolPath), { recursive: true });
        this.fd = openSync(this.spoolPath, 'w');
      }
      writeFileSync(this.fd, this.buffer); // loops until all is written, unlike writeSync
      this.buffer = '';
    } catch (err) {
      throw toSluiceError(err, 'sink', `writing dead letters of unit ${this.unit.id} to ${this.spoolPath}`);
    }
  }

  /** Writes what is buffered to a staged object of the place and publishes it. */
  private async writeFile(): Promise<string> {
    const staged = await this.place.stage(this.key);
    try {
      if (this.fd !== undefined) {
        // Spilled letters: the spool file holds the start, the buffer the rest.
        const fd = this.fd;
        this.fd = undefined;
        if (this.buffer.length > 0) writeFileSync(fd, this.buffer);
        closeSync(fd);
        copyFileSync(this.spoolPath, staged.localPath);
        await removeFile(this.spoolPath);
        this.buffer = '';
      }
      const handle = await open(staged.localPath, this.buffer.length > 0 ? 'w' : 'r+');
      try {
        if (this.buffer.length > 0) await handle.writeFile(this.buffer);
        await handle.sync();
      } finally {
        await handle.close();
      }
      this.buffer = '';
      await staged.seal();
      crashPoint('mid-dead-letter-commit');
      return (await staged.publish()).uri;
    } catch (err) {
      await staged.discard();
      throw err;
    }
  }

  private assertOpen(action: string): void {
    if (this.state === 'open') return;
    throw new SluiceError(`dead letters of unit ${this.unit.id}: cannot ${action}, the writer is ${this.state}`, {
      code: 'DEAD_LETTERS_CLOSED',
      stage: 'sink',
      hint: 'this is a bug in the caller: open a new dead-letter writer for each attempt of a unit',
    });
  }
}

/** JSON of one dead letter; a value JSON cannot hold (bigint, circular) must not lose the letter. */
function stringifyDeadLetter(entry: Record<string, unknown>): string {
  try {
    return JSON.stringify(entry);
  } catch {
    const seen = new WeakSet<object>();
    return JSON.stringify(entry, (_key, value: unknown) => {
      if (typeof value === 'bigint') return value.toString();
      if (typeof value === 'object' && value !== null) {
        if (seen.has(value)) return '[circular]';
        seen.add(value);
      }
      return value;
    });
  }
}

/** Cuts `text` to at most `maxBytes` UTF-8 bytes, never inside a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short strings need no measuring.
  if (text.length * 3 <= maxBytes) return text;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  // Back off over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end -= 1;
  return bytes.toString('utf8', 0, end);
}
