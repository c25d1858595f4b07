/**
 * An S3 prefix as a place (see place.ts for the contract).
 *
 * A staged object is written to a local spool file first. `seal()` then uploads it: a file of
 * at least `multipartBytes` (8 MiB) becomes a multipart upload whose parts are sent at once but
 * which is completed only by `publish()` — S3 shows no object until then, and a crash leaves an
 * incomplete upload that `removeLeftovers` (or the bucket's lifecycle rule) aborts; the spool file
 * is deleted after the upload, so local disk holds only parts still being written. A smaller file
 * is kept in memory and sent whole by `publish()` (one PutObject, atomic as every S3 write is).
 * Bytes are exactly the spool file's, so the same content gives the same object (and, split into
 * the same 8 MiB parts, the same ETag).
 *
 * Every request goes through the SDK's standard retries (503 SlowDown, throttling, dropped
 * connections), with more attempts than the SDK's default since an output must not be lost to
 * one bad minute of S3.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
  type ServerSideEncryption,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { crashPoint } from '../crash-points.js';
import { SluiceError } from '../errors.js';
import { createS3Client, type S3ConnectionOptions } from '../s3/client.js';
import { parseS3Uri } from '../s3/uri.js';
import type { Place, PlaceEntry, PublishedObject, StagedObject } from './place.js';

export interface S3PlaceOptions extends S3ConnectionOptions {
  /** `s3://bucket/prefix`. */
  uri: string;
  /** Server-side encryption of every object written (`aws:kms` needs `kmsKeyId` or uses the bucket's key). */
  sse?: 'AES256' | 'aws:kms';
  kmsKeyId?: string;
  storageClass?: string;
  /** Files at least this large go as multipart uploads (default 8 MiB; S3's minimum part is 5 MiB). */
  multipartBytes?: number;
  /** Use this client (not destroyed by `close`). */
  client?: S3Client;
  /** Local folder for spool files (default: the OS temp folder). */
  spoolDir?: string;
}

const DEFAULT_MULTIPART_BYTES = 8 * 1024 * 1024;
/** CopyObject copies at most 5 GB in one request; larger objects move by download and upload. */
const MAX_COPY_BYTES = 5 * 1024 * 1024 * 1024;
/** A conditional write that meets another one in flight (409) is tried again this many times. */
const CONDITIONAL_CONFLICT_ATTEMPTS = 5;
const SPOOL_MARKER = '.sluice-spool';
const spoolTag = `${process.pid}-${randomBytes(3).toString('hex')}`;
let spoolSequence = 0;

