import path from 'node:path';
import type { Sink, Transform, UnitPipeline } from '../core/component.js';
import type { Place } from '../core/place/index.js';
import { SluiceError } from '../core/errors.js';
import { deadLetterPlaceFor, runtimePlaceFor } from './places.js';

export { deadLetterDirFor, deadLetterPlaceFor, runtimePlaceFor, s3OptionsFor } from './places.js';
import { isLedgerReference, type PipelineConfig } from './config.js';
import { barrierStageOf, createFormat, createSink, createSource, createTransforms } from './catalog.js';

/** Folder of the per-unit partials of a barrier transform: its `partials` option, else beside the ledger. */
export function partialsDirFor(config: PipelineConfig, stage: { config: { partials?: string } }): string {
  if (stage.config.partials) return stage.config.partials;
  const beside = isLedgerReference(config.runtime.state) ? path.resolve('.sluice') : path.dirname(config.runtime.state);
  return path.join(beside, 'partials', config.name);
}

/** The place of a barrier transform's partials (an S3 prefix lets a fleet on several machines share them). */
export function partialsPlaceFor(config: PipelineConfig, stage: { config: { partials?: string } }): Place {
  return runtimePlaceFor(partialsDirFor(config, stage), config, 'aggregate.partials');
}

/**
 * What object units run: all transforms and the pipeline's sinks, or, with a barrier transform
 * (an aggregate), the transforms before it and its partial sink (runtime/finalize.ts does the rest).
 */
export function unitStagesOf(config: PipelineConfig): { transforms: Transform[]; sinks: Sink[] } {
  const stage = barrierStageOf(config.transforms);
  if (!stage) return { transforms: createTransforms(config.transforms), sinks: config.sinks.map(createSink) };
  return {
    transforms: createTransforms(config.transforms.slice(0, stage.index)),
    sinks: [stage.barrier.partialSink(partialsPlaceFor(config, stage as { config: { partials?: string } }))],
  };
}

/** Builds the components of a pipeline and opens its transforms (tables loaded, connections made). */
export async function openUnitPipeline(config: PipelineConfig): Promise<UnitPipeline> {
  // With an aggregate, units feed its partial results; its finalize step feeds the sinks (finalize.ts).
  const stages = unitStagesOf(config);
  const pipeline: UnitPipeline = {
    source: createSource(config.source),
    format: createFormat(config.format),
    transforms: stages.transforms,
    sinks: stages.sinks,
    deadLetters: deadLetterPlaceFor(config),
    readConcurrency: config.source.concurrency,
  };
  try {
    for (const transform of pipeline.transforms) await transform.open?.();
  } catch (err) {
    await closeUnitPipeline(pipeline);
    throw err;
  }
  return pipeline;
}

/**
 * What a run checks once, in the main thread, before planning or leasing anything: the sinks
 * (options this Node cannot honour, such as zstd Parquet on Node 20; a folder that cannot be
 * written) and the transforms (tables loaded, databases reached). Without it such a problem
 * would fail every unit in its worker, each retried with backoff until dead.
 */
export async function preflightPipeline(config: PipelineConfig): Promise<void> {
  await preflightSinks(config);
  await preflightDeadLetters(config);
  await preflightTransforms(config);
}

/** Creates each sink (which validates its options) and runs its own preflight check, then closes it. */
export async function preflightSinks(config: PipelineConfig): Promise<void> {
  const sinks: Sink[] = [];
  try {
    for (const sinkConfig of config.sinks) {
      const sink = createSink(sinkConfig);
      sinks.push(sink);
      await sink.preflight?.();
    }
  } finally {
    await Promise.allSettled(sinks.map((s) => s.close?.()));
  }
}

/** Proves the dead letters' place takes objects (a folder that can be written; a bucket reached and a probe written). */
export async function preflightDeadLetters(config: PipelineConfig): Promise<void> {
  const place = deadLetterPlaceFor(config);
  try {
    await place.probe();
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    throw new SluiceError(`dead letters: cannot write to ${place.root}: ${(err as Error).message}`, {
      code: 'DEAD_LETTERS_UNWRITABLE',
      stage: 'config',
      retryable: (err as NodeJS.ErrnoException).code === 'ENOSPC',
      hint: 'set runtime.deadLetters to a folder this user can create files in, or an s3://bucket/prefix/ it may write',
      cause: err,
    });
  } finally {
    await place.close();
  }
}

/** Opens and closes the transforms once, so that a bad table or an unreachable database fails the run before any work. */
export async function preflightTransforms(config: PipelineConfig): Promise<void> {
  const transforms = createTransforms(config.transforms);
  try {
    for (const transform of transforms) await transform.open?.();
  } finally {
    await Promise.allSettled(transforms.map((t) => t.close?.()));
  }
}

export async function closeUnitPipeline(pipeline: UnitPipeline): Promise<void> {
  await Promise.allSettled([
    pipeline.source.close?.(),
    ...pipeline.transforms.map((t) => t.close?.()),
    ...pipeline.sinks.map((s) => s.close?.()),
    pipeline.deadLetters.close(),
  ]);
}
