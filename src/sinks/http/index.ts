/**
 * The `http` sink: batches of records POSTed (or PUT) as a JSON array, NDJSON, or one JSON object
 * `{<key field>: <value field>}` (`asObject`), optionally gzip-compressed, to a URL that may be a
 * template filled from the records (`.../connection_sets/{bucket_start}`): records are batched per
 * resulting URL, in input order, up to `batchMaxRecords` / `batchMaxBytes`.
 *
 * Each request carries an idempotency key (header `Idempotency-Key` by default): the first 32 hex
 * digits of the SHA-256 of the batch's record ids. Batches are a function of the input and the
 * config, so a retried request, and the same batch in a re-run of the unit, carry the same key and
 * a receiver can drop the repeat.
 *
 * Delivery rules, per batch (every record ends delivered, rejected with a reason, or its unit
 * fails):
 * - 2xx: delivered.
 * - 408, 429, 5xx: retried with backoff and full jitter, never sooner than Retry-After; after
 *   `retry.maxAttempts` attempts (default 5) or `retry.maxElapsedMs`, the batch's records are
 *   rejected with the last answer (-> dead letters): the server is up but keeps refusing them.
 * - 413: the batch is split in halves, down to one record, which is then rejected.
 * - 401, 403, 404, 405, 406: the unit fails, not retryable (a wrong URL or credentials would
 *   otherwise dead-letter everything).
 * - other 4xx (400, 409, 422...): the endpoint refuses this content: rejected at once.
 * - no answer (refused, reset, timeout): retried likewise; when retries run out the unit fails
 *   (retryable) and the ledger retries it later: a receiver that is down does not turn records
 *   into dead letters.
 * - a record without a field the URL template or asObject needs, or that JSON cannot hold:
 *   rejected.
 *
 * Backpressure, memory and accounting work as in the opensearch sink: a full batch waits for a
 * slot of the sink instance's in-flight window (`maxInFlight`, default 4), keeps it through its
 * retries, and `commit()` waits for every batch of the unit. At most 64 URL batches are filled at
 * once per unit; beyond that the oldest is sent early. This file builds the requests and
 * classifies their answers by the rules above; the retry loop, the 413 halving, the window and
 * the writer's life cycle are the delivery kit's (core/delivery/).
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Sink, SinkWriter, UnitContext } from '../../core/component.js';
import { SluiceError, toSluiceError } from '../../core/errors.js';
import type { SluiceRecord } from '../../core/record.js';
import { systemTiming, type BackoffPolicy, type RetryTiming } from '../../core/retry.js';
import type { DeliveryBatch } from '../../core/delivery/batch-delivery.js';
import { deliverySink, DeliveryUnitWriter } from '../../core/delivery/delivery-writer.js';
import type { Attempt, Verdict } from '../../core/delivery/send-with-retries.js';
import { isAsyncSecretRef, maskUrlCredentials, resolveSecretRef, resolveSecretRefAsync, type AwsSecretOptions } from '../../core/secrets.js';
import { createNdjsonLineEncoder, type NdjsonLineEncoder } from '../../core/ndjson-line.js';
import type { HttpSinkConfig } from './config.js';
import { InFlightWindow } from '../../core/delivery/in-flight-window.js';
import { HttpRequestError, HttpTransport, type HttpResponse } from '../../core/delivery/transport.js';
import { compileUrlTemplate, type UrlTemplate } from './url-template.js';
import { defineSink } from '../../core/component.js';
import { httpSinkSchema } from './config.js';

export type { HttpSinkConfig } from './config.js';

const gzipAsync = promisify(gzip);
const MAX_OPEN_BATCHES = 64;
/** Statuses that mean the configuration is wrong, not the records. */
const CONFIG_STATUSES = new Set([401, 403, 404, 405, 406]);

export interface HttpSinkOptions {
  timing?: Partial<RetryTiming>;
  secretOptions?: AwsSecretOptions;
}

interface HttpSinkShared {
  config: HttpSinkConfig;
  /** `http https://host/path` (credentials masked), for messages. */
  where: string;
  template: UrlTemplate;
  encodeRecord: NdjsonLineEncoder;
  transport: HttpTransport;
  window: InFlightWindow;
  policy: BackoffPolicy;
  timing: RetryTiming;
  /** Static headers with secrets resolved (async references on first use). */
  headers: () => Promise<Record<string, string>>;
  secrets: string[];
  writers: Set<SinkWriter>;
}

/** Records bound for one URL, with their JSON texts. */
class UrlBatch implements DeliveryBatch<UrlBatch> {
  readonly records: SluiceRecord[] = [];
  /** Each record's JSON (an element of the array, a line, or a `"key":value` member). */
  readonly texts: string[] = [];
  /** Body bytes so far, brackets included (while the batch is filled). */
  bytes = 2;

  constructor(readonly url: string) {}

  slice(from: number, to: number): UrlBatch {
    const part = new UrlBatch(this.url);
    part.records.push(...this.records.slice(from, to));
    part.texts.push(...this.texts.slice(from, to));
    return part;
  }