export function createS3Place(options: S3PlaceOptions): Place {
  const { bucket, prefix: rawPrefix } = parseS3Uri(options.uri);
  const prefix = rawPrefix === '' || rawPrefix.endsWith('/') ? rawPrefix : `${rawPrefix}/`;
  const root = `s3://${bucket}/${prefix}`;
  const ownsClient = options.client === undefined;
  const client = options.client ?? createS3Client({ ...options });
  const partBytes = Math.max(5 * 1024 * 1024, options.multipartBytes ?? DEFAULT_MULTIPART_BYTES);
  const spoolDir = options.spoolDir ?? path.join(os.tmpdir(), 'sluice-spool');
  const writeParams = {
    ServerSideEncryption: options.sse as ServerSideEncryption | undefined,
    SSEKMSKeyId: options.sse === 'aws:kms' ? options.kmsKeyId : undefined,
    StorageClass: options.storageClass as StorageClass | undefined,
  };
  const s3Key = (key: string) => `${prefix}${key}`;
  const uri = (key: string) => `s3://${bucket}/${s3Key(key)}`;
  const fail = (action: string, key: string, err: unknown) => s3Error(action, `s3://${bucket}/${s3Key(key)}`, err);

  async function stage(key: string): Promise<StagedObject> {
    await mkdir(spoolDir, { recursive: true });
    await (spoolsSwept.get(spoolDir) ?? spoolsSwept.set(spoolDir, removeOrphanSpools(spoolDir)).get(spoolDir));
    spoolSequence += 1;
    const localPath = path.join(spoolDir, `${path.posix.basename(key)}${SPOOL_MARKER}-${spoolTag}-${spoolSequence}`);
    let state: 'staged' | 'sealed' | 'published' | 'discarded' = 'staged';
    let small: Buffer | undefined;
    let uploadId: string | undefined;
    let parts: Array<{ ETag: string; PartNumber: number }> = [];
    return {
      key,
      localPath,
      async seal() {
        if (state !== 'staged') throw new SluiceError(`cannot seal ${uri(key)}: it was ${state}`, { code: 'PLACE_STATE', stage: 'sink' });
        const size = (await stat(localPath)).size;
        if (size < partBytes) {
          small = await readFile(localPath);
        } else {
          try {
            const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: s3Key(key), ...writeParams }));
            uploadId = created.UploadId!;
            parts = await uploadParts(client, { bucket, key: s3Key(key), uploadId, localPath, partBytes });
          } catch (err) {
            throw fail('uploading', key, err);
          }
        }
        await rm(localPath, { force: true });
        state = 'sealed';
      },
      async publish(): Promise<PublishedObject> {
        if (state !== 'sealed') throw new SluiceError(`cannot publish ${uri(key)}: it was ${state}`, { code: 'PLACE_STATE', stage: 'sink' });
        try {
          const out = uploadId
            ? await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: s3Key(key), UploadId: uploadId, MultipartUpload: { Parts: parts } }))
            : await client.send(new PutObjectCommand({ Bucket: bucket, Key: s3Key(key), Body: small!, ContentLength: small!.length, ...writeParams }));
          state = 'published';
          small = undefined;
          return { uri: uri(key), key, etag: unquote(out.ETag) };
        } catch (err) {
          throw fail('publishing', key, err);
        }
      },
      async discard() {
        if (state === 'published' || state === 'discarded') return;
        state = 'discarded';
        small = undefined;
        await rm(localPath, { force: true }).catch(() => undefined);
        if (uploadId) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: s3Key(key), UploadId: uploadId })).catch(() => undefined);
      },
    };
  }

  async function* listPages(listPrefix: string, delimiter: string | undefined): AsyncIterable<PlaceEntry> {
    let token: string | undefined;
    do {
      let page;
      try {
        page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: listPrefix, Delimiter: delimiter, ContinuationToken: token }));
      } catch (err) {
        throw s3Error('listing', `s3://${bucket}/${listPrefix}`, err);
      }
      for (const object of page.Contents ?? []) {
        if (!object.Key || object.Key.includes(SPOOL_MARKER)) continue;
        yield { key: object.Key.slice(prefix.length), size: object.Size ?? 0, etag: unquote(object.ETag) ?? '' };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  const place: Place = {
    root,
    kind: 's3',
    uri,
    stage,
    async put(key, bytes) {
      try {
        const out = await client.send(new PutObjectCommand({ Bucket: bucket, Key: s3Key(key), Body: bytes, ContentLength: bytes.length, ...writeParams }));
        return { uri: uri(key), key, etag: unquote(out.ETag) };
      } catch (err) {
        throw fail('writing', key, err);
      }
    },
    async create(key, bytes) {
      for (let attempt = 1; ; attempt++) {
        try {
          const out = await client.send(new PutObjectCommand({ Bucket: bucket, Key: s3Key(key), Body: bytes, ContentLength: bytes.length, IfNoneMatch: '*', ...writeParams }));
          return { uri: uri(key), key, etag: unquote(out.ETag) };
        } catch (err) {
          if (httpStatus(err) === 412 || errorName(err) === 'PreconditionFailed') return undefined;
          // ConditionalRequestConflict: another conditional write of the key is in flight.
          if (httpStatus(err) === 409 && attempt < CONDITIONAL_CONFLICT_ATTEMPTS) continue;
          throw fail('creating', key, err);
        }
      }
    },
    async read(key) {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: s3Key(key) }));
        return Buffer.from(await out.Body!.transformToByteArray());
      } catch (err) {
        if (errorName(err) === 'NoSuchKey' || httpStatus(err) === 404) return undefined;
        throw fail('reading', key, err);
      }
    },
    async readRange(key, offset, length) {
      if (length <= 0) return Buffer.alloc(0);
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: s3Key(key), Range: `bytes=${offset}-${offset + length - 1}` }));
        return Buffer.from(await out.Body!.transformToByteArray());
      } catch (err) {
        if (errorName(err) === 'NoSuchKey' || httpStatus(err) === 404) return undefined;
        // A range starting at or past the end of the object.
        if (httpStatus(err) === 416 || errorName(err) === 'InvalidRange') return Buffer.alloc(0);
        throw fail('reading', key, err);
      }
    },
    async download(key, file) {
      let out;
      try {
        out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: s3Key(key) }));
      } catch (err) {
        if (errorName(err) === 'NoSuchKey' || httpStatus(err) === 404) return false;
        throw fail('reading', key, err);
      }
      const temp = `${file}${SPOOL_MARKER}-${spoolTag}-${++spoolSequence}`;
      try {
        await pipeline(out.Body as Readable, createWriteStream(temp));
        await rename(temp, file);
      } catch (err) {
        await rm(temp, { force: true });
        // A local failure (ENOSPC, EACCES) is the caller's to explain; a broken stream is S3's.
        if (typeof (err as NodeJS.ErrnoException).code === 'string' && (err as NodeJS.ErrnoException).syscall !== undefined) throw err;
        throw fail('reading', key, err);
      }
      return true;
    },
    async move(fromKey, toKey) {
      let size: number | undefined;
      for await (const entry of listPages(s3Key(fromKey), undefined)) if (entry.key === fromKey) size = entry.size;
      if (size === undefined) throw fail('moving', fromKey, Object.assign(new Error('no such object'), { name: 'NoSuchKey' }));
      let published: PublishedObject;
      if (size <= MAX_COPY_BYTES) {
        try {
          const out = await client.send(
            new CopyObjectCommand({ Bucket: bucket, Key: s3Key(toKey), CopySource: copySourceOf(bucket, s3Key(fromKey)), ...writeParams }),
          );
          published = { uri: uri(toKey), key: toKey, etag: unquote(out.CopyObjectResult?.ETag) };
        } catch (err) {
          throw fail('copying', fromKey, err);
        }
      } else {
        const staged = await stage(toKey);
        try {
          if (!(await place.download(fromKey, staged.localPath))) throw fail('moving', fromKey, Object.assign(new Error('no such object'), { name: 'NoSuchKey' }));
          await staged.seal();
          published = await staged.publish();
        } catch (err) {
          await staged.discard();
          throw err;
        }
      }
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: s3Key(fromKey) }));
      } catch (err) {
        throw fail('deleting', fromKey, err);
      }
      return published;
    },
    async list(folder) {
      const out: PlaceEntry[] = [];
      const listPrefix = folder === '' ? prefix : `${prefix}${folder.replace(/\/+$/, '')}/`;
      for await (const entry of listPages(listPrefix, '/')) out.push(entry);
      return out;
    },
    listTree: (treePrefix = '') => listPages(`${prefix}${treePrefix}`, undefined),
    async remove(key) {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: s3Key(key) }));
      } catch (err) {
        throw fail('deleting', key, err);
      }
    },
    async removeLeftovers(keyPrefix, nameFilter) {
      let removed = 0;
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      do {
        let page;
        try {
          page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: s3Key(keyPrefix), KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }));
        } catch (err) {
          throw s3Error('listing incomplete uploads under', `s3://${bucket}/${s3Key(keyPrefix)}`, err);
        }
        for (const upload of page.Uploads ?? []) {
          if (nameFilter !== undefined && !nameFilter(path.posix.basename(upload.Key!))) continue;
          await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key!, UploadId: upload.UploadId! })).catch(() => undefined);
          removed += 1;
        }
        keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
        uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
      } while (keyMarker);
      return removed;
    },
    async probe() {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
      } catch (err) {
        throw s3Error('reaching the bucket of', root, err, 'check the bucket name, `endpoint`/`region`, and that these credentials may use it');
      }
      const probePrefix = `${prefix}.sluice-preflight-`;
      const probeKey = `${probePrefix}${spoolTag}`;
      try {
        // A probe left by a process killed mid-preflight would stay in the prefix forever: remove
        // such leftovers (a live process's probe is gone within milliseconds; deleting a missing key succeeds).
        const leftovers = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: probePrefix }));
        for (const object of leftovers.Contents ?? []) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: object.Key! }));
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: probeKey, Body: 'sluice preflight\n', ...writeParams }));
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: probeKey }));
      } catch (err) {
        throw s3Error('writing a probe object to', root, err, 'these credentials need s3:ListBucket, s3:PutObject and s3:DeleteObject on the prefix (and kms:GenerateDataKey for aws:kms)');
      }
    },
    async close() {
      if (ownsClient) client.destroy();
    },
  };
  return place;
}

