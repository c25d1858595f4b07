/**
 * An S3-protocol server for tests: `s3rver` running in this process on 127.0.0.1 with a free
 * port, silent, its data in a fresh temporary folder that `stop()` removes. Tests talk to it with
 * the real AWS SDK v3 (path-style URLs), so what passes here passes against S3's wire protocol.
 *
 * Two defects of s3rver 3.7.1 are repaired here, in this process only:
 *   - Its ListObjectsV2 continuation tokens use DES, which OpenSSL 3 (Node >= 17) no longer
 *     offers: every truncated listing failed with InternalError. `des` cipher calls get an
 *     identity stand-in (tokens become readable; nothing else in Node can use DES anyway).
 *   - Its delimiter listing lost common prefixes whose keys sit two or more folders deeper, and
 *     listed in file-system rather than key order. Listing is redone over the store's flat
 *     listing: byte order, correct common prefixes. Like s3rver, only keys count toward
 *     max-keys, so a common prefix can repeat on the next page (clients must tolerate that).
 * Two S3 operations s3rver lacks are served here from its own upload store, as S3 documents
 * them: AbortMultipartUpload (DELETE ?uploadId) and ListMultipartUploads (GET ?uploads, with
 * prefix). PutObject with `If-None-Match: *` (S3's conditional write) answers 412
 * PreconditionFailed when the key exists; such writes of one key are handled one at a time, so
 * exactly one of several racing writers creates the object. And faults can be injected per
 * request (`faults`): 503 SlowDown, a dropped connection (mid-body for uploads), or a 500.
 * Still true: s3rver ignores other conditional headers such as If-Match, and bucket names need
 * 3+ characters.
 */
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

/** The part of s3rver's API we use (it ships no type declarations). */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: Server;
  store: S3rverStore;
}
interface S3rverStore {
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  listObjects(bucket: string, options: S3rverListOptions): Promise<S3rverListing>;
  putObject(object: { bucket: string; key: string; content: Buffer; metadata: Record<string, string> }): Promise<unknown>;
  existsObject(bucket: string, key: string): Promise<boolean>;
}
interface S3rverListOptions {
  delimiter?: string;
  startAfter?: string;
  prefix?: string;
  maxKeys?: number;
}
interface S3rverListing {
  objects: Array<{ key: string }>;
  commonPrefixes: string[];
  isTruncated: boolean;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

export interface S3ServerOptions {
  /** Buckets created before the server starts accepting requests. */
  buckets?: string[];
  /**
   * Delay before each request is handled, modelling S3's per-request latency (seed 002 measured
   * ~15 ms to read a 1 KB object from EC2; s3rver on loopback answers in ~1 ms). Default 0.
   */
  latencyMs?: number;
  /**
   * Called for every request before s3rver sees it; the answer injects a fault: `slowdown` (503
   * SlowDown, which clients retry), `internal` (500 InternalError), `drop` (the connection is
   * destroyed — for a request with a body, after part of it was read).
   */
  faults?: (request: S3Request) => S3Fault | undefined;
}

/** What a fault injector sees of a request. */
export interface S3Request {
  method: string;
  bucket: string;
  key: string;
  query: URLSearchParams;
}

export type S3Fault = 'slowdown' | 'internal' | 'drop';

export interface RunningS3Server {
  /** `http://127.0.0.1:<port>`: pass as `endpoint` with `forcePathStyle: true`. */
  endpoint: string;
  /** A client already configured for this server. */
  client: S3Client;
  /** Credentials s3rver accepts (any well-formed signature with these keys). */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Writes an object and returns its ETag without quotes. */
  putObject(bucket: string, key: string, body: string | Uint8Array): Promise<string>;
  createBucket(bucket: string): Promise<void>;
  /**
   * Writes many objects straight into the server's store, skipping HTTP (s3rver spends ~10 ms
   * per PUT request; this is ~50x faster). For tests that need thousands of keys.
   */
  seedObjects(bucket: string, objects: Iterable<[key: string, body: string | Uint8Array]>): Promise<void>;
  /** Stops the server, drops open connections and deletes the data folder. */
  stop(): Promise<void>;
  /** The server's data folder (deleted by `stop`). */
  dir: string;
}

export const S3RVER_CREDENTIALS = Object.freeze({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });

/**
 * Starts an in-process S3-protocol server.
 *
 * @example
 * const s3 = await startS3Server({ buckets: ['logs'] });
 * try {
 *   await s3.putObject('logs', 'a/b.log', 'hello');
 * } finally {
 *   await s3.stop();
 * }
 */
export async function startS3Server(options: S3ServerOptions = {}): Promise<RunningS3Server> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  for (const bucket of options.buckets ?? []) assertBucketName(bucket);

