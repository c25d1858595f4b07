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
  /** The files sink has renamed some, not all, of a unit's parts into place. */
  | 'mid-sink-commit'
  /** Every sink has committed; the ledger does not know yet. */
  | 'before-ledger-commit'
  /** Inside the ledger's transaction that marks the unit done, before it commits. */
  | 'mid-ledger-commit'
  /** The files sink has published a compacted lake file rewritten without this unit's old rows, not yet the unit's parts. */
  | 'mid-lake-rewrite'
  /** `sluice compact` has made its new compacted file durable (hidden) and deletes the inputs: hit after each deletion. */
  | 'mid-compaction';

/** The points every `sluice run` passes (the crash loop goes through these). */
export const CRASH_POINTS: readonly CrashPoint[] = ['mid-read', 'mid-part-write', 'mid-sink-commit', 'before-ledger-commit', 'mid-ledger-commit'];
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
