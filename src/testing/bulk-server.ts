/**
 * An in-process HTTP server speaking the OpenSearch/Elasticsearch `_bulk` protocol as documented,
 * for testing sinks against the failures real clusters produce, with a document store to check
 * that every record ended up indexed exactly once by `_id`.
 *
 * Protocol (what a client can rely on, as in the docs):
 * - `POST|PUT /_bulk` and `/<index>/_bulk` (the path's index is the default `_index`), body =
 *   NDJSON action/metadata lines `{"index"|"create"|"update"|"delete": {"_index", "_id"}}`, each
 *   but `delete` followed by a source line; the body must end with a newline (else 400);
 *   Content-Type application/x-ndjson or application/json (else 406); `Content-Encoding: gzip`
 *   accepted.
 * - Answer: HTTP 200 `{took, errors, items: [{<action>: {_index, _id, _version, result, status,
 *   error?}}]}`, one item per action in order: 201 created / 200 updated; 409
 *   version_conflict_engine_exception for a `create` of an existing `_id`; 400
 *   mapper_parsing_exception for a source that is not a JSON object or that `rejectDocument`
 *   refuses; 404 document_missing_exception for `update` of a missing document.
 * - `GET /` answers the cluster banner. Wrong or missing credentials: 401 security_exception.
 *   Bodies larger than `maxBodyBytes`: 413 (and the connection is closed, as ES does).
 *
 * Besides the bulk API, a plain receiver of the kind the `http` sink posts to (a webhook, an
 * ingest API): `POST|PUT /ingest/<collection>`, body a JSON array of objects (or one object) or
 * NDJSON, each object carrying its `_id`. Documents are stored as `<collection>/<_id>`,
 * overwriting, so the receiver is idempotent by id as such APIs are by an id or idempotency key.
 * It answers for the request as a whole: 200 `{took, accepted}` with every document stored, or
 * none stored and 400 (a body or document it cannot read, one without `_id`) or 422 (a document
 * `rejectDocument` refuses, all refusals named in the reason). Request faults apply as to
 * `_bulk`; item faults do not (there are no items).
 *
 * Faults come from a seeded schedule (same seed, same faults for the same request sequence):
 * `script` gives the faults of the first requests in order, then each request draws from
 * `requestFaults`, and each document inside an accepted request may draw a per-item 429 or 503
 * (`itemFaults`). Request faults: 429 with Retry-After, 5xx, slow answers (writes applied, answer
 * delayed), and dropped connections either before the writes are applied or after (the client
 * sees an error for writes that did happen: the case `_id` idempotency exists for).
 * `pause()`/`resume()` take the listener down and back (connections refused meanwhile).
 *
 * Store: `documents` maps `<index>/<_id>` to the source last written; `attempts` counts every
 * action received per `<index>/<_id>` (whatever its outcome) and `writes` those applied.
 * `mode: 'count'` keeps only counters, for benchmarks (action lines read as the body arrives, sources
 * skipped, the body never held whole).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { seededRandom } from '../core/retry.js';

export type RequestFault =
  | { kind: 'throttle'; retryAfterS?: number }
  | { kind: 'unavailable'; status?: number }
  | { kind: 'drop-before' }
  | { kind: 'drop-after' }
  | { kind: 'slow'; delayMs: number };

export interface FaultSchedule {
  seed: number;
  /** Faults of the first requests, in order; null = no fault for that request. */
  script?: Array<RequestFault | null>;
  /** After the script, each request draws one of these (probabilities summing to ≤ 1). */
  requestFaults?: Array<{ fault: RequestFault; probability: number }>;
  /** Inside an accepted request, the probability that a document gets a transient item error. */
  itemFaults?: { 429?: number; 503?: number };
}

