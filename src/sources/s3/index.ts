/**
 * An S3 bucket (or any S3-compatible endpoint) as a source.
 *
 * Listing without a window pages through ListObjectsV2 as fast as S3 returns pages. With a date
 * window it walks folder by folder (Delimiter '/'), skipping every folder whose date lies outside
 * the window, so an hour of VPC Flow Logs out of years of them costs a handful of requests rather
 * than a listing of the whole prefix. The walk merges each response's keys and sub-folders in
 * key order, so both ways yield the same keys in the same (S3 byte) order.
 *
 * Reads pass the listed ETag as If-Match: record ids derive from the ETag, so an object replaced
 * after listing must fail loudly (OBJECT_CHANGED) instead of giving new records old ids.
 */
import {
  GetObjectCommand,
  ListObjectsV2Command,
  type S3Client,
  type ListObjectsV2CommandOutput,
  type _Object,
} from '@aws-sdk/client-s3';
import type { FolderPage, Source, TimeWindow } from '../../core/component.js';
import { SluiceError, toSluiceError } from '../../core/errors.js';
import type { ObjectRef } from '../../core/record.js';
import { isWindowSet, keyInWindow, prefixInWindow } from '../../core/key-dates.js';

export interface S3SourceOptions {
  /** `s3://bucket` or `s3://bucket/prefix`. */
  uri: string;
  /** S3-compatible endpoint, e.g. `http://127.0.0.1:9000`. */
  endpoint?: string;
  /** Default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1 (wrong regions are followed). */
  region?: string;
  forcePathStyle?: boolean;
  /** Default: the SDK's credential chain (env, profile, instance/task role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  include?: RegExp;
  exclude?: RegExp;
  /** Use this client instead of creating one (it is not destroyed by `close`). */
  client?: S3Client;
  /** Keys per ListObjectsV2 request (S3 caps it at 1000; smaller values exercise paging in tests). */
  maxKeys?: number;
  /** Refs per yielded page (default 1000). */
  pageSize?: number;
  /** Bound on open connections of a created client (default 128). */
  maxSockets?: number;
}

export { parseS3Uri, type S3Location } from '../../core/s3/uri.js';
import { parseS3Uri } from '../../core/s3/uri.js';
import { createS3Client } from '../../core/s3/client.js';

export { createS3Client } from '../../core/s3/client.js';

/**
 * Creates a source over `s3://bucket/prefix`. Object keys are the full S3 keys.
 *
 * @example
 * const source = createS3Source({ uri: 's3://logs/AWSLogs/123456789012/vpcflowlogs/' });
 * for await (const page of source.list({ from: Date.UTC(2024, 0, 2, 3), to: Date.UTC(2024, 0, 2, 4) })) { ... }
 */
