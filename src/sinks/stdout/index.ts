/**
 * The `stdout` sink: one NDJSON line per record on standard output, for piping into `jq`,
 * `head` or another tool.
 *
 * Standard output cannot take back what it printed, so records are written as they come (one
 * chunk of whole lines per `write`, so units running at once never interleave inside a line)
 * and `commit()` only waits until everything was handed to the operating system. Backpressure
 * is respected: a `write` waits for `drain` when the stream asks for it.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { Sink, SinkCommit, SinkWriter, UnitContext } from '../../core/component.js';
import type { StdoutSinkConfig } from './config.js';
import { SluiceError, toSluiceError } from '../../core/errors.js';
import type { SluiceRecord } from '../../core/record.js';
import { createNdjsonLineEncoder, type NdjsonLineEncoder } from '../../core/ndjson-line.js';
import { defineSink } from '../../core/component.js';
import { stdoutSinkSchema } from './config.js';

export type { StdoutSinkConfig } from './config.js';

/**
 * Creates the `stdout` sink; `out` replaces process.stdout (tests).
 *
 * @example
 * const sink = createStdoutSink({ type: 'stdout', idField: '_id' });
 */
export function createStdoutSink(config: Pick<StdoutSinkConfig, 'idField'>, out: Writable = process.stdout): Sink {
  const encode = createNdjsonLineEncoder(config.idField);
  return {
    name: 'stdout',
    openUnit: (unit) => new StdoutUnitWriter(encode, out, unit),
  };
}

class StdoutUnitWriter implements SinkWriter {
  private delivered = 0;
  private readonly rejected: SinkCommit['rejected'] = [];
  /** Settles when the last chunk was handed to the OS (or failed). */
  private lastWrite: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly encode: NdjsonLineEncoder,
    private readonly out: Writable,
    private readonly unit: UnitContext,
  ) {}

  async write(records: SluiceRecord[]): Promise<void> {
    this.assertOpen('write');
    let chunk = '';
    let lines = 0;
    for (const record of records) {
      try {
        chunk += this.encode(record);
        lines += 1;
      } catch (err) {
        if (err instanceof SluiceError && err.code === 'SINK_RECORD_UNSERIALIZABLE') {
          this.rejected.push({ record, reason: err.message, code: err.code });
        } else throw err;
      }
    }
    if (chunk.length === 0) return;
    try {
      // One chunk of this unit in flight at a time: bounded memory, and failures surface here.
      await this.lastWrite;
      let written!: () => void;
      let failed!: (err: Error) => void;
      this.lastWrite = new Promise<void>((resolve, reject) => {
        written = resolve;
        failed = reject;
      });
      this.lastWrite.catch(() => undefined);
      const ready = this.out.write(chunk, (err) => (err ? failed(err) : written()));
      this.delivered += lines;
      if (!ready) await Promise.race([once(this.out, 'drain'), this.lastWrite]);
    } catch (err) {
      throw toSluiceError(err, 'sink', `stdout sink: writing unit ${this.unit.id}`);
    }
  }

  async commit(): Promise<SinkCommit> {
    this.assertOpen('commit');
    this.closed = true;
    try {
      await this.lastWrite;
    } catch (err) {
      throw toSluiceError(err, 'sink', `stdout sink: writing unit ${this.unit.id}`);
    }
    return { outputs: ['stdout'], delivered: this.delivered, rejected: this.rejected };
  }

  async abort(): Promise<void> {
    // What was printed cannot be taken back; a re-run prints the same lines again.
    this.closed = true;
  }

  private assertOpen(action: string): void {
    if (!this.closed) return;
    throw new SluiceError(`stdout sink: cannot ${action} unit ${this.unit.id}: the writer is closed`, {
      code: 'SINK_WRITER_CLOSED',
      stage: 'sink',
      hint: 'this is a bug in the caller: open a new writer for each attempt of a unit',
    });
  }
}

/** The catalog's entry: `{ type: stdout }`. */
export const stdoutSinkComponent = defineSink({ type: 'stdout', schema: stdoutSinkSchema, create: (config) => createStdoutSink(config) });