  const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-s3rver-'));
  const require = createRequire(import.meta.url);
  allowDesContinuationTokens(require('node:crypto') as CryptoModule);
  const S3rver = require('s3rver') as S3rverConstructor;
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: dir,
    vhostBuckets: false,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name })),
  });
  repairListing(server.store);
  let address: AddressInfo;
  try {
    address = await server.run();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  if (server.httpServer) serveMissingOperations(server.httpServer, server.store, options.faults);
  if (options.latencyMs && server.httpServer) delayRequests(server.httpServer, options.latencyMs);
  const endpoint = `http://127.0.0.1:${address.port}`;
  const credentials = { ...S3RVER_CREDENTIALS };
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials,
    // s3rver predates the SDK's default request checksums (aws-chunked trailers) and would store
    // the chunk framing as object bytes; plain requests keep stored bytes equal to what we sent.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });

  let stopped = false;
  return {
    endpoint,
    client,
    credentials,
    dir,
    async putObject(bucket, key, body) {
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      // An explicit length keeps the SDK from treating an empty body as a stream of unknown size.
      const out = await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentLength: bytes.length }));
      return (out.ETag ?? '').replace(/"/g, '');
    },
    async createBucket(bucket) {
      assertBucketName(bucket);
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
    },
    async seedObjects(bucket, objects) {
      const batch: Array<Promise<unknown>> = [];
      for (const [key, body] of objects) {
        const content = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
        batch.push(server.store.putObject({ bucket, key, content, metadata: { 'content-type': 'binary/octet-stream' } }));
        if (batch.length >= 64) await Promise.all(batch.splice(0));
      }
      await Promise.all(batch);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      client.destroy();
      // Other clients in the test (e.g. a source under test) may hold keep-alive sockets, which
      // would make close() wait for their idle timeout.
      server.httpServer?.closeAllConnections();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function assertBucketName(name: string): void {
  if (!/^[a-z0-9][a-z0-9.-]{2,62}$/.test(name)) {
    throw new Error(`bucket name "${name}" is not valid for s3rver: use 3-63 lower-case letters, digits, '.' or '-'`);
  }
}

type CryptoModule = {
  createCipheriv: (algorithm: string, ...rest: unknown[]) => unknown;
  createDecipheriv: (algorithm: string, ...rest: unknown[]) => unknown;
};

const DES_PATCHED = Symbol.for('sluice.s3rver.desContinuationTokens');

/** See the file comment: s3rver's DES tokens fail on OpenSSL 3; only `des` calls are touched. */
function allowDesContinuationTokens(crypto: CryptoModule): void {
  const flags = crypto as unknown as Record<symbol, boolean>;
  if (flags[DES_PATCHED]) return;
  flags[DES_PATCHED] = true;
  const identity = () => ({
    update: (data: string | Uint8Array, encoding?: BufferEncoding) =>
      typeof data === 'string' ? Buffer.from(data, encoding ?? 'utf8') : Buffer.from(data),
    final: () => Buffer.alloc(0),
  });
  const originalCipher = crypto.createCipheriv;
  const originalDecipher = crypto.createDecipheriv;
  crypto.createCipheriv = function (algorithm, ...rest) {
    return String(algorithm).toLowerCase() === 'des' ? identity() : originalCipher.call(this, algorithm, ...rest);
  };
  crypto.createDecipheriv = function (algorithm, ...rest) {
    return String(algorithm).toLowerCase() === 'des' ? identity() : originalDecipher.call(this, algorithm, ...rest);
  };
}

/** Hands each request to s3rver only after `latencyMs` (the body waits, paused, meanwhile). */
function delayRequests(httpServer: Server, latencyMs: number): void {
  const handlers = httpServer.listeners('request') as Array<(...args: unknown[]) => void>;
  httpServer.removeAllListeners('request');
  httpServer.on('request', (req, res) => {
    setTimeout(() => {
      for (const handler of handlers) handler.call(httpServer, req, res);
    }, latencyMs);
  });
}

/** See the file comment: lists over the flat listing, in byte order, with correct common prefixes. */
function repairListing(store: S3rverStore): void {
  const flatListing = store.listObjects.bind(store);
  store.listObjects = async (bucket, options) => {
    const { delimiter = '', prefix = '', startAfter = '', maxKeys = Infinity } = options;
    const all = await flatListing(bucket, { prefix, startAfter, maxKeys: Infinity });
    const sorted = [...all.objects].sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
    const objects: Array<{ key: string }> = [];
    const commonPrefixes: string[] = [];
    let isTruncated = false;
    for (const object of sorted) {
      const cut = delimiter ? object.key.indexOf(delimiter, prefix.length) : -1;
      if (cut !== -1) {
        const common = object.key.slice(0, cut + delimiter.length);
        if (commonPrefixes[commonPrefixes.length - 1] !== common) commonPrefixes.push(common);
        continue;
      }
      if (objects.length >= maxKeys) {
        isTruncated = true;
        break;
      }
      objects.push(object);
    }
    return { objects, commonPrefixes, isTruncated };
  };
}

/** See the file comment: AbortMultipartUpload, ListMultipartUploads, conditional PutObject and injected faults, ahead of s3rver. */
function serveMissingOperations(httpServer: Server, store: S3rverStore, faults: S3ServerOptions['faults']): void {
  const handlers = httpServer.listeners('request') as Array<(...args: unknown[]) => void>;
  httpServer.removeAllListeners('request');
  /** The last conditional write of each bucket/key, which the next one waits for. */
  const conditionalWrites = new Map<string, Promise<void>>();
  httpServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://s3');
    const [, bucket = '', ...rest] = url.pathname.split('/');
    const request: S3Request = { method: req.method ?? 'GET', bucket: decodeURIComponent(bucket), key: rest.map(decodeURIComponent).join('/'), query: url.searchParams };
    const fault = faults?.(request);
    if (fault === 'drop') {
      // Let part of a body arrive first, as when a connection breaks mid-upload.
      if (req.headers['content-length'] && Number(req.headers['content-length']) > 0) req.once('data', () => req.socket.destroy());
      else req.socket.destroy();
      return;
    }
    if (fault === 'slowdown' || fault === 'internal') {
      req.resume();
      const [status, code, message] = fault === 'slowdown' ? [503, 'SlowDown', 'Please reduce your request rate.'] : [500, 'InternalError', 'We encountered an internal error. Please try again.'];
      res.writeHead(status, { 'content-type': 'application/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`);
      return;
    }
    if (request.method === 'DELETE' && request.key !== '' && url.searchParams.has('uploadId')) {
      void abortUpload(store, request.bucket, url.searchParams.get('uploadId')!).then(
        (found) => (found ? res.writeHead(204).end() : res.writeHead(404, { 'content-type': 'application/xml' }).end(noSuchUpload())),
        () => res.writeHead(500).end(),
      );
      return;
    }
    if (request.method === 'GET' && request.key === '' && url.searchParams.has('uploads')) {
      void listUploads(store, request.bucket, url.searchParams.get('prefix') ?? '').then(
        (xml) => res.writeHead(200, { 'content-type': 'application/xml' }).end(xml),
        () => res.writeHead(500).end(),
      );
      return;
    }
    if (request.method === 'PUT' && request.key !== '' && !url.searchParams.has('uploadId') && req.headers['if-none-match'] === '*') {
      const id = `${request.bucket}/${request.key}`;
      const turn = (conditionalWrites.get(id) ?? Promise.resolve()).then(async () => {
        if (await store.existsObject(request.bucket, request.key)) {
          req.resume();
          res.writeHead(412, { 'content-type': 'application/xml' }).end(preconditionFailed());
          return;
        }
        await new Promise<void>((resolve) => {
          res.once('close', resolve);
          for (const handler of handlers) handler.call(httpServer, req, res);
        });
      });
      conditionalWrites.set(id, turn.catch(() => undefined));
      return;
    }
    for (const handler of handlers) handler.call(httpServer, req, res);
  });
}

function preconditionFailed(): string {
  return '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-None-Match</Condition></Error>';
}

function uploadsDir(store: S3rverStore, bucket: string): string {
  return store.getResourcePath(bucket, undefined, 'uploads');
}

async function abortUpload(store: S3rverStore, bucket: string, uploadId: string): Promise<boolean> {
  if (!/^[0-9a-f]+$/.test(uploadId)) return false;
  const dir = path.join(uploadsDir(store, bucket), uploadId);
  const found = await stat(dir).then(() => true, () => false);
  await rm(dir, { recursive: true, force: true });
  return found;
}

async function listUploads(store: S3rverStore, bucket: string, prefix: string): Promise<string> {
  const dir = uploadsDir(store, bucket);
  const ids = await readdir(dir).catch(() => [] as string[]);
  const uploads: Array<{ key: string; id: string }> = [];
  for (const id of ids) {
    const key = await readFile(path.join(dir, id, 'key'), 'utf8').catch(() => undefined);
    if (key !== undefined && key.startsWith(prefix)) uploads.push({ key, id });
  }
  uploads.sort((a, b) => (a.key === b.key ? a.id.localeCompare(b.id) : Buffer.compare(Buffer.from(a.key), Buffer.from(b.key))));
  const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult><Bucket>${escape(bucket)}</Bucket><Prefix>${escape(prefix)}</Prefix><IsTruncated>false</IsTruncated>${uploads
    .map((u) => `<Upload><Key>${escape(u.key)}</Key><UploadId>${u.id}</UploadId></Upload>`)
    .join('')}</ListMultipartUploadsResult>`;
}

function noSuchUpload(): string {
  return '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>';
}
