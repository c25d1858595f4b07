/**
 * Cross-unit results: the finalize step of pipelines with an `aggregate` transform.
 *
 * Units are independent (one object each, any order, any worker), but an aggregate bucket spans
 * many objects. So a pipeline with an aggregate runs in two phases:
 * 1. Object units run the transforms before `aggregate`, and hand their records to the aggregate's
 *    partial sink instead of the pipeline's sinks (`unitStagesOf`): each unit's commit writes its
 *    partial result to `<partials>/<output stem>.peers.json.gz`. The stem is a function of the
 *    object key, so a retry, a re-run or a new version of the object overwrites its own partial:
 *    partials are idempotent and never counted twice.
 * 2. When every unit of the pipeline is done (none pending, leased, failed or dead), the finalize
 *    unit merges all partials and sends the result records through the transforms after
 *    `aggregate` to the pipeline's sinks. It is a unit of its own in the ledger, under the
 *    pipeline name `<name>#aggregate` (so object workers never lease it), with an id hashed from
 *    the set of input units and the aggregate's config: it is leased, retried, fenced and
 *    dead-lettered like any unit; a re-run with the same inputs finds it done and sends nothing
 *    again; new objects make a new finalize unit (the previous one, if still pending, is closed
 *    as superseded with no output). Result records have deterministic ids
 *    (`agg-<bucket>-<ip>`), so re-sending to OpenSearch overwrites rather than duplicates.
 *
 * A dead unit blocks the finalize step (its flows would be missing from the counts): the summary
 * says so, and `sluice retry` then a new run completes it.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Barrier, Format, RecordBatch, Source, UnitContext, UnitPipeline } from '../core/component.js';
import type { Place } from '../core/place/index.js';
import type { PipelineConfig, TransformConfig } from '../pipeline/config.js';
import type { ObjectRef, SluiceRecord } from '../core/record.js';
import { barrierStageOf, createSink, createTransforms } from '../pipeline/catalog.js';
import { deadLetterPlaceFor, partialsPlaceFor } from '../pipeline/build-pipeline.js';
import { executeUnits } from './executor.js';
import type { Clock, Ledger, UnitResult } from './ledger/types.js';
import { processUnit } from './process-unit.js';
import type { UnitRunner } from './unit-runner.js';

/** The pipeline's barrier transform (an aggregate), its position and its two phases, if it has one. */
export function aggregateStageOf(config: PipelineConfig): { index: number; config: TransformConfig; barrier: Barrier } | undefined {
  return barrierStageOf(config.transforms);
}

/** The ledger pipeline name of a pipeline's finalize units (`#` cannot occur in a pipeline name). */
export function finalizePipelineName(pipeline: string): string {
  return `${pipeline}#aggregate`;
}

export interface FinalizeSummary {
  /**
   * done: merged and delivered in this run; already-done: the same inputs were finalized before;
   * waiting: some units are not done yet (another worker, or retries pending); blocked: dead
   * units; failed: the finalize unit failed (retried on the next run, or dead); interrupted.
   */
  state: 'done' | 'already-done' | 'waiting' | 'blocked' | 'failed' | 'interrupted' | 'empty';
  unitId?: string;
  /** Object units merged. */
  units: number;
  records: { in: number; out: number; rejected: number };
  outputs: string[];
  reason?: string;
}

export interface FinalizeOptions {
  ledger: Ledger;
  owner: string;
  clock?: Clock;
  signal?: AbortSignal;
}

interface FinalizePayload {
  objects: ObjectRef[];
  outputStem: string;
}

/**
 * Merges the partials of all done units and delivers the aggregate, as one ledger unit.
 *
 * @example
 * const summary = await finalizeAggregate(config, { ledger, owner });
 * if (summary.state === 'blocked') console.error(summary.reason);
 */
