/**
 * The `opensearch` and `elasticsearch` sinks: records indexed with the `_bulk` API, `_id` = the
 * record's deterministic id, so a retried request or a replayed unit overwrites (`index`) or is
 * answered 409 = already there (`create`, data streams) instead of duplicating.
 *
 * Delivery rules (every record written to a unit ends in exactly one of these):
 * - delivered: its bulk item came back 2xx (or 409 for `create`);
 * - rejected, with the item's error (-> dead letters): a permanent item error (mapping or parse
 *   error, any 4xx other than 408/409-on-create/429), a transient item error (429, 5xx, 408,
 *   cluster_block_exception) that persisted for `retry.maxAttempts` sends or `retry.maxElapsedMs`,
 *   a document bigger than 10 MiB or alone in a request the server still answers 413, a record
 *   JSON cannot hold, a record without event time for a dated index template;
 * - neither, and the unit fails (retryable: the ledger retries the unit later, after its own
 *   backoff, and a re-run overwrites by _id): when a whole request keeps failing, i.e. no answer
 *   (refused, reset, timeout), HTTP 429/5xx/408 for the request, or a malformed response, for
 *   `retry.maxAttempts` attempts in a row or `retry.maxElapsedMs`. A sink that is down therefore
 *   holds its units back rather than dead-lettering everything. A request answered 400/401/403/404
 *   fails the unit at once (not retryable: the configuration is wrong).
 * A 413 splits the request in halves, each sent on its own, down to one document.
 *
 * Defaults: batches of 5 MB or 10,000 documents; 4 requests in flight per sink instance (per
 * worker thread); waits uniform in [0, min(30 s, 200 ms * 2^n)] (full jitter), never shorter than
 * a Retry-After; 10 attempts or 5 minutes, for a request as for a document.
 *
 * Backpressure and memory: a unit's writer fills one batch; a full batch takes a slot of the
 * sink's in-flight window before it is sent, and `write()` waits for that slot. A batch keeps its
 * slot until all its documents are settled, retries included. So at most `maxInFlight` batches
 * per worker thread are in memory besides one being filled per running unit, and a slow or
 * throttling cluster slows the readers down. `commit()` waits until every document of the unit
 * is delivered or rejected; the first request failure stops the unit's other requests.
 */
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { setImmediate } from 'node:timers/promises';
import type { Sink, SinkWriter, UnitContext } from '../../core/component.js';
import { SluiceError, toSluiceError } from '../../core/errors.js';
import type { SluiceRecord } from '../../core/record.js';
import { backoffDelay, exhausted, nextRetryDelay, parseRetryAfter, systemTiming, type BackoffPolicy, type RetryTiming } from '../../core/retry.js';
import { DeliveryUnitWriter } from '../../core/delivery/delivery-writer.js';
import type { AwsSecretOptions } from '../../core/secrets.js';
import { InFlightWindow } from '../../core/delivery/in-flight-window.js';
import { HttpRequestError, HttpTransport, splitUrlCredentials, type HttpResponse } from '../../core/delivery/transport.js';
import { createRequestAuthorizer, type AwsCredentialSource, type RequestAuthorizer } from './auth.js';
import { BulkBatch, createBulkEncoder, type BulkEncoder } from './bulk-request.js';
import { readBulkResponse } from './bulk-response.js';
import { BULK_MAX_BYTES_CAP, type BulkSinkConfig } from './config.js';
import { compileIndexTemplate } from './index-name.js';
import { defineSink } from '../../core/component.js';
import { elasticsearchSinkSchema, opensearchSinkSchema } from './config.js';

export type { BulkSinkConfig } from './config.js';

const gzipAsync = promisify(gzip);

export interface BulkSinkOptions {
  /** Clock, sleep and random source for retries (tests pass fake ones). */
  timing?: Partial<RetryTiming>;
  /** SigV4 credentials instead of the default AWS provider chain (tests). */
  awsCredentials?: AwsCredentialSource;
  /** Where aws-secretsmanager:/aws-ssm: references are read (tests). */
  secretOptions?: AwsSecretOptions;
}

