/**
 * Dead letters of one unit: every rejected line or record, with where it came from and why, in
 * `<dir>/<outputStem>.rejected.ndjson` (one JSON object per line, uncompressed so it can be read
 * with any tool).
 *
 * Invariants:
 * - The file is a function of the unit's input and config: no wall-clock time, lines in the
 *   order they were added, fixed key order. A re-run of the unit writes it byte-identical.
 * - It appears atomically: written to a temp file beside it, fsync'd, renamed at `commit()`.
 * - No file when there is nothing to write; an earlier attempt's file is then deleted, so the
 *   dead letters always describe the last committed attempt only.
 * - Memory is bounded: lines are buffered up to 1 MiB, then appended to the temp file. `add`
 *   is synchronous (the runtime calls it between batches); it only touches the disk when a
 *   unit rejects more than 1 MiB of lines, which is rare and better slow than lost.
 */
import { closeSync, fsync, mkdirSync, openSync, writeFileSync, close } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { UnitContext } from '../core/component.js';
import { SluiceError, toSluiceError } from '../core/errors.js';
import type { Rejection, SluiceRecord } from '../core/record.js';
import { fsyncDirectory, listFolder, makeFolder, removeFile, TEMP_MARKER, tempPathFor } from '../core/atomic-file.js';

/** Longest `raw` kept per dead letter, in UTF-8 bytes. */
export const MAX_RAW_BYTES = 4096;
/** Buffered dead-letter text (UTF-16 code units) before it is appended to the temp file. */
const BUFFER_LIMIT = 1024 * 1024;

const fsyncFd = promisify(fsync);
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
  /** Makes the file visible (or removes a stale one when empty); returns its path or null. */
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
export function openDeadLetterWriter(dir: string, unit: UnitContext): DeadLetterWriter {
  return new UnitDeadLetterWriter(path.resolve(dir), unit);
}

class UnitDeadLetterWriter implements DeadLetterWriter {
  private added = 0;
  private readonly finalPath: string;
  private readonly tempPath: string;
  private buffer = '';
  /** Temp file descriptor, opened only when the buffer overflows once. */
  private fd: number | undefined;
  private state: 'open' | 'committed' | 'aborted' = 'open';

  constructor(
    private readonly dir: string,
    private readonly unit: UnitContext,
  ) {
    this.finalPath = path.join(dir, `${unit.outputStem}.rejected.ndjson`);
    this.tempPath = tempPathFor(this.finalPath);
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
      const changed = await this.removeStaleFiles(written !== null);
      if (written !== null || changed) await fsyncDirectory(this.dir);
      this.state = 'committed';
      return written;
    } catch (err) {
      await this.abort();
      throw toSluiceError(err, 'sink', `dead letters of unit ${this.unit.id} (${this.finalPath})`);
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
    await removeFile(this.tempPath).catch(() => undefined);
  }

  private append(entry: Record<string, unknown>): void {
    this.buffer += stringifyDeadLetter(entry) + '\n';
    this.added += 1;
  }

  private spillIfFull(): void {
    if (this.buffer.length < BUFFER_LIMIT) return;
    try {
      if (this.fd === undefined) {
        mkdirSync(this.dir, { recursive: true });
        this.fd = openSync(this.tempPath, 'w');
      }
      writeFileSync(this.fd, this.buffer); // loops until all is written, unlike writeSync
      this.buffer = '';
    } catch (err) {
      throw toSluiceError(err, 'sink', `writing dead letters of unit ${this.unit.id} to ${this.tempPath}`);
    }
  }

  /** Writes what is buffered, fsyncs and renames the temp file into place. */
  private async writeFile(): Promise<string> {
    if (this.fd === undefined) {
      for (const changed of await makeFolder(this.dir)) if (changed !== this.dir) await fsyncDirectory(changed);
      const handle = await open(this.tempPath, 'w');
      try {
        await handle.writeFile(this.buffer);
        await handle.sync();
      } finally {
        await handle.close();
      }
    } else {
      const fd = this.fd;
      if (this.buffer.length > 0) writeFileSync(fd, this.buffer);
      await fsyncFd(fd);
      this.fd = undefined;
      closeSync(fd);
    }
    this.buffer = '';
    await rename(this.tempPath, this.finalPath);
    return this.finalPath;
  }

  /**
   * Deletes temp files of this unit's dead letters left by other attempts, and the final file
   * when this attempt has none. Returns whether anything was deleted.
   */
  private async removeStaleFiles(keepFinal: boolean): Promise<boolean> {
    const finalName = path.basename(this.finalPath);
    const tempPrefix = '.' + finalName + TEMP_MARKER;
    let changed = false;
    for (const name of await listFolder(this.dir)) {
      const stale = name.startsWith(tempPrefix) || (!keepFinal && name === finalName);
      if (!stale) continue;
      await removeFile(path.join(this.dir, name));
      changed = true;
    }
    return changed;
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
