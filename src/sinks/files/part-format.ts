/**
 * What the unit writer needs from a file format: how a record is prepared, how a part file is
 * opened, and the part's interface. NDJSON prepares a line (so an unserializable record is
 * rejected before any part is chosen); Parquet passes the record through and shreds it in the
 * part, reporting rejects through `onReject`.
 */
import type { FilesSinkConfig } from './config.js';
import type { SluiceError } from '../../core/errors.js';
import type { SluiceRecord } from '../../core/record.js';
import { createNdjsonLineEncoder } from '../../core/ndjson-line.js';
import { NdjsonPartWriter } from './ndjson-part-writer.js';
import { chunkCodec } from './parquet/column-chunk.js';
import { ParquetPartWriter } from './parquet/part-writer.js';
import { namedParquetSchema } from './parquet/schema.js';

/** One output file being written to a local file (a place's staged object, see core/place). */
export interface UnitPart<T> {
  readonly tempPath: string;
  /** What `targetSizeMb` is measured against (uncompressed bytes for NDJSON, file bytes for Parquet). */
  readonly size: number;
  /** Records in the part (rejected ones not counted). */
  readonly records: number;
  /** Adds one prepared record; true means: await `flush()` before adding more. */
  append(item: T): boolean;
  flush(): Promise<void>;
  /** Writes everything, fsyncs and closes the local file. */
  finish(): Promise<void>;
  /** Deletes the temp file (also after `finish`). Never throws. */
  discard(): Promise<void>;
}

export interface PartFormat<T> {
  /** File name extension, with its dot(s). */
  readonly extension: string;
  /**
   * Turns a record into what a part appends. Throws a SluiceError `SINK_RECORD_UNSERIALIZABLE`
   * for a record this format cannot hold.
   */
  prepare(record: SluiceRecord): T;
  /** Opens a part writing to `localPath`; `onReject` hears of records the part could not write after `prepare`. */
  open(localPath: string, onReject: (record: SluiceRecord, error: SluiceError) => void): Promise<UnitPart<T>>;
}

export function ndjsonPartFormat(config: FilesSinkConfig): PartFormat<string> {
  const options = { compression: config.compression, gzipLevel: config.gzipLevel };
  return {
    extension: config.compression === 'gzip' ? '.ndjson.gz' : '.ndjson',
    prepare: createNdjsonLineEncoder(config.idField),
    open: (localPath) => NdjsonPartWriter.open(localPath, options),
  };
}

/** Upper bound of a row group's estimated memory, whatever the target size. */
const MAX_ROW_GROUP_BYTES = 64 * 1024 * 1024;
/** Records a part's schema is inferred from. */
export const SCHEMA_SAMPLE_ROWS = 1000;

/** Throws (a plain Error with the reason) for options this Node cannot honour, e.g. zstd on Node 20. */
export function parquetPartFormat(config: FilesSinkConfig): PartFormat<SluiceRecord> {
  chunkCodec(config.parquetCompression);
  const fields = namedParquetSchema(config.schema);
  const base = {
    compression: config.parquetCompression,
    rowGroupRows: config.rowGroupRows,
    // A small target must also mean small row groups, or no part could ever roll over.
    rowGroupBytes: Math.max(1, Math.min(MAX_ROW_GROUP_BYTES, config.targetSizeMb * 1_000_000)),
    fields,
    schemaSampleRows: Math.min(SCHEMA_SAMPLE_ROWS, config.rowGroupRows),
    idColumn: config.idField === false ? undefined : config.idField,
  };
  return {
    extension: '.parquet',
    prepare: (record) => record,
    open: (localPath, onReject) => ParquetPartWriter.open(localPath, { ...base, onReject }),
  };
}
