/**
 * The pipeline a Lambda container runs: read once from `SLUICE_PIPELINE` (a path in the bundle, or
 * an `s3://` URI of a pipeline YAML), its components built once, and reused by every invocation
 * the container serves. A failed load is not cached, so the next invocation tries again (a
 * missing object or a throttled GET must not poison the container).
 *
 * Components are built the way `runtime/build-pipeline.ts` builds them, but without the ledger
 * (SQS, the batch response and Step Functions are the checkpoint in Lambda, and importing the
 * ledger would drag the SQLite and PostgreSQL drivers into every bundle).
 *
 * The registry and the S3 client are imported when the pipeline is opened, not when the handler
 * module is: a bundle split at those dynamic imports evaluates the components (HTTP client, AWS
 * SDK clients, Parquet) during the first invocation's init, and a handler whose pipeline never
 * needs a module (a CloudWatch Logs pipeline has no S3 source) never evaluates it.
 */
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { parseDocument } from 'yaml';
import type { PipelineConfig } from '../pipeline/config.js';
import { loadPipelineFile, parsePipeline } from '../pipeline/config.js';
import { SluiceError, toSluiceError } from '../core/errors.js';
import type { UnitPipeline } from '../core/component.js';
import type { Logger } from '../core/logger.js';
import { isS3Location } from '../core/place/index.js';
import { deadLetterDirFor } from '../pipeline/places.js';

export interface LambdaPipeline {
  config: PipelineConfig;
  pipeline: UnitPipeline;
}

export interface LoadPipelineOptions {
  /** Client for `s3://` pipeline URIs (default: one from the Lambda's environment). */
  s3Client?: S3Client;
  /** Base folder for relative paths in an `s3://` pipeline (default: the working directory, i.e. the bundle). */
  baseDir?: string;
}

/**
 * Reads and validates a pipeline YAML from a path or an `s3://` URI.
 *
 * @example
 * const config = await loadPipelineConfig(process.env.SLUICE_PIPELINE ?? 'pipeline.yaml');
 */
export async function loadPipelineConfig(ref: string, options: LoadPipelineOptions = {}): Promise<PipelineConfig> {
  if (!ref.startsWith('s3://')) return loadPipelineFile(path.resolve(ref));
  const [{ GetObjectCommand }, { createS3Client, parseS3Uri }] = await Promise.all([import('@aws-sdk/client-s3'), import('../sources/s3/index.js')]);
  const { bucket, prefix: key } = parseS3Uri(ref);
  const client = options.s3Client ?? createS3Client();
  let text: string;
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    text = (await out.Body?.transformToString('utf8')) ?? '';
  } catch (err) {
    throw new SluiceError(`cannot read the pipeline ${ref}: ${(err as Error).message}`, {
      code: 'CONFIG_UNREADABLE',
      stage: 'config',
      retryable: toSluiceError(err, 'config').retryable,
      hint: 'SLUICE_PIPELINE must name an object the function may read (s3:GetObject on it)',
      cause: err,
    });
  } finally {
    if (!options.s3Client) client.destroy();
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const pos = first.linePos?.[0];
    throw new SluiceError(`${ref}${pos ? `:${pos.line}:${pos.col}` : ''}: YAML syntax error: ${first.message.split('\n')[0]}`, {
      code: 'CONFIG_SYNTAX',
      stage: 'config',
      hint: 'check indentation and quoting on that line',
    });
  }
  // Relative paths (enrichment tables, ...) in a pipeline kept in S3 refer to files in the bundle.
  return parsePipeline(doc.toJS(), path.join(options.baseDir ?? process.cwd(), path.basename(key) || 'pipeline.yaml'));
}

/**
 * Where dead letters go in Lambda: runtime.deadLetters, else beside the first files sink. It must
 * be durable — an S3 prefix, or an EFS mount (/mnt/...) — since the container's disk vanishes with
 * it: a pipeline without one is refused (its messages are then never acknowledged), instead of
 * acknowledging records whose dead letters would be lost. The message itself says what to set:
 * it is all that reaches Lambda's error report, a Step Functions failure cause or Firehose's
 * error output.
 */
