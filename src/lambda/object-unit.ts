/**
 * One notified (or listed) S3 object as one unit of work, named exactly as the planner names it
 * (`unitIdFor` / `outputStemFor`), so an object processed by the SQS handler, by a Step Functions
 * backfill and by `sluice run` writes the same output files and record ids: re-processing it
 * anywhere overwrites, never duplicates.
 */
import type { UnitContext } from '../core/component.js';
import type { PipelineConfig } from '../pipeline/config.js';
import { SluiceError, toSluiceError } from '../core/errors.js';
import type { ObjectRef } from '../core/record.js';
import type { UnitResult } from '../runtime/ledger/types.js';
import { outputStemFor, unitIdFor } from '../runtime/ledger/unit-id.js';
import { processUnit } from '../runtime/process-unit.js';
import type { LambdaPipeline } from './lambda-pipeline.js';
import type { ThroughputEstimate, TimeBudget } from './time-budget.js';

export interface S3ObjectIdentity {
  bucket: string;
  /** Decoded key. */
  key: string;
  size?: number;
  etag?: string;
  versionId?: string;
}

export type ObjectOutcome =
  | { status: 'done'; object: ObjectRef; result: UnitResult }
  | { status: 'skipped'; object: ObjectRef; reason: string }
  | { status: 'failed'; object: ObjectRef; error: SluiceError };

/**
 * Splits `s3://bucket/prefix` (the same rule as the S3 source's `parseS3Uri`, kept here so the
 * handler modules do not load the AWS SDK before a pipeline needs it).
 */
export function s3Location(uri: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)(?:\/([\s\S]*))?$/.exec(uri);
  if (!m) throw new SluiceError(`"${uri}" is not an S3 URI: expected s3://bucket or s3://bucket/prefix`, { code: 'BAD_SOURCE_URI', stage: 'config' });
  return { bucket: m[1]!, prefix: m[2] ?? '' };
}

export function objectRefFor(o: S3ObjectIdentity): ObjectRef {
  return { uri: `s3://${o.bucket}/${o.key}`, key: o.key, size: o.size, etag: o.etag, versionId: o.versionId };
}

/** The unit the planner would create for this object. */
export function unitContextFor(pipelineName: string, ref: ObjectRef): UnitContext {
  return {
    id: unitIdFor(pipelineName, 'object', ref.key, ref.versionId ?? ref.etag),
    outputStem: outputStemFor(ref.key, unitIdFor(pipelineName, 'object', ref.key)),
    objects: [ref],
  };
}

/** CloudTrail digest files are signatures, not events (they would all be rejected lines). */
const CLOUDTRAIL_DIGEST = /(^|\/)CloudTrail-Digest\//;

/**
 * Why an object in the pipeline's scope needs no work, or undefined when it does: digest files,
 * and keys the pipeline's own `source.include` / `source.exclude` filter out.
 */
export function skipReason(config: PipelineConfig, ref: ObjectRef): string | undefined {
  if (CLOUDTRAIL_DIGEST.test(ref.key)) return 'CloudTrail digest file';
  const { include, exclude } = config.source;
  if (include !== undefined && !new RegExp(include).test(ref.key)) return `key does not match source.include /${include}/`;
  if (exclude !== undefined && new RegExp(exclude).test(ref.key)) return `key matches source.exclude /${exclude}/`;
  return undefined;
}

/**
 * An object outside `source.uri` (another bucket, another prefix) is a wiring mistake: the
 * message fails (and ends in the dead-letter queue with an alarm) rather than being dropped.
 */
export function scopeError(config: PipelineConfig, ref: ObjectRef): SluiceError | undefined {
  if (!config.source.uri.startsWith('s3://')) {
    return new SluiceError(`${ref.uri}: pipeline "${config.name}" reads ${config.source.uri}, not S3`, {
      code: 'SOURCE_MISMATCH',
      stage: 'plan',
      hint: 'set source.uri to s3://<bucket>/<prefix> for a pipeline triggered by S3 notifications',
    });
  }
  const scope = s3Location(config.source.uri);
  const { bucket } = s3Location(ref.uri);
  if (bucket !== scope.bucket || !ref.key.startsWith(scope.prefix)) {
    return new SluiceError(`${ref.uri} is outside the pipeline's source ${config.source.uri}`, {
      code: 'SOURCE_MISMATCH',
      stage: 'plan',
      hint: 'scope the bucket notification to the source prefix, or point source.uri at this bucket/prefix',
    });
  }
  return undefined;
}

export interface ProcessObjectOptions {
  budget?: TimeBudget;
  throughput?: ThroughputEstimate;
  /** Check that the object lies inside `source.uri` (notifications); backfills list it themselves. */
  checkScope?: boolean;
}

/**
 * Processes one object through the pipeline, never throwing: the outcome says done, skipped
 * (with why) or failed (with a SluiceError naming the object).
 */
export async function processObject(lambda: LambdaPipeline, ref: ObjectRef, options: ProcessObjectOptions = {}): Promise<ObjectOutcome> {
  const { config, pipeline } = lambda;
  if (options.checkScope !== false) {
    const error = scopeError(config, ref);
    if (error) return { status: 'failed', object: ref, error };
  }
  const reason = skipReason(config, ref);
  if (reason) return { status: 'skipped', object: ref, reason };

  const budget = options.budget;
  const estimate = options.throughput?.estimateMs(ref.size) ?? 0;
  if (budget && !budget.hasTimeFor(estimate)) {
    return { status: 'failed', object: ref, error: outOfTime(ref, budget, estimate, 'not started') };
  }
  try {
    const result = await processUnit(pipeline, unitContextFor(config.name, ref), { signal: budget?.signal });
    if (ref.size !== undefined) options.throughput?.observe(ref.size, result.durationMs);
    return { status: 'done', object: ref, result };
  } catch (err) {
    if (budget?.signal.aborted) return { status: 'failed', object: ref, error: outOfTime(ref, budget, estimate, 'aborted') };
    const error = toSluiceError(err, 'read', ref.uri);
    // The object was replaced after the notification was sent: the new version has its own
    // notification, and reading the old one is impossible (its records' ids name the old ETag).
    if (error.code === 'OBJECT_CHANGED') return { status: 'skipped', object: ref, reason: 'object replaced since the notification (its new version is notified separately)' };
    return { status: 'failed', object: ref, error };
  }
}

function outOfTime(ref: ObjectRef, budget: TimeBudget, estimateMs: number, what: 'not started' | 'aborted'): SluiceError {
  const left = Math.max(0, Math.round(budget.usableMs() + budget.marginMs));
  const detail = what === 'aborted' ? 'aborted before the function timeout, nothing of it was committed' : `not started: ${left} ms left${estimateMs > 0 ? `, ~${Math.round(estimateMs)} ms needed` : ''}`;
  return new SluiceError(`${ref.uri}: ${detail} (margin ${budget.marginMs} ms)`, {
    code: 'TIME_BUDGET_EXCEEDED',
    stage: 'read',
    retryable: true,
    hint: 'the message returns to the queue and is retried; raise the function timeout (and the queue visibility timeout with it) or lower the batch size if this repeats',
  });
}
