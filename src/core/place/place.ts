/**
 * A place is where outputs live: a local folder or an S3 prefix (any S3-compatible endpoint).
 * Every output that must survive goes through one — sink parts, dead letters, aggregate partials,
 * compacted lake files — with the same contract (docs/outputs.md):
 *
 * - Invisible until published: `stage(key)` hands out a local file to write; nothing is visible
 *   under `key` until `publish()`. Local: the file is a temp name beside the final one, renamed
 *   at publish. S3: `seal()` uploads the finished file as a multipart upload that is not
 *   completed (S3 shows no object for it), and `publish()` completes it; small files are sent
 *   whole at publish. `discard()` removes the temp file or aborts the upload.
 * - Deterministic keys and bytes are the caller's part: a place never invents a name.
 * - Leftovers of crashed attempts (temp files; incomplete multipart uploads) are found by key
 *   prefix and removed by the next attempt (`removeLeftovers`), and on S3 also by a lifecycle
 *   rule that aborts incomplete uploads (the CDK construct sets one).
 *
 * Keys are relative to the place's root, '/'-separated, never starting with '/'.
 */

/** One object of a place, as a listing gives it. */
export interface PlaceEntry {
  /** Key relative to the place's root. */
  key: string;
  size: number;
  /** S3's ETag (quotes removed); for local files, size and mtime. */
  etag: string;
}

/** A published object: where it is now and the version the place gave it. */
export interface PublishedObject {
  /** Full location: an absolute path, or `s3://bucket/key`. */
  uri: string;
  key: string;
  etag?: string;
}

/** An object being written under a temp identity (see the file comment). */
export interface StagedObject {
  readonly key: string;
  /** A local file to write the content to (created empty by `stage`, or not at all: open it 'w'). */
  readonly localPath: string;
  /** Call once the local file is complete (written, fsync'd, closed): S3 starts the upload here. */
  seal(): Promise<void>;
  /** Makes the object visible under its key. */
  publish(): Promise<PublishedObject>;
  /** Drops the staged content; never throws. Publishing after discard is an error. */
  discard(): Promise<void>;
}

export interface Place {
  /** Where it is, for messages: an absolute folder or `s3://bucket/prefix/`. */
  readonly root: string;
  readonly kind: 'local' | 's3';
  /** The full location of a key (an absolute path, or `s3://bucket/prefix/key`). */
  uri(key: string): string;
  stage(key: string): Promise<StagedObject>;
  /** Writes a small object whole and atomically (temp + rename; a PutObject). */
  put(key: string, bytes: Uint8Array): Promise<PublishedObject>;
  /**
   * Writes a small object only if there is none under `key`, atomically (a local hard link; S3's
   * `If-None-Match: *`): how writers that share a place agree which of them came first (the lake's
   * folder locks). Undefined when an object is already there.
   */
  create(key: string, bytes: Uint8Array): Promise<PublishedObject | undefined>;
  /** The object's bytes, or undefined when there is none. */
  read(key: string): Promise<Buffer | undefined>;
  /** `length` bytes of the object from `offset` (fewer at its end), or undefined when there is none. */
  readRange(key: string, offset: number, length: number): Promise<Buffer | undefined>;
  /**
   * Copies the object into a local file (written aside, then renamed into place, so `file` is
   * complete or absent); false when there is no object. A full disk throws ENOSPC.
   */
  download(key: string, file: string): Promise<boolean>;
  /**
   * Moves an object to another key, replacing what is there: a rename (atomic) locally; on S3 a
   * server-side copy (the new key shows the whole object or the old one) and then a delete.
   */
  move(fromKey: string, toKey: string): Promise<PublishedObject>;
  /** Objects directly in `folder` ('' = the root), without sub-folders, in key order; temp files excluded. */
  list(folder: string): Promise<PlaceEntry[]>;
  /** Every object under `prefix` ('' = the whole place), in key order; temp files excluded. */
  listTree(prefix?: string): AsyncIterable<PlaceEntry>;
  remove(key: string): Promise<void>;
  /**
   * Removes temp files / incomplete uploads of crashed attempts whose key starts with `keyPrefix`
   * (and whose final name passes `nameFilter`, when given).
   */
  removeLeftovers(keyPrefix: string, nameFilter?: (name: string) => boolean): Promise<number>;
  /** Fails up front (naming the folder or bucket, prefix and error code) when the place cannot take objects. */
  probe(): Promise<void>;
  close(): Promise<void>;
}

/** Joins a folder and a name into a key. */
export function joinKey(folder: string, name: string): string {
  return folder === '' ? name : `${folder.replace(/\/+$/, '')}/${name}`;
}
