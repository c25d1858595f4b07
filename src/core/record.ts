/**
 * The one record type that flows through Sluice.
 *
 * A record's `id` is deterministic: the hash of its source object's identity (uri + etag or
 * version) followed by its ordinal position in that object. Re-reading the same object yields
 * the same ids, which is what makes every sink idempotent (the OpenSearch `_id`, the dedupe key
 * in compaction, the oracle in reliability tests).
 */
import { createHash } from 'node:crypto';

/** Where a record came from: the object and its 1-based line (or ordinal for non-line formats). */
export interface Origin {
  object: string;
  line: number;
}

export interface SluiceRecord {
  id: string;
  origin: Origin;
  /** Event time in epoch milliseconds, used for partitioning; absent when the record has none. */
  time?: number;
  fields: Record<string, unknown>;
}

/** A line or object that could not become a record: it goes to dead letters and is counted. */
export interface Rejection {
  origin: Origin;
  reason: string;
  code: string;
  /** The raw text (truncated to a sane size by whoever writes it). */
  raw?: string;
}

/** Identity of a source object, stable across re-reads. */
export interface ObjectRef {
  /** Full URI: `s3://bucket/key` or an absolute file path. */
  uri: string;
  /** Key relative to the source root (for S3, the object key). */
  key: string;
  size?: number;
  etag?: string;
  versionId?: string;
  /** ISO 8601. Informational only: never part of an id or output name. */
  lastModified?: string;
}

/** 16 hex chars identifying an object version; the prefix of all its records' ids. */
export function objectIdPrefix(ref: Pick<ObjectRef, 'uri' | 'etag' | 'versionId'>): string {
  return createHash('sha256')
    .update(ref.uri)
    .update('\0')
    .update(ref.versionId ?? ref.etag ?? '')
    .digest('hex')
    .slice(0, 16);
}

export function recordId(prefix: string, ordinal: number): string {
  return `${prefix}-${ordinal}`;
}
