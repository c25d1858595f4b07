/**
 * The `files` sink: gzip (or plain) NDJSON parts in event-time partition folders.
 *
 * A unit owns its output files. Their names are a function of the unit and the partition only:
 * `<root>/<partition>/<outputStem>-<NNNN>.ndjson.gz`, NNNN counting from 0000 per partition
 * folder. A re-run of the unit (after a crash, a retry, a `--full-load`) with the same input and
 * config writes byte-identical files under the same names and renames them over the old ones,
 * so every record appears exactly once in the output tree.
 *
 * Invariants:
 * - Nothing appears under a final name before `commit()`: parts are written to temp files
 *   beside their final names, finished and fsync'd, then all renamed, then the folders fsync'd.
 *   A unit's parts are renamed one by one, so a commit that fails half way (or a crash during
 *   it) can leave part of the set under final names; the unit is then not done, and its next
 *   attempt overwrites those files with identical ones and completes the set.
 * - On commit, outputs of an earlier attempt of the same unit that this attempt did not produce
 *   (e.g. a part 0003 when this attempt stopped at 0002) and temp files left by a crashed
 *   attempt are deleted. Limit: only the partition folders this attempt wrote to are searched,
 *   so an earlier attempt's parts in folders this attempt did not touch (the partition scheme or
 *   the record times changed, or the attempt wrote no record at all) are left in place.
 * - A part rolls over once its uncompressed size reaches `targetSizeMb` (checked after each
 *   record, so a part exceeds the target by less than one line). Records keep input order.
 * - At most `maxOpenParts` parts are open at once. Opening one more finishes the least recently
 *   used part; a later record for that partition starts the next part number there. Given the
 *   same input order this is as deterministic as everything else.
 * - Memory per unit is bounded by the open parts, never by the size of the input: each holds a
 *   256 KiB line buffer, up to 1 MiB of input queued in zlib, zlib's state (~256 KiB) and one
 *   256 KiB output chunk, ≈ 2 MiB at worst; 32 open parts ≈ 60 MiB for one unit at worst.
 * - Calls on one writer are sequential: the runtime awaits each `write` before the next.
 */
import { rename } from 'node:fs/promises';
import path from 'node:path';
import type { Sink, SinkCommit, SinkWriter, UnitContext } from '../../core/component.js';
import type { FilesSinkConfig } from '../../core/config.js';
import { SluiceError, toSluiceError } from '../../core/errors.js';
import type { SluiceRecord } from '../../core/record.js';
import { fsyncDirectory, listFolder, makeFolder, removeFile, TEMP_MARKER } from './atomic-file.js';
import { createNdjsonLineEncoder, type NdjsonLineEncoder } from './ndjson-line.js';
import { NdjsonPartWriter, type PartWriterOptions } from './ndjson-part-writer.js';
import { PartitionNamer } from './partition.js';

export { UNKNOWN_TIME_FOLDER } from './partition.js';

export interface FilesSinkOptions {
  /** Parts open at once per unit (default 32); beyond it the least recently used part is finished. */
  maxOpenParts?: number;
}

const DEFAULT_MAX_OPEN_PARTS = 32;

/**
 * Creates the `files` sink.
 *
 * @example
 * const sink = createFilesSink({ type: 'files', path: '/data/out', format: 'ndjson', partition: 'day',
 *   targetSizeMb: 64, compression: 'gzip', gzipLevel: 6, idField: '_id' });
 * const writer = sink.openUnit(unit);
 * await writer.write(records);
 * const { outputs } = await writer.commit(); // [/data/out/2024/05/01/<stem>-0000.ndjson.gz, ...]
 */
