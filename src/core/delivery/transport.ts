/**
 * The HTTP transport shared by the network sinks (`http`, `opensearch`/`elasticsearch`): one
 * undici Agent per sink instance (kept-alive connections reused across units, at most
 * `connections` per origin), TLS options, timeouts, and one error type for everything that can go
 * wrong with a request.
 *
 * Invariants:
 * - A request either resolves with the whole response (status, headers, body bytes) or rejects
 *   with an `HttpRequestError`: `status` is set when the server answered, absent when it could not
 *   be reached or the connection broke (`connectionFailure`). Retry decisions are the caller's.
 * - POST is never retried here (undici does not retry it either): the sinks decide, because only
 *   they know that their requests are idempotent.
 * - URLs in messages have their credentials masked; response text quoted in messages is cut to
 *   a few hundred characters and passed through the sink's redaction.
 */
import { readFileSync } from 'node:fs';
import { Agent } from 'undici';
import { SluiceError, toSluiceError } from '../errors.js';
import { maskUrlCredentials } from '../secrets.js';
import { parseRetryAfter } from '../retry.js';

export interface TlsOptions {
  /** PEM file of the certificate authorities to trust instead of the system's. */
  ca?: string;
  /** Accept any server certificate (self-signed test clusters only). */
  insecureSkipVerify?: boolean;
}

export interface HttpTransportOptions {
  /** Connections per origin (at least the sink's in-flight limit). */
  connections: number;
  /** Time allowed for a whole request (sending it, the answer and its body), in ms. */
  timeoutMs: number;
  tls?: TlsOptions;
  /** Where messages say the requests go (already masked); default: the request's origin. */
  describe?: string;
}

export interface HttpRequest {
  /** Absolute URL without credentials. */
  url: URL;
  method: 'POST' | 'PUT';
  headers: Record<string, string>;
  body: Buffer;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A failed request: the server's answer (status) or a failure to get one (no status). */
export class HttpRequestError extends SluiceError {
  /** HTTP status when the server answered. */
  readonly status?: number;
  /** What the server asked us to wait (Retry-After), in ms. */
  readonly retryAfterMs?: number;
  /** The response (when there was one), for callers that read an error body. */
  readonly response?: HttpResponse;

  constructor(
    message: string,
    options: { code: string; retryable: boolean; status?: number; retryAfterMs?: number; response?: HttpResponse; hint?: string; cause?: unknown },
  ) {
    super(message, { code: options.code, stage: 'sink', retryable: options.retryable, hint: options.hint, cause: options.cause });
    this.name = 'HttpRequestError';
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.response = options.response;
  }

  /** True when no HTTP answer came back (refused, reset, timed out, TLS failure). */
  get connectionFailure(): boolean {
    return this.status === undefined;
  }
}

/** TLS verification failures: configuration, not luck; retrying does not help. */
const CERTIFICATE_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED',
]);

