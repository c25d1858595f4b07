/**
 * The contracts between stages. Sources are nouns that list and open objects, formats turn bytes
 * into records, transforms change records, sinks deliver them. A unit of work (one object, or one
 * partition of many objects) is processed by one `UnitPipeline` run: read -> decode -> transforms
 * -> sinks; the runtime commits the unit to the ledger only after every sink has committed.
 *
 * Sinks never touch the ledger: they report what they delivered and what they rejected, and the
 * runtime does the accounting. That way a new sink cannot get checkpointing wrong.
 */
import type { z } from 'zod';
import type { Place } from './place/index.js';
import type { ObjectRef, Rejection, SluiceRecord } from './record.js';

/** Inclusive-exclusive time window used to prune date-partitioned layouts. */
export interface TimeWindow {
  /** epoch ms, inclusive */
  from?: number;
  /** epoch ms, exclusive */
  to?: number;
}

export interface Source {
  /** Human-readable root (`s3://bucket/prefix` or a folder). */
  readonly root: string;
  /**
   * Lists objects page by page, in key order, pruning keys whose date (read from the key alone)
   * falls outside the window. Memory is bounded by the page size.
   */
  list(window?: TimeWindow): AsyncIterable<ObjectRef[]>;
  /** Opens an object as a stream of raw (possibly compressed) bytes. */
  open(ref: ObjectRef, signal?: AbortSignal): Promise<AsyncIterable<Uint8Array>>;
  /**
   * One folder level, as a delimiter ('/') listing: the objects directly in `keyPrefix` and its
   * sub-folders (full key prefixes ending in '/'), each in key order, page by page. `keyPrefix`
   * is in the terms of `ObjectRef.key` and ends in '/'; omitted = the source's root. Used to walk
   * known layouts (CloudTrail's account/region/day tree) without listing everything.
   */
  listFolder?(keyPrefix?: string): AsyncIterable<FolderPage>;
  close?(): Promise<void>;
}

/** One page of a delimiter listing (see `Source.listFolder`). */
export interface FolderPage {
  objects: ObjectRef[];
  folders: string[];
}

/** A batch of decoded records plus the lines that were rejected in the same stretch of input. */
export interface RecordBatch {
  records: SluiceRecord[];
  rejects: Rejection[];
  /** Records intentionally dropped (e.g. digest files, filtered lines): counted, not lost. */
  filtered?: number;
}

export interface DecodeContext {
  object: ObjectRef;
  /** Prefix for record ids of this object (see `objectIdPrefix`). */
  idPrefix: string;
}

export interface Format {
  readonly name: string;
  /** Turns decompressed bytes into batches of records. Must never throw for a bad line. */
  decode(input: AsyncIterable<Uint8Array>, ctx: DecodeContext): AsyncIterable<RecordBatch>;
}

export interface Transform {
  readonly name: string;
  /**
   * Loads what the transform needs (lookup tables, connections) once, before any unit. Throwing
   * here fails the run up front with the error (the runtime also calls it once in the main thread
   * as a preflight, so an unreachable database stops the run before any work starts).
   */
  open?(): Promise<void>;
  /** Returns the batch to pass on (records may be changed, dropped into rejects or filtered). */
  apply(batch: RecordBatch): RecordBatch | Promise<RecordBatch>;
  close?(): Promise<void>;
}

/** What a unit is, as the runtime and sinks see it. */
export interface UnitContext {
  /** Stable unit id (from the ledger). */
  id: string;
  /** Stable, filesystem-safe stem used to name this unit's outputs. */
  outputStem: string;
  objects: ObjectRef[];
  /** Set for partition units (many objects compacted together); see runtime/partition-planner.ts. */
  partition?: UnitPartition;
}

/** What a partition unit is and how it is processed. */
export interface UnitPartition {
  /** `day` units write the pipeline's day/hour/none sinks, `month` units its `partition: month` sinks. */
  step: 'day' | 'month';
  /** Indexes (in the pipeline's `sinks`) of the sinks this unit writes. */
  sinks: number[];
  /** Drop records repeating this field's value within the unit (CloudTrail delivers some events twice). */
  dedupeBy?: string;
  /** For logs and status: account, region, stream and the day (yyyy-mm-dd) or month (yyyy-mm). */
  account: string;
  region: string;
  stream: string;
  period: string;
}

/** What one sink did with one unit's records. */
export interface SinkCommit {
  /** Paths or URIs written (files), or endpoints delivered to. */
  outputs: string[];
  delivered: number;
  /** Records the sink rejected for good, with the reason (they go to dead letters). */
  rejected: Array<{ record: SluiceRecord; reason: string; code: string }>;
}