/** Spool folders already swept by this process. */
const spoolsSwept = new Map<string, Promise<void>>();

/**
 * Removes spool files of processes that no longer run (a SIGKILLed worker never deletes its own):
 * the name carries the writer's pid, and a pid with no process behind it cannot come back for it.
 */
async function removeOrphanSpools(dir: string): Promise<void> {
  const owner = new RegExp(`${SPOOL_MARKER.replace('.', '\\.')}-(\\d+)-[0-9a-f]{6}-\\d+$`);
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(owner.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid || processIsAlive(pid)) continue;
    await rm(path.join(dir, name), { force: true }).catch(() => undefined);
  }
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, as another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function uploadParts(
  client: S3Client,
  target: { bucket: string; key: string; uploadId: string; localPath: string; partBytes: number },
): Promise<Array<{ ETag: string; PartNumber: number }>> {
  const parts: Array<{ ETag: string; PartNumber: number }> = [];
  let partNumber = 0;
  // Parts go one after the other, each a Buffer the SDK can resend on a retry.
  for await (const chunk of fixedChunks(createReadStream(target.localPath, { highWaterMark: 1024 * 1024 }), target.partBytes)) {
    partNumber += 1;
    const out = await client.send(
      new UploadPartCommand({ Bucket: target.bucket, Key: target.key, UploadId: target.uploadId, PartNumber: partNumber, Body: chunk, ContentLength: chunk.length }),
    );
    parts.push({ ETag: out.ETag!, PartNumber: partNumber });
    crashPoint('mid-multipart-upload');
  }
  return parts;
}

