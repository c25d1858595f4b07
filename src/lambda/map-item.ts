/**
 * The Step Functions Distributed Map handler: one item = one object = one unit per invocation,
 * for backfills (seed 000: 720 objects of an hour, MaxConcurrency 20). The item is what the S3
 * ItemReader lists (`{Key, Size, Etag, LastModified, StorageClass}`, the ETag in quotes), with
 * the bucket added by the map's ItemSelector (or, without it, the pipeline's source bucket).
 *
 * The result is the unit's counts, so the map run's output reconciles in = out + rejected +
 * filtered per object. A failure throws: `SluiceRetryableError` for what may pass on a retry
 * (the state machine retries those), `SluiceError` for what will not (the item fails, and the
 * map's tolerated-failure threshold decides the run).
 */
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { SluiceError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/logger.js';
import { pipelineForInvocation, pipelineFromEnvironment, type LambdaPipeline } from './lambda-pipeline.js';
import { objectRefFor, processObject, s3Location } from './object-unit.js';
import { TimeBudget, type RemainingTime, type TimeBudgetOptions } from './time-budget.js';

/** An item as the S3 ItemReader gives it (plus an optional Bucket from the ItemSelector). */
export const mapItemSchema = z.object({
  Key: z.string().min(1).describe('Object key, not URL-encoded (it comes from ListObjectsV2).'),
  Bucket: z.string().min(1).optional(),
  Size: z.number().int().nonnegative().optional(),
  Etag: z.string().optional(),
  VersionId: z.string().optional(),
});

export type MapItem = z.input<typeof mapItemSchema>;

export interface MapItemResult {
  uri: string;
  status: 'done' | 'skipped';
  reason?: string;
  recordsIn: number;
  recordsOut: number;
  recordsRejected: number;
  recordsFiltered: number;
  outputs: number;
  durationMs: number;
}

export interface MapItemHandlerOptions {
  pipeline?: () => Promise<LambdaPipeline>;
  logger?: Logger;
  budget?: TimeBudgetOptions;
}

export type MapItemHandler = (item: unknown, context: RemainingTime & Partial<Context>) => Promise<MapItemResult>;

export function createMapItemHandler(options: MapItemHandlerOptions = {}): MapItemHandler {
  const loadPipeline = options.pipeline ?? pipelineFromEnvironment;
  let logger = options.logger;
  return async (input, context) => {
    logger ??= createLogger();
    const parsed = mapItemSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new SluiceError(`mapItemHandler: the item is not an S3 object item (${issue.path.join('.') || 'item'}: ${issue.message})`, {
        code: 'MAP_ITEM_INVALID',
        stage: 'plan',
        hint: 'use an S3 ItemReader (ListObjectsV2) over the prefix; items look like {"Key": "...", "Size": 123, "Etag": "\\"...\\""}',
      });
    }
    const item = parsed.data;
    let lambda: LambdaPipeline;
    try {
      lambda = await pipelineForInvocation(loadPipeline, logger, { key: item.Key }, 'the item');
    } catch (err) {
      // A throttled read of an s3:// pipeline passes on a retry; a pipeline refused as configured does not.
      throw namedForRetriers(err as SluiceError);
    }
    const bucket = item.Bucket ?? s3Location(lambda.config.source.uri).bucket;
    const ref = objectRefFor({ bucket, key: item.Key, size: item.Size, etag: item.Etag?.replace(/"/g, '') || undefined, versionId: item.VersionId });
    const budget = new TimeBudget(context, options.budget);
    try {
      const outcome = await processObject(lambda, ref, { budget });
      if (outcome.status === 'failed') {
        const e = outcome.error;
        logger.error({ object: ref.uri, code: e.code, stage: e.stage, retryable: e.retryable, hint: e.hint }, `failed ${ref.uri}: ${e.message}`);
        throw namedForRetriers(e);
      }
      if (outcome.status === 'skipped') {
        logger.info({ object: ref.uri, reason: outcome.reason }, `skipped ${ref.uri}: ${outcome.reason}`);
        return { uri: ref.uri, status: 'skipped', reason: outcome.reason, recordsIn: 0, recordsOut: 0, recordsRejected: 0, recordsFiltered: 0, outputs: 0, durationMs: 0 };
      }
      const r = outcome.result;
      logger.info({ object: ref.uri, recordsIn: r.recordsIn, recordsOut: r.recordsOut, recordsRejected: r.recordsRejected, durationMs: r.durationMs }, `done ${ref.uri}`);
      return {
        uri: ref.uri,
        status: 'done',
        recordsIn: r.recordsIn,
        recordsOut: r.recordsOut,
        recordsRejected: r.recordsRejected,
        recordsFiltered: r.recordsFiltered,
        outputs: r.outputs.length,
        durationMs: r.durationMs,
      };
    } finally {
      budget.dispose();
    }
  };
}

/** Step Functions matches retriers on the error name. */
function namedForRetriers(e: SluiceError): SluiceError {
  Object.defineProperty(e, 'name', { value: e.retryable ? 'SluiceRetryableError' : 'SluiceError' });
  return e;
}

/** The map-item handler configured from the environment (SLUICE_PIPELINE). */
export const mapItemHandler: MapItemHandler = createMapItemHandler();