export async function finalizeAggregate(config: PipelineConfig, options: FinalizeOptions): Promise<FinalizeSummary> {
  const aggregate = aggregateStageOf(config);
  const summary: FinalizeSummary = { state: 'empty', units: 0, records: { in: 0, out: 0, rejected: 0 }, outputs: [] };
  if (!aggregate) return summary;
  const { ledger } = options;
  if (options.signal?.aborted) return { ...summary, state: 'interrupted' };
  const counts = await ledger.counts(config.name);
  const unfinished = counts.pending + counts.leased + counts.failed;
  if (unfinished > 0) return { ...summary, state: 'waiting', reason: `${unfinished} unit(s) not done yet; the aggregate is sent when all are` };
  if (counts.dead > 0) {
    return { ...summary, state: 'blocked', reason: `${counts.dead} dead unit(s) would be missing from the aggregate: fix them, \`sluice retry\`, then run again` };
  }

  const partials = partialsPlaceFor(config, aggregate as { config: { partials?: string } });
  try {
    const byStem = new Map<string, { unitId: string; key: string }>();
    for (let offset = 0; ; offset += 1000) {
      const page = await ledger.listUnits(config.name, { states: ['done'], limit: 1000, offset });
      for (const unit of page) {
        const stem = (unit.payload as FinalizePayload).outputStem;
        const have = byStem.get(stem);
        // Two versions of one key share a stem and a partial file (the newer wrote it last): count it once.
        if (!have || have.unitId < unit.id) byStem.set(stem, { unitId: unit.id, key: unit.key });
      }
      if (page.length < 1000) break;
    }
    if (byStem.size === 0) return summary;
    const stems = [...byStem.keys()].sort();
    const unitId = createHash('sha256')
      .update(JSON.stringify([config.name, aggregate.barrier.identity, config.transforms.slice(aggregate.index + 1), stems.map((s) => [s, byStem.get(s)!.unitId])]))
      .digest('hex')
      .slice(0, 24);
    const pipeline = finalizePipelineName(config.name);
    const payload: FinalizePayload = {
      // The finalize unit's "source" is the partials' place: each object is one unit's partial.
      objects: stems.map((stem) => ({ uri: partials.uri(aggregate.barrier.partialKey(stem)), key: aggregate.barrier.partialKey(stem) })),
      outputStem: `aggregate-${unitId.slice(0, 8)}`,
    };
    summary.unitId = unitId;
    summary.units = stems.length;
    await ledger.planUnits([{ id: unitId, pipeline, kind: 'partition', key: `aggregate of ${stems.length} unit(s)`, payload }]);
    if ((await ledger.unitStates([unitId])).get(unitId) === 'done') return { ...summary, state: 'already-done' };

    const runner: UnitRunner = {
      async run(unit, runOptions) {
        // An older finalize unit whose inputs have grown since: closed without output.
        if (unit.id !== unitId) return { recordsIn: 0, recordsOut: 0, recordsRejected: 0, recordsFiltered: 0, outputs: [], durationMs: 0 };
        return runFinalizeUnit(config, aggregate.barrier, partials, aggregate.index, unit, runOptions.signal);
      },
      async close() {},
    };
    let result: UnitResult | undefined;
    await executeUnits({
      ledger,
      pipeline,
      owner: options.owner,
      runner,
      concurrency: 1,
      leaseMs: config.runtime.leaseMs,
      policy: { maxAttempts: config.runtime.maxAttempts, backoffMs: config.runtime.backoffMs, maxBackoffMs: config.runtime.maxBackoffMs },
      clock: options.clock,
      signal: options.signal,
      events: {
        onUnitDone(lease, r) {
          if (lease.unitId === unitId) result = r;
        },
      },
    });
    if (result) {
      return {
        ...summary,
        state: 'done',
        records: { in: result.recordsIn, out: result.recordsOut, rejected: result.recordsRejected },
        outputs: result.outputs,
      };
    }
    if (options.signal?.aborted) return { ...summary, state: 'interrupted' };
    const row = await ledger.getUnit(unitId);
    if (row?.state === 'done') return { ...summary, state: 'already-done' };
    if (row?.state === 'leased') return { ...summary, state: 'waiting', reason: `another worker (${row.leaseOwner ?? 'unknown'}) is finalizing` };
    return { ...summary, state: 'failed', reason: row?.lastError ? `${row.lastError.code}: ${row.lastError.message}` : `finalize unit is ${row?.state ?? 'missing'}` };
  } finally {
    await partials.close();
  }
}

/** Merges the unit's partials, then runs the result through the later transforms and the sinks like any unit. */
async function runFinalizeUnit(
  config: PipelineConfig,
  barrier: Barrier,
  partials: Place,
  index: number,
  unit: UnitContext,
  signal: AbortSignal | undefined,
): Promise<UnitResult> {
  const resultsObject = `aggregate://${config.name}/${unit.id}`;
  const merged = await barrier.merge(partials, unit.objects, resultsObject, signal);
  const pipeline: UnitPipeline = {
    source: mergedResultSource(resultsObject),
    format: mergedResultFormat(merged),
    transforms: createTransforms(config.transforms.slice(index + 1)),
    sinks: config.sinks.map(createSink),
    deadLetters: deadLetterPlaceFor(config),
  };
  try {
    for (const transform of pipeline.transforms) await transform.open?.();
    return await processUnit(pipeline, { id: unit.id, outputStem: unit.outputStem, objects: [{ uri: resultsObject, key: resultsObject }] }, { signal });
  } finally {
    await Promise.allSettled([...pipeline.transforms.map((t) => t.close?.()), ...pipeline.sinks.map((s) => s.close?.()), pipeline.deadLetters.close()]);
  }
}

/** The merged results are already in memory: the "object" they are read from is empty. */
function mergedResultSource(root: string): Source {
  return {
    root,
    async *list() {},
    async open() {
      return (async function* () {})();
    },
  };
}

function mergedResultFormat(merged: Iterable<SluiceRecord>): Format {
  return {
    name: 'aggregate-results',
    async *decode(): AsyncIterable<RecordBatch> {
      let records: SluiceRecord[] = [];
      for (const record of merged) {
        records.push(record);
        if (records.length === 5000) {
          yield { records, rejects: [] };
          records = [];
        }
      }
      if (records.length > 0) yield { records, rejects: [] };
    },
  };
}

/** Turns a finalize summary into one line for people. */
export function describeFinalize(summary: FinalizeSummary): string {
  switch (summary.state) {
    case 'done':
      return `aggregate: merged ${summary.units} unit(s) into ${summary.records.in} result(s); ${summary.records.out} delivered, ${summary.records.rejected} rejected`;
    case 'already-done':
      return `aggregate: already delivered for these ${summary.units} unit(s)`;
    case 'empty':
      return 'aggregate: nothing to merge';
    default:
      return `aggregate: ${summary.state}${summary.reason ? ` (${summary.reason})` : ''}`;
  }
}
