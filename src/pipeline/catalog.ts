/**
 * The factories of the catalog: a parsed config in, a component out, found by `type` in the
 * static list (components.ts). The runtime builds every unit's pipeline through these.
 */
import type { Barrier, Format, FormatContext, Sink, Source, Transform } from '../core/component.js';
import { SluiceError } from '../core/errors.js';
import type { FormatConfig, SinkConfig, SourceConfig, TransformConfig } from './config.js';
import { FORMATS, SINKS, TRANSFORMS } from './components.js';
import { openSource } from './open-source.js';

type AnyDescriptor<T, Ctx = void> = { type: string; create(config: never, context: Ctx): T };

function descriptorOf<D extends { type: string }>(list: readonly D[], type: string, kind: string, code: string): D {
  const found = list.find((d) => d.type === type);
  if (!found) {
    throw new SluiceError(`unknown ${kind} "${type}" (known: ${list.map((d) => d.type).join(', ')})`, { code, stage: 'config' });
  }
  return found;
}

const formatContext: FormatContext = { createFormat: (config) => createFormat(config as FormatConfig) };

export function createFormat(config: FormatConfig): Format {
  const d = descriptorOf(FORMATS as readonly AnyDescriptor<Format, FormatContext>[], config.type, 'format', 'UNKNOWN_FORMAT');
  return (d.create as (c: FormatConfig, ctx: FormatContext) => Format)(config, formatContext);
}

export function createSink(config: SinkConfig): Sink {
  const d = descriptorOf(SINKS as readonly AnyDescriptor<Sink>[], config.type, 'sink', 'UNKNOWN_SINK');
  return (d.create as (c: SinkConfig) => Sink)(config);
}

export function createTransform(config: TransformConfig): Transform {
  const d = descriptorOf(TRANSFORMS as readonly AnyDescriptor<Transform>[], config.type, 'transform', 'UNKNOWN_TRANSFORM');
  return (d.create as (c: TransformConfig) => Transform)(config);
}

export function createTransforms(configs: readonly TransformConfig[]): Transform[] {
  return configs.map(createTransform);
}

export function createSource(config: SourceConfig): Source {
  return openSource(config);
}

/** The first transform whose answer spans units (an aggregate), with its position and its barrier. */
export function barrierStageOf(transforms: readonly TransformConfig[]): { index: number; config: TransformConfig; barrier: Barrier } | undefined {
  for (let index = 0; index < transforms.length; index++) {
    const config = transforms[index]!;
    const d = TRANSFORMS.find((t) => t.type === config.type) as { barrier?: (c: TransformConfig) => Barrier } | undefined;
    if (d?.barrier) return { index, config, barrier: d.barrier(config) };
  }
  return undefined;
}