  pick(which: readonly number[]): UrlBatch {
    const part = new UrlBatch(this.url);
    for (const i of which) {
      part.records.push(this.records[i]!);
      part.texts.push(this.texts[i]!);
    }
    return part;
  }
}

/**
 * Creates the `http` sink. Reads env:/file: secrets of the headers and URL now.
 *
 * @example
 * const sink = createHttpSink({ type: 'http', url: 'https://example.com/connection_sets/{bucket_start}', method: 'POST',
 *   encoding: 'json', asObject: { key: 'ip', value: 'peers' }, idField: false, compression: 'none',
 *   headers: { Authorization: 'env:API_TOKEN' }, idempotencyHeader: 'Idempotency-Key', batchMaxRecords: 100_000,
 *   batchMaxBytes: 10_000_000, maxInFlight: 4, timeoutMs: 30_000, retry: { initialDelayMs: 200, maxDelayMs: 30_000, maxAttempts: 5, maxElapsedMs: 300_000 } });
 */
export function createHttpSink(config: HttpSinkConfig, options: HttpSinkOptions = {}): Sink {
  const secrets: string[] = [];
  const remember = (value: string) => {
    if (!secrets.includes(value)) secrets.push(value);
    return value;
  };
  const { template: rawTemplate, username, password } = splitTemplateCredentials(config.url);
  const where = `http ${maskUrlCredentials(config.url)}`;
  let template: UrlTemplate;
  try {
    template = compileUrlTemplate(rawTemplate);
  } catch (err) {
    throw toSluiceError(err, 'config', where);
  }
  const staticHeaders: Record<string, string> = {
    'content-type': config.encoding === 'ndjson' ? 'application/x-ndjson' : 'application/json',
    accept: 'application/json, */*',
  };
  if (config.compression === 'gzip') staticHeaders['content-encoding'] = 'gzip';
  if (password !== undefined || username !== undefined) {
    staticHeaders['authorization'] = `Basic ${Buffer.from(`${username ?? ''}:${remember(password ?? '')}`).toString('base64')}`;
  }
  const asyncHeaders: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(config.headers)) {
    if (isAsyncSecretRef(value)) asyncHeaders.push([name.toLowerCase(), value]);
    else staticHeaders[name.toLowerCase()] = value.startsWith('env:') || value.startsWith('file:') ? remember(resolveSecretRef(value)) : value;
  }
  let resolvedHeaders: Promise<Record<string, string>> | undefined;
  const headers = () => {
    resolvedHeaders ??= (async () => {
      const out = { ...staticHeaders };
      for (const [name, ref] of asyncHeaders) out[name] = remember(await resolveSecretRefAsync(ref, options.secretOptions));
      return out;
    })().catch((err: unknown) => {
      resolvedHeaders = undefined;
      throw err;
    });
    return resolvedHeaders;
  };
  const shared: HttpSinkShared = {
    config,
    where,
    template,
    encodeRecord: createNdjsonLineEncoder(config.idField),
    transport: new HttpTransport({ connections: config.maxInFlight, timeoutMs: config.timeoutMs, tls: config.tls, describe: where }),
    window: new InFlightWindow(config.maxInFlight),
    policy: { ...config.retry },
    timing: { ...systemTiming, ...options.timing },
    headers,
    secrets,
    writers: new Set(),
  };
  return deliverySink('http', shared, (unit, signal) => new HttpUnitWriter(shared, unit, signal));
}

/** Removes `user:pass@` from a URL template, returning the credentials decoded. */
function splitTemplateCredentials(url: string): { template: string; username?: string; password?: string } {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/@?#]*)@/i.exec(url);
  if (!match) return { template: url };
  const userinfo = match[2]!;
  const colon = userinfo.indexOf(':');
  const username = decodeURIComponent(colon === -1 ? userinfo : userinfo.slice(0, colon));
  const password = colon === -1 ? undefined : decodeURIComponent(userinfo.slice(colon + 1));
  return { template: match[1]! + url.slice(match[0].length), username: username === '' ? undefined : username, password };
}

/** The idempotency key of a batch: the first 32 hex digits of SHA-256 over its record ids. */
export function batchIdempotencyKey(records: readonly { id: string }[]): string {
  const hash = createHash('sha256');
  for (const record of records) hash.update(record.id).update('\n');
  return hash.digest('hex').slice(0, 32);
}

class HttpUnitWriter extends DeliveryUnitWriter<UrlBatch> {
  private readonly open = new Map<string, UrlBatch>();
  private readonly urls = new Set<string>();

  constructor(
    private readonly shared: HttpSinkShared,
    unit: UnitContext,
    signal?: AbortSignal,
  ) {
    super(shared, unit, shared.secrets, signal);
  }

