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
 * commit it writes its per-bucket peer sets to `<partials>/<unit output stem>.json.gz` (atomic
 * rename; a retry or a re-run rewrites the same file, so partials are idempotent). The flows are
 * then "out" of that unit (delivered to the aggregate). When every unit of the pipeline is done,
 * the runtime's finalize step (src/runtime/finalize.ts) merges all partials and sends the result
 * records through the transforms after `aggregate` to the pipeline's sinks as one more unit,
 * recorded in the ledger like any other.
 *
 * `createAggregateTransform` is the same aggregation in memory for a single caller (a Lambda
 * handling one Kinesis batch): `apply` consumes records, `results()` gives the answer so far.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { defineTransform, type Barrier, type RecordBatch, type Sink, type SinkCommit, type SinkWriter, type Transform, type UnitContext } from '../../core/component.js';
import { SluiceError } from '../../core/errors.js';
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

/** Where a unit's partial result lives. */
export function partialFileFor(partialsDir: string, outputStem: string): string {
  return path.join(partialsDir, `${outputStem}.peers.json.gz`);
}

/**
 * The sink that stands in for the pipeline's sinks while units run: it aggregates the unit's
 * records and, on commit, writes the unit's partial result (write aside, then rename).
 */
export function createAggregatePartialSink(config: AggregateTransformConfig, partialsDir: string): Sink {
  return {
    name: 'aggregate-partials',
    openUnit(unit: UnitContext): SinkWriter {
      const state = new DistinctPeers(config);
      const file = partialFileFor(partialsDir, unit.outputStem);
      let count = 0;
      let temp: string | undefined;
      return {
        async write(records) {
          for (const record of records) state.add(record);
          count += records.length;
        },
        async commit(): Promise<SinkCommit> {
          await mkdir(partialsDir, { recursive: true });
          temp = `${file}.${process.pid}.${unit.id.slice(0, 8)}.tmp`;
          // Level 1: partials are read once, soon after; CPU matters more than bytes here.
          await writeFile(temp, await gzipAsync(JSON.stringify(state.toPartial()), { level: 1 }));
          await rename(temp, file);
          temp = undefined;
          return { outputs: [file], delivered: count, rejected: [] };
        },
        async abort() {
          if (temp) await rm(temp, { force: true });
        },
      };
    },
  };
}

/** Reads a partial written by the partial sink; a missing one is a clear, non-retryable error. */
export async function readPartial(file: string, unitKey: string): Promise<DistinctPeersPartial> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') {
      throw new SluiceError(`the aggregate's partial result for ${unitKey} is missing (${file})`, {
        code: 'AGGREGATE_PARTIAL_MISSING',
        stage: 'transform',
        hint: 'the unit was done before the aggregate was configured, or the partials folder was removed: run again with --full-load',
      });
    }
    throw err;
  }
  try {
    const partial = JSON.parse((await gunzipAsync(bytes)).toString('utf8')) as DistinctPeersPartial;
    if (partial.version !== 1) throw new Error(`unknown partial version ${String(partial.version)}`);
    return partial;
  } catch (err) {
    throw new SluiceError(`the aggregate's partial result ${file} (for ${unitKey}) is unreadable: ${(err as Error).message}`, {
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
    partialSink: (partialsDir) => createAggregatePartialSink(config, partialsDir),
    partialFor: partialFileFor,
    async merge(partials, resultsObject, signal) {
      const merged = new DistinctPeers(config);
      for (const ref of partials) {
        signal?.throwIfAborted();
        merged.merge(await readPartial(ref.uri, ref.key));
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
