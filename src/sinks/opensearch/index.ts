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
 *   (refused, reset, timeout) or HTTP 429/5xx/408 for the request, for `retry.maxAttempts`
 *   attempts in a row or `retry.maxElapsedMs`; at once for a malformed response. A sink that is
 *   down therefore holds its units back rather than dead-lettering everything. A request answered
 *   400/401/403/404 fails the unit at once (not retryable: the configuration is wrong).
 * A 413 splits the request in halves, each sent on its own, down to one document.
 *
 * This file builds the bulk requests and sorts their answers into those outcomes (`classify`);
 * the retry loop, the 413 halving, the per-document re-sends, the in-flight window and the
 * writer's life cycle are the delivery kit's (core/delivery/), shared with the `http` sink.
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
import type { Sink, SinkWriter, UnitContext } from '../../core/component.js';
import { SluiceError, toSluiceError } from '../../core/errors.js';
import type { SluiceRecord } from '../../core/record.js';
import { parseRetryAfter, systemTiming, type BackoffPolicy, type RetryAfterCarrier, type RetryTiming } from '../../core/retry.js';
import { deliverySink, DeliveryUnitWriter } from '../../core/delivery/delivery-writer.js';
import type { Attempt, Verdict } from '../../core/delivery/send-with-retries.js';
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
  };
  return deliverySink(config.type, shared, (unit, signal) => new BulkUnitWriter(shared, unit, signal));
}

class BulkUnitWriter extends DeliveryUnitWriter<BulkBatch> {
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
        if (this.batch.count >= config.batchMaxRecords) await this.send();
        continue;
      }
      if (this.batch.count > 0) {
        // Full: send it, then start the next batch with this record.
        await this.send();
        this.batch = this.newBatch();
        if (this.append(record, this.batch)) continue;
      }
      await this.sendAlone(record);
    }
  }

  protected async flush(): Promise<void> {
    if (this.batch !== undefined && this.batch.count > 0) await this.send();
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
    await this.send(alone);
  }

  /** Sends a batch (by default the one being filled) once a slot of the in-flight window is free. */
  private async send(batch: BulkBatch | undefined = this.batch): Promise<void> {
    if (batch === this.batch) this.batch = undefined;
    if (batch === undefined || batch.count === 0) return;
    await this.dispatch(batch);
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

  protected override onSettled(batch: BulkBatch): void {
    this.recycle(batch);
  }

  protected async prepare(batch: BulkBatch): Promise<(attempt: number) => Promise<HttpResponse>> {
    const { config, transport, auth, bulkUrl } = this.shared;
    const signal = this.controller.signal;
    const plain = batch.payload();
    const body = config.compression === 'gzip' ? await gzipAsync(plain) : plain;
    return async () => {
      const headers: Record<string, string> = { 'content-type': 'application/x-ndjson', accept: 'application/json' };
      if (config.compression === 'gzip') headers['content-encoding'] = 'gzip';
      // Per attempt: a SigV4 signature is valid for a few minutes only.
      Object.assign(headers, await auth.headersFor({ url: bulkUrl, method: 'POST', headers, body }));
      return transport.send({ url: bulkUrl, method: 'POST', headers, body, signal });
    };
  }

  /**
   * A request that fails as a whole is retried while its error is retryable (no answer, 429, 5xx,
   * 408), then fails the unit; 413 splits it. A 200 is read item by item (bulk-response.ts); a
   * malformed one throws here and fails the unit.
   */
  protected classify({ response, error }: Attempt, batch: BulkBatch): Verdict {
    if (response === undefined) {
      if (error instanceof HttpRequestError && error.status === 413) return { kind: 'split' };
      if (!toSluiceError(error, 'sink').retryable) return { kind: 'fail', error };
      return { kind: 'retry', error, retryAfterMs: (error as RetryAfterCarrier).retryAfterMs, whenExhausted: 'fail' };
    }
    const outcome = readBulkResponse(response.body, batch, this.shared.action, this.shared.where);
    const retry = outcome.retry.map((at) => ({ at, reason: batch.lastErrors?.[at] || 'transient item error' }));
    const retryAfterMs = retry.length === 0 ? undefined : parseRetryAfter(response.headers['retry-after'], this.shared.timing.now());
    return { kind: 'delivered', records: { delivered: outcome.delivered, rejected: outcome.rejected, retry, retryAfterMs } };
  }

  protected tooLarge(batch: BulkBatch): string {
    return `HTTP 413: the cluster refuses a bulk request of this one document (${batch.length} bytes)`;
  }

  protected override onDelivered(batch: BulkBatch, positions: readonly number[] | undefined): void {
    let lastIndex: string | undefined;
    for (const i of positions ?? batch.indices.keys()) {
      const index = batch.indices[i]!;
      if (index !== lastIndex) this.indices.add((lastIndex = index));
    }
  }
}

const resolveBulkPaths = <C extends BulkSinkConfig>(config: C, resolveLocal: (p: string) => string): C =>
  config.tls?.ca === undefined ? config : { ...config, tls: { ...config.tls, ca: resolveLocal(config.tls.ca) } };

/** The catalog's entries: `{ type: opensearch | elasticsearch, url, index, ... }` (the same bulk API). */
export const opensearchSinkComponent = defineSink({ type: 'opensearch', schema: opensearchSinkSchema, create: (config) => createBulkSink(config), resolvePaths: resolveBulkPaths });
export const elasticsearchSinkComponent = defineSink({ type: 'elasticsearch', schema: elasticsearchSinkSchema, create: (config) => createBulkSink(config), resolvePaths: resolveBulkPaths });
