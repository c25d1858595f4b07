/**
 * Runs one unit of work: read each object -> decompress -> decode -> transforms -> every sink,
 * with malformed input going to the unit's dead-letter file. The unit's outputs become visible
 * only when every sink has committed; on any error everything the attempt wrote aside is
 * aborted, so a retry (or a re-run after a crash) starts from a clean slate and, because output
 * names and contents are deterministic, rewrites byte-identical files.
 *
 * Accounting invariant, per unit: recordsIn = recordsOut + recordsRejected + recordsFiltered.
 *
 * A unit of several objects (a partition, see partition-planner.ts) reads them with many GETs in
 * flight but decodes them in the unit's (key) order (ordered-reads.ts), so its outputs are as
 * deterministic as a single object's. It also writes only the sinks of its step, drops records
 * repeating its dedupe field (counted as filtered), and turns an object whose bytes cannot be
 * decompressed into a file-level rejection naming the object instead of failing the partition:
 * one bad file among thousands must not hold back the day (read errors still fail the unit, to
 * be retried).
 */
import type { Format, RecordBatch, Sink, SinkWriter, Source, Transform, UnitContext, UnitPipeline } from '../core/component.js';
import { toSluiceError } from '../core/errors.js';
import { objectIdPrefix } from '../core/record.js';
import type { SluiceRecord } from '../core/record.js';
import { decompressByMagic, decompressWhole } from '../core/decompress.js';
import { crashPoint } from '../core/crash-points.js';
import { openDeadLetterWriter } from './dead-letters.js';
import type { PartitionReadStats, UnitResult } from './ledger/types.js';
import { DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_MAX_PREFETCH_OBJECT_BYTES, DEFAULT_READ_CONCURRENCY, readObjectsInOrder, type ObjectRead } from './ordered-reads.js';

export type { UnitPipeline } from '../core/component.js';

/** Errors that say an object's bytes are broken (not that reading them failed): file-level rejections in a partition. */
const BROKEN_OBJECT_CODES = new Set(['CORRUPT_GZIP', 'CORRUPT_ZSTD', 'UNSUPPORTED_COMPRESSION']);

export interface UnitProgress {
  records: number;
  bytes: number;
}

export interface ProcessUnitOptions {
  signal?: AbortSignal;
  /** Called now and then with cumulative counts (not for every batch). */
  onProgress?: (progress: UnitProgress) => void;
}

/** Counts the compressed bytes flowing from the source, for progress. */
async function* countBytes(input: AsyncIterable<Uint8Array>, counter: { bytes: number }): AsyncIterable<Uint8Array> {
  for await (const chunk of input) {
    counter.bytes += chunk.byteLength;
    yield chunk;
  }
}