export function lambdaDeadLetterLocation(config: PipelineConfig): string {
  const location = deadLetterDirFor(config);
  if (isS3Location(location) || /^\/mnt\/[^/]/.test(location)) return location;
  const where = config.runtime.deadLetters === undefined ? `${location} (the default: runtime.deadLetters is not set)` : location;
  throw new SluiceError(`pipeline ${config.name}: in Lambda, dead letters would go to ${where}, which does not survive the container: set runtime.deadLetters to an s3://bucket/prefix/`, {
    code: 'DEAD_LETTERS_NOT_DURABLE',
    stage: 'config',
    hint: 'set runtime.deadLetters to an s3://bucket/prefix/ the function may write (or an EFS mount under /mnt/), or write a files sink to s3://',
  });
}

/**
 * The pipeline of one invocation. One that cannot be loaded fails the whole invocation — every
 * message or record of the event comes back (SQS, Kinesis and Firehose retry it; Lambda's Errors
 * metric, which the CDK construct alarms on, counts it) — after a log line naming what was not
 * processed and why: `pending` names the items, `what` says how many of what.
 */
export async function pipelineForInvocation(load: () => Promise<LambdaPipeline>, log: Logger, pending: Record<string, unknown>, what: string): Promise<LambdaPipeline> {
  try {
    return await load();
  } catch (err) {
    const e = toSluiceError(err, 'config');
    log.error({ ...pending, code: e.code, stage: e.stage, retryable: e.retryable, hint: e.hint }, `pipeline not loaded, ${what} returned unprocessed: ${e.message}`);
    throw e;
  }
}

/** Builds the components of a pipeline for a Lambda container and opens its transforms. */
export async function openLambdaPipeline(config: PipelineConfig): Promise<LambdaPipeline> {
  const { createFormat, createSink, createSource, createTransforms } = await import('../pipeline/catalog.js');
  const { runtimePlaceFor } = await import('../pipeline/places.js');
  const pipeline: UnitPipeline = {
    source: createSource(config.source),
    format: createFormat(config.format),
    transforms: createTransforms(config.transforms),
    sinks: config.sinks.map(createSink),
    deadLetters: runtimePlaceFor(lambdaDeadLetterLocation(config), config, 'runtime.deadLetters'),
  };
  try {
    for (const transform of pipeline.transforms) await transform.open?.();
  } catch (err) {
    await closeLambdaPipeline({ config, pipeline });
    throw err;
  }
  return { config, pipeline };
}

export async function closeLambdaPipeline({ pipeline }: LambdaPipeline): Promise<void> {
  await Promise.allSettled([
    pipeline.source.close?.(),
    ...pipeline.transforms.map((t) => t.close?.()),
    ...pipeline.sinks.map((s) => s.close?.()),
    pipeline.deadLetters.close(),
  ]);
}

let containerPipeline: Promise<LambdaPipeline> | undefined;

/**
 * The container's pipeline, loaded on first use from `SLUICE_PIPELINE`.
 */
export function pipelineFromEnvironment(): Promise<LambdaPipeline> {
  if (containerPipeline) return containerPipeline;
  const ref = process.env.SLUICE_PIPELINE;
  if (!ref) {
    return Promise.reject(
      new SluiceError('SLUICE_PIPELINE is not set', {
        code: 'CONFIG_MISSING',
        stage: 'config',
        hint: 'set SLUICE_PIPELINE to the pipeline YAML: a path in the bundle (e.g. pipeline.yaml) or s3://bucket/key',
      }),
    );
  }
  const loading = loadPipelineConfig(ref).then(openLambdaPipeline);
  containerPipeline = loading;
  loading.catch(() => {
    if (containerPipeline === loading) containerPipeline = undefined;
  });
  return loading;
}
