/**
 * Unit identity and output naming. Both are pure functions of the unit's description, never of
 * time or chance: re-planning the same object finds the same unit, and re-running a unit rewrites
 * the same output files (DESIGN contracts 1 and 2).
 */
import { createHash } from 'node:crypto';

/**
 * The deterministic id of a unit: 24 hex chars of sha256 over pipeline, kind, key and version
 * (etag or version id). A new version of the same key is a new unit.
 *
 * @example
 * unitIdFor('flows', 'object', 'AWSLogs/1234/vpcflowlogs/…/x.log.gz', '"9b2cf535f27731c974343645a3985328"')
 */
export function unitIdFor(pipeline: string, kind: 'object' | 'partition', key: string, version?: string): string {
  // JSON keeps the parts apart whatever characters they hold (S3 keys may contain any character).
  return createHash('sha256')
    .update(JSON.stringify([pipeline, kind, key, version ?? null]))
    .digest('hex')
    .slice(0, 24);
}

/**
 * The version of a unit made of several objects: 32 hex chars of sha256 over every object's key
 * and version id (or etag), in the order given. Any object added, removed or changed makes a new
 * version, so a changed day or group is a new unit.
 */
export function objectSetVersion(objects: readonly { key: string; versionId?: string; etag?: string }[]): string {
  const version = createHash('sha256');
  for (const o of objects) version.update(o.key).update('\0').update(o.versionId ?? o.etag ?? '').update('\n');
  return version.digest('hex').slice(0, 32);
}

/** Extensions that say how a source was stored, not what it is: dropped from output names. */
const STORAGE_EXTENSIONS = /\.(gz|gzip|zst|zstd|bz2|log|txt|json|jsonl|ndjson|csv|tsv|parquet)$/i;
const MAX_NAME_CHARS = 90;
/** Short last segments (a partition's `15` in `2024/01/15`) borrow their parents up to this length. */
const SHORT_NAME_CHARS = 40;

/**
 * A filesystem-safe, human-recognisable stem for a unit's outputs: the key's last path segment
 * (with short segments joined to their parents, so `2024/01/15` reads `2024_01_15`), storage
 * extensions removed, characters outside `[A-Za-z0-9._-]` replaced by `_`, at most 90 characters,
 * then `-` and the first 8 characters of the unit id so that distinct units never share a stem.
 *
 * @example
 * outputStemFor('AWSLogs/1234/vpcflowlogs/us-east-1/2024/01/15/1234_vpcflowlogs_us-east-1_fl-0a_20240115T0000Z_ab12.log.gz', id)
 * // → '1234_vpcflowlogs_us-east-1_fl-0a_20240115T0000Z_ab12-' + id.slice(0, 8)
 */
export function outputStemFor(unitKey: string, unitId: string): string {
  const segments = unitKey.split(/[/\\]+/).filter((segment) => segment.length > 0);
  let name = stripStorageExtensions(segments.pop() ?? '');
  while (segments.length > 0 && name.length < SHORT_NAME_CHARS) {
    const joined = `${segments[segments.length - 1]}_${name}`;
    if (joined.length > SHORT_NAME_CHARS) break;
    name = joined;
    segments.pop();
  }
  name = name
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .slice(0, MAX_NAME_CHARS)
    // No hidden files, nothing that reads as an option, no dangling separators.
    .replace(/^[._-]+/, '')
    .replace(/[._-]+$/, '');
  const idPart = unitId.replace(/[^A-Za-z0-9]/g, '').slice(0, 8);
  return `${name || 'unit'}-${idPart}`;
}

function stripStorageExtensions(name: string): string {
  let stripped = name;
  for (;;) {
    const next = stripped.replace(STORAGE_EXTENSIONS, '');
    if (next === stripped || next.length === 0) return stripped;
    stripped = next;
  }
}

/**
 * The current version of each key among units planned together: the last one listed per
 * `(pipeline, kind, key)`, in the order of their first appearance. Both ledgers supersede with
 * these, so a call that lists two versions of one key never leaves both current (or neither).
 */
export function currentVersions<T extends { id: string; pipeline: string; kind: string; key: string }>(units: readonly T[]): T[] {
  const byKey = new Map<string, T>();
  for (const unit of units) byKey.set(JSON.stringify([unit.pipeline, unit.kind, unit.key]), unit);
  return [...byKey.values()];
}