export interface BulkServerOptions {
  auth?: { username: string; password: string } | { apiKey: string };
  /** Verify AWS SigV4 signatures made with these credentials. */
  sigv4?: { accessKeyId: string; secretAccessKey: string; region: string; service: string };
  /** Larger bodies (as sent, before gunzip) are answered 413. Default 100 MB, like http.max_content_length. */
  maxBodyBytes?: number;
  faults?: FaultSchedule;
  /** Return a reason to answer this document with a permanent 400 mapper_parsing_exception. */
  rejectDocument?: (doc: { index: string; id: string; source: Record<string, unknown> }) => string | undefined;
  mode?: 'store' | 'count';
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

/** One request as the server saw it, for assertions. */
export interface BulkRequestLog {
  n: number;
  path: string;
  bytes: number;
  documents: number;
  /** What happened: 'ok', 'throttle', 'unavailable', 'drop-before', 'drop-after', 'slow', '413', '401', '400', '406'. */
  outcome: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface RunningBulkServer {
  /** `http://127.0.0.1:<port>` (https with `tls`) */
  url: string;
  port: number;
  documents: Map<string, Record<string, unknown>>;
  attempts: Map<string, number>;
  writes: Map<string, number>;
  /** Documents acknowledged 200/201 in count mode (and store mode). */
  indexedCount: number;
  requests: BulkRequestLog[];
  /** Most requests the server was handling at once (answers delayed by `slow` count while they wait). */
  peakConcurrentRequests: number;
  /** Ids of all stored documents, with how many indices hold each. */
  idCounts(): Map<string, number>;
  /** Stops accepting connections and drops open ones (clients get ECONNREFUSED / resets). */
  pause(): Promise<void>;
  /** Listens again on the same port. */
  resume(): Promise<void>;
  stop(): Promise<void>;
}

const MAX_LOGGED_REQUESTS = 100_000;
const ID_MARK = Buffer.from('"_id":"');
const ITEM_201_TAIL = Buffer.from('","status":201}}');

/**
 * Starts a bulk-API server on 127.0.0.1 with a free port.
 *
 * @example
 * const server = await startBulkServer({ auth: { username: 'admin', password: 's3cret' }, faults: { seed: 7, itemFaults: { 429: 0.1 } } });
 * // ... run a sink against server.url ...
 * assert.equal(server.documents.size, records.length);
 * await server.stop();
 */
export async function startBulkServer(options: BulkServerOptions = {}): Promise<RunningBulkServer> {
  const maxBodyBytes = options.maxBodyBytes ?? 100 * 1024 * 1024;
  const random = seededRandom(options.faults?.seed ?? 1);
  const store = options.mode !== 'count';
  const sockets = new Set<Socket>();
  const state: RunningBulkServer = {
    url: '',
    port: 0,
    documents: new Map(),
    attempts: new Map(),
    writes: new Map(),
    indexedCount: 0,
    requests: [],
    peakConcurrentRequests: 0,
    idCounts() {
      const counts = new Map<string, number>();
      for (const key of state.documents.keys()) {
        const id = key.slice(key.indexOf('/') + 1);
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      return counts;
    },
    pause: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
    resume: () => listen(state.port),
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
    },
  };
  let requestNumber = 0;
  let concurrent = 0;
  const signer = options.sigv4
    ? new SignatureV4({
        credentials: { accessKeyId: options.sigv4.accessKeyId, secretAccessKey: options.sigv4.secretAccessKey },
        region: options.sigv4.region,
        service: options.sigv4.service,
        sha256: Sha256,
      })
    : undefined;

  const drawFault = (n: number): RequestFault | null => {
    const script = options.faults?.script;
    if (script && n <= script.length) return script[n - 1] ?? null;
    const table = options.faults?.requestFaults;
    if (!table || table.length === 0) return null;
    let x = random();
    for (const entry of table) {
      if (x < entry.probability) return entry.fault;
      x -= entry.probability;
    }
    return null;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const log: BulkRequestLog = { n: 0, path: url.pathname, bytes: 0, documents: 0, outcome: 'ok', headers: req.headers };
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    if (declared > maxBodyBytes) {
      log.n = ++requestNumber;
      log.outcome = '413';
      log.bytes = declared;
      record(log);
      // Like ES: answer at once and close, without reading the body.
      res.setHeader('connection', 'close');
      sendJson(res, 413, esError(413, 'content_too_long_exception', `request body is too large: ${declared} bytes > ${maxBodyBytes}`));
      req.resume();
      return;
    }
    const ingestPath = /^\/ingest\/([^/_][^/]*)\/?$/.exec(url.pathname);
    // Count mode reads the action lines as the body arrives, without keeping it (no 5 MB copy per request).
    const scanner = !store && !signer && !ingestPath && req.headers['content-encoding'] !== 'gzip' ? new ActionScanner() : undefined;
    const raw = await readBody(req, maxBodyBytes, scanner);
    log.n = ++requestNumber;
    log.bytes = raw === 'too-large' ? maxBodyBytes + 1 : (scanner?.bytes ?? raw.length);
    if (raw === 'too-large') {
      log.outcome = '413';
      record(log);
      res.setHeader('connection', 'close');
      sendJson(res, 413, esError(413, 'content_too_long_exception', `request body is too large (> ${maxBodyBytes} bytes)`));
      return;
    }
    const denied = checkAuth(req);
    if (denied) {
      log.outcome = '401';
      record(log);
      res.setHeader('www-authenticate', 'Basic realm="security" charset="UTF-8"');
      sendJson(res, 401, esError(401, 'security_exception', denied));
      return;
    }
    if (req.method === 'GET' && url.pathname === '/') {
      record(log);
      sendJson(res, 200, { name: 'sluice-test', cluster_name: 'sluice-test', version: { distribution: 'opensearch', number: '2.13.0' }, tagline: 'The OpenSearch Project: https://opensearch.org/' });
      return;
    }
    const bulkPath = /^\/(?:([^/_][^/]*)\/)?_bulk\/?$/.exec(url.pathname);
    if ((!bulkPath && !ingestPath) || (req.method !== 'POST' && req.method !== 'PUT')) {
      log.outcome = '404';
      record(log);
      sendJson(res, 404, esError(404, 'index_not_found_exception', `no handler for ${req.method} ${url.pathname}`));
      return;
    }
    const contentType = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (contentType !== 'application/x-ndjson' && contentType !== 'application/json') {
      log.outcome = '406';
      record(log);
      sendJson(res, 406, { error: `Content-Type header [${contentType}] is not supported`, status: 406 });
      return;
    }
    const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
    const fault = drawFault(log.n);
    if (fault?.kind === 'drop-before') {
      log.outcome = 'drop-before';
      record(log);
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'throttle') {
      log.outcome = 'throttle';
      record(log);
      res.setHeader('retry-after', String(fault.retryAfterS ?? 1));
      sendJson(res, 429, esError(429, 'es_rejected_execution_exception', 'rejected execution of coordinating operation'));
      return;
    }
    if (fault?.kind === 'unavailable') {
      log.outcome = 'unavailable';
      record(log);
      const status = fault.status ?? 503;
      sendJson(res, status, esError(status, 'cluster_block_exception', 'blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];'));
      return;
    }
    const started = Date.now();
    if (ingestPath) {
      const ingested = applyIngest(body, contentType, decodeURIComponent(ingestPath[1]!));
      log.documents = ingested.count;
      if (ingested.status !== 200) log.outcome = String(ingested.status);
      if (await answerFault(req, log, fault)) return;
      record(log);
      sendJson(res, ingested.status, ingested.status === 200 ? { took: Date.now() - started, accepted: ingested.count } : ingested.error);
      return;
    }
    const answer = store ? applyBulk(body, decodeURIComponent(bulkPath![1] ?? '')) : countBulk(scanner ?? new ActionScanner().push(body));
    if (typeof answer === 'string') {
      log.outcome = '400';
      record(log);
      sendJson(res, 400, esError(400, 'illegal_argument_exception', answer));
      return;
    }
    log.documents = answer.count;
    if (await answerFault(req, log, fault)) return;
    record(log);
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
    if (typeof answer.items === 'string') res.end(`{"took":${Date.now() - started},"errors":${answer.errors},"items":[${answer.items}]}`);
    else {
      res.write(`{"took":${Date.now() - started},"errors":${answer.errors},"items":[`);
      res.write(answer.items);
      res.end(']}');
    }
  };

  /**
   * The faults that strike once the writes are applied: a dropped connection (true: no answer is
   * due) or an answer delayed (false once it is time to answer, unless the client went away).
   */
  const answerFault = async (req: IncomingMessage, log: BulkRequestLog, fault: RequestFault | null): Promise<boolean> => {
    if (fault?.kind === 'drop-after') {
      log.outcome = 'drop-after';
      record(log);
      req.socket.destroy();
      return true;
    }
    if (fault?.kind === 'slow') {
      log.outcome = 'slow';
      await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
      if (req.socket.destroyed) {
        record(log);
        return true;
      }
    }
    return false;
  };

  /**
   * The plain receiver (`/ingest/<collection>`): the documents of one request, all stored or, when
   * one of them is refused or unreadable, none (the answer is for the request as a whole).
   */
  const applyIngest = (body: Buffer, contentType: string, collection: string): { status: number; count: number; error?: unknown } => {
    const refuse = (status: number, reason: string) => ({ status, count: 0, error: { error: { type: status === 422 ? 'document_refused' : 'parse_exception', reason }, status } });
    let docs: unknown[];
    try {
      const text = body.toString('utf8');
      if (contentType === 'application/x-ndjson') docs = text.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as unknown);
      else {
        const parsed = JSON.parse(text) as unknown;
        docs = Array.isArray(parsed) ? parsed : [parsed];
      }
    } catch (err) {
      return refuse(400, `the body is not ${contentType === 'application/x-ndjson' ? 'NDJSON' : 'JSON'}: ${(err as Error).message}`);
    }
    const accepted: Array<{ key: string; source: Record<string, unknown> }> = [];
    const refusals: string[] = [];
    for (const [i, doc] of docs.entries()) {
      if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return refuse(400, `document ${i + 1} is not a JSON object`);
      const source = doc as Record<string, unknown>;
      const id = source._id;
      if (typeof id !== 'string' && typeof id !== 'number') return refuse(400, `document ${i + 1} has no _id (string or number): the receiver stores documents by _id`);
      const key = `${collection}/${id}`;
      state.attempts.set(key, (state.attempts.get(key) ?? 0) + 1);
      const refusal = options.rejectDocument?.({ index: collection, id: String(id), source });
      if (refusal !== undefined) refusals.push(`document ${i + 1} (_id ${id}): ${refusal}`);
      accepted.push({ key, source });
    }
    if (refusals.length > 0) return refuse(422, refusals.join('; '));
    for (const { key, source } of accepted) {
      if (store) state.documents.set(key, source);
      state.writes.set(key, (state.writes.get(key) ?? 0) + 1);
    }
    state.indexedCount += accepted.length;
    return { status: 200, count: accepted.length };
  };

