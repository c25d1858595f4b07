/**
 * The files sink (NDJSON gzip and plain, Parquet) against the sink conformance suite. Parts are
 * kept small and few may be open, so units roll parts over and evict open ones: the paths where
 * a crash, an abort or a re-run has the most to get wrong.
 */
import { after } from 'node:test';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parquetReadObjects } from 'hyparquet';
import type { SluiceRecord } from '../../core/record.js';
import type { Sink } from '../../core/component.js';
import { runSinkConformance, type ObjectsTarget } from '../../testing/sink-conformance.js';
import { startS3Server } from '../../testing/s3-server.js';
import { GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { filesSinkSchema, type FilesSinkConfig } from './config.js';
import { createFilesSink, type FilesSinkOptions } from './index.js';

// The suite checks what is visible, not durability: on a memory file system the sink's fsyncs
// (one per part and folder) cost nothing, where on a busy disk they took 4/5 of the time.
const scratch = await mkdtemp(path.join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'sluice-files-conformance-'));
after(() => rm(scratch, { recursive: true, force: true }));
let folders = 0;

/** Every file under `root` (temp files included), by absolute path as the sink names its outputs. */
async function listFiles(root: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath ?? entry.path, entry.name);
    files.set(file, await readFile(file));
  }
  return files;
}

/** The `_id` of every record in the parts among `files` (name -> bytes; the name's ending tells the format). */
async function idsIn(files: Map<string, Uint8Array>): Promise<string[]> {
  const ids: string[] = [];
  for (const [name, bytes] of files) {
    const file = name.replace(/#etag=.*$/, '');
    if (file.endsWith('.parquet')) {
      const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      for (const row of await parquetReadObjects({ file: buffer, columns: ['_id'] })) ids.push(String(row._id));
    } else if (file.endsWith('.ndjson') || file.endsWith('.ndjson.gz')) {
      const text = Buffer.from(file.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
      for (const line of text.split('\n')) if (line !== '') ids.push(String((JSON.parse(line) as { _id: unknown })._id));
    }
  }
  return ids;
}

/** A record the files sink cannot write: a value JSON cannot hold (how SINK_RECORD_UNSERIALIZABLE arises). */
function withCircularValue(record: SluiceRecord): SluiceRecord {
  const loop: Record<string, unknown> = { depth: 1 };
  loop.self = loop;
  return { ...record, fields: { ...record.fields, loop } };
}

/**
 * An adapter over one destination per run: `open` gives the sink's config for a fresh destination,
 * how to list what is visible there, and how to clean it up.
 */
function filesSinkAdapter(
  options: FilesSinkOptions,
  fresh: () => Promise<{ config: FilesSinkConfig; list: () => Promise<Map<string, Uint8Array>>; remove?: () => Promise<void> }>,
) {
  return {
    delivery: 'objects' as const,
    spoil: withCircularValue,
    async open(): Promise<ObjectsTarget> {
      const destination = await fresh();
      const sinks: Sink[] = [];
      return {
        createSink: () => {
          const sink = createFilesSink(destination.config, options);
          sinks.push(sink);
          return sink;
        },
        visibleIds: async () => idsIn(await destination.list()),
        listObjects: destination.list,
        dispose: async () => {
          await Promise.all(sinks.map((s) => s.close?.()));
          await destination.remove?.();
        },
      };
    },
  };
}

function filesAdapter(settings: Partial<FilesSinkConfig>, options: FilesSinkOptions) {
  return filesSinkAdapter(options, async () => {
    folders += 1;
    const root = path.join(scratch, String(folders));
    await mkdir(root);
    return {
      config: filesSinkSchema.parse({ type: 'files', path: root, ...settings }),
      list: () => listFiles(root),
      remove: () => rm(root, { recursive: true, force: true }),
    };
  });
}

runSinkConformance('files ndjson gzip', filesAdapter({ format: 'ndjson', compression: 'gzip', partition: 'day', targetSizeMb: 0.002 }, { maxOpenParts: 2 }));
runSinkConformance('files ndjson plain', filesAdapter({ format: 'ndjson', compression: 'none', partition: 'hour', targetSizeMb: 0.003 }, { maxOpenParts: 3 }));
runSinkConformance('files parquet', filesAdapter({ format: 'parquet', partition: 'day', targetSizeMb: 0.004, rowGroupRows: 16 }, {}));

// The same sink writing to an S3 prefix on the in-process S3-protocol server. What is visible is
// what a listing shows, plus any incomplete multipart upload (which must never be left behind).
const s3 = await startS3Server({ buckets: ['conformance'] });
after(() => s3.stop());
let prefixes = 0;

async function listS3(prefix: string): Promise<Map<string, Uint8Array>> {
  const objects = new Map<string, Uint8Array>();
  let token: string | undefined;
  do {
    const page = await s3.client.send(new ListObjectsV2Command({ Bucket: 'conformance', Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      const body = await s3.client.send(new GetObjectCommand({ Bucket: 'conformance', Key: o.Key! }));
      // Named as the sink names its outputs: s3://bucket/key#etag=<etag>.
      objects.set(`s3://conformance/${o.Key!}#etag=${o.ETag!.replace(/"/g, '')}`, await body.Body!.transformToByteArray());
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  for (const upload of (await s3.client.send(new ListMultipartUploadsCommand({ Bucket: 'conformance', Prefix: prefix }))).Uploads ?? []) {
    objects.set(`incomplete-upload:${upload.Key!}`, new Uint8Array());
  }
  return objects;
}

function s3Adapter(settings: Partial<FilesSinkConfig>, options: FilesSinkOptions) {
  return filesSinkAdapter(options, async () => {
    prefixes += 1;
    const prefix = `run-${prefixes}/`;
    const config = filesSinkSchema.parse({
      type: 'files',
      path: `s3://conformance/${prefix}`,
      endpoint: s3.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      accessKeyId: 'env:SLUICE_CONFORMANCE_S3_KEY',
      secretAccessKey: 'env:SLUICE_CONFORMANCE_S3_SECRET',
      ...settings,
    });
    return { config, list: () => listS3(prefix) };
  });
}
process.env.SLUICE_CONFORMANCE_S3_KEY = s3.credentials.accessKeyId;
process.env.SLUICE_CONFORMANCE_S3_SECRET = s3.credentials.secretAccessKey;

runSinkConformance('files ndjson gzip to S3', s3Adapter({ format: 'ndjson', compression: 'gzip', partition: 'day', targetSizeMb: 0.002 }, { maxOpenParts: 2 }), { runs: 8 });
runSinkConformance('files parquet to S3 (security-lake layout)', s3Adapter({ format: 'parquet', layout: 'security-lake', targetSizeMb: 0.004, rowGroupRows: 16 }, {}), { runs: 8 });