  async write(records: SluiceRecord[]): Promise<void> {
    this.assertOpen('write');
    const { config, template } = this.shared;
    for (const record of records) {
      this.written += 1;
      let url: string;
      let text: string;
      try {
        url = template.render(record);
        text = this.encode(record);
      } catch (err) {
        if (err instanceof SluiceError && err.stage === 'sink') {
          this.reject(record, err.message, err.code);
          continue;
        }
        throw this.fail(err);
      }
      const bytes = Buffer.byteLength(text) + 1;
      let batch = this.open.get(url);
      if (batch && batch.records.length > 0 && batch.bytes + bytes > config.batchMaxBytes) {
        await this.send(batch);
        batch = undefined;
      }
      if (!batch) {
        if (this.open.size >= MAX_OPEN_BATCHES) await this.send(this.open.values().next().value!);
        batch = new UrlBatch(url);
        this.open.set(url, batch);
      }
      batch.records.push(record);
      batch.texts.push(text);
      batch.bytes += bytes;
      if (batch.records.length >= config.batchMaxRecords || batch.bytes >= config.batchMaxBytes) await this.send(batch);
    }
  }

  protected async flush(): Promise<void> {
    for (const batch of [...this.open.values()]) await this.send(batch);
  }

  protected discard(): void {
    this.open.clear();
  }

  protected outputs(): string[] {
    return [...this.urls].sort().map(maskUrlCredentials);
  }

  /** One record as JSON text: an array element / NDJSON line (no newline), or an object member. */
  private encode(record: SluiceRecord): string {
    const asObject = this.shared.config.asObject;
    if (asObject === undefined) {
      const line = this.shared.encodeRecord(record);
      return line.slice(0, -1);
    }
    const key = record.fields[asObject.key];
    if (key === undefined || key === null || typeof key === 'object') {
      throw new SluiceError(`record ${record.id} (${record.origin.object} line ${record.origin.line}) has no scalar field "${asObject.key}" for asObject.key`, {
        code: 'SINK_RECORD_FIELD_MISSING',
        stage: 'sink',
      });
    }
    let value: string | undefined;
    try {
      value = JSON.stringify(record.fields[asObject.value]);
    } catch (err) {
      throw new SluiceError(`record ${record.id} (${record.origin.object} line ${record.origin.line}): field "${asObject.value}" cannot be written as JSON (${(err as Error).message})`, {
        code: 'SINK_RECORD_UNSERIALIZABLE',
        stage: 'sink',
      });
    }
    return JSON.stringify(String(key)) + ':' + (value ?? 'null');
  }

  private async send(batch: UrlBatch): Promise<void> {
    this.open.delete(batch.url);
    await this.dispatch(batch);
  }

  protected async prepare(batch: UrlBatch): Promise<(attempt: number) => Promise<HttpResponse>> {
    const { config, transport } = this.shared;
    const signal = this.controller.signal;
    const plain = this.body(batch.texts);
    const body = config.compression === 'gzip' ? await gzipAsync(plain) : plain;
    const url = new URL(batch.url);
    const keyHeader = config.idempotencyHeader === false ? undefined : config.idempotencyHeader.toLowerCase();
    const key = keyHeader === undefined ? '' : batchIdempotencyKey(batch.records);
    return async () => {
      const headers = { ...(await this.shared.headers()) };
      if (keyHeader !== undefined) headers[keyHeader] = key;
      return transport.send({ url, method: config.method, headers, body, signal });
    };
  }

  protected classify({ error }: Attempt): Verdict {
    if (error === undefined) return { kind: 'delivered' };
    if (!(error instanceof HttpRequestError)) return { kind: 'fail', error };
    if (error.status === 413) return { kind: 'split' };
    if (error.status !== undefined && CONFIG_STATUSES.has(error.status)) return { kind: 'fail', error };
    if (error.status !== undefined && !error.retryable) return { kind: 'rejected', reason: error.message, code: error.code };
    // The server answered every time: these records are what it refuses. No answer at all: the unit waits.
    return { kind: 'retry', error, retryAfterMs: error.retryAfterMs, whenExhausted: error.status === undefined ? 'fail' : 'reject' };
  }

  protected tooLarge(batch: UrlBatch): string {
    return `HTTP 413: the endpoint refuses a request of this one record (${Buffer.byteLength(batch.texts[0]!) + 1} bytes)`;
  }

  protected override onDelivered(batch: UrlBatch): void {
    this.urls.add(batch.url);
  }

  private body(texts: string[]): Buffer {
    const { encoding, asObject } = this.shared.config;
    if (encoding === 'ndjson') return Buffer.from(texts.join('\n') + '\n');
    const open = asObject ? '{' : '[';
    const close = asObject ? '}' : ']';
    return Buffer.from(open + texts.join(',') + close);
  }
}

/** The catalog's entry: `{ type: http, url, ... }`. */
export const httpSinkComponent = defineSink({
  type: 'http',
  schema: httpSinkSchema,
  create: (config) => createHttpSink(config),
  resolvePaths: (config, resolveLocal) => (config.tls?.ca === undefined ? config : { ...config, tls: { ...config.tls, ca: resolveLocal(config.tls.ca) } }),
});