  const record = (log: BulkRequestLog) => {
    if (state.requests.length < MAX_LOGGED_REQUESTS) state.requests.push(log);
  };

  /** Applies the actions of one bulk body; a string is a request-level 400 reason. */
  const applyBulk = (body: Buffer, defaultIndex: string): { items: string; errors: boolean; count: number } | string => {
    if (body.length > 0 && body[body.length - 1] !== 0x0a) return 'The bulk request must be terminated by a newline [\\n]';
    const items: string[] = [];
    let errors = false;
    let pos = 0;
    let line = 0;
    const itemFaults = options.faults?.itemFaults;
    while (pos < body.length) {
      const end = body.indexOf(0x0a, pos);
      const actionText = body.toString('utf8', pos, end);
      pos = end + 1;
      line += 1;
      if (actionText.trim() === '') continue;
      let actionLine: Record<string, { _index?: unknown; _id?: unknown }>;
      try {
        actionLine = JSON.parse(actionText) as typeof actionLine;
      } catch {
        return `Malformed action/metadata line [${line}], expected START_OBJECT or END_OBJECT but found [VALUE_STRING]`;
      }
      const op = Object.keys(actionLine)[0];
      if (op !== 'index' && op !== 'create' && op !== 'update' && op !== 'delete') {
        return `Malformed action/metadata line [${line}], expected field [create], [delete], [index] or [update] but found [${op}]`;
      }
      const meta = actionLine[op] ?? {};
      const index = typeof meta._index === 'string' ? meta._index : defaultIndex;
      if (index === '') return 'Validation Failed: 1: index is missing;';
      let sourceText: string | undefined;
      if (op !== 'delete') {
        if (pos >= body.length) return `Validation Failed: 1: no source for action on line [${line}];`;
        const sourceEnd = body.indexOf(0x0a, pos);
        if (store) sourceText = body.toString('utf8', pos, sourceEnd);
        pos = sourceEnd + 1;
        line += 1;
      }
      const id = typeof meta._id === 'string' ? meta._id : meta._id === undefined ? randomBytes(10).toString('base64url') : String(meta._id);
      const key = `${index}/${id}`;
      const result = store ? applyItem(op, index, id, key, sourceText, itemFaults) : countItem(itemFaults);
      if (result.status >= 300) errors = true;
      items.push(
        `{${JSON.stringify(op)}:{"_index":${JSON.stringify(index)},"_id":${JSON.stringify(id)},"_version":${result.version},"result":${JSON.stringify(result.result)},"status":${result.status}${result.error ? `,"error":${JSON.stringify(result.error)}` : ''}}}`,
      );
    }
    return { items: items.join(','), errors, count: items.length };
  };

