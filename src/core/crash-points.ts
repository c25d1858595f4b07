/**
 * Named crash points for the reliability suite: `SLUICE_CRASH_AT=<point>[@<n>]` makes the process
 * SIGKILL itself the n-th time (default 1st) this thread reaches `<point>`. It is how the suite
 * proves that a crash at the worst moments (half a part on disk, outputs renamed but the ledger
 * not told, a ledger transaction open) loses and duplicates nothing: killing from outside at a
 * random moment rarely lands there.
 *
 * Unarmed (the variable unset, as always outside tests) a crash point is one comparison. The kill
 * is SIGKILL of the whole process, from any worker thread, exactly what an OOM kill or a power
 * cut does: no `finally`, no flush, no exit handler runs.
 */
export type CrashPoint =
  /** A unit has decoded some of its input and written some records to its sinks. */
  | 'mid-read'
  /** The files sink has part of a part in its temp file. */
  | 'mid-part-write'
  /**
   * An S3 place has created a multipart upload for a sealed part and sent some or all of its
   * parts, not completed it: S3 lists no object, ListMultipartUploads lists the upload.
   */
  | 'mid-multipart-upload'
  /** The files sink has published some, not all, of a unit's parts (renamed, or its upload completed). */
  | 'mid-sink-commit'
  /**
   * The files sink has published every part of this attempt, and parts an earlier attempt wrote
   * that this one did not (it wrote fewer, or in another format) are still there beside them.
   * Reached only when there is such a stale part to delete.
   */
  | 'before-stale-delete'
  /** The sinks have committed; the unit's dead-letter file is written and staged, not yet published. */
  | 'mid-dead-letter-commit'
  /** Every sink has committed; the ledger does not know yet. */
  | 'before-ledger-commit'
  /** Inside the ledger's transaction that marks the unit done, before it commits. */
  | 'mid-ledger-commit'
  /** The files sink has published a compacted lake file rewritten without this unit's old rows, not yet the unit's parts. */
  | 'mid-lake-rewrite'
  /** `sluice compact` has made its new compacted file durable (hidden) and deletes the inputs: hit after each deletion. */
  | 'mid-compaction';

/** Every crash point, in the order a unit reaches them; the crash loop kills at each. */
export const CRASH_POINTS: readonly CrashPoint[] = [
  'mid-read',
  'mid-part-write',
  'mid-multipart-upload',
  'mid-sink-commit',
  'before-stale-delete',
  'mid-dead-letter-commit',
  'before-ledger-commit',
  'mid-ledger-commit',
];

/** Points only an S3 output reaches: a local folder has no multipart uploads. */
export const S3_ONLY_CRASH_POINTS: readonly CrashPoint[] = ['mid-multipart-upload'];

/** The points of a lake with compacted files: a run into a compacted folder, and `sluice compact`. */
export const LAKE_CRASH_POINTS: readonly CrashPoint[] = ['mid-lake-rewrite', 'mid-compaction'];

function parseArmed(spec: string | undefined): { point: string; at: number } | undefined {
  if (!spec) return undefined;
  const [point, at] = spec.split('@');
  const n = at === undefined ? 1 : Number(at);
  const points = [...CRASH_POINTS, ...LAKE_CRASH_POINTS];
  if (!points.includes(point as CrashPoint) || !Number.isInteger(n) || n < 1) {
    throw new Error(`SLUICE_CRASH_AT="${spec}" is not <point>[@<n>] with point one of ${points.join(', ')}`);
  }
  return { point: point!, at: n };
}

const armed = parseArmed(process.env.SLUICE_CRASH_AT);
let hits = 0;

export function crashPoint(point: CrashPoint): void {
  if (armed === undefined || armed.point !== point) return;
  hits += 1;
  if (hits >= armed.at) process.kill(process.pid, 'SIGKILL');
}