export interface SinkWriter {
  write(records: SluiceRecord[]): Promise<void>;
  /** Makes everything written visible/durable; the unit is done only after this resolves. */
  commit(): Promise<SinkCommit>;
  /** Drops anything not yet committed (temp files etc.). */
  abort(): Promise<void>;
}

export interface Sink {
  readonly name: string;
  /**
   * Opens the writer of one unit attempt. `signal` is the attempt's abort (lease lost, shutdown):
   * a sink that waits (in-flight window, retry backoff, a request) should end those waits when it
   * fires, so `write()`/`commit()` reject promptly instead of running their retries out.
   */
  openUnit(unit: UnitContext, options?: { signal?: AbortSignal }): SinkWriter;
  /**
   * Checks, once before any unit runs, what would otherwise fail every unit (a folder that
   * cannot be written, ...). Throws a SluiceError naming the problem and the fix.
   */
  preflight?(): Promise<void>;
  close?(): Promise<void>;
}

/** What one unit runs through: the components a pipeline's config builds (see pipeline/build-pipeline.ts). */
export interface UnitPipeline {
  source: Source;
  format: Format;
  transforms: Transform[];
  sinks: Sink[];
  /** Where the unit's dead letters go: a local folder or an S3 prefix. */
  deadLetters: Place;
  /** GETs in flight inside a multi-object unit (default 64). */
  readConcurrency?: number;
}

/**
 * A transform whose answer spans units (an aggregate bucket covers many objects): the runtime runs
 * it in two phases. Object units hand their records to `partialSink` instead of the pipeline's
 * sinks, and each unit's commit writes its partial (named by the unit's output stem, so retries
 * and re-runs overwrite rather than add). When every unit is done, one finalize unit `merge`s
 * the partials and sends the result records through the later transforms to the sinks.
 * The runtime knows nothing else of the transform (runtime/finalize.ts).
 */
export interface Barrier {
  /** What the merged answer depends on besides its inputs (the transform's config): part of the finalize unit's id. */
  readonly identity: unknown;
  /** The sink object units write instead of the pipeline's sinks: one partial per unit, in `partials`. */
  partialSink(partials: Place): Sink;
  /** The key (in the partials' place) of the partial of the unit with this output stem. */
  partialKey(outputStem: string): string;
  /** Merges the partials (`key` in `place`; `uri` for messages) into result records. */
  merge(place: Place, partials: readonly ObjectRef[], resultsObject: string, signal?: AbortSignal): Promise<Iterable<SluiceRecord>>;
}

/**
 * A component as the catalog (pipeline/catalog.ts) lists it: its `type` (the discriminator in
 * the pipeline file), its strict zod schema (every field `.describe`d: it also drives docs and
 * `sluice validate`), and the factory. Adding a component is one folder exporting one of these
 * plus one line in the catalog.
 */
export interface ComponentDescriptor<S extends z.ZodType, T, Ctx = void> {
  readonly type: string;
  readonly schema: S;
  create(config: z.output<S>, context: Ctx): T;
  /** Resolves the config's local paths against the pipeline file's folder. */
  resolvePaths?(config: z.output<S>, resolveLocal: (path: string) => string): z.output<S>;
}

/** What a format's factory may ask of the catalog: another format (cwl reads vpcflow, cloudtrail... inside its payloads). */
export interface FormatContext {
  createFormat(config: { type: string }): Format;
}

export interface FormatDescriptor<S extends z.ZodType = z.ZodType> extends ComponentDescriptor<S, Format, FormatContext> {
  /** The format may be named alone (`format: vpcflow`) when all its options have defaults. */
  readonly bareName?: boolean;
}

export type SinkDescriptor<S extends z.ZodType = z.ZodType> = ComponentDescriptor<S, Sink>;

export interface TransformDescriptor<S extends z.ZodType = z.ZodType> extends ComponentDescriptor<S, Transform> {
  /** Set for transforms whose answer spans units (see Barrier). */
  barrier?(config: z.output<S>): Barrier;
}

/** Identity functions that check a descriptor's shape where it is written, keeping its schema's precise type. */
export const defineFormat = <S extends z.ZodType>(d: FormatDescriptor<S>): FormatDescriptor<S> => d;
export const defineSink = <S extends z.ZodType>(d: SinkDescriptor<S>): SinkDescriptor<S> => d;
export const defineTransform = <S extends z.ZodType>(d: TransformDescriptor<S>): TransformDescriptor<S> => d;