export async function processUnit(pipeline: UnitPipeline, unit: UnitContext, options: ProcessUnitOptions = {}): Promise<UnitResult> {
  const started = performance.now();
  const partition = unit.partition;
  const sinks = partition ? partition.sinks.map((i) => pipeline.sinks[i]!) : pipeline.sinks;
  const writers: SinkWriter[] = sinks.map((sink) => sink.openUnit(unit, { signal: options.signal }));
  const reads: PartitionReadStats = { filesRead: 0, bytesRead: 0, duplicates: 0, skippedFiles: [] };
  const seen = partition?.dedupeBy !== undefined ? new Set<unknown>() : undefined;
  const deadLetters = openDeadLetterWriter(pipeline.deadLetters, unit);
  const counts = { recordsIn: 0, recordsOut: 0, recordsRejected: 0, recordsFiltered: 0 };
  const progress = { bytes: 0 };
  let lastReport = 0;

  const account = (batch: RecordBatch): void => {
    counts.recordsIn += batch.records.length + batch.rejects.length + (batch.filtered ?? 0);
    counts.recordsFiltered += batch.filtered ?? 0;
    if (batch.rejects.length > 0) {
      counts.recordsRejected += batch.rejects.length;
      deadLetters.add(batch.rejects, 'decode');
      if (partition) {
        for (const r of batch.rejects) if (r.origin.line === 0) reads.skippedFiles.push({ object: r.origin.object, code: r.code, reason: r.reason });
      }
    }
  };

  /** Drops records whose dedupe value was seen before in this unit (the first one wins: key order). */
  const dedupe = (records: SluiceRecord[]): SluiceRecord[] => {
    if (seen === undefined) return records;
    const field = partition!.dedupeBy!;
    let kept: SluiceRecord[] | undefined;
    for (let i = 0; i < records.length; i++) {
      const value = records[i]!.fields[field];
      if (value === undefined || value === null || !seen.has(value)) {
        if (value !== undefined && value !== null) seen.add(value);
        kept?.push(records[i]!);
      } else {
        kept ??= records.slice(0, i);
      }
    }
    if (kept === undefined) return records;
    const dropped = records.length - kept.length;
    counts.recordsFiltered += dropped;
    reads.duplicates += dropped;
    return kept;
  };

  try {
    for await (const read of readUnitObjects(pipeline, unit, options.signal)) {
      options.signal?.throwIfAborted();
      const object = read.object;
      if (read.error !== undefined) throw read.error;
      reads.filesRead++;
      const bytesBefore = progress.bytes;
      let input: AsyncIterable<Uint8Array>;
      if (read.bytes !== undefined) {
        progress.bytes += read.bytes.length;
        let whole: Uint8Array | undefined;
        try {
          whole = decompressWhole(read.bytes, object.uri);
        } catch (err) {
          if (!partition || !isBrokenObject(err)) throw err;
          account(brokenObjectBatch(err, object.uri));
          reads.bytesRead += read.bytes.length;
          continue;
        }
        input = whole === undefined ? decompressByMagic(once(read.bytes), object.uri) : once(whole);
      } else {
        input = decompressByMagic(countBytes(read.body!, progress), object.uri);
      }
      const decoded = pipeline.format.decode(input, { object, idPrefix: objectIdPrefix(object) });
      for await (const decodedBatch of partition ? rejectBrokenObject(decoded, object.uri) : decoded) {
        options.signal?.throwIfAborted();
        account(decodedBatch);
        let batch: RecordBatch = { records: dedupe(decodedBatch.records), rejects: [] };
        for (const transform of pipeline.transforms) {
          batch = await transform.apply(batch);
          counts.recordsFiltered += batch.filtered ?? 0;
          if (batch.rejects.length > 0) {
            counts.recordsRejected += batch.rejects.length;
            deadLetters.add(batch.rejects, `transform:${transform.name}`);
          }
          batch = { records: batch.records, rejects: [] };
        }
        if (batch.records.length > 0) await writeToAll(writers, batch.records);
        counts.recordsOut += batch.records.length;
        crashPoint('mid-read');
        if (options.onProgress && counts.recordsIn - lastReport >= 50_000) {
          lastReport = counts.recordsIn;
          options.onProgress({ records: counts.recordsIn, bytes: progress.bytes });
        }
      }
      reads.bytesRead += progress.bytes - bytesBefore;
    }

    const outputs: string[] = [];
    const sinkRejected = new Set<string>();
    for (let i = 0; i < writers.length; i++) {
      const commit = await writers[i]!.commit();
      outputs.push(...commit.outputs);
      if (commit.rejected.length > 0) {
        deadLetters.addRecords(commit.rejected, sinks[i]!.name);
        for (const item of commit.rejected) sinkRejected.add(item.record.id);
      }
    }
    // A record rejected by any sink is not "out": it sits in dead letters with the sink's reason.
    counts.recordsOut -= sinkRejected.size;
    counts.recordsRejected += sinkRejected.size;
    const deadLetterFile = await deadLetters.commit();
    if (deadLetterFile) outputs.push(deadLetterFile);
    options.onProgress?.({ records: counts.recordsIn, bytes: progress.bytes });
    const result: UnitResult & { reads?: PartitionReadStats } = { ...counts, outputs: outputs.sort(), durationMs: Math.round(performance.now() - started) };
    if (partition) result.reads = reads;
    return result;
  } catch (err) {
    await Promise.allSettled([...writers.map((w) => w.abort()), deadLetters.abort()]);
    throw toSluiceError(err, 'read', `unit ${unit.objects.length === 1 ? unit.objects[0]!.uri : unit.id}`);
  }
}

/** A single object is opened when its turn comes; several are read ahead, handed out in order. */
async function* readUnitObjects(pipeline: UnitPipeline, unit: UnitContext, signal: AbortSignal | undefined): AsyncIterable<ObjectRead> {
  if (unit.objects.length === 1) {
    const object = unit.objects[0]!;
    yield { object, body: await pipeline.source.open(object, signal) };
    return;
  }
  yield* readObjectsInOrder(pipeline.source, unit.objects, {
    concurrency: pipeline.readConcurrency ?? DEFAULT_READ_CONCURRENCY,
    maxBufferedBytes: DEFAULT_MAX_BUFFERED_BYTES,
    maxPrefetchObjectBytes: DEFAULT_MAX_PREFETCH_OBJECT_BYTES,
    signal,
  });
}

/**
 * Passes the decoded batches through; when decompressing the object fails because its bytes are
 * broken, ends with a file-level rejection naming it (records decoded before stay, as a format
 * does for a file whose JSON breaks off).
 */
async function* rejectBrokenObject(decoded: AsyncIterable<RecordBatch>, uri: string): AsyncIterable<RecordBatch> {
  try {
    yield* decoded;
  } catch (err) {
    if (!isBrokenObject(err)) throw err;
    yield brokenObjectBatch(err, uri);
  }
}

function isBrokenObject(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && BROKEN_OBJECT_CODES.has(code);
}

function brokenObjectBatch(err: unknown, uri: string): RecordBatch {
  return { records: [], rejects: [{ origin: { object: uri, line: 0 }, code: (err as { code: string }).code, reason: (err as Error).message }] };
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

async function writeToAll(writers: SinkWriter[], records: SluiceRecord[]): Promise<void> {
  if (writers.length === 1) return writers[0]!.write(records);
  await Promise.all(writers.map((w) => w.write(records)));
}
