import type { ObjectRef } from '../../core/record.js';
import type { UnitPartition } from '../../core/component.js';
/**
 * The ledger is the durable record of every unit of work and the checkpoint of every run. It is a
 * lease store: a worker leases a unit (owner + expiry + a generation `token`), renews the lease by
 * heartbeat while working, and may commit the unit's result only while its token is still the
 * current one. A crashed or frozen worker's lease simply expires and another worker takes the unit
 * over with a new token; the stale worker's late commit is refused (fencing). One process on one
 * machine uses the same protocol as a fleet.
 *
 * States: pending -> leased -> done
 *                           -> failed (retry after next_attempt_at) -> leased ...
 *                           -> dead (after maxAttempts; redrive puts it back to pending)
 * A lease counts as an attempt when it is taken; a graceful release gives the attempt back.
 *
 * Versions of one key: a unit's id hashes its key and version (etag, or the set of objects of a
 * group or partition), but its outputs are named after the key alone (unit-id.ts, outputStemFor
 * of the version-less id), so the versions of one `(pipeline, kind, key)` write the same outputs
 * and only the current one matters. Planning a unit makes it the current version of its key:
 *   pending | failed | dead -> superseded (superseded_by = the planned unit; kept as history,
 *                              never leased, counted apart, not redriven by a reset of dead units)
 *   leased                  -> stays leased, marked superseded_by; it becomes superseded if its
 *                              attempt ends in failure, release or reset (a completion is done,
 *                              unmarked: the newer version rewrites its outputs after it)
 *   done                    -> stays done (the newer version rewrites the same outputs)
 * A planned unit that was itself superseded (the object went back to that version) becomes
 * pending again with its attempts reset. Planning the same units again changes nothing; as every
 * plan settles the versions of the keys it lists, the next plan also puts right a ledger written
 * before versions were superseded, or two planners that listed different versions at once.
 */
import type { SerializedError } from '../../core/errors.js';

export type UnitState = 'pending' | 'leased' | 'done' | 'failed' | 'dead' | 'superseded';
export const UNIT_STATES: readonly UnitState[] = ['pending', 'leased', 'done', 'failed', 'dead', 'superseded'];

export interface UnitSpec {
  /** Deterministic id: a hash of pipeline + kind + key + version (etag). */
  id: string;
  pipeline: string;
  kind: 'object' | 'partition';
  /** Object key or partition name: what a person reads in `status`. */
  key: string;
  /** JSON payload the processor needs (object refs, partition bounds). */
  payload: unknown;
  /** Bytes, when known: used for progress. */
  size?: number;
}

export interface UnitCounts {
  recordsIn: number;
  recordsOut: number;
  recordsRejected: number;
  recordsFiltered: number;
}

export interface UnitResult extends UnitCounts {
  outputs: string[];
  durationMs: number;
}

