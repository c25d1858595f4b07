/**
 * Runs one unit of work: read each object -> decompress -> decode -> transforms -> every sink,
 * with malformed input going to the unit's dead-letter file. The unit's outputs become visible
 * only when every sink has committed; on any error everything the attempt wrote aside is
 * aborted, so a retry (or a re-run after a crash) starts from a clean slate and, because output
 * names and contents are deterministic, rewrites byte-identical files.
 *
 * Accounting invariant, per unit: recordsIn = recordsOut + recordsRejected + recordsFiltered.
 */
import type { Format, RecordBatch, Sink, SinkWriter, Source, Transform, UnitContext } from '../core/component.js';
import { toSluiceError } from '../core/errors.js';
import { objectIdPrefix } from '../core/record.js';
import type { SluiceRecord } from '../core/record.js';
import { decompressByMagic } from '../sources/decompress.js';
import { openDeadLetterWriter } from './dead-letters.js';
import type { UnitResult } from './ledger/types.js';

export interface UnitPipeline {
  source: Source;
  format: Format;
  transforms: Transform[];
  sinks: Sink[];
  deadLetterDir: string;
}

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
  const writers: SinkWriter[] = pipeline.sinks.map((sink) => sink.openUnit(unit));
  const deadLetters = openDeadLetterWriter(pipeline.deadLetterDir, unit);
  const counts = { recordsIn: 0, recordsOut: 0, recordsRejected: 0, recordsFiltered: 0 };
  const progress = { bytes: 0 };
  let lastReport = 0;

  const account = (batch: RecordBatch): void => {
    counts.recordsIn += batch.records.length + batch.rejects.length + (batch.filtered ?? 0);
    counts.recordsFiltered += batch.filtered ?? 0;
    if (batch.rejects.length > 0) {
      counts.recordsRejected += batch.rejects.length;
      deadLetters.add(batch.rejects, 'decode');
    }
  };

  try {
    for (const object of unit.objects) {
      options.signal?.throwIfAborted();
      const raw = await pipeline.source.open(object, options.signal);
      const decoded = pipeline.format.decode(decompressByMagic(countBytes(raw, progress), object.uri), {
        object,
        idPrefix: objectIdPrefix(object),
      });
      for await (const decodedBatch of decoded) {
        options.signal?.throwIfAborted();
        account(decodedBatch);
        let batch: RecordBatch = { records: decodedBatch.records, rejects: [] };
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
        if (options.onProgress && counts.recordsIn - lastReport >= 50_000) {
          lastReport = counts.recordsIn;
          options.onProgress({ records: counts.recordsIn, bytes: progress.bytes });
        }
      }
    }

    const outputs: string[] = [];
    const sinkRejected = new Set<string>();
    for (let i = 0; i < writers.length; i++) {
      const commit = await writers[i]!.commit();
      outputs.push(...commit.outputs);
      if (commit.rejected.length > 0) {
        deadLetters.addRecords(commit.rejected, pipeline.sinks[i]!.name);
        for (const item of commit.rejected) sinkRejected.add(item.record.id);
      }
    }
    // A record rejected by any sink is not "out": it sits in dead letters with the sink's reason.
    counts.recordsOut -= sinkRejected.size;
    counts.recordsRejected += sinkRejected.size;
    const deadLetterFile = await deadLetters.commit();
    if (deadLetterFile) outputs.push(deadLetterFile);
    options.onProgress?.({ records: counts.recordsIn, bytes: progress.bytes });
    return { ...counts, outputs: outputs.sort(), durationMs: Math.round(performance.now() - started) };
  } catch (err) {
    await Promise.allSettled([...writers.map((w) => w.abort()), deadLetters.abort()]);
    throw toSluiceError(err, 'read', `unit ${unit.objects.length === 1 ? unit.objects[0]!.uri : unit.id}`);
  }
}

async function writeToAll(writers: SinkWriter[], records: SluiceRecord[]): Promise<void> {
  if (writers.length === 1) return writers[0]!.write(records);
  await Promise.all(writers.map((w) => w.write(records)));
}
