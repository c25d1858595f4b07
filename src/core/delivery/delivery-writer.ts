/**
 * What the unit writers of the delivering sinks (`http`, `opensearch`/`elasticsearch`) share:
 * the writer's life cycle (open → committing → committed, or aborted/failed), the unit's abort
 * signal ending every wait at once, the first failure kept (secrets redacted) and stopping the
 * unit's other requests, and the commit's accounting check.
 *
 * Invariants:
 * - A commit settles every request the writer started before it answers, and succeeds only if
 *   every record written was delivered or rejected for good: written = delivered + rejected.
 * - After a failure or an abort nothing more is sent: `controller` aborts the requests in flight.
 * - Messages and rejection reasons never hold a secret value the sink uses.
 */
import type { SinkCommit, SinkWriter, UnitContext } from '../component.js';
import { SluiceError, toSluiceError } from '../errors.js';
import type { SluiceRecord } from '../record.js';
import { redactSecrets } from '../secrets.js';

/** What a writer needs of its sink: the name used in messages and the set of open writers. */
export interface DeliverySinkShared {
  /** `http sink https://…` / `opensearch sink …`: the start of every message. */
  where: string;
  writers: Set<SinkWriter>;
}

export abstract class DeliveryUnitWriter implements SinkWriter {
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
