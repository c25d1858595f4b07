/**
 * What the unit writers of the delivering sinks (`http`, `opensearch`/`elasticsearch`) share:
 * the writer's life cycle (open → committing → committed, or aborted/failed), the dispatch of a
 * full batch (a slot of the sink's in-flight window, then a task delivering it: batch-delivery.ts),
 * the unit's abort signal ending every wait at once, the first failure kept (secrets redacted)
 * and stopping the unit's other requests, and the commit's accounting check. A sink's writer
 * adds only how it fills batches, builds their requests and reads the answers.
 *
 * Invariants:
 * - A commit settles every request the writer started before it answers, and succeeds only if
 *   every record written was delivered or rejected for good: written = delivered + rejected.
 * - After a failure or an abort nothing more is sent: `controller` aborts the requests in flight.
 * - A batch holds its window slot until each of its records is settled, retries included.
 * - Messages and rejection reasons never hold a secret value the sink uses.
 */
import { setImmediate } from 'node:timers/promises';
import type { Sink, SinkCommit, SinkWriter, UnitContext } from '../component.js';
import { SluiceError, toSluiceError } from '../errors.js';
import type { SluiceRecord } from '../record.js';
import type { BackoffPolicy, RetryTiming } from '../retry.js';
import { redactSecrets } from '../secrets.js';
import { deliverBatch, type BatchRequests, type DeliveryAccount, type DeliveryBatch } from './batch-delivery.js';
import type { InFlightWindow } from './in-flight-window.js';
import type { Attempt, Verdict } from './send-with-retries.js';
import type { HttpResponse, HttpTransport } from './transport.js';

/** What a writer needs of its sink instance; one of each per sink, shared by its writers. */
export interface DeliverySinkShared {
  /** `http sink https://…` / `opensearch sink …`: the start of every message. */
  where: string;
  writers: Set<SinkWriter>;
  window: InFlightWindow;
  policy: BackoffPolicy;
  timing: RetryTiming;
}

/**
 * The Sink around a delivering sink's writers: `openUnit` refuses once the sink is closed;
 * `close()` fails the window's waiters, aborts every open writer, then closes the connections.
 *
 * @example
 * return deliverySink('http', shared, (unit, signal) => new HttpUnitWriter(shared, unit, signal));
 */
export function deliverySink(name: string, shared: DeliverySinkShared & { transport: HttpTransport }, openWriter: (unit: UnitContext, signal?: AbortSignal) => SinkWriter): Sink {
  let closed = false;
  return {
    name,
    openUnit(unit, unitOptions) {
      if (closed) throw new SluiceError(`${shared.where}: the sink is closed`, { code: 'SINK_CLOSED', stage: 'sink', retryable: true });
      const writer = openWriter(unit, unitOptions?.signal);
      shared.writers.add(writer);
      return writer;
    },
    async close() {
      closed = true;
      shared.window.close(new SluiceError(`${shared.where}: the sink was closed while requests were pending`, { code: 'SINK_CLOSED', stage: 'sink', retryable: true }));
      await Promise.allSettled([...shared.writers].map((w) => w.abort()));
      await shared.transport.close();
    },
  };
}

export abstract class DeliveryUnitWriter<B extends DeliveryBatch<B>> implements SinkWriter {
  /** Requests in flight (settled before commit or abort answers). */
  protected readonly tasks = new Set<Promise<void>>();
  /** Aborted on the first failure or on abort: every request of the unit stops. */
  protected readonly controller = new AbortController();
  protected written = 0;
  protected delivered = 0;
  protected readonly rejected: SinkCommit['rejected'] = [];
  protected state: 'open' | 'committing' | 'committed' | 'aborted' | 'failed' = 'open';
  protected failure: SluiceError | undefined;
  /** Removes the listener on the unit's signal once the writer is done. */
  private detach: () => void = () => undefined;
  private readonly requests: BatchRequests<B> = {
    prepare: (batch) => this.prepare(batch),
    classify: (attempt, batch) => this.classify(attempt, batch),
    tooLarge: (batch) => this.tooLarge(batch),
  };
  private readonly account: DeliveryAccount<B> = {
    delivered: (batch, positions) => {
      this.delivered += positions === undefined ? batch.records.length : positions.length;
      this.onDelivered(batch, positions);
    },
    reject: (record, reason, code) => this.reject(record, reason, code),
  };

