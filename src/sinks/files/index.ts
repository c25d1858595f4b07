/**
 * The `files` sink: NDJSON (gzip or plain) or Parquet parts, in event-time partition folders or
 * in Amazon Security Lake's layout.
 *
 * A unit owns its output files. Their names are a function of the unit and the slot only:
 * `<root>/<folder>/<outputStem>[-<tag>]-<NNNN><ext>`, NNNN counting from 0000 per slot. The
 * folder is the event-time partition (`layout: date`) or `region=/accountId=/eventDay=`
 * (`layout: security-lake`, where the tag `class<class_uid>` keeps one OCSF class per file); see
 * part-location.ts. A re-run of the unit (after a crash, a retry, a `--full-load`) with the same
 * input and config writes byte-identical files under the same names and renames them over the
 * old ones, so every record appears exactly once in the output tree.
 *
 * Invariants:
 * - Nothing appears under a final name before `commit()`: parts are written to temp files
 *   beside their final names, finished and fsync'd, then all renamed, then the folders fsync'd.
 *   A unit's parts are renamed one by one, so a commit that fails half way (or a crash during
 *   it) can leave part of the set under final names; the unit is then not done, and its next
 *   attempt overwrites those files with identical ones and completes the set.
 * - On commit, outputs of an earlier attempt of the same unit that this attempt did not produce
 *   (e.g. a part 0003 when this attempt stopped at 0002, or the NDJSON parts of an attempt made
 *   before the format changed to Parquet) and temp files left by a crashed attempt are deleted.
 *   Limit: only the folders this attempt wrote to are searched, so an earlier attempt's parts in
 *   folders this attempt did not touch (the layout or the record times changed, or the attempt
 *   wrote no record at all) are left in place.
 * - A part rolls over once its size reaches `targetSizeMb` (checked after each record): NDJSON
 *   measures uncompressed bytes, so a part exceeds the target by less than one line; Parquet
 *   measures file bytes, which grow a row group at a time (a row group is cut at the target's
 *   worth of buffered data at most), so a part exceeds it by less than one row group. Records
 *   keep input order.
 * - At most `maxOpenParts` parts are open at once. Opening one more finishes the least recently
 *   used part; a later record for that slot starts the next part number there. Given the same
 *   input order this is as deterministic as everything else.
 * - Memory per unit is bounded by the open parts, never by the size of the input. An NDJSON part
 *   holds a 256 KiB line buffer, up to 1 MiB of input queued in zlib, zlib's state (~256 KiB) and
 *   one 256 KiB output chunk, ≈ 2 MiB at worst; 32 open parts ≈ 60 MiB. A Parquet part holds one
 *   row group (≤ `rowGroupRows` rows and ≈ 64 MB of buffered values), so fewer are open (8).
 * - A part that ends up without a record (every record it was given was rejected) is deleted at
 *   finish and its number reused.
 * - Calls on one writer are sequential: the runtime awaits each `write` before the next.
 * - A folder holding a compacted file (`sluice compact`) never shows a row twice: a part whose
 *   rows the compacted file already holds (same name and sha256) is not published, and rows of
 *   an earlier attempt that differ are taken out of the compacted file before the new parts
 *   appear, under the folder's lock (compacted-file.ts; docs/lake.md). Folders without one are
 *   committed to as above, without a lock.
 */
import path from 'node:path';
import type { Sink, SinkCommit, SinkWriter, UnitContext } from '../../core/component.js';
import type { FilesSinkConfig } from './config.js';
import { SluiceError, toSluiceError } from '../../core/errors.js';
import type { SluiceRecord } from '../../core/record.js';
import { crashPoint } from '../../core/crash-points.js';
import { joinKey, openPlace, type Place, type StagedObject } from '../../core/place/index.js';
import { s3PlaceOptionsOf } from '../../core/s3/output-options.js';
import { objectIdPrefix } from '../../core/record.js';
import {
  baseName,
  classPartOf,
  compactedEntriesOf,
  decideForCompacted,
  dropFromCompacted,
  finishInterruptedCompactions,
  readCompactedManifest,
  sha256OfFile,
  withLakeFolderLock,
} from './compacted-file.js';
import { createPartLocator, type PartLocator } from './part-location.js';
import { ndjsonPartFormat, parquetPartFormat, type PartFormat, type UnitPart } from './part-format.js';
import { defineSink } from '../../core/component.js';
import { filesSinkSchema } from './config.js';

export { UNKNOWN_TIME_FOLDER } from './partition.js';

export interface FilesSinkOptions {
  /**
   * Parts open at once per unit (default 32 for NDJSON, 8 for Parquet); beyond it the least
   * recently used part is finished.
   */
  maxOpenParts?: number;
}

