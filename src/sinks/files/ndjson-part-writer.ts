/**
 * Writes one NDJSON part (optionally gzip) to a temp file beside its final name.
 *
 * Invariants:
 * - Lines are UTF-8-encoded straight into a 256 KiB Buffer (`buffer.write`, which also tells
 *   the exact byte count for free) and handed to zlib or the file a full buffer at a time,
 *   never line by line. Measured: concatenating lines into one string and converting it costs
 *   3-4x more than encoding them into a Buffer, and one zlib call per line would be worse.
 *   A handed-over Buffer is never reused (zlib may still hold it); a fresh one is allocated.
 * - Backpressure is respected: `flush()` waits for gzip's `drain` when it asks for it (and for
 *   each file write without gzip), so memory per part stays bounded: the line buffer, up to
 *   1 MiB of input queued in zlib (so serialization overlaps compression in the thread pool),
 *   the zlib window and one output chunk.
 * - The gzip output is a function of the bytes alone: Node's gzip header carries mtime 0 and no
 *   file name, the level is fixed by the config, and buffers are cut at the same places for
 *   the same input. (Another Node version may bundle a zlib that compresses differently; the
 *   decompressed content is the same.)
 * - `finish()` ends the stream, fsyncs and closes the temp file; the file keeps its temp name.
 *   Renaming it into place is the unit writer's job, at commit, after every part is finished.
 */
import { once } from 'node:events';
import type { FileHandle } from 'node:fs/promises';
import { createGzip, type Gzip, type ZlibOptions } from 'node:zlib';
import { writeFully } from '../../core/atomic-file.js';
import { openPartFile, PartFileWriter } from './part-file-writer.js';

export interface PartWriterOptions {
  compression: 'gzip' | 'none';
  /** 1 (fastest) .. 9 (smallest). */
  gzipLevel: number;
}

/** Size of the buffers lines are encoded into, each handed to zlib (or the file) in one call. */
const BATCH_BYTES = 256 * 1024;
/** zlib output chunk size. */
const GZIP_CHUNK_SIZE = 256 * 1024;
/**
 * How much input zlib may hold queued before `write` asks us to wait: a few batches, so the
 * main thread serializes the next batch while the thread pool compresses the previous one.
 */
const GZIP_INPUT_HIGH_WATER_MARK = 1024 * 1024;

export class NdjsonPartWriter extends PartFileWriter {
  /** Uncompressed bytes appended so far (what the part size target is measured against). */
  bytes = 0;
  /** Lines appended so far. */
  lines = 0;

  /** What the part size target is measured against: uncompressed bytes (UnitPart). */
  get size(): number {
    return this.bytes;
  }

  /** Records in the part (UnitPart). */
  get records(): number {
    return this.lines;
  }

  private batch = Buffer.allocUnsafe(BATCH_BYTES);
  private used = 0;
  /** Full batches waiting for `flush()`. */
  private readonly ready: Buffer[] = [];
  /** The gzip stream; absent without compression, where batches go straight to the file. */
  private readonly gzip: Gzip | undefined;
  /** Settles when everything given to gzip is in the file (resolved at once without gzip). */
  private readonly done: Promise<void>;
  private failure: Error | undefined;

  private constructor(
    tempPath: string,
    handle: FileHandle,
    options: PartWriterOptions,
  ) {
    super(tempPath, handle);
    if (options.compression === 'gzip') {
      const gzipOptions = {
        level: options.gzipLevel,
        chunkSize: GZIP_CHUNK_SIZE,
        // Passed through to the Transform constructor (not in ZlibOptions' type).
        writableHighWaterMark: GZIP_INPUT_HIGH_WATER_MARK,
      } as ZlibOptions;
      this.gzip = createGzip(gzipOptions);
      this.done = copyToFile(this.gzip, handle);
      // Remember the first failure (disk full, ...) so the next call reports it; never unhandled.
      this.done.catch((err: Error) => {
        this.failure ??= err;
      });
    } else {
      this.done = Promise.resolve();
    }
  }

  /** Opens `tempPath` (a staged file of the sink's place, see core/place) for writing. */
  static async open(path: string, options: PartWriterOptions): Promise<NdjsonPartWriter> {
    const { tempPath, handle } = await openPartFile(path);
    return new NdjsonPartWriter(tempPath, handle, options);
  }

  /**
   * Appends one line (ending in a newline). Returns true when a full batch is waiting: the
   * caller should then `await flush()` before appending more.
   */
  append(line: string): boolean {
    const room = BATCH_BYTES - this.used;
    // A UTF-16 code unit takes at most 3 UTF-8 bytes; measure exactly only near the end.
    if (line.length * 3 > room && Buffer.byteLength(line) > room) {
      this.sealBatch();
      if (line.length * 3 > BATCH_BYTES && Buffer.byteLength(line) > BATCH_BYTES) {
        // A line longer than a whole batch travels on its own.
        const own = Buffer.from(line);
        this.ready.push(own);
        this.bytes += own.length;
        this.lines += 1;
        return true;
      }
    }
    const written = this.batch.write(line, this.used);
    this.used += written;
    this.bytes += written;
    this.lines += 1;
    return this.ready.length > 0;
  }

  /** Hands waiting batches to gzip (or the file), waiting for gzip to drain when it asks to. */
  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    while (this.ready.length > 0) {
      const chunk = this.ready.shift()!;
      if (this.gzip === undefined) await writeFully(this.handle, chunk);
      else if (!this.gzip.write(chunk)) await this.drained(this.gzip);
    }
  }

  /** Flushes everything, ends the stream, fsyncs and closes the temp file. */
  async finish(): Promise<void> {
    this.sealBatch(false);
    await this.flush();
    this.gzip?.end();
    await this.done;
    await this.closeFinished();
  }

  protected override release(): void {
    this.ready.length = 0;
    this.used = 0;
  }

  protected override async stopWriting(): Promise<void> {
    this.gzip?.destroy();
    await this.done.catch(() => undefined);
  }

  /** Moves the bytes of the current batch to the ready list; starts a fresh batch if `more`. */
  private sealBatch(more = true): void {
    if (this.used > 0) this.ready.push(this.batch.subarray(0, this.used));
    if (this.used > 0 || !more) this.batch = more ? Buffer.allocUnsafe(BATCH_BYTES) : Buffer.alloc(0);
    this.used = 0;
  }

  private async drained(gzip: Gzip): Promise<void> {
    // Also wakes up when copying to the file fails, which would otherwise never drain gzip.
    await Promise.race([once(gzip, 'drain'), this.done]);
    if (this.failure) throw this.failure;
  }
}

/** Copies gzip's output to the file, one chunk at a time; pulling is gzip's backpressure. */
async function copyToFile(gzip: Gzip, handle: FileHandle): Promise<void> {
  for await (const chunk of gzip) await writeFully(handle, chunk as Buffer);
}
