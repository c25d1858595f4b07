/**
 * Encoding records as `_bulk` NDJSON: per record an action line naming the index and the record's
 * deterministic id, then the document (the record's fields), each line newline-terminated:
 *
 *   {"index":{"_index":"flows-2024.05.01","_id":"9f2c...-17"}}
 *   {"version":2,"srcaddr":"10.0.1.5",...}
 *
 * The `_id` is what makes every retry and every replay idempotent: `index` overwrites the same
 * document, `create` answers 409 for a document that already exists.
 *
 * This is the hot path of the sink, so records are encoded once, straight into the request body:
 * a batch is one preallocated buffer the size of a request, the action line is the cached prefix
 * of its index plus the id, the document a single JSON.stringify of the fields (through the NDJSON
 * line encoder the files sink uses), and each is written into the buffer where it belongs. A
 * batch keeps, per document, only its record, index name and end offset. A 413 split sends
 * contiguous halves of the same buffer (no copy); only a retry of some documents copies theirs.
 */
import { SluiceError } from '../../core/errors.js';
import type { SluiceRecord } from '../../core/record.js';
import type { DeliveryBatch } from '../../core/delivery/batch-delivery.js';
import { createNdjsonLineEncoder } from '../../core/ndjson-line.js';
import type { IndexNamer } from './index-name.js';

/** Documents of one bulk request, their bytes back to back, with per-document bookkeeping. */
export class BulkBatch implements DeliveryBatch<BulkBatch> {
  body: Buffer;
  /** Bytes used in `body`. */
  length = 0;
  readonly records: SluiceRecord[] = [];
  readonly indices: string[] = [];
  /** ends[i] = offset just past document i (its start is ends[i - 1], or 0). */
  readonly ends: number[] = [];
  /** The transient item error each document came back with in this batch's answer, once one did. */
  lastErrors: string[] | undefined;

  /** `buffer` (e.g. a recycled one) is used as the body when given; otherwise one of `capacity` bytes. */
  constructor(capacity: number, buffer?: Buffer) {
    this.body = buffer ?? Buffer.allocUnsafe(capacity);
  }

  get count(): number {
    return this.records.length;
  }

  start(i: number): number {
    return i === 0 ? 0 : this.ends[i - 1]!;
  }

  bytesOf(i: number): number {
    return this.ends[i]! - this.start(i);
  }

  /** The request body: the bytes used. */
  payload(): Buffer {
    return this.body.subarray(0, this.length);
  }

  /** Documents [from, to) as a batch sharing this one's bytes (for 413 splits). */
  slice(from: number, to: number): BulkBatch {
    const part = new BulkBatch(0);
    const base = this.start(from);
    part.body = this.body.subarray(base, to > from ? this.ends[to - 1] : base);
    part.length = part.body.length;
    for (let i = from; i < to; i++) {
      part.records.push(this.records[i]!);
      part.indices.push(this.indices[i]!);
      part.ends.push(this.ends[i]! - base);
    }
    return part;
  }

  /** A new batch holding copies of the chosen documents (for per-document retries). */
  pick(which: readonly number[]): BulkBatch {
    let bytes = 0;
    for (const i of which) bytes += this.bytesOf(i);
    const part = new BulkBatch(bytes);
    for (const i of which) {
      part.length += this.body.copy(part.body, part.length, this.start(i), this.ends[i]);
      part.ends.push(part.length);
      part.records.push(this.records[i]!);
      part.indices.push(this.indices[i]!);
    }
    return part;
  }
}

export interface BulkEncoderOptions {
  action: 'index' | 'create';
  index: IndexNamer;
  /** Index template, for messages. */
  indexTemplate: string;
  /** Field set to the event time (ISO 8601) in each document, or undefined for none. */
  timestampField?: string;
}

/** Encodes records into batches. */
export interface BulkEncoder {
  /**
   * Appends a record to `batch`; returns false (leaving the batch unchanged) when it does not fit.
   * Throws a SluiceError (SINK_RECORD_UNSERIALIZABLE, SINK_RECORD_NO_TIME) for a record that
   * cannot be sent: the caller rejects it and goes on.
   */
  append(record: SluiceRecord, batch: BulkBatch): boolean;
  /** Exact UTF-8 size of a record's action and document lines (for a record too big for any batch). */
  sizeOf(record: SluiceRecord): number;
}