/** What every unit writer of one sink instance shares. */
interface BulkSinkShared {
  name: string;
  /** `opensearch http://host:9200` (credentials masked), for messages. */
  where: string;
  /** Cluster URL without credentials, for outputs. */
  base: string;
  bulkUrl: URL;
  config: BulkSinkConfig;
  action: 'index' | 'create';
  encoder: BulkEncoder;
  transport: HttpTransport;
  window: InFlightWindow;
  auth: RequestAuthorizer;
  policy: BackoffPolicy;
  timing: RetryTiming;
  writers: Set<SinkWriter>;
  /** Batch buffers of batchMaxBytes back from finished requests, reused (no fresh pages to fault in). */
  spareBuffers: Buffer[];
  closed: boolean;
}

/**
 * Creates an `opensearch` or `elasticsearch` sink (the same implementation; the name is the
 * flavour). Reads env:/file: secrets now; throws a config error when one is missing.
 *
 * @example
 * const sink = createBulkSink(parsePipeline(yaml).sinks[0]);
 * const writer = sink.openUnit(unit);
 * await writer.write(records);
 * const { delivered, rejected } = await writer.commit();
 */
export function createBulkSink(config: BulkSinkConfig, options: BulkSinkOptions = {}): Sink {
  const { url, username, password } = splitUrlCredentials(config.url);
  const base = url.href.replace(/\/+$/, '');
  const where = `${config.type} ${base}`;
  const bulkUrl = new URL(`${url.pathname.replace(/\/+$/, '')}/_bulk`, url);
  if (config.pipeline !== undefined) bulkUrl.searchParams.set('pipeline', config.pipeline);
  // Only what is read back: real clusters add _shards, _seq_no... to every item, ~3x the bytes to parse.
  bulkUrl.searchParams.set('filter_path', 'errors,items.*._id,items.*.status,items.*.error');
  const action = config.action ?? (config.dataStream ? 'create' : 'index');
  const timestampField = config.timestampField === false ? undefined : (config.timestampField ?? (config.dataStream ? '@timestamp' : undefined));
  let namer;
  try {
    namer = compileIndexTemplate(config.index);
  } catch (err) {
    throw toSluiceError(err, 'config', where);
  }
  // Secrets first: a missing one throws before any connection pool exists.
  const auth = createRequestAuthorizer(config.auth, url, { urlCredentials: { username, password }, awsCredentials: options.awsCredentials, secretOptions: options.secretOptions });
  const shared: BulkSinkShared = {
    name: config.type,
    where,
    base,
    bulkUrl,
    config,
    action,
    encoder: createBulkEncoder({ action, index: namer, indexTemplate: config.index, timestampField }),
    transport: new HttpTransport({ connections: config.maxInFlight, timeoutMs: config.timeoutMs, tls: config.tls, describe: where }),
    window: new InFlightWindow(config.maxInFlight),
    auth,
    policy: { ...config.retry },
    timing: { ...systemTiming, ...options.timing },
    writers: new Set(),
    spareBuffers: [],
    closed: false,
  };
  return {
    name: config.type,
    openUnit(unit, unitOptions) {
      if (shared.closed) throw new SluiceError(`${where}: the sink is closed`, { code: 'SINK_CLOSED', stage: 'sink', retryable: true });
      const writer = new BulkUnitWriter(shared, unit, unitOptions?.signal);
      shared.writers.add(writer);
      return writer;
    },
    async close() {
      shared.closed = true;
      const closing = new SluiceError(`${where}: the sink was closed while requests were pending`, { code: 'SINK_CLOSED', stage: 'sink', retryable: true });
      shared.window.close(closing);
      await Promise.allSettled([...shared.writers].map((w) => w.abort()));
      await shared.transport.close();
    },
  };
}

class BulkUnitWriter extends DeliveryUnitWriter {
  /** The batch being filled (allocated on the first record). */
  private batch: BulkBatch | undefined;
  private readonly indices = new Set<string>();

  constructor(
    private readonly shared: BulkSinkShared,
    unit: UnitContext,
    signal?: AbortSignal,
  ) {
    super(shared, unit, shared.auth.secrets, signal);
  }