  constructor(
    private readonly sink: DeliverySinkShared,
    protected readonly unit: UnitContext,
    /** Secret values in use (filled as they are read), redacted from messages. */
    private readonly secrets: readonly string[],
    signal?: AbortSignal,
  ) {
    // The unit's abort (lease lost, shutdown) ends every wait of this writer at once: the window
    // slot, a retry backoff, a request in flight. write()/commit() then reject, and the runtime aborts.
    if (signal) {
      const onAbort = () =>
        this.fail(new SluiceError(`${sink.where}: unit ${unit.id} aborted`, { code: 'ABORTED', stage: 'sink', retryable: true, cause: signal.reason }));
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        this.detach = () => signal.removeEventListener('abort', onAbort);
      }
    }
  }

  abstract write(records: SluiceRecord[]): Promise<void>;
  /** Sends what is still buffered (at commit). */
  protected abstract flush(): Promise<void>;
  /** Drops what is buffered without sending it (at abort). */
  protected abstract discard(): void;
  /** What a successful commit reports as written to. */
  protected abstract outputs(): string[];
  /** Builds the request of a batch once (its body); the function returned makes one attempt (headers, signing). */
  protected abstract prepare(batch: B): Promise<(attempt: number) => Promise<HttpResponse>>;
  /** What one attempt to send `batch` came to: the sink's rules of what is delivered, retried, refused. */
  protected abstract classify(attempt: Attempt, batch: B): Verdict;
  /** The reason a single record answered 413 is rejected with. */
  protected abstract tooLarge(batch: B): string;
  /** Records of `batch` were delivered (`positions`; undefined: all), e.g. to note where they went. */
  protected onDelivered(_batch: B, _positions: readonly number[] | undefined): void {}
  /** The batch's task ended, delivered or not (its buffers may be reused unless the writer failed). */
  protected onSettled(_batch: B): void {}

  async commit(): Promise<SinkCommit> {
    this.assertOpen('commit');
    this.state = 'committing';
    try {
      await this.flush();
    } catch (err) {
      this.fail(err);
    }
    await this.settle();
    if (this.failure) {
      this.state = 'failed';
      throw this.failure;
    }
    if (this.delivered + this.rejected.length !== this.written) {
      this.state = 'failed';
      throw new SluiceError(
        `${this.sink.where}: unit ${this.unit.id}: ${this.written} records written but ${this.delivered} delivered and ${this.rejected.length} rejected`,
        { code: 'SINK_ACCOUNTING', stage: 'sink', hint: 'this is a bug in the sink; please report it' },
      );
    }
    this.state = 'committed';
    return { outputs: this.outputs(), delivered: this.delivered, rejected: this.rejected };
  }

  async abort(): Promise<void> {
    if (this.state === 'committed' || this.state === 'aborted') return;
    this.state = 'aborted';
    this.discard();
    this.controller.abort(new SluiceError(`${this.sink.where}: unit ${this.unit.id} aborted`, { code: 'ABORTED', stage: 'sink', retryable: true }));
    await this.settle();
  }

  /**
   * Sends a full batch: waits for a slot of the sink's in-flight window (this wait is the
   * backpressure `write()` passes on), then delivers it in a task of the unit. Throws the unit's
   * failure instead once there is one.
   */
  protected async dispatch(batch: B): Promise<void> {
    let release: () => void;
    try {
      release = await this.sink.window.acquire(this.controller.signal);
    } catch (err) {
      throw this.fail(err);
    }
    if (this.failure) {
      release();
      throw this.failure;
    }
    const { policy, timing } = this.sink;
    const task: Promise<void> = deliverBatch(batch, this.requests, this.account, { policy, timing, signal: this.controller.signal })
      .catch((err: unknown) => {
        this.fail(err);
      })
      .finally(() => {
        release();
        this.tasks.delete(task);
        this.onSettled(batch);
      });
    this.tasks.add(task);
    // One turn of the event loop before the caller fills the next batch, so this request actually
    // starts going out (socket writes, the answers of earlier ones) instead of waiting until the
    // writer's caller next does I/O: with records at hand, a unit would otherwise encode batch
    // after batch while the server sits idle, then wait for it.
    await setImmediate();
  }

  /** Rejects a record for good, with the reason redacted (it goes to dead letters). */
  protected reject(record: SluiceRecord, reason: string, code: string): void {
    this.rejected.push({ record, reason: redactSecrets(reason, this.secrets), code });
  }

  /** Records the first failure (redacted), stops the unit's other requests, returns the failure. */
  protected fail(err: unknown): SluiceError {
    if (this.failure === undefined) {
      const e = toSluiceError(err, 'sink');
      const prefix = e.message.startsWith(this.sink.where) ? '' : `${this.sink.where}: `;
      this.failure = new SluiceError(redactSecrets(`${prefix}${e.message}`, this.secrets), {
        code: e.code,
        stage: 'sink',
        retryable: e.retryable,
        hint: e.hint,
        cause: err,
      });
      if (this.state === 'open') this.state = 'failed';
      this.controller.abort(this.failure);
    }
    return this.failure;
  }

  protected assertOpen(action: string): void {
    if (this.state === 'open') return;
    if (this.failure) throw this.failure;
    throw new SluiceError(`${this.sink.where}: cannot ${action} unit ${this.unit.id}: the writer is ${this.state}`, {
      code: 'SINK_WRITER_CLOSED',
      stage: 'sink',
      hint: 'this is a bug in the caller: open a new writer for each attempt of a unit',
    });
  }

  /** Waits for every request in flight, then leaves the sink's set of open writers. */
  private async settle(): Promise<void> {
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
    this.sink.writers.delete(this);
    this.detach();
  }
}