  /**
   * Count mode: answers every action 201 (or an item fault) from the op and `_id` of each action
   * line only (see ActionScanner), for benchmarks where the server must cost next to nothing.
   */
  const countBulk = (scanned: ActionScanner): { items: string | Buffer; errors: boolean; count: number } | string => {
    const invalid = scanned.finish();
    if (invalid !== undefined) return invalid;
    const faults = options.faults?.itemFaults;
    const count = scanned.ops.length;
    // Items straight into bytes: `{"<op>":{"_id":"<id>","status":201}}`, joined by commas.
    let room = 0;
    for (let i = 0; i < count; i++) room += scanned.ids[i]!.length + 40;
    let items = Buffer.allocUnsafe(room);
    let at = 0;
    let errors = false;
    for (let i = 0; i < count; i++) {
      const result = countItem(faults);
      if (i > 0) items[at++] = 0x2c;
      at += items.write(`{"${scanned.ops[i]}":{"_id":"`, at, 'latin1');
      at += items.write(scanned.ids[i]!, at, 'latin1');
      if (result.status === 201) at += ITEM_201_TAIL.copy(items, at);
      else {
        errors = true;
        const tail = Buffer.from(`","status":${result.status}${result.error ? `,"error":${JSON.stringify(result.error)}` : ''}}}`);
        if (at + tail.length + (count - i) * 40 > items.length) items = Buffer.concat([items.subarray(0, at), Buffer.alloc(items.length + tail.length)]);
        at += tail.copy(items, at);
      }
    }
    return { items: items.subarray(0, at), errors, count };
  };

