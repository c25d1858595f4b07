/**
 * Test kit for the Lambda handlers (tests only; no handler imports it): an s3rver holding the
 * objects the fixture notifications name, pipelines writing into a temp folder, a logger whose
 * lines the test can read, and fake Lambda contexts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { parsePipeline } from '../pipeline/config.js';
import type { Logger } from '../core/logger.js';
import { startS3Server, type RunningS3Server } from './s3-server.js';
import { fixturePath } from './repo-root.js';
import { openLambdaPipeline, type LambdaPipeline } from '../lambda/lambda-pipeline.js';
import type { RemainingTime } from '../lambda/time-budget.js';

export const VPCFLOW_OBJECT = readFileSync(fixturePath('constructed', '123456789010_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz'));
/** Records in VPCFLOW_OBJECT (lines after the header). */
export const VPCFLOW_RECORDS = 7;
export const CLOUDTRAIL_OBJECT = readFileSync(fixturePath('constructed', '123456789012_CloudTrail_us-east-1_20230719T2120Z_AbCdEfGhIjKlMnOp.json.gz'));
export const CLOUDTRAIL_RECORDS = 7;

export interface LambdaTestWorld {
  s3: RunningS3Server;
  tmp: string;
  /** A pipeline over `s3://<bucket>/<prefix>` writing NDJSON into a fresh folder (returned as `out`). */
  pipeline(spec: { bucket: string; prefix?: string; format?: unknown; include?: string; exclude?: string; name?: string }): Promise<LambdaPipeline & { out: string }>;
  stop(): Promise<void>;
}

let worlds = 0;

export async function startLambdaTestWorld(buckets: string[]): Promise<LambdaTestWorld> {
  const s3 = await startS3Server({ buckets });
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-lambda-'));
  const id = ++worlds;
  process.env[`SLUICE_LAMBDA_TEST_KEY_${id}`] = s3.credentials.accessKeyId;
  process.env[`SLUICE_LAMBDA_TEST_SECRET_${id}`] = s3.credentials.secretAccessKey;
  let pipelines = 0;
  const opened: LambdaPipeline[] = [];
  return {
    s3,
    tmp,
    async pipeline(spec) {
      const out = path.join(tmp, `out-${++pipelines}`);
      const config = parsePipeline(
        {
          name: spec.name ?? 'lambda-test',
          source: {
            uri: `s3://${spec.bucket}/${spec.prefix ?? ''}`,
            endpoint: s3.endpoint,
            region: 'us-east-1',
            forcePathStyle: true,
            accessKeyId: `env:SLUICE_LAMBDA_TEST_KEY_${id}`,
            secretAccessKey: `env:SLUICE_LAMBDA_TEST_SECRET_${id}`,
            ...(spec.include ? { include: spec.include } : {}),
            ...(spec.exclude ? { exclude: spec.exclude } : {}),
          },
          format: spec.format ?? 'vpcflow',
          sinks: [{ type: 'files', path: out, format: 'ndjson' }],
        },
        path.join(tmp, 'pipeline.yaml'),
      );
      const lambda = await openLambdaPipeline(config);
      opened.push(lambda);
      return { ...lambda, out };
    },
    async stop() {
      await Promise.allSettled(opened.map((p) => p.pipeline.source.close?.()));
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