const DEFAULT_MAX_OPEN_PARTS = 32;
const DEFAULT_MAX_OPEN_PARQUET_PARTS = 8;

/**
 * Creates the `files` sink.
 *
 * @example
 * const sink = createFilesSink({ type: 'files', path: '/data/out', format: 'ndjson', layout: 'date', partition: 'day',
 *   targetSizeMb: 64, compression: 'gzip', gzipLevel: 6, parquetCompression: 'snappy', rowGroupRows: 65536,
 *   schema: 'inferred', idField: '_id' });
 * const writer = sink.openUnit(unit);
 * await writer.write(records);
 * const { outputs } = await writer.commit(); // [/data/out/2024/05/01/<stem>-0000.ndjson.gz, ...]
 */
export function createFilesSink(config: FilesSinkConfig, options: FilesSinkOptions = {}): Sink {
  const s3 = config.path.startsWith('s3://');
  const root = s3 ? config.path : path.resolve(config.path);
  const parquet = config.format === 'parquet';
  const maxOpenParts = options.maxOpenParts ?? (parquet ? DEFAULT_MAX_OPEN_PARQUET_PARTS : DEFAULT_MAX_OPEN_PARTS);
  if (!Number.isInteger(maxOpenParts) || maxOpenParts < 1) {
    throw new SluiceError(`files sink ${root}: maxOpenParts must be a positive integer, got ${maxOpenParts}`, {
      code: 'CONFIG_INVALID',
      stage: 'config',
    });
  }
  let format: PartFormat<unknown>;
  try {
    format = (parquet ? parquetPartFormat(config) : ndjsonPartFormat(config)) as PartFormat<unknown>;
  } catch (err) {
    throw new SluiceError(`files sink ${root}: ${(err as Error).message}`, {
      code: 'CONFIG_INVALID',
      stage: 'config',
      hint: 'change the sink options named above',
      cause: err,
    });
  }
  const layout = config.layout ?? 'date';
  let place: Place | undefined;
  // Opened on first use: credentials are resolved (and a bad reference reported) when the sink is used.
  const placeOf = () => (place ??= openPlace(root, s3 ? s3PlaceOptionsOf(config, `files sink ${root}`) : undefined));
  return {
    name: 'files',
    openUnit: (unit) => new FilesUnitWriter(placeOf(), config, unit, maxOpenParts, format, createPartLocator(layout, config.partition)),
    preflight: () => preflightFilesSink(placeOf()),
    close: async () => {
      await place?.close();
      place = undefined;
    },
  };
}

/**
 * Fails up front, with the folder and the fix, when the sink's folder cannot take files:
 * otherwise every unit would fail on it, be retried with backoff and end dead one by one.
 */
async function preflightFilesSink(place: Place): Promise<void> {
  const root = place.root;
  try {
    await place.probe();
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new SluiceError(`files sink: cannot write to ${root}: ${(err as Error).message}`, {
      code: 'SINK_PATH_UNWRITABLE',
      stage: 'sink',
      // A full disk may clear up; a read-only or forbidden folder or a file in the way will not.
      retryable: code === 'ENOSPC',
      hint: 'set the sink `path` to a folder this user can create files in (check permissions, read-only mounts and that no file has that name)',
      cause: err,
    });
  }
}

interface OpenPart {
  part: UnitPart<unknown>;
  staged: StagedObject;
  number: number;
  /** Logical clock of the last switch to this slot, for least-recently-used eviction. */
  lastUsed: number;
}

interface FinishedPart {
  part: UnitPart<unknown>;
  staged: StagedObject;
  /** Of a finished Parquet part's bytes: how a compacted file recognises a part it holds. */
  sha256?: string;
}

function folderOfKey(key: string): string {
  const at = key.lastIndexOf('/');
  return at < 0 ? '' : key.slice(0, at);
}

class FilesUnitWriter implements SinkWriter {
  private readonly targetBytes: number;
  /** Open parts by slot key (see part-location.ts). */
  private readonly openParts = new Map<string, OpenPart>();
  private readonly nextPartNumber = new Map<string, number>();
  /** Finished parts (staged, invisible until commit), in the order they were finished. */
  private readonly finishedParts: FinishedPart[] = [];
  /** Relative folders this unit wrote parts to. */
  private readonly foldersWritten = new Set<string>();
  private readonly root: string;
  private readonly rejected: SinkCommit['rejected'] = [];
  private readonly onReject = (record: SluiceRecord, error: SluiceError): void => {
    this.delivered -= 1;
    this.rejected.push({ record, reason: error.message, code: error.code });
  };
  private delivered = 0;
  private clock = 0;
  /** The slot of the previous record: most records follow one of the same slot. */
  private lastKey: string | undefined;
  private lastPart: UnitPart<unknown> | undefined;
  private state: 'open' | 'committing' | 'committed' | 'aborted' | 'failed' = 'open';
  private failure: SluiceError | undefined;
  /** Only Security Lake folders are compacted (`sluice compact`): only they may hold compacted files. */
  private readonly lakeLayout: boolean;

