/**
 * Writes one Parquet part to a temp file beside its final name, one row group at a time.
 *
 * Invariants:
 * - Memory is bounded by one row group: records are shredded into column buffers as they
 *   arrive, and the buffered row group is encoded and written out (then the buffers reused)
 *   once it holds `rowGroupRows` rows or its estimated memory reaches `rowGroupBytes`. Only
 *   the footer metadata (a few hundred bytes per row group) stays until `finish()`.
 * - The schema is fixed before the first row is shredded: declared, or inferred from the
 *   part's first `schemaSampleRows` records, which are held (as references) until then.
 *   Everything later that does not fit goes to the `_overflow` column (see parquet-schema.ts).
 * - The bytes are a function of the records and the options alone: no timestamps, no random
 *   values, `created_by` without a version, row groups cut at the same rows for the same input
 *   whatever the batch sizes were.
 * - `finish()` writes the footer, fsyncs and closes the temp file; it keeps its temp name.
 *   Renaming it into place is the unit writer's job, at commit, after every part is finished.
 * - Calls are sequential: the caller awaits `flush()` when `append` asks for it, and never
 *   calls `append` during a `flush`.
 */
import type { FileHandle } from 'node:fs/promises';
import type { FileMetaData, RowGroup } from 'hyparquet';
import { ByteWriter } from 'hyparquet-writer';
import { writeMetadata } from 'hyparquet-writer/src/metadata.js';
import type { SluiceError } from '../../../core/errors.js';
import type { SluiceRecord } from '../../../core/record.js';
import { writeFully } from '../../../core/atomic-file.js';
import { openPartFile, PartFileWriter } from '../part-file-writer.js';
import { ChunkScratch, chunkCodec, encodeColumnChunk, type ChunkCodec, type ParquetCompression } from './column-chunk.js';
import { inferParquetFields, OVERFLOW_COLUMN, type ParquetField } from './schema.js';
import { RecordShredder } from './shredder.js';

export interface ParquetPartOptions {
  compression: ParquetCompression;
  /** Rows per row group, at most. */
  rowGroupRows: number;
  /** Estimated memory of a buffered row group that triggers writing it, in bytes. */
  rowGroupBytes: number;
  /** A declared schema, or undefined to infer one from the first records. */
  fields: readonly ParquetField[] | undefined;
  /** Records the schema is inferred from. */
  schemaSampleRows: number;
  /** Column carrying the record id, or undefined for none. */
  idColumn: string | undefined;
  /** Called for a record that cannot be written (it is not in the file). */
  onReject: (record: SluiceRecord, error: SluiceError) => void;
}

const MAGIC = Buffer.from('PAR1', 'latin1');
/**
 * String min/max statistics longer than this are truncated (the max rounded up), as the format
 * allows. hyparquet-writer's default of 16 bytes would cut record ids and IPv6 addresses.
 */
const STATISTICS_TRUNCATE_LENGTH = 64;
/** Row counts between two checks of the (summing) memory estimate. */
const MEMORY_CHECK_ROWS = 32;

export class ParquetPartWriter extends PartFileWriter {
  /** File bytes written so far (what the part size target is measured against). */
  size = MAGIC.length;
  /** Records written or buffered, rejected ones not counted. */
  records = 0;
  private readonly codec: ChunkCodec;
  private readonly scratch = new ChunkScratch();
  private shredder: RecordShredder | undefined;
  /** Records held until the schema is inferred. */
  private sample: SluiceRecord[] | undefined = [];
  private readonly rowGroups: RowGroup[] = [];
  private rowsWritten = 0;

  private constructor(
    tempPath: string,
    handle: FileHandle,
    private readonly options: ParquetPartOptions,
  ) {
    super(tempPath, handle);
    this.codec = chunkCodec(options.compression);
    if (options.fields !== undefined) this.useSchema(options.fields);
  }

  /** Opens `tempPath` (a staged file of the sink's place, see core/place) and writes the magic. */
  static async open(path: string, options: ParquetPartOptions): Promise<ParquetPartWriter> {
    const { tempPath, handle } = await openPartFile(path, MAGIC);
    return new ParquetPartWriter(tempPath, handle, options);
  }