export interface UnitRow extends UnitSpec, UnitCounts {
  state: UnitState;
  attempts: number;
  token: number;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  nextAttemptAt: number | null;
  lastError: SerializedError | null;
  /**
   * The unit that replaced this one, a newer version of the same key: set on superseded units,
   * and on a leased unit whose newer version was planned while it ran. Null otherwise.
   */
  supersededBy: string | null;
  outputs: string[];
  durationMs: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface Lease {
  unitId: string;
  owner: string;
  token: number;
  expiresAt: number;
  unit: UnitRow;
}

export interface RetryPolicy {
  maxAttempts: number;
  backoffMs: number;
  maxBackoffMs: number;
}

/** `superseded`: the attempt failed, but a newer version of the unit's key was planned meanwhile. */
export type FailOutcome = 'retry' | 'dead' | 'fenced' | 'superseded';

export interface RunRecord {
  id: string;
  pipeline: string;
  startedAt: number;
  finishedAt: number | null;
  /** The JSON run report, once finished. */
  report: unknown;
}

/** What a worker says about itself on each heartbeat (the worker registry behind `status`). */
export interface WorkerBeat {
  /** The worker's lease owner id (`host/pid/nonce`), so its leases and its row match. */
  id: string;
  pipeline: string;
  host: string;
  pid: number;
  startedAt: number;
  unitsInFlight: number;
  /** True on the last beat of a worker that stopped on its own (drained, or SIGTERM). */
  stopped?: boolean;
}

export interface WorkerRow {
  id: string;
  pipeline: string;
  host: string;
  pid: number;
  startedAt: number;
  /** Ledger clock time of the latest beat. */
  lastHeartbeatAt: number;
  unitsInFlight: number;
  /** When the worker said it stopped; null while it runs (or if it died without saying so). */
  stoppedAt: number | null;
}

export interface ListUnitsQuery {
  states?: UnitState[];
  limit?: number;
  offset?: number;
}

export interface PlanResult {
  /** Units new to the ledger. */
  inserted: number;
  /** Units that were there already (superseded ones made current again among them). */
  existing: number;
  /** Other versions of the planned keys that this call superseded (or marked, when leased). */
  superseded: number;
}

export interface Ledger {
  /**
   * Inserts units that are not there yet (by id) and makes each planned unit the current version
   * of its `(pipeline, kind, key)`: other versions are superseded as described at the top of this
   * file. Existing units are otherwise left as they are. When one call holds several versions of
   * one key, the last one listed is the current one.
   */
  planUnits(units: UnitSpec[]): Promise<PlanResult>;
  /**
   * Leases the next claimable unit of the pipeline: pending, failed whose retry time has come,
   * or leased with an expired lease. Increments attempts and the token. Null when none is claimable now.
   */
  leaseNextUnit(pipeline: string, owner: string, leaseMs: number): Promise<Lease | null>;
  /** Extends the lease; false when the lease was lost (expired and taken, or reset). */
  renewLease(lease: Lease, leaseMs: number): Promise<boolean>;
  /** Marks the unit done with its result, only if the token is current; false when fenced out. */
  completeUnit(lease: Lease, result: UnitResult): Promise<boolean>;
  /**
   * Records a failure: retry later with exponential backoff, or dead after maxAttempts; or
   * superseded, whatever the policy, when a newer version of the unit was planned during the attempt.
   */
  failUnit(lease: Lease, error: SerializedError, policy: RetryPolicy & { retryable: boolean }): Promise<FailOutcome>;
  /** Gives the unit back (pending, or superseded if marked so) without counting the attempt, e.g. on graceful shutdown. */
  releaseLease(lease: Lease): Promise<void>;
  /** Expires every lease held by an owner known to be gone (e.g. a dead local process). */
  expireLeasesOf(owner: string): Promise<number>;
  /** Distinct owners of currently leased units of a pipeline. */
  leaseOwners(pipeline: string): Promise<string[]>;
  /**
   * Puts units in the given states back to pending with attempts reset (full load, redrive); a
   * leased unit marked superseded ends superseded instead.
   */
  resetUnits(pipeline: string, states: UnitState[], unitIds?: string[]): Promise<number>;
  counts(pipeline: string): Promise<Record<UnitState, number>>;
  /** Earliest time a failed unit becomes claimable again, or null if none waits. */
  nextRetryAt(pipeline: string): Promise<number | null>;
  listUnits(pipeline: string, query?: ListUnitsQuery): Promise<UnitRow[]>;
  getUnit(unitId: string): Promise<UnitRow | null>;
  /** Current state of each given unit id that exists (ids not in the ledger are absent from the map). */
  unitStates(unitIds: string[]): Promise<Map<string, UnitState>>;
  /** Pipelines that have units in this ledger. */
  pipelines(): Promise<string[]>;
  startRun(run: { id: string; pipeline: string; startedAt: number }): Promise<void>;
  finishRun(id: string, finishedAt: number, report: unknown): Promise<void>;
  listRuns(pipeline?: string, limit?: number): Promise<RunRecord[]>;
  /** Inserts or refreshes a worker's registry row; the beat time is the ledger clock's now. */
  recordWorker(beat: WorkerBeat): Promise<void>;
  /** Workers of a pipeline, most recently heard from first. */
  listWorkers(pipeline: string, limit?: number): Promise<WorkerRow[]>;
  close(): Promise<void>;
}

/** Time source, injectable so tests can use a fake clock. */
export type Clock = () => number;
export const systemClock: Clock = () => Date.now();

/** What the planner stores in a unit's payload. */
export interface UnitPayload {
  objects: ObjectRef[];
  outputStem: string;
  /** Partition units only (see partition-planner.ts). */
  partition?: UnitPartition;
}

/** What the unit processor adds to a partition unit's result (see process-unit.ts). */
export interface PartitionReadStats {
  filesRead: number;
  bytesRead: number;
  duplicates: number;
  skippedFiles: SkippedFile[];
}

export interface SkippedFile {
  object: string;
  code: string;
  reason: string;
}