export function createFilesSink(config: FilesSinkConfig, options: FilesSinkOptions = {}): Sink {
  const root = path.resolve(config.path);
  const maxOpenParts = options.maxOpenParts ?? DEFAULT_MAX_OPEN_PARTS;
  if (!Number.isInteger(maxOpenParts) || maxOpenParts < 1) {
    throw new SluiceError(`files sink ${root}: maxOpenParts must be a positive integer, got ${maxOpenParts}`, {
      code: 'CONFIG_INVALID',
      stage: 'config',
    });
  }
  return {
    name: 'files',
    openUnit: (unit) => new FilesUnitWriter(root, config, unit, maxOpenParts),
  };
}

interface OpenPart {
  writer: NdjsonPartWriter;
  /** Logical clock of the last switch to this partition, for least-recently-used eviction. */
  lastUsed: number;
}

class FilesUnitWriter implements SinkWriter {
  private readonly encode: NdjsonLineEncoder;
  private readonly namer: PartitionNamer;
  private readonly partOptions: PartWriterOptions;
  private readonly targetBytes: number;
  private readonly extension: string;
  /** Open parts by relative partition folder. */
  private readonly openParts = new Map<string, OpenPart>();
  private readonly nextPartNumber = new Map<string, number>();
  /** Finished parts (still under temp names until commit), in the order they were finished. */
  private readonly finishedParts: NdjsonPartWriter[] = [];
  /** Absolute folders whose entries this unit changes: fsync'd at commit. */
  private readonly foldersToSync = new Set<string>();
  private readonly rejected: SinkCommit['rejected'] = [];
  private delivered = 0;
  private clock = 0;
  /** The partition of the previous record: most records follow one of the same partition. */
  private lastFolder: string | undefined;
  private lastPart: NdjsonPartWriter | undefined;
  private state: 'open' | 'committing' | 'committed' | 'aborted' | 'failed' = 'open';
  private failure: SluiceError | undefined;

  constructor(
    private readonly root: string,
    config: FilesSinkConfig,
    private readonly unit: UnitContext,
    private readonly maxOpenParts: number,
  ) {
    this.encode = createNdjsonLineEncoder(config.idField);
    this.namer = new PartitionNamer(config.partition);
    this.partOptions = { compression: config.compression, gzipLevel: config.gzipLevel };
    this.targetBytes = config.targetSizeMb * 1_000_000;
    this.extension = config.compression === 'gzip' ? '.ndjson.gz' : '.ndjson';
  }

  async write(records: SluiceRecord[]): Promise<void> {
    this.assertOpen('write');
    try {
      for (const record of records) {
        let line: string;
        try {
          line = this.encode(record);
        } catch (err) {
          if (err instanceof SluiceError && err.code === 'SINK_RECORD_UNSERIALIZABLE') {
            this.rejected.push({ record, reason: err.message, code: err.code });
            continue;
          }
          throw err;
        }
        const folder = this.namer.folderOf(record.time);
        const part =
          folder === this.lastFolder && this.lastPart !== undefined ? this.lastPart : await this.switchTo(folder);
        if (part.append(line)) await part.flush();
        this.delivered += 1;
        if (part.bytes >= this.targetBytes) await this.finishPart(folder);
      }
    } catch (err) {
      throw this.fail(err, 'writing');
    }
  }

  async commit(): Promise<SinkCommit> {
    this.assertOpen('commit');
    this.state = 'committing';
    try {
      for (const folder of [...this.openParts.keys()]) await this.finishPart(folder);
      for (const part of this.finishedParts) await rename(part.tempPath, part.finalPath);
      await this.removeStaleOutputs();
      for (const dir of this.foldersToSync) await fsyncDirectory(dir);
    } catch (err) {
      throw this.fail(err, 'committing');
    }
    this.state = 'committed';
    return {
      outputs: this.finishedParts.map((part) => part.finalPath).sort(),
      delivered: this.delivered,
      rejected: this.rejected,
    };
  }