/** Re-cuts a byte stream into chunks of exactly `size` bytes (the last one shorter). */
async function* fixedChunks(input: AsyncIterable<Buffer>, size: number): AsyncIterable<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const data of input) {
    pending.push(data);
    pendingBytes += data.length;
    while (pendingBytes >= size) {
      const all = Buffer.concat(pending, pendingBytes);
      yield all.subarray(0, size);
      pending = [all.subarray(size)];
      pendingBytes -= size;
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}

/**
 * CopyObject's `bucket/key`, URL-encoded as S3 wants it; `=` (every partition folder has one)
 * stays as it is, as S3-compatible servers that decode with decodeURI need it.
 */
function copySourceOf(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map((segment) => encodeURIComponent(segment).replaceAll('%3D', '=')).join('/')}`;
}

function unquote(etag: string | undefined): string | undefined {
  return etag?.replace(/"/g, '');
}

function errorName(err: unknown): string | undefined {
  return (err as { name?: string; Code?: string })?.Code ?? (err as { name?: string })?.name;
}

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/** An S3 failure as a SluiceError naming the object, the AWS error code and what to do. */
export function s3Error(action: string, where: string, err: unknown, hint?: string): SluiceError {
  const code = errorName(err) ?? 'Error';
  const status = httpStatus(err);
  const forbidden = code === 'AccessDenied' || code === 'Forbidden' || status === 403;
  const missing = code === 'NoSuchBucket' || code === 'NotFound' || status === 404;
  // Throttling, 5xx and network errors clear up; a missing bucket or a refusal will not.
  const retryable = !forbidden && !missing && (status === undefined || status >= 500 || status === 429 || code === 'SlowDown');
  const message = (err as Error)?.message && (err as Error).message !== code ? `: ${(err as Error).message}` : '';
  return new SluiceError(`S3 ${action} ${where} failed: ${code}${status ? ` (HTTP ${status})` : ''}${message}`, {
    code: forbidden ? 'S3_FORBIDDEN' : missing ? 'S3_NOT_FOUND' : 'S3_WRITE_FAILED',
    stage: 'sink',
    retryable,
    hint: hint ?? (forbidden ? 'these credentials may not write there: check the IAM policy, bucket policy and KMS key policy' : missing ? 'check the bucket name and region' : 'S3 or the network failed; the unit is retried'),
    cause: err,
  });
}
