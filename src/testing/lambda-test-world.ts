/**
 * Test kit for the Lambda handlers (tests only; no handler imports it): an s3rver holding the
 * objects the fixture notifications name, pipelines writing into a temp folder with their dead
 * letters in S3 (as a Lambda deployment must have them: runtime.deadLetters on s3://), a logger
 * whose lines the test can read, and fake Lambda contexts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { parsePipeline } from '../pipeline/config.js';
import type { Logger } from '../core/logger.js';
import { GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startS3Server, type RunningS3Server, type S3Request } from './s3-server.js';
import { fixturePath } from './repo-root.js';
import { closeLambdaPipeline, openLambdaPipeline, type LambdaPipeline } from '../lambda/lambda-pipeline.js';
import type { RemainingTime } from '../lambda/time-budget.js';

export const VPCFLOW_OBJECT = readFileSync(fixturePath('constructed', '123456789010_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz'));
/** Records in VPCFLOW_OBJECT (lines after the header). */
export const VPCFLOW_RECORDS = 7;
export const CLOUDTRAIL_OBJECT = readFileSync(fixturePath('constructed', '123456789012_CloudTrail_us-east-1_20230719T2120Z_AbCdEfGhIjKlMnOp.json.gz'));
export const CLOUDTRAIL_RECORDS = 7;

/** The bucket every world's dead letters go to, one prefix per pipeline under dead-letters/. */
export const DEAD_LETTER_BUCKET = 'lambda-dead-letters';

/** A dead-letter object read back from the S3 server: its key and its letters (one JSON object per line). */
export interface DeadLetterObject {
  key: string;
  letters: Array<Record<string, unknown>>;
}

/** The `runtime` block of a world's pipeline: dead letters in S3, reached on the world's server. */
export interface DurableRuntime {
  deadLetters: string;
  s3: { endpoint: string; region: string; forcePathStyle: true; accessKeyId: string; secretAccessKey: string };
}

export interface LambdaTestWorld {
  s3: RunningS3Server;
  tmp: string;
  /**
   * A pipeline over `s3://<bucket>/<prefix>` writing NDJSON into a fresh folder (returned as `out`),
   * its dead letters under a fresh `s3://lambda-dead-letters/dead-letters/<n>/` (returned as `deadLetters`).
   */
  pipeline(spec: { bucket: string; prefix?: string; format?: unknown; include?: string; exclude?: string; name?: string }): Promise<LambdaPipeline & { out: string; deadLetters: string }>;
  /** A `runtime` block with dead letters under a fresh prefix, for pipelines a test builds itself. */
  durableRuntime(): DurableRuntime;
  /** The objects under an s3:// prefix, in key order, each parsed as dead letters. */
  deadLetterObjects(uri: string): Promise<DeadLetterObject[]>;
  /** Keys of the multipart uploads still open under an s3:// prefix (an aborted attempt must leave none). */
  openUploads(uri: string): Promise<string[]>;
  /**
   * Makes the server answer every write under an s3:// prefix (PutObject, the multipart calls:
   * every PUT and POST) with 500 InternalError, as a failing S3 would after the SDK's retries,
   * until the returned function is called.
   */
  refuseWrites(uri: string): () => void;
  stop(): Promise<void>;
}

let worlds = 0;

function splitS3(uri: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) throw new Error(`not an s3:// URI: ${uri}`);
  return { bucket: m[1]!, prefix: m[2]! };
}

export async function startLambdaTestWorld(buckets: string[]): Promise<LambdaTestWorld> {
  const refused = new Set<{ bucket: string; prefix: string }>();
  const faults = (request: S3Request) =>
    (request.method === 'PUT' || request.method === 'POST') && [...refused].some((r) => request.bucket === r.bucket && request.key.startsWith(r.prefix)) ? ('internal' as const) : undefined;
  const s3 = await startS3Server({ buckets: [...buckets, DEAD_LETTER_BUCKET], faults });
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-lambda-'));
  const id = ++worlds;
  process.env[`SLUICE_LAMBDA_TEST_KEY_${id}`] = s3.credentials.accessKeyId;
  process.env[`SLUICE_LAMBDA_TEST_SECRET_${id}`] = s3.credentials.secretAccessKey;
  const connection = {
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true as const,
    accessKeyId: `env:SLUICE_LAMBDA_TEST_KEY_${id}`,
    secretAccessKey: `env:SLUICE_LAMBDA_TEST_SECRET_${id}`,
  };
  let pipelines = 0;
  let deadLetterPrefixes = 0;
  const opened: LambdaPipeline[] = [];
  const durableRuntime = (): DurableRuntime => ({ deadLetters: `s3://${DEAD_LETTER_BUCKET}/dead-letters/${++deadLetterPrefixes}/`, s3: { ...connection } });
  return {
    s3,
    tmp,
    durableRuntime,
    async pipeline(spec) {
      const out = path.join(tmp, `out-${++pipelines}`);
      const runtime = durableRuntime();
      const config = parsePipeline(
        {
          name: spec.name ?? 'lambda-test',
          source: {
            uri: `s3://${spec.bucket}/${spec.prefix ?? ''}`,
            ...connection,
            ...(spec.include ? { include: spec.include } : {}),
            ...(spec.exclude ? { exclude: spec.exclude } : {}),
          },
          format: spec.format ?? 'vpcflow',
          sinks: [{ type: 'files', path: out, format: 'ndjson' }],
          runtime,
        },
        path.join(tmp, 'pipeline.yaml'),
      );
      const lambda = await openLambdaPipeline(config);
      opened.push(lambda);
      return { ...lambda, out, deadLetters: runtime.deadLetters };
    },
    async deadLetterObjects(uri) {
      const { bucket, prefix } = splitS3(uri);
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await s3.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        keys.push(...(page.Contents ?? []).map((c) => c.Key!));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      const objects: DeadLetterObject[] = [];
      for (const key of keys.sort()) {
        const text = await (await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString('utf8');
        objects.push({ key, letters: text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) });
      }
      return objects;
    },
    async openUploads(uri) {
      const { bucket, prefix } = splitS3(uri);
      const page = await s3.client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
      return (page.Uploads ?? []).map((u) => u.Key!);
    },
    refuseWrites(uri) {
      const rule = splitS3(uri);
      refused.add(rule);
      return () => void refused.delete(rule);
    },
    async stop() {
      await Promise.allSettled(opened.map((p) => closeLambdaPipeline(p)));
      await s3.stop();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** A pino logger keeping its JSON lines in memory. */
export function memoryLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug', base: undefined }, stream), lines };
}

/** A context with plenty of time left (15 minutes). */
export function roomyContext(): RemainingTime {
  return { getRemainingTimeInMillis: () => 900_000 };
}

export function readFixtureJson(...parts: string[]): unknown {
  return JSON.parse(readFileSync(fixturePath(...parts), 'utf8'));
}
