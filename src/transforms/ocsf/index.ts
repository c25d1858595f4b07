/**
 * The `ocsf` transform: each record's fields become one OCSF event (the record keeps its id,
 * origin and time), built by a mapping (mapping.ts). A record the mapping cannot map (a
 * non-numeric port, no event time, ...) becomes a rejection with the reason and goes to dead
 * letters; the rest of the batch goes on. A mapping that throws is treated the same way for
 * that record, so one odd record never fails a whole unit.
 *
 * The transform does no schema work per record: mappings build fixed-shape events, and the
 * schema check (validate.ts) runs in tests and in `sluice validate` on a sample.
 */
import type { RecordBatch, Transform } from '../../core/component.js';
import { SluiceError } from '../../core/errors.js';
import type { Rejection, SluiceRecord } from '../../core/record.js';
import type { OcsfTransformConfig } from './config.js';
import { MappingFailure, OCSF_REJECT_CODES, type OcsfMapping, type OcsfMappingOptions } from './mapping.js';
import { createVpcflowMapping } from './vpcflow-mapping.js';
import { createCloudtrailMapping } from './cloudtrail-mapping.js';
import type { AslCsvOptions } from './asl-config.js';
import { createAslCsvMapping } from './asl-mapping.js';
import { defineTransform } from '../../core/component.js';
import { ocsfTransformSchema } from './config.js';

export { MappingFailure, OCSF_REJECT_CODES, type OcsfEvent, type OcsfMapping, type OcsfMappingOptions } from './mapping.js';
export { validateOcsfEvent, type OcsfProblem, type OcsfProblemCode, type ValidateOptions } from './validate.js';
export { DEFAULT_OCSF_VERSION, loadOcsfSchema, availableOcsfVersions, OcsfSchema } from './schema.js';
export { VPCFLOW_ENRICHMENT_FIELDS } from './vpcflow-mapping.js';
export { compileDeclarativeMapping, type DeclarativeMappingSpec, type FieldRule, type OcsfValueType } from './declarative-mapping.js';

/**
 * A mapped record is a new object rather than the input record with its fields replaced: input
 * records may already sit in V8's old generation (pretenured, see vpcflow-mapping.ts), and
 * storing each new event into an old object costs a write-barrier slow path and keeps the event
 * alive through young-generation GCs (measured: the transform ran ~10x slower). Instances of a
 * class are not subject to V8's allocation-site pretenuring (Node 20).
 */
class MappedRecord implements SluiceRecord {
  constructor(
    public id: string,
    public origin: SluiceRecord['origin'],
    public time: number | undefined,
    public fields: Record<string, unknown>,
  ) {}
}

/** Rejected records keep at most this many characters of their fields (as JSON) in `raw`. */
export const MAX_REJECTED_RAW = 4096;

const BUILTIN_MAPPINGS: Readonly<Record<string, (options: OcsfMappingOptions) => OcsfMapping>> = {
  'builtin:vpcflow': createVpcflowMapping,
  'builtin:cloudtrail': createCloudtrailMapping,
};

/**
 * Resolves a mapping by its config name and checks that it can emit the requested version.
 *
 * @example
 * const mapping = createOcsfMapping('builtin:vpcflow', { version: '1.1.0', observables: true, datetime: false });
 */
export function createOcsfMapping(name: string, options: OcsfMappingOptions, csv?: AslCsvOptions): OcsfMapping {
  if (/\.csv$/i.test(name)) {
    if (!csv) {
      throw new SluiceError(`ocsf transform: mapping ${name} is a mapping CSV; it needs \`csv: { classUid, ... }\``, {
        code: 'OCSF_MAPPING_INVALID',
        stage: 'config',
        hint: 'add csv.classUid (the OCSF class, e.g. 4001), and csv.logType when the file holds several src_log_type values',
      });
    }
    return createAslCsvMapping(name, csv, options.version);
  }
  const factory = BUILTIN_MAPPINGS[name];
  if (!factory) {
    throw new SluiceError(`ocsf transform: unknown mapping "${name}"`, {
      code: 'OCSF_UNKNOWN_MAPPING',
      stage: 'config',
      hint: `use one of ${Object.keys(BUILTIN_MAPPINGS).join(', ')}`,
    });
  }
  const mapping = factory(options);
  if (!mapping.versions.includes(options.version)) {
    throw new SluiceError(`ocsf transform: mapping ${name} does not emit OCSF ${options.version}`, {
      code: 'OCSF_VERSION_UNSUPPORTED',
      stage: 'config',
      hint: `set version to ${mapping.versions.join(' or ')}`,
    });
  }
  return mapping;
}

/**
 * Creates the `ocsf` transform from its pipeline config.
 *
 * @example
 * // transforms: [{ type: ocsf, mapping: builtin:vpcflow }]
 * const transform = createOcsfTransform({ type: 'ocsf', mapping: 'builtin:vpcflow', version: '1.1.0', observables: true, datetime: false });
 */
export function createOcsfTransform(config: OcsfTransformConfig): Transform {
  const mapping = createOcsfMapping(config.mapping, { version: config.version, observables: config.observables, datetime: config.datetime }, config.csv);
  return ocsfTransform(mapping);
}

/** The transform around any mapping (also used by tests and by other mapping sources). */
export function ocsfTransform(mapping: OcsfMapping): Transform {
  return {
    name: 'ocsf',
    apply(batch: RecordBatch): RecordBatch {
      const input = batch.records;
      const records: SluiceRecord[] = [];
      const rejects: Rejection[] = batch.rejects;
      for (let i = 0; i < input.length; i++) {
        const record = input[i]!;
        let result;
        try {
          result = mapping.map(record);
        } catch (err) {
          result = new MappingFailure(OCSF_REJECT_CODES.mappingError, `mapping ${mapping.name} failed on this record: ${(err as Error)?.message ?? String(err)}`);
        }
        if (result instanceof MappingFailure) {
          rejects.push({
            origin: record.origin,
            code: result.code,
            reason: `line ${record.origin.line}: ${result.reason} (ocsf mapping ${mapping.name})`,
            raw: rawOf(record),
          });
          continue;
        }
        records.push(new MappedRecord(record.id, record.origin, record.time ?? (result.time as number), result));
      }
      return batch.filtered === undefined ? { records, rejects } : { records, rejects, filtered: batch.filtered };
    },
  };
}

function rawOf(record: SluiceRecord): string {
  let json: string;
  try {
    json = JSON.stringify(record.fields);
  } catch {
    json = String(record.fields);
  }
  return json.length > MAX_REJECTED_RAW ? json.slice(0, MAX_REJECTED_RAW) : json;
}

/** The catalog's entry: `{ type: ocsf, mapping: builtin:<name> | <mapping>.csv }`. */
export const ocsfTransformComponent = defineTransform({
  type: 'ocsf',
  schema: ocsfTransformSchema,
  create: (config) => createOcsfTransform(config),
  resolvePaths: (config, resolveLocal) => (/\.csv$/i.test(config.mapping) ? { ...config, mapping: resolveLocal(config.mapping) } : config),
});