  async write(records: SluiceRecord[]): Promise<void> {
    this.assertOpen('write');
    const { config } = this.shared;
    for (const record of records) {
      this.written += 1;
      this.batch ??= this.newBatch();
      if (this.append(record, this.batch)) {
        if (this.batch.count >= config.batchMaxRecords) await this.dispatch();
        continue;
      }
      if (this.batch.count > 0) {
        // Full: send it, then start the next batch with this record.
        await this.dispatch();
        this.batch = this.newBatch();
        if (this.append(record, this.batch)) continue;
      }
      await this.sendAlone(record);
    }
  }

  protected async flush(): Promise<void> {
    if (this.batch !== undefined && this.batch.count > 0) await this.dispatch();
    else if (this.batch !== undefined) this.recycle(this.batch);
    this.batch = undefined;
  }

  protected discard(): void {
    this.batch = undefined;
  }

  protected outputs(): string[] {
    return [...this.indices].sort().map((index) => `${this.shared.base}/${index}`);
  }

  /** Encodes a record into the batch; false when it does not fit. A record that cannot be sent is rejected (true). */
  private append(record: SluiceRecord, batch: BulkBatch): boolean {
    try {
      return this.shared.encoder.append(record, batch);
    } catch (err) {
      if (err instanceof SluiceError && (err.code === 'SINK_RECORD_UNSERIALIZABLE' || err.code === 'SINK_RECORD_NO_TIME')) {
        this.reject(record, err.message, err.code);
        return true;
      }
      throw this.fail(err);
    }
  }

  /** A document larger than a batch: sent in a request of its own, or rejected above the 10 MiB cap. */
  private async sendAlone(record: SluiceRecord): Promise<void> {
    const size = this.shared.encoder.sizeOf(record);
    if (size > BULK_MAX_BYTES_CAP) {
      this.reject(record, `the document is ${size} bytes, above the ${BULK_MAX_BYTES_CAP}-byte cap of one bulk request`, 'SINK_RECORD_TOO_LARGE');
      return;
    }
    const alone = new BulkBatch(size);
    if (!this.append(record, alone)) throw this.fail(new Error(`a ${size}-byte document did not fit a batch of its size`));
    await this.dispatch(alone);
  }

  /** Sends a batch (by default the one being filled) once a slot of the in-flight window is free. */
  private async dispatch(batch: BulkBatch | undefined = this.batch): Promise<void> {
    if (batch === this.batch) this.batch = undefined;
    if (batch === undefined || batch.count === 0) return;
    let release: () => void;
    try {
      release = await this.shared.window.acquire(this.controller.signal);
    } catch (err) {
      throw this.fail(err);
    }
    if (this.failure) {
      release();
      throw this.failure;
    }
    batch.firstSentAt = this.shared.timing.now();
    const task: Promise<void> = this.sendBatch(batch)
      .catch((err: unknown) => {
        this.fail(err);
      })
      .finally(() => {
        release();
        this.tasks.delete(task);
        this.recycle(batch);
      });
    this.tasks.add(task);
    // One turn of the event loop before encoding the next batch, so this request actually starts
    // going out (socket writes, the answers of earlier ones) instead of waiting until the writer's
    // caller next does I/O: with records at hand, a unit would otherwise encode batch after batch
    // while the cluster sits idle, then wait for it.
    await setImmediate();
  }

  private newBatch(): BulkBatch {
    const { config, spareBuffers } = this.shared;
    return new BulkBatch(config.batchMaxBytes, spareBuffers.pop());
  }

  /** Keeps the buffer of a settled batch for the next one (not after a failure: a request may still hold it). */
  private recycle(batch: BulkBatch): void {
    const { config, spareBuffers } = this.shared;
    if (this.failure || batch.body.length !== config.batchMaxBytes || spareBuffers.length > config.maxInFlight) return;
    spareBuffers.push(batch.body);
  }