  constructor(
    private readonly place: Place,
    config: FilesSinkConfig,
    private readonly unit: UnitContext,
    private readonly maxOpenParts: number,
    private readonly format: PartFormat<unknown>,
    private readonly locator: PartLocator,
  ) {
    this.targetBytes = config.targetSizeMb * 1_000_000;
    this.root = place.root;
    this.lakeLayout = config.layout === 'security-lake';
  }

  async write(records: SluiceRecord[]): Promise<void> {
    this.assertOpen('write');
    try {
      for (const record of records) {
        let item: unknown;
        try {
          item = this.format.prepare(record);
        } catch (err) {
          if (err instanceof SluiceError && err.code === 'SINK_RECORD_UNSERIALIZABLE') {
            this.rejected.push({ record, reason: err.message, code: err.code });
            continue;
          }
          throw err;
        }
        const key = this.locator.keyOf(record);
        const part = key === this.lastKey && this.lastPart !== undefined ? this.lastPart : await this.switchTo(key);
        this.delivered += 1;
        if (part.append(item)) {
          await part.flush();
          crashPoint('mid-part-write');
        }
        if (part.size >= this.targetBytes) await this.finishPart(key);
      }
    } catch (err) {
      throw this.fail(err, 'writing');
    }
  }

  async commit(): Promise<SinkCommit> {
    this.assertOpen('commit');
    this.state = 'committing';
    const outputs: string[] = [];
    try {
      for (const key of [...this.openParts.keys()]) await this.finishPart(key);
      for (const folder of [...this.foldersWritten].sort()) outputs.push(...(await this.commitFolder(folder)));
    } catch (err) {
      throw this.fail(err, 'committing');
    }
    this.state = 'committed';
    return {
      outputs: outputs.sort(),
      delivered: this.delivered,
      rejected: this.rejected,
    };
  }

  async abort(): Promise<void> {
    if (this.state === 'committed' || this.state === 'aborted') return;
    this.state = 'aborted';
    const parts = [...this.openParts.values(), ...this.finishedParts];
    this.openParts.clear();
    this.lastKey = undefined;
    this.lastPart = undefined;
    await Promise.all(parts.map(async ({ part, staged }) => {
      await part.discard();
      await staged.discard();
    }));
  }

  /**
   * Publishes this unit's parts in `folder` and removes its stale ones there. A folder with
   * compacted files is committed to holding its lock: parts the compacted file holds are not
   * published (the compacted file is the output), differing rows of an earlier attempt are taken
   * out of it first (compacted-file.ts).
   */
  private async commitFolder(folder: string): Promise<string[]> {
    const parts = this.finishedParts.filter((p) => folderOfKey(p.staged.key) === folder);
    if (!this.lakeLayout || (await compactedEntriesOf(this.place, folder)).length === 0) {
      const outputs = await this.publish(parts);
      await this.removeStaleOutputs(folder, parts);
      return outputs;
    }
    return withLakeFolderLock(this.place, folder, async () => {
      await finishInterruptedCompactions(this.place, folder);
      const outputs: string[] = [];
      const inside = new Set<FinishedPart>();
      for (const entry of await compactedEntriesOf(this.place, folder)) {
        const compacted = classPartOf(baseName(entry.key));
        if (!compacted?.compacted) continue;
        const manifest = await readCompactedManifest(this.place, entry.key, entry.size);
        const ofClass = parts.filter((p) => classPartOf(baseName(p.staged.key))?.classTag === compacted.classTag);
        const decision = decideForCompacted(manifest.inputs, this.unit.outputStem, ofClass.map((p) => ({ name: baseName(p.staged.key), sha256: p.sha256 })));
        if (decision.kind === 'already-inside') {
          for (const p of ofClass) inside.add(p);
          outputs.push(this.outputName(this.place.uri(entry.key), entry.etag));
        } else if (decision.kind === 'replace') {
          // Ids of a compacted file written before it recorded id prefixes: this unit's objects' (same object, same ids).
          await dropFromCompacted(this.place, entry, manifest, decision.drop, this.unit.objects.map((o) => objectIdPrefix(o)));
        }
      }
      for (const p of inside) await p.staged.discard();
      const published = parts.filter((p) => !inside.has(p));
      outputs.push(...(await this.publish(published)));
      await this.removeStaleOutputs(folder, published);
      return outputs;
    });
  }