export function createS3Source(options: S3SourceOptions): Source {
  const { bucket, prefix } = parseS3Uri(options.uri);
  const ownsClient = options.client === undefined;
  const client = options.client ?? createS3Client(options);
  const pageSize = options.pageSize ?? 1000;
  const root = `s3://${bucket}/${prefix}`;

  function wanted(key: string, window: TimeWindow | undefined): boolean {
    if (options.include && !options.include.test(key)) return false;
    if (options.exclude && options.exclude.test(key)) return false;
    return keyInWindow(key, window);
  }

  async function listPage(listPrefix: string, delimiter: string | undefined, token: string | undefined): Promise<ListObjectsV2CommandOutput> {
    try {
      return await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: listPrefix || undefined,
          Delimiter: delimiter,
          ContinuationToken: token,
          MaxKeys: options.maxKeys,
        }),
      );
    } catch (err) {
      throw listingError(err, bucket, listPrefix);
    }
  }

  async function* list(window?: TimeWindow): AsyncIterable<ObjectRef[]> {
    if (!isWindowSet(window)) {
      let token: string | undefined;
      do {
        const out = await listPage(prefix, undefined, token);
        const page = (out.Contents ?? []).filter((o) => wanted(o.Key!, undefined)).map((o) => toRef(bucket, o));
        if (page.length > 0) yield page;
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token);
      return;
    }
    let page: ObjectRef[] = [];
    for await (const ref of walkFolder(prefix, window)) {
      page.push(ref);
      if (page.length >= pageSize) {
        yield page;
        page = [];
      }
    }
    if (page.length > 0) yield page;
  }

  async function* walkFolder(folder: string, window: TimeWindow): AsyncGenerator<ObjectRef> {
    let token: string | undefined;
    // Some S3-compatible servers repeat a common prefix on the next page; S3 itself never does.
    let last: string | undefined;
    do {
      const out = await listPage(folder, '/', token);
      const objects = out.Contents ?? [];
      const folders = (out.CommonPrefixes ?? []).flatMap((p) => (p.Prefix === undefined ? [] : [p.Prefix]));
      let i = 0;
      let j = 0;
      while (i < objects.length || j < folders.length) {
        const takeObject = j >= folders.length || (i < objects.length && compareKeys(objects[i]!.Key!, folders[j]!) < 0);
        const item = takeObject ? objects[i++]!.Key! : folders[j++]!;
        if (last !== undefined && compareKeys(item, last) <= 0) continue;
        last = item;
        if (takeObject) {
          if (wanted(item, window)) yield toRef(bucket, objects[i - 1]!);
        } else if (prefixInWindow(item, window)) {
          yield* walkFolder(item, window);
        }
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }

  async function open(ref: ObjectRef, signal?: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
    const location = parseS3Uri(ref.uri);
    let out;
    try {
      out = await client.send(
        new GetObjectCommand({
          Bucket: location.bucket,
          Key: location.prefix,
          IfMatch: ref.etag ? `"${ref.etag}"` : undefined,
          VersionId: ref.versionId,
        }),
        { abortSignal: signal },
      );
    } catch (err) {
      throw readError(err, ref);
    }
    const body = out.Body as AsyncIterable<Uint8Array> | undefined;
    if (!body) return emptyBody();
    return readBody(body, ref.uri, out.ContentLength);
  }

  /** One folder level (Delimiter '/'), page by page as S3 returns them. */
  async function* listFolder(keyPrefix: string = prefix): AsyncIterable<FolderPage> {
    let token: string | undefined;
    // Some S3-compatible servers repeat a common prefix on the next page; S3 itself never does.
    let lastFolder: string | undefined;
    do {
      const out = await listPage(keyPrefix, '/', token);
      const objects = (out.Contents ?? []).filter((o) => wanted(o.Key!, undefined)).map((o) => toRef(bucket, o));
      const folders: string[] = [];
      for (const p of out.CommonPrefixes ?? []) {
        if (p.Prefix === undefined || (lastFolder !== undefined && compareKeys(p.Prefix, lastFolder) <= 0)) continue;
        folders.push(p.Prefix);
        lastFolder = p.Prefix;
      }
      if (objects.length > 0 || folders.length > 0) yield { objects, folders };
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }

  return {
    root,
    list,
    open,
    listFolder,
    async close() {
      if (ownsClient) client.destroy();
    },
  };
}

function toRef(bucket: string, object: _Object): ObjectRef {
  const key = object.Key!;
  return {
    uri: `s3://${bucket}/${key}`,
    key,
    size: object.Size,
    etag: object.ETag?.replace(/"/g, ''),
    lastModified: object.LastModified?.toISOString(),
  };
}

/** S3 lists keys in UTF-8 byte order; JavaScript compares UTF-16 units, which differs past U+FFFF. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

async function* emptyBody(): AsyncGenerator<Uint8Array> {}

async function* readBody(body: AsyncIterable<Uint8Array>, uri: string, expectedBytes: number | undefined): AsyncGenerator<Uint8Array> {
  let received = 0;
  try {
    for await (const chunk of body) {
      received += chunk.length;
      yield chunk;
    }
  } catch (err) {
    throw toSluiceError(err, 'read', `reading ${uri} failed after ${received} bytes`);
  }
  if (expectedBytes !== undefined && received < expectedBytes) {
    throw new SluiceError(`reading ${uri} ended after ${received} of ${expectedBytes} bytes`, {
      code: 'TRUNCATED_READ',
      stage: 'read',
      retryable: true,
    });
  }
}

function errorName(err: unknown): string | undefined {
  return (err as { name?: string })?.name;
}

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function readError(err: unknown, ref: ObjectRef): SluiceError {
  const name = errorName(err);
  const status = httpStatus(err);
  if (name === 'NoSuchKey' || (status === 404 && name !== 'NoSuchBucket')) {
    return new SluiceError(`${ref.uri} does not exist`, {
      code: 'OBJECT_NOT_FOUND',
      stage: 'read',
      retryable: false,
      hint: 'the object was deleted or moved after it was listed or notified',
      cause: err,
    });
  }
  if (name === 'NoSuchBucket') {
    return new SluiceError(`the bucket of ${ref.uri} does not exist`, {
      code: 'BUCKET_NOT_FOUND',
      stage: 'read',
      retryable: false,
      cause: err,
    });
  }
  if (name === 'PreconditionFailed' || status === 412) {
    return new SluiceError(`${ref.uri} changed after it was listed (listed ETag ${ref.etag})`, {
      code: 'OBJECT_CHANGED',
      stage: 'read',
      retryable: false,
      hint: 're-run to plan the object as it is now',
      cause: err,
    });
  }
  if (name === 'AccessDenied' || status === 403) {
    return new SluiceError(`access denied reading ${ref.uri}`, {
      code: 'ACCESS_DENIED',
      stage: 'read',
      retryable: false,
      hint: 'the credentials need s3:GetObject on this key (and kms:Decrypt for SSE-KMS objects)',
      cause: err,
    });
  }
  return toSluiceError(err, 'read', `cannot read ${ref.uri}`);
}

function listingError(err: unknown, bucket: string, prefix: string): SluiceError {
  const where = `s3://${bucket}/${prefix}`;
  const name = errorName(err);
  const status = httpStatus(err);
  if (name === 'NoSuchBucket') {
    return new SluiceError(`cannot list ${where}: bucket ${bucket} does not exist`, {
      code: 'BUCKET_NOT_FOUND',
      stage: 'plan',
      retryable: false,
      hint: 'check source.uri (and source.endpoint/region for S3-compatible servers)',
      cause: err,
    });
  }
  if (name === 'AccessDenied' || status === 403) {
    return new SluiceError(`access denied listing ${where}`, {
      code: 'ACCESS_DENIED',
      stage: 'plan',
      retryable: false,
      hint: 'the credentials need s3:ListBucket on the bucket (with this prefix)',
      cause: err,
    });
  }
  return toSluiceError(err, 'plan', `cannot list ${where}`);
}