/** Statuses worth another attempt: the server is busy or broken for now, not refusing the content. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export class HttpTransport {
  private readonly agent: Agent;

  constructor(private readonly options: HttpTransportOptions) {
    const connect: Record<string, unknown> = {};
    if (options.tls?.ca !== undefined) {
      try {
        connect['ca'] = readFileSync(options.tls.ca);
      } catch (err) {
        throw new SluiceError(`TLS: cannot read the CA file ${options.tls.ca} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, {
          code: 'CONFIG_INVALID',
          stage: 'config',
          hint: 'tls.ca must be a readable PEM file',
        });
      }
    }
    if (options.tls?.insecureSkipVerify) connect['rejectUnauthorized'] = false;
    this.agent = new Agent({
      connections: options.connections,
      pipelining: 1,
      keepAliveTimeout: 10_000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connect,
    });
  }

  /**
   * Sends one request and reads the whole response. Non-2xx answers reject with an
   * HttpRequestError carrying the status, Retry-After and the response.
   */
  async send(request: HttpRequest): Promise<HttpResponse> {
    const target = `${this.options.describe ?? maskUrlCredentials(request.url.origin)}: ${request.method} ${request.url.pathname}`;
    let response: HttpResponse;
    // undici's own timeouts tick at about 1 s: this one is exact and covers the whole exchange.
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    try {
      const answer = await this.agent.request({
        origin: request.url.origin,
        path: request.url.pathname + request.url.search,
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal,
      });
      const body = Buffer.from(await answer.body.arrayBuffer());
      response = { status: answer.statusCode, headers: answer.headers, body };
    } catch (err) {
      if (request.signal?.aborted) throw err;
      const wrapped = toSluiceError(err, 'sink');
      const code = (err as { code?: string }).code ?? wrapped.code;
      const what = timeout.aborted ? `timed out after ${this.options.timeoutMs} ms` : `${code}: ${wrapped.message}`;
      if (CERTIFICATE_ERRORS.has(code)) {
        throw new HttpRequestError(`${target}: the server's TLS certificate is not trusted (${what})`, {
          code: 'SINK_TLS_UNTRUSTED',
          retryable: false,
          hint: 'point tls.ca at the PEM of the authority that signed it (or, for a test cluster only, set tls.insecureSkipVerify: true)',
          cause: err,
        });
      }
      throw new HttpRequestError(`${target}: no response (${what})`, {
        code: 'SINK_UNREACHABLE',
        // Whatever stopped the answer (refused, reset, timeout, DNS) may be gone next time.
        retryable: true,
        hint: 'check that the endpoint is up and reachable from here; the unit is retried later',
        cause: err,
      });
    }
    if (response.status >= 200 && response.status < 300) return response;
    throw new HttpRequestError(`${target}: HTTP ${response.status}${excerpt(response.body)}`, {
      code: `HTTP_${response.status}`,
      status: response.status,
      retryable: isRetryableStatus(response.status),
      retryAfterMs: parseRetryAfter(response.headers['retry-after'], Date.now()),
      response,
      hint: hintForStatus(response.status),
    });
  }

  async close(): Promise<void> {
    await this.agent.close().catch(() => this.agent.destroy());
  }

  /** Ends every connection at once (a sink closing while requests hang). */
  async destroy(): Promise<void> {
    await this.agent.destroy().catch(() => undefined);
  }
}

function hintForStatus(status: number): string | undefined {
  if (status === 401 || status === 403) return 'check the credentials (auth, headers) and their permissions';
  if (status === 404) return 'check the URL (and the index or path it names)';
  if (status === 413) return 'the request is larger than the server accepts: lower the batch size';
  if (status === 429) return 'the server is throttling: lower maxInFlight or the batch size, or scale the server';
  return undefined;
}

/** ": <first 300 characters of the body>" for messages, or "" for an empty body. */
export function excerpt(body: Buffer, max = 300): string {
  if (body.length === 0) return '';
  const text = body.subarray(0, max * 4).toString('utf8').replace(/\s+/g, ' ').trim();
  if (text === '') return '';
  return `: ${text.length > max ? `${text.slice(0, max)}…` : text}`;
}

/**
 * Splits a sink URL into the URL to send to and basic credentials written into it
 * (`https://user:pass@host/`), decoded; the returned URL has none.
 */
export function splitUrlCredentials(raw: string): { url: URL; username?: string; password?: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SluiceError(`"${maskUrlCredentials(raw)}" is not a valid URL`, { code: 'CONFIG_INVALID', stage: 'config', hint: 'write it as http(s)://host:port/path' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SluiceError(`${maskUrlCredentials(raw)}: only http and https URLs are supported`, { code: 'CONFIG_INVALID', stage: 'config' });
  }
  const username = url.username === '' ? undefined : decodeURIComponent(url.username);
  const password = url.password === '' ? undefined : decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  return { url, username, password };
}