  /** Sends documents until each is delivered or rejected; item-level retries stay in this task. */
  private async sendBatch(batch: BulkBatch): Promise<void> {
    const { policy, timing } = this.shared;
    let pending = batch;
    let round = 0;
    for (;;) {
      const response = await this.requestWithRetries(pending);
      if (response === 'too-large') {
        if (pending.count === 1) {
          this.reject(pending.records[0]!, `HTTP 413: the cluster refuses a bulk request of this one document (${pending.length} bytes)`, 'SINK_RECORD_TOO_LARGE');
          return;
        }
        const half = pending.count >> 1;
        await this.sendBatch(pending.slice(0, half));
        await this.sendBatch(pending.slice(half, pending.count));
        return;
      }
      const outcome = readBulkResponse(response.body, pending, this.shared.action, this.shared.where);
      this.delivered += outcome.delivered.length;
      let lastIndex: string | undefined;
      for (const i of outcome.delivered) {
        const index = pending.indices[i]!;
        if (index !== lastIndex) this.indices.add((lastIndex = index));
      }
      for (const r of outcome.rejected) this.reject(pending.records[r.at]!, r.reason, r.code);
      if (outcome.retry.length === 0) return;
      round += 1;
      const delay = backoffDelay(round, policy, timing.random, parseRetryAfter(response.headers['retry-after'], timing.now()));
      const resumeAt = timing.now() + delay;
      const attempts = (pending.attempts ??= new Array<number>(pending.count).fill(0));
      const keep: number[] = [];
      for (const i of outcome.retry) {
        attempts[i] = (attempts[i] ?? 0) + 1;
        if (attempts[i]! >= policy.maxAttempts || resumeAt - pending.firstSent(i) > policy.maxElapsedMs) {
          const seconds = Math.round((timing.now() - pending.firstSent(i)) / 100) / 10;
          const last = pending.lastErrors?.[i] || 'transient item error';
          this.reject(pending.records[i]!, `${last} (gave up after ${attempts[i]} attempts over ${seconds} s)`, 'SINK_ITEM_RETRIES_EXHAUSTED');
        } else {
          keep.push(i);
        }
      }
      if (keep.length === 0) return;
      pending = pending.pick(keep);
      await timing.sleep(delay, this.controller.signal);
    }
  }

  /**
   * One bulk request, retried while it fails as a whole. Resolves with the 200 response, or
   * 'too-large' for a 413; rejects when the failure is permanent or retries ran out.
   */
  private async requestWithRetries(batch: BulkBatch): Promise<HttpResponse | 'too-large'> {
    const { config, transport, auth, policy, timing, bulkUrl } = this.shared;
    const signal = this.controller.signal;
    const plain = batch.payload();
    const body = config.compression === 'gzip' ? await gzipAsync(plain) : plain;
    const state = { attempts: 0, firstAttemptAt: timing.now() };
    for (;;) {
      signal.throwIfAborted();
      state.attempts += 1;
      try {
        const headers: Record<string, string> = { 'content-type': 'application/x-ndjson', accept: 'application/json' };
        if (config.compression === 'gzip') headers['content-encoding'] = 'gzip';
        Object.assign(headers, await auth.headersFor({ url: bulkUrl, method: 'POST', headers, body }));
        return await transport.send({ url: bulkUrl, method: 'POST', headers, body, signal });
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        if (err instanceof HttpRequestError && err.status === 413) return 'too-large';
        const error = toSluiceError(err, 'sink');
        if (!error.retryable) throw err;
        const delay = nextRetryDelay(state, policy, timing, (err as HttpRequestError).retryAfterMs);
        if (delay === undefined) throw exhausted(err, state, timing.now(), 'sink');
        await timing.sleep(delay, signal);
      }
    }
  }

}

const resolveBulkPaths = <C extends BulkSinkConfig>(config: C, resolveLocal: (p: string) => string): C =>
  config.tls?.ca === undefined ? config : { ...config, tls: { ...config.tls, ca: resolveLocal(config.tls.ca) } };

/** The catalog's entries: `{ type: opensearch | elasticsearch, url, index, ... }` (the same bulk API). */
export const opensearchSinkComponent = defineSink({ type: 'opensearch', schema: opensearchSinkSchema, create: (config) => createBulkSink(config), resolvePaths: resolveBulkPaths });
export const elasticsearchSinkComponent = defineSink({ type: 'elasticsearch', schema: elasticsearchSinkSchema, create: (config) => createBulkSink(config), resolvePaths: resolveBulkPaths });