  private async publish(parts: readonly FinishedPart[]): Promise<string[]> {
    const outputs: string[] = [];
    for (const { staged } of parts) {
      const published = await staged.publish();
      outputs.push(this.outputName(published.uri, published.etag));
      crashPoint('mid-sink-commit');
    }
    return outputs;
  }

  /** S3 outputs are recorded with the version S3 gave them (uri#etag=...). */
  private outputName(uri: string, etag: string | undefined): string {
    return etag === undefined || this.place.kind === 'local' ? uri : `${uri}#etag=${etag}`;
  }

  /** The part to write the next record of slot `key` to, opening one if needed. */
  private async switchTo(key: string): Promise<UnitPart<unknown>> {
    this.clock += 1;
    let open = this.openParts.get(key);
    if (open === undefined) {
      if (this.openParts.size >= this.maxOpenParts) await this.finishPart(this.leastRecentlyUsedKey());
      open = await this.openPart(key);
      this.openParts.set(key, open);
    }
    open.lastUsed = this.clock;
    this.lastKey = key;
    this.lastPart = open.part;
    return open.part;
  }

  private async openPart(key: string): Promise<OpenPart> {
    const number = this.nextPartNumber.get(key) ?? 0;
    const { folder, tag } = this.locator.describe(key);
    this.foldersWritten.add(folder);
    this.nextPartNumber.set(key, number + 1);
    const name = `${this.unit.outputStem}${tag === '' ? '' : `-${tag}`}-${String(number).padStart(4, '0')}${this.format.extension}`;
    const staged = await this.place.stage(joinKey(folder, name));
    try {
      const part = await this.format.open(staged.localPath, this.onReject);
      return { part, staged, number, lastUsed: this.clock };
    } catch (err) {
      await staged.discard();
      throw err;
    }
  }

  private async finishPart(key: string): Promise<void> {
    const open = this.openParts.get(key);
    if (open === undefined) return;
    this.openParts.delete(key);
    if (this.lastKey === key) {
      this.lastKey = undefined;
      this.lastPart = undefined;
    }
    // Tracked before finishing so abort() also deletes it if finishing fails half way.
    this.finishedParts.push({ part: open.part, staged: open.staged });
    await open.part.finish();
    if (open.part.records === 0) {
      // Every record it was given was rejected: no file, and the next part takes its number.
      this.finishedParts.pop();
      await open.part.discard();
      await open.staged.discard();
      this.nextPartNumber.set(key, open.number);
      return;
    }
    const finished = this.finishedParts[this.finishedParts.length - 1]!;
    if (this.format.extension === '.parquet') finished.sha256 = await sha256OfFile(open.staged.localPath);
    // S3: the finished file is uploaded now (not yet visible) and leaves the local disk.
    await open.staged.seal();
  }

  private leastRecentlyUsedKey(): string {
    let oldest: string | undefined;
    let oldestUse = Infinity;
    for (const [key, open] of this.openParts) {
      if (open.lastUsed < oldestUse) {
        oldestUse = open.lastUsed;
        oldest = key;
      }
    }
    return oldest!;
  }

  /**
   * Deletes, in a folder this attempt wrote to, parts of this unit other than those it published
   * (in any format), then temp files and incomplete uploads of this unit left by other attempts
   * (ours are all published or discarded by now).
   */
  private async removeStaleOutputs(folder: string, published: readonly FinishedPart[]): Promise<void> {
    const stem = escapeRegExp(this.unit.outputStem);
    // A strict pattern: a unit whose stem merely starts with this stem never matches.
    const partName = new RegExp(`^${stem}(?:-class(?:\\d+|unknown))?-\\d{4,}\\.(?:ndjson(?:\\.gz)?|parquet)$`);
    const produced = new Set(published.map((p) => p.staged.key));
    const stale: string[] = [];
    for (const entry of await this.place.list(folder)) {
      const name = entry.key.slice(entry.key.lastIndexOf('/') + 1);
      if (partName.test(name) && !produced.has(entry.key)) stale.push(entry.key);
    }
    // The moment a reader sees this attempt's parts and an earlier attempt's side by side.
    if (stale.length > 0) crashPoint('before-stale-delete');
    for (const key of stale) await this.place.remove(key);
    await this.place.removeLeftovers(joinKey(folder, `${this.unit.outputStem}-`), (name) => partName.test(name));
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

/** The catalog's entry: `{ type: files, path, format: ndjson | parquet, ... }`. */
export const filesSinkComponent = defineSink({
  type: 'files',
  schema: filesSinkSchema,
  create: (config) => createFilesSink(config),
  resolvePaths: (config, resolveLocal) => ({ ...config, path: resolveLocal(config.path) }),
});