/**
 * @example
 * const encoder = createBulkEncoder({ action: 'index', index: compileIndexTemplate('flows-%Y.%m.%d'), indexTemplate: 'flows-%Y.%m.%d' });
 * const batch = new BulkBatch(5_000_000);
 * encoder.append(record, batch); // batch.payload(): '{"index":{"_index":"flows-2024.05.01","_id":"ab-1"}}\n{"srcaddr":"10.0.0.1"}\n'
 */
export function createBulkEncoder(options: BulkEncoderOptions): BulkEncoder {
  const encodeFields = createNdjsonLineEncoder(false);
  /** `{"index":{"_index":"<name>","_id":` per index name, as bytes. */
  const prefixes = new Map<string, Buffer>();
  const actionHead = `{"${options.action}":{"_index":`;
  const stampField = options.timestampField;
  const stampHead = stampField === undefined ? undefined : '{' + JSON.stringify(stampField) + ':"';

  const indexOf = (record: SluiceRecord): string => {
    const index = options.index.nameFor(record.time);
    if (index === undefined) {
      throw new SluiceError(
        `record ${record.id} (${record.origin.object} line ${record.origin.line}) has no event time, so the index template "${options.indexTemplate}" cannot name its index`,
        { code: 'SINK_RECORD_NO_TIME', stage: 'sink', hint: 'use a fixed index name, or make sure the format or a transform sets the event time' },
      );
    }
    return index;
  };
  const prefixOf = (index: string): Buffer => {
    let prefix = prefixes.get(index);
    if (prefix === undefined) {
      if (prefixes.size > 4096) prefixes.clear();
      prefix = Buffer.from(actionHead + JSON.stringify(index) + ',"_id":');
      prefixes.set(index, prefix);
    }
    return prefix;
  };
  /** The document's JSON without its newline: one JSON.stringify; unusual values take the encoder's slow path. */
  const documentOf = (record: SluiceRecord): string => {
    try {
      return JSON.stringify(record.fields);
    } catch {
      return encodeFields(record).slice(0, -1);
    }
  };
  /** The `{"@timestamp":"...",` head for data streams, or undefined. */
  const stampOf = (record: SluiceRecord, document: string): string | undefined => {
    if (stampHead === undefined || record.time === undefined || Object.hasOwn(record.fields, stampField!)) return undefined;
    return stampHead + new Date(record.time).toISOString() + (document.length <= 2 ? '"' : '",');
  };

  return {
    append(record, batch) {
      const index = indexOf(record);
      const prefix = prefixOf(index);
      const document = documentOf(record);
      const stamp = stampOf(record, document);
      const id = record.id;
      // Ids made by recordId() need no JSON escaping: they are written as they are, as bytes.
      const plainId = PLAIN_ID.test(id);
      const idJson = plainId ? id : JSON.stringify(id);
      const body = batch.body;
      const room = body.length - batch.length;
      // A UTF-16 code unit takes at most 3 bytes in UTF-8: measure exactly only near the end of the buffer.
      const worst = prefix.length + (idJson.length + document.length + (stamp?.length ?? 0)) * 3 + 8;
      if (worst > room) {
        const exact = prefix.length + Buffer.byteLength(idJson) + (plainId ? 2 : 0) + Buffer.byteLength(document) + (stamp === undefined ? 0 : Buffer.byteLength(stamp)) + 4;
        if (exact > room) return false;
      }
      let at = batch.length;
      at += prefix.copy(body, at);
      if (plainId) {
        body[at++] = 0x22;
        at += body.write(id, at, 'latin1');
        body[at++] = 0x22;
      } else {
        at += body.write(idJson, at, 'utf8');
      }
      body[at++] = 0x7d;
      body[at++] = 0x7d;
      body[at++] = 0x0a;
      if (stamp === undefined) {
        at += body.write(document, at, 'utf8');
      } else {
        at += body.write(stamp, at, 'utf8');
        at += body.write(document.length <= 2 ? '}' : document.slice(1), at, 'utf8');
      }
      body[at++] = 0x0a;
      batch.length = at;
      batch.ends.push(at);
      batch.records.push(record);
      batch.indices.push(index);
      return true;
    },
    sizeOf(record) {
      const document = documentOf(record);
      const stamp = stampOf(record, document);
      return prefixOf(indexOf(record)).length + Buffer.byteLength(JSON.stringify(record.id)) + Buffer.byteLength(document) + (stamp === undefined ? 0 : Buffer.byteLength(stamp)) + 4;
    },
  };
}

/** Ids that JSON writes as they are (no quote, backslash, control or non-ASCII character). */
const PLAIN_ID = /^[\w.:@/+=-]*$/;