  interface ItemResult {
    status: number;
    result: string;
    version: number;
    error?: { type: string; reason: string };
  }

  const itemFault = (faults: FaultSchedule['itemFaults']): ItemResult | undefined => {
    if (!faults) return undefined;
    const x = random();
    if (x < (faults[429] ?? 0)) {
      return { status: 429, result: 'error', version: -1, error: { type: 'es_rejected_execution_exception', reason: 'rejected execution of primary operation [write queue capacity 10000]' } };
    }
    if (x < (faults[429] ?? 0) + (faults[503] ?? 0)) {
      return { status: 503, result: 'error', version: -1, error: { type: 'unavailable_shards_exception', reason: 'primary shard is not active' } };
    }
    return undefined;
  };

  const countItem = (faults: FaultSchedule['itemFaults']): ItemResult => {
    const fault = itemFault(faults);
    if (fault) return fault;
    state.indexedCount += 1;
    return { status: 201, result: 'created', version: 1 };
  };

  const applyItem = (op: string, index: string, id: string, key: string, sourceText: string | undefined, faults: FaultSchedule['itemFaults']): ItemResult => {
    state.attempts.set(key, (state.attempts.get(key) ?? 0) + 1);
    const fault = itemFault(faults);
    if (fault) return fault;
    const existing = state.documents.get(key);
    if (op === 'delete') {
      if (!existing) return { status: 404, result: 'not_found', version: 1 };
      state.documents.delete(key);
      return { status: 200, result: 'deleted', version: 2 };
    }
    let source: unknown;
    try {
      source = JSON.parse(sourceText ?? '');
    } catch (err) {
      return { status: 400, result: 'error', version: -1, error: { type: 'mapper_parsing_exception', reason: `failed to parse: ${(err as Error).message}` } };
    }
    if (source === null || typeof source !== 'object' || Array.isArray(source)) {
      return { status: 400, result: 'error', version: -1, error: { type: 'mapper_parsing_exception', reason: 'failed to parse, document is empty or not an object' } };
    }
    if (op === 'update') {
      if (!existing) return { status: 404, result: 'error', version: -1, error: { type: 'document_missing_exception', reason: `[${id}]: document missing` } };
      source = { ...existing, ...((source as { doc?: object }).doc ?? {}) };
    }
    const refusal = options.rejectDocument?.({ index, id, source: source as Record<string, unknown> });
    if (refusal !== undefined) return { status: 400, result: 'error', version: -1, error: { type: 'mapper_parsing_exception', reason: refusal } };
    if (op === 'create' && existing) {
      return { status: 409, result: 'error', version: -1, error: { type: 'version_conflict_engine_exception', reason: `[${id}]: version conflict, document already exists (current version [1])` } };
    }
    state.documents.set(key, source as Record<string, unknown>);
    state.writes.set(key, (state.writes.get(key) ?? 0) + 1);
    state.indexedCount += 1;
    return existing ? { status: 200, result: 'updated', version: 2 } : { status: 201, result: 'created', version: 1 };
  };