  /** Adds one record. Returns true when a row group is full: the caller then awaits `flush()`. */
  append(record: SluiceRecord): boolean {
    this.records += 1;
    const sample = this.sample;
    if (sample !== undefined) {
      sample.push(record);
      if (sample.length < this.options.schemaSampleRows) return false;
      this.inferSchema();
    } else {
      this.shred(record);
    }
    const rows = this.shredder!.rows;
    return rows >= this.options.rowGroupRows || (rows % MEMORY_CHECK_ROWS === 0 && this.shredder!.estimatedBytes >= this.options.rowGroupBytes);
  }

  /** Encodes the buffered row group and writes it to the file. */
  async flush(): Promise<void> {
    if (this.sample !== undefined) this.inferSchema();
    const shredder = this.shredder!;
    if (shredder.rows === 0) return;
    const pieces: Uint8Array[] = [];
    const columns = [];
    const start = this.size;
    let offset = start;
    let uncompressed = 0;
    for (const leaf of shredder.leaves) {
      const encoded = encodeColumnChunk(leaf, this.codec, offset, this.scratch);
      for (const piece of encoded.pieces) pieces.push(piece);
      columns.push(encoded.chunk);
      offset += encoded.byteLength;
      uncompressed += encoded.uncompressedLength;
    }
    this.rowGroups.push({
      columns,
      num_rows: BigInt(shredder.rows),
      total_byte_size: BigInt(uncompressed),
      file_offset: BigInt(start),
      total_compressed_size: BigInt(offset - start),
    });
    this.rowsWritten += shredder.rows;
    shredder.reset();
    await writeAll(this.handle, pieces);
    this.size = offset;
  }

  /** Writes what is buffered and the footer, fsyncs and closes the temp file. */
  async finish(): Promise<void> {
    await this.flush();
    const metadata: FileMetaData = {
      version: 1,
      schema: this.shredder!.schema,
      num_rows: BigInt(this.rowsWritten),
      row_groups: this.rowGroups,
      created_by: 'sluice',
      metadata_length: 0,
    };
    const footer = new ByteWriter(4096);
    writeMetadata(footer, metadata, STATISTICS_TRUNCATE_LENGTH);
    // Every row group is written (no piece refers to the column buffers any more): the next part may have them.
    this.shredder!.release();
    footer.appendBytes(MAGIC);
    const bytes = footer.getBytes();
    await writeAll(this.handle, [bytes]);
    this.size += bytes.length;
    await this.closeFinished();
  }

  protected override release(): void {
    this.sample = undefined;
    this.shredder?.release();
  }

  private inferSchema(): void {
    const sample = this.sample!;
    this.sample = undefined;
    const reserved = this.options.idColumn === undefined ? [OVERFLOW_COLUMN] : [this.options.idColumn, OVERFLOW_COLUMN];
    this.useSchema(inferParquetFields(sample.map((record) => record.fields), { reserved }));
    for (const record of sample) this.shred(record);
  }

  private useSchema(fields: readonly ParquetField[]): void {
    this.sample = undefined;
    this.shredder = new RecordShredder(fields, this.options.idColumn);
  }

  private shred(record: SluiceRecord): void {
    try {
      this.shredder!.add(record);
    } catch (err) {
      if ((err as SluiceError).code !== 'SINK_RECORD_UNSERIALIZABLE') throw err;
      this.records -= 1;
      this.options.onReject(record, err as SluiceError);
    }
  }
}

async function writeAll(handle: FileHandle, pieces: Uint8Array[]): Promise<void> {
  let total = 0;
  for (const piece of pieces) total += piece.length;
  const { bytesWritten } = await handle.writev(pieces);
  // writev may write less than asked (rare, e.g. a signal); finish the rest in one buffer.
  if (bytesWritten < total) await writeFully(handle, Buffer.concat(pieces).subarray(bytesWritten));
}
