import path from 'node:path';
import type { PipelineConfig } from '../core/config.js';
import { createFormat, createSink, createSource, createTransforms } from '../core/registry.js';
import type { UnitPipeline } from './process-unit.js';

/** Where rejected lines and records go: runtime.deadLetters, else `<first files sink>/_rejected`, else beside the ledger. */
export function deadLetterDirFor(config: PipelineConfig): string {
  if (config.runtime.deadLetters) return config.runtime.deadLetters;
  const files = config.sinks.find((s) => s.type === 'files');
  if (files && files.type === 'files') return path.join(files.path, '_rejected');
  return path.join(path.dirname(config.runtime.state), 'dead-letters', config.name);
}

export function buildUnitPipeline(config: PipelineConfig): UnitPipeline {
  return {
    source: createSource(config.source),
    format: createFormat(config.format),
    transforms: createTransforms(config.transforms),
    sinks: config.sinks.map(createSink),
    deadLetterDir: deadLetterDirFor(config),
  };
}

export async function closeUnitPipeline(pipeline: UnitPipeline): Promise<void> {
  await Promise.allSettled([
    pipeline.source.close?.(),
    ...pipeline.transforms.map((t) => t.close?.()),
    ...pipeline.sinks.map((s) => s.close?.()),
  ]);
}