  /** A reason to refuse the request's credentials, or undefined when they are good. */
  const checkAuth = (req: IncomingMessage): string | undefined => {
    const header = req.headers['authorization'];
    if (options.auth && 'username' in options.auth) {
      const expected = `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64')}`;
      if (header === undefined) return 'missing authentication credentials for REST request [/_bulk]';
      if (header !== expected) return 'unable to authenticate user for REST request [/_bulk]';
    }
    if (options.auth && 'apiKey' in options.auth) {
      if (header !== `ApiKey ${options.auth.apiKey}`) return 'unable to authenticate with provided credentials and anonymous access is not allowed for this request';
    }
    return undefined;
  };

  const checkSignature = async (req: IncomingMessage, body: Buffer): Promise<string | undefined> => {
    const header = String(req.headers['authorization'] ?? '');
    const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]+)$/.exec(header);
    if (!match) return 'missing or malformed SigV4 Authorization header';
    const [, accessKeyId, , region, service, signedHeaders] = match;
    if (accessKeyId !== options.sigv4!.accessKeyId || region !== options.sigv4!.region || service !== options.sigv4!.service) {
      return `SigV4 credential scope ${accessKeyId}/${region}/${service} does not match`;
    }
    const amzDate = String(req.headers['x-amz-date'] ?? '');
    const when = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
    if (!when) return 'missing x-amz-date';
    const payloadHash = String(req.headers['x-amz-content-sha256'] ?? '');
    if (payloadHash !== createHash('sha256').update(body).digest('hex')) return 'x-amz-content-sha256 does not match the body';
    const headers: Record<string, string> = {};
    for (const name of signedHeaders!.split(';')) headers[name] = String(req.headers[name] ?? '');
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const signed = await signer!.sign(
      { method: req.method ?? 'POST', protocol: 'http:', hostname: url.hostname, port: url.port ? Number(url.port) : undefined, path: url.pathname, query, headers, body },
      { signingDate: new Date(Date.UTC(+when[1]!, +when[2]! - 1, +when[3]!, +when[4]!, +when[5]!, +when[6]!)) },
    );
    const expected = String((signed.headers as Record<string, string>)['authorization'] ?? '');
    return expected === header ? undefined : 'The request signature we calculated does not match the signature you provided';
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const run = async () => {
      if (signer) {
        // Verify before anything else happens to the request.
        const raw = await readBody(req, maxBodyBytes);
        if (raw !== 'too-large') {
          const reason = await checkSignature(req, raw);
          if (reason) {
            record({ n: ++requestNumber, path: req.url ?? '', bytes: raw.length, documents: 0, outcome: '403', headers: req.headers });
            sendJson(res, 403, esError(403, 'security_exception', reason));
            return;
          }
          (req as IncomingMessage & { preread?: Buffer }).preread = raw;
        }
      }
      await handle(req, res);
    };
    concurrent += 1;
    state.peakConcurrentRequests = Math.max(state.peakConcurrentRequests, concurrent);
    run()
      .catch((err: unknown) => {
        if (!res.headersSent && !req.socket.destroyed) sendJson(res, 500, esError(500, 'exception', (err as Error).message));
      })
      .finally(() => {
        concurrent -= 1;
      });
  };
  const server: Server = options.tls ? createTlsServer({ key: options.tls.key, cert: options.tls.cert }, onRequest) : createServer(onRequest);
  server.keepAliveTimeout = 30_000;
  server.on(options.tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        state.port = (server.address() as AddressInfo).port;
        state.url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${state.port}`;
        resolve();
      });
    });
  await listen(0);
  return state;
}

/**
 * Reads a request body, or 'too-large' past the limit (the rest is drained). With a scanner, the
 * pieces go to it as they arrive and are not kept (the result is then an empty buffer).
 */
async function readBody(req: IncomingMessage, limit: number, scanner?: ActionScanner): Promise<Buffer | 'too-large'> {
  const preread = (req as IncomingMessage & { preread?: Buffer }).preread;
  if (preread) return preread;
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) tooLarge = true;
    if (tooLarge) continue;
    if (scanner) scanner.push(chunk);
    else chunks.push(chunk);
  }
  return tooLarge ? 'too-large' : Buffer.concat(chunks);
}

/**
 * Count mode's reading of a bulk body, piece by piece as it arrives: the op (`index`, `create`,
 * `delete`; by the first letter of `{"<op>"`) and the `_id` of every action line, skipping the
 * source lines unread. Only an action line cut between two pieces is copied. Blank action lines
 * are skipped, as in store mode.
 */
class ActionScanner {
  readonly ops: string[] = [];
  readonly ids: string[] = [];
  bytes = 0;
  private lastByte = -1;
  /** Inside a source line (the action line before it was not a delete). */
  private inSource = false;
  /** The start of an action line whose end is in a later piece. */
  private carry: Buffer | undefined;

  push(chunk: Buffer): this {
    this.bytes += chunk.length;
    if (chunk.length > 0) this.lastByte = chunk[chunk.length - 1]!;
    let pos = 0;
    while (pos < chunk.length) {
      const newline = chunk.indexOf(0x0a, pos);
      if (newline === -1) {
        if (!this.inSource) this.carry = Buffer.concat(this.carry ? [this.carry, chunk.subarray(pos)] : [chunk.subarray(pos)]);
        break;
      }
      if (this.inSource) this.inSource = false;
      else if (this.carry) {
        const line = Buffer.concat([this.carry, chunk.subarray(pos, newline)]);
        this.carry = undefined;
        this.action(line, 0, line.length);
      } else this.action(chunk, pos, newline);
      pos = newline + 1;
    }
    return this;
  }

  /** A request-level 400 reason once the whole body is read, or undefined. */
  finish(): string | undefined {
    if (this.bytes > 0 && this.lastByte !== 0x0a) return 'The bulk request must be terminated by a newline [\\n]';
    if (this.inSource) return `Validation Failed: 1: no source for action [${this.ids[this.ids.length - 1]}];`;
    return undefined;
  }

  /** The action line `bytes[from, end)`. */
  private action(bytes: Buffer, from: number, end: number): void {
    let first = from;
    while (first < end && (bytes[first] === 0x20 || bytes[first] === 0x09 || bytes[first] === 0x0d)) first++;
    if (first === end) return;
    const op = bytes[first + 2] === 0x63 ? 'create' : bytes[first + 2] === 0x64 ? 'delete' : 'index';
    const mark = bytes.indexOf(ID_MARK, first);
    let id = '';
    if (mark !== -1 && mark < end) {
      const from = mark + ID_MARK.length;
      id = bytes.toString('latin1', from, Math.min(end, bytes.indexOf(0x22, from)));
    }
    this.ops.push(op);
    this.ids.push(id);
    this.inSource = op !== 'delete';
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function esError(status: number, type: string, reason: string): unknown {
  return { error: { root_cause: [{ type, reason }], type, reason }, status };
}

/** The outcome of checking a delivery against the server's store. */
export interface DeliveryAccount {
  /** Records found indexed exactly once, with the expected document. */
  indexed: number;
  /** Records found rejected exactly once, with a reason, and not indexed. */
  rejected: number;
  /** Everything that breaks the invariant; empty when the delivery is exact. */
  problems: string[];
}

/**
 * The invariant of every fault test: each record sent ends either indexed exactly once by `_id`
 * (in one index, with `expectedSource(record)` as its document when given) or rejected exactly
 * once with a reason, never both, never neither; and the server holds nothing else.
 *
 * @example
 * const account = accountDelivery(server, records, commit.rejected, (r) => r.fields);
 * assert.deepEqual(account.problems, []);
 */
export function accountDelivery(
  server: Pick<RunningBulkServer, 'documents'>,
  records: ReadonlyArray<{ id: string; fields: Record<string, unknown> }>,
  rejected: ReadonlyArray<{ record: { id: string }; reason: string }>,
  expectedSource?: (record: { id: string; fields: Record<string, unknown> }) => unknown,
): DeliveryAccount {
  const problems: string[] = [];
  const note = (problem: string) => {
    if (problems.length < 50) problems.push(problem);
  };
  const stored = new Map<string, Array<{ index: string; source: Record<string, unknown> }>>();
  for (const [key, source] of server.documents) {
    const slash = key.indexOf('/');
    const id = key.slice(slash + 1);
    const list = stored.get(id) ?? [];
    list.push({ index: key.slice(0, slash), source });
    stored.set(id, list);
  }
  const rejections = new Map<string, number>();
  for (const r of rejected) {
    rejections.set(r.record.id, (rejections.get(r.record.id) ?? 0) + 1);
    if (!r.reason) note(`${r.record.id}: rejected without a reason`);
  }
  const sent = new Set<string>();
  let indexed = 0;
  let rejectedCount = 0;
  for (const record of records) {
    if (sent.has(record.id)) {
      note(`${record.id}: the same id was sent twice (test data error)`);
      continue;
    }
    sent.add(record.id);
    const copies = stored.get(record.id) ?? [];
    const times = rejections.get(record.id) ?? 0;
    if (times > 1) note(`${record.id}: rejected ${times} times`);
    if (times > 0 && copies.length > 0) note(`${record.id}: both rejected and indexed`);
    if (times === 0 && copies.length === 0) note(`${record.id}: neither indexed nor rejected (lost)`);
    if (copies.length > 1) note(`${record.id}: indexed ${copies.length} times (in ${copies.map((c) => c.index).join(', ')})`);
    if (times === 1 && copies.length === 0) rejectedCount += 1;
    if (times === 0 && copies.length === 1) {
      if (expectedSource && !sameJson(copies[0]!.source, expectedSource(record))) note(`${record.id}: the indexed document differs from the record`);
      else indexed += 1;
    }
  }
  for (const id of stored.keys()) if (!sent.has(id)) note(`${id}: indexed but never sent`);
  for (const id of rejections.keys()) if (!sent.has(id)) note(`${id}: rejected but never sent`);
  return { indexed, rejected: rejectedCount, problems };
}

function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : v,
  );
}