  async abort(): Promise<void> {
    if (this.state === 'committed' || this.state === 'aborted') return;
    this.state = 'aborted';
    const parts = [...[...this.openParts.values()].map((p) => p.writer), ...this.finishedParts];
    this.openParts.clear();
    this.lastFolder = undefined;
    this.lastPart = undefined;
    await Promise.all(parts.map((part) => part.discard()));
  }

  /** The part to write the next record of `folder` to, opening one if needed. */
  private async switchTo(folder: string): Promise<NdjsonPartWriter> {
    this.clock += 1;
    let open = this.openParts.get(folder);
    if (open === undefined) {
      if (this.openParts.size >= this.maxOpenParts) await this.finishPart(this.leastRecentlyUsedFolder());
      open = { writer: await this.openPart(folder), lastUsed: this.clock };
      this.openParts.set(folder, open);
    }
    open.lastUsed = this.clock;
    this.lastFolder = folder;
    this.lastPart = open.writer;
    return open.writer;
  }

  private async openPart(folder: string): Promise<NdjsonPartWriter> {
    const number = this.nextPartNumber.get(folder) ?? 0;
    const dir = path.join(this.root, folder);
    if (number === 0) {
      for (const changed of await makeFolder(dir)) this.foldersToSync.add(changed);
      this.foldersToSync.add(dir);
    }
    this.nextPartNumber.set(folder, number + 1);
    const name = `${this.unit.outputStem}-${String(number).padStart(4, '0')}${this.extension}`;
    return NdjsonPartWriter.open(path.join(dir, name), this.partOptions);
  }

  private async finishPart(folder: string): Promise<void> {
    const open = this.openParts.get(folder);
    if (open === undefined) return;
    this.openParts.delete(folder);
    if (this.lastFolder === folder) {
      this.lastFolder = undefined;
      this.lastPart = undefined;
    }
    // Tracked before finishing so abort() also deletes it if finishing fails half way.
    this.finishedParts.push(open.writer);
    await open.writer.finish();
  }

  private leastRecentlyUsedFolder(): string {
    let oldest: string | undefined;
    let oldestUse = Infinity;
    for (const [folder, open] of this.openParts) {
      if (open.lastUsed < oldestUse) {
        oldestUse = open.lastUsed;
        oldest = folder;
      }
    }
    return oldest!;
  }

  /**
   * Deletes, in the folders this attempt wrote to, parts of this unit it did not produce and
   * temp files of this unit left by other attempts (ours are all renamed by now).
   */
  private async removeStaleOutputs(): Promise<void> {
    const stem = escapeRegExp(this.unit.outputStem);
    // Strict patterns: a unit whose stem merely starts with this stem never matches.
    const partName = new RegExp(`^${stem}-\\d{4,}\\.ndjson(?:\\.gz)?$`);
    const tempName = new RegExp(`^\\.${stem}-\\d{4,}\\.ndjson(?:\\.gz)?${escapeRegExp(TEMP_MARKER)}`);
    const produced = new Set(this.finishedParts.map((part) => part.finalPath));
    for (const folder of this.nextPartNumber.keys()) {
      const dir = path.join(this.root, folder);
      for (const name of await listFolder(dir)) {
        if (!partName.test(name) && !tempName.test(name)) continue;
        const file = path.join(dir, name);
        if (!produced.has(file)) await removeFile(file);
      }
    }
  }

  private assertOpen(action: string): void {
    if (this.state === 'open') return;
    if (this.failure) throw this.failure;
    throw new SluiceError(`files sink ${this.root}: cannot ${action} unit ${this.unit.id}: the writer is ${this.state}`, {
      code: 'SINK_WRITER_CLOSED',
      stage: 'sink',
      hint: 'this is a bug in the caller: open a new writer for each attempt of a unit',
    });
  }

  private fail(err: unknown, action: string): SluiceError {
    this.state = 'failed';
    this.failure ??= toSluiceError(err, 'sink', `files sink ${this.root}: ${action} unit ${this.unit.id}`);
    return this.failure;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
