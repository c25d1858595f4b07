/**
 * The `aggregate` transform: distinct peers per address per time bucket (default 10 minutes), as
 * in seed 001, with friendly names from an earlier `enrich`.
 *
 * ```yaml
 * transforms:
 *   - type: enrich            # optional: src_name / dst_name ... for the names
 *     tables: { ... }
 *   - type: aggregate
 *     bucketSeconds: 600
 * sinks:
 *   - type: http              # the seed's shape: POST {ip: peers} per bucket
 *     url: https://example.com/connection_sets/{bucket_start}
 *     asObject: { key: ip, value: peers }
 *     batchMaxRecords: 1000000
 * ```
 *
 * A bucket spans many objects, so an answer per object would be wrong. In a run, each unit (one
 * object) feeds its flows to a partial-result sink (`createAggregatePartialSink`): at the unit's
 * commit it writes its per-bucket peer sets to `<partials>/<unit output stem>.peers.json.gz` (a
 * local folder or an S3 prefix, written atomically; a retry or a re-run rewrites the same object,
 * so partials are idempotent). The flows are
 * then "out" of that unit (delivered to the aggregate). When every unit of the pipeline is done,
 * the runtime's finalize step (src/runtime/finalize.ts) merges all partials and sends the result
 * records through the transforms after `aggregate` to the pipeline's sinks as one more unit,
 * recorded in the ledger like any other.
 *
 * `createAggregateTransform` is the same aggregation in memory for a single caller (a Lambda
 * handling one Kinesis batch): `apply` consumes records, `results()` gives the answer so far.
 */
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { defineTransform, type Barrier, type RecordBatch, type Sink, type SinkCommit, type SinkWriter, type Transform, type UnitContext } from '../../core/component.js';
import { SluiceError } from '../../core/errors.js';
import type { Place } from '../../core/place/index.js';
import type { SluiceRecord } from '../../core/record.js';
import { aggregateTransformSchema, type AggregateTransformConfig } from './config.js';
import { DistinctPeers, type DistinctPeersPartial } from './distinct-peers.js';

export type { AggregateTransformConfig } from './config.js';
export { DistinctPeers, type DistinctPeersPartial } from './distinct-peers.js';
export { HyperLogLog, hllStandardError } from './hyperloglog.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

export interface AggregateTransform extends Transform {
  /** The results so far, as records (see DistinctPeers.results). */
  results(object?: string): SluiceRecord[];
}

/**
 * The in-memory aggregate: records given to `apply` are consumed (the returned batch counts them
 * as filtered, so a caller's accounting still balances) and `results()` gives the answer.
 *
 * @example
 * const agg = createAggregateTransform(aggregateTransformSchema.parse({ type: 'aggregate' }));
 * await agg.apply({ records, rejects: [] });
 * const perBucket = agg.results();
 */
export function createAggregateTransform(config: AggregateTransformConfig): AggregateTransform {
  const state = new DistinctPeers(config);
  return {
    name: 'aggregate',
    apply(batch: RecordBatch): RecordBatch {
      for (const record of batch.records) state.add(record);
      return { records: [], rejects: batch.rejects, filtered: (batch.filtered ?? 0) + batch.records.length };
    },
    results(object = 'aggregate') {
      return [...state.results(object)];
    },
  };
}

/** The key of a unit's partial in the partials' place. */
export function partialKeyFor(outputStem: string): string {
  return `${outputStem}.peers.json.gz`;
}

/**
 * The sink that stands in for the pipeline's sinks while units run: it aggregates the unit's
 * records and, on commit, writes the unit's partial to the partials' place (a local folder or an
 * S3 prefix, so a fleet on several machines shares them) in one atomic write.
 */
export function createAggregatePartialSink(config: AggregateTransformConfig, partials: Place): Sink {
  return {
    name: 'aggregate-partials',
    openUnit(unit: UnitContext): SinkWriter {
      const state = new DistinctPeers(config);
      let count = 0;
      return {
        async write(records) {
          for (const record of records) state.add(record);
          count += records.length;
        },
        async commit(): Promise<SinkCommit> {
          // Level 1: partials are read once, soon after; CPU matters more than bytes here.
          const published = await partials.put(partialKeyFor(unit.outputStem), await gzipAsync(JSON.stringify(state.toPartial()), { level: 1 }));
          return { outputs: [published.uri], delivered: count, rejected: [] };
        },
        async abort() {},
      };
    },
  };
}

/** Reads a partial written by the partial sink; a missing one is a clear, non-retryable error. */
export async function readPartial(place: Place, key: string): Promise<DistinctPeersPartial> {
  const bytes = await place.read(key);
  if (bytes === undefined) {
    throw new SluiceError(`the aggregate's partial result ${place.uri(key)} is missing`, {
      code: 'AGGREGATE_PARTIAL_MISSING',
      stage: 'transform',
      hint: 'the unit was done before the aggregate was configured, or the partials folder was removed: run again with --full-load',
    });
  }
  try {
    const partial = JSON.parse((await gunzipAsync(bytes)).toString('utf8')) as DistinctPeersPartial;
    if (partial.version !== 1) throw new Error(`unknown partial version ${String(partial.version)}`);
    return partial;
  } catch (err) {
    throw new SluiceError(`the aggregate's partial result ${place.uri(key)} is unreadable: ${(err as Error).message}`, {
      code: 'AGGREGATE_PARTIAL_CORRUPT',
      stage: 'transform',
      hint: 'run again with --full-load to rebuild the partials',
    });
  }
}

/**
 * The aggregate's two phases as the runtime sees them (core/component.ts `Barrier`): per-unit
 * partials written by the partial sink, merged once every unit is done.
 */
export function aggregateBarrier(config: AggregateTransformConfig): Barrier {
  return {
    identity: config,
    partialSink: (place) => createAggregatePartialSink(config, place),
    partialKey: partialKeyFor,
    async merge(place, partials, resultsObject, signal) {
      const merged = new DistinctPeers(config);
      for (const ref of partials) {
        signal?.throwIfAborted();
        merged.merge(await readPartial(place, ref.key));
      }
      return merged.results(resultsObject);
    },
  };
}

/** The catalog's entry: `{ type: aggregate, bucketSeconds, ... }`. */
export const aggregateTransformComponent = defineTransform({
  type: 'aggregate',
  schema: aggregateTransformSchema,
  create: (config) => createAggregateTransform(config),
  barrier: aggregateBarrier,
  resolvePaths: (config, resolveLocal) => (config.partials === undefined ? config : { ...config, partials: resolveLocal(config.partials) }),
});
