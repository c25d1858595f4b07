/**
 * Validates a sample of what a pipeline would emit as OCSF: the first records of its first
 * source object(s) go through the format and the transforms up to the last `ocsf` transform,
 * and every resulting event is checked against the shipped schema (validate.ts), with the
 * mapping's documented gaps allowed. Used by `sluice validate`; nothing is written anywhere.
 */
import type { PipelineConfig, TransformConfig } from './config.js';
import type { RecordBatch, Transform } from '../core/component.js';
import { toSluiceError } from '../core/errors.js';
import { objectIdPrefix, type ObjectRef } from '../core/record.js';
import { createFormat, createSource, createTransforms } from './catalog.js';
import { decompressByMagic } from '../core/decompress.js';
import type { OcsfTransformConfig } from '../transforms/ocsf/config.js';
import { createOcsfMapping } from '../transforms/ocsf/index.js';
import { loadOcsfSchema } from '../transforms/ocsf/schema.js';
import { validateOcsfEvent, type OcsfProblemCode } from '../transforms/ocsf/validate.js';

export interface OcsfSampleProblem {
  object: string;
  line: number;
  path: string;
  code: OcsfProblemCode;
  message: string;
}

export interface OcsfSampleReport {
  version: string;
  mapping: string;
  /** Objects read (URIs). */
  objects: string[];
  /** Events validated. */
  events: number;
  /** Records the format or the transforms rejected on the way (they would go to dead letters). */
  rejected: number;
  /** Problems found, at most `maxProblems`. */
  problems: OcsfSampleProblem[];
  /** Events with at least one problem. */
  invalidEvents: number;
}

/** Objects listed and read at most while looking for `maxObjects` that hold records. */
const MAX_EXAMINED_OBJECTS = 100;

export interface OcsfSampleOptions {
  /** Stop after this many events (default 1000). */
  maxEvents?: number;
  /** Read at most this many objects (default 1). */
  maxObjects?: number;
  /** Keep at most this many problems (default 20). */
  maxProblems?: number;
}

/**
 * Returns undefined when the pipeline has no `ocsf` transform.
 *
 * @example
 * const report = await checkOcsfOutputSample(loadPipelineFile('vpc-to-lake.yaml'));
 * if (report && report.invalidEvents > 0) console.log(report.problems);
 */
export async function checkOcsfOutputSample(config: PipelineConfig, options: OcsfSampleOptions = {}): Promise<OcsfSampleReport | undefined> {
  const lastOcsf = findLastIndex(config.transforms, (t) => t.type === 'ocsf');
  if (lastOcsf === -1) return undefined;
  const ocsfConfig = config.transforms[lastOcsf] as OcsfTransformConfig;
  const maxEvents = options.maxEvents ?? 1000;
  const maxObjects = options.maxObjects ?? 1;
  const maxProblems = options.maxProblems ?? 20;
  const mapping = createOcsfMapping(ocsfConfig.mapping, { version: ocsfConfig.version, observables: ocsfConfig.observables, datetime: ocsfConfig.datetime }, ocsfConfig.csv);
  const schema = loadOcsfSchema(ocsfConfig.version);
  const report: OcsfSampleReport = { version: ocsfConfig.version, mapping: mapping.name, objects: [], events: 0, rejected: 0, problems: [], invalidEvents: 0 };

  const source = createSource(config.source);
  const format = createFormat(config.format);
  const transforms: Transform[] = createTransforms(config.transforms.slice(0, lastOcsf + 1));
  try {
    for (const transform of transforms) await transform.open?.();
    // Objects that hold no records (CloudTrail digests, listed first in key order; empty files)
    // do not count towards maxObjects, within MAX_EXAMINED_OBJECTS.
    let sampled = 0;
    let examined = 0;
    listing: for await (const page of source.list()) {
      for (const object of page) {
        if (sampled >= maxObjects || report.events >= maxEvents || examined >= MAX_EXAMINED_OBJECTS) break listing;
        examined++;
        if ((await sampleObject(object)) > 0) sampled++;
      }
    }
  } catch (err) {
    throw toSluiceError(err, 'read', `while mapping a sample of ${source.root} to check its OCSF output`);
  } finally {
    await Promise.allSettled([source.close?.(), ...transforms.map((t) => t.close?.())]);
  }
  return report;

  /** Maps and checks one object's records; returns how many records (mapped or rejected) it held. */
  async function sampleObject(object: ObjectRef): Promise<number> {
    let held = 0;
    report.objects.push(object.uri);
    const bytes = decompressByMagic(await source.open(object), object.uri);
    for await (const decoded of format.decode(bytes, { object, idPrefix: objectIdPrefix(object) })) {
      held += decoded.records.length + decoded.rejects.length;
      report.rejected += decoded.rejects.length;
      let batch: RecordBatch = { records: decoded.records, rejects: [] };
      for (const transform of transforms) {
        batch = await transform.apply(batch);
        report.rejected += batch.rejects.length;
        batch = { records: batch.records, rejects: [] };
      }
      for (const record of batch.records) {
        if (report.events >= maxEvents) break;
        report.events++;
        const problems = validateOcsfEvent(record.fields, schema, { allowMissing: mapping.acceptedGaps?.(record.fields) ?? [] });
        if (problems.length === 0) continue;
        report.invalidEvents++;
        for (const problem of problems) {
          if (report.problems.length < maxProblems) report.problems.push({ object: record.origin.object, line: record.origin.line, ...problem });
        }
      }
      if (report.events >= maxEvents) break;
    }
    return held;
  }
}

function findLastIndex(items: readonly TransformConfig[], predicate: (t: TransformConfig) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (predicate(items[i]!)) return i;
  return -1;
}
