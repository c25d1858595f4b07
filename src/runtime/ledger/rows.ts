/**
 * The rows of the ledger's tables as a driver returns them, and their mapping to the ledger's
 * types, shared by the SQLite and PostgreSQL ledgers so that both hand out the same shapes. The
 * one difference between the drivers is how a JSON column arrives (`J`): SQLite returns the text,
 * pg returns jsonb already parsed; each ledger passes its `json` decoder.
 */
import type { SerializedError } from '../../core/errors.js';
import { UNIT_STATES, type RunRecord, type UnitResult, type UnitRow, type UnitState, type WorkerRow } from './types.js';
import { toMillis } from './durations.js';

export interface UnitDbRow<J> {
  id: string;
  pipeline: string;
  kind: 'object' | 'partition';
  key: string;
  payload: J;
  size: number | null;
  state: UnitState;
  attempts: number;
  token: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  next_attempt_at: number | null;
  last_error: J | null;
  records_in: number;
  records_out: number;
  records_rejected: number;
  records_filtered: number;
  outputs: J;
  duration_ms: number | null;
  created_at: number;
  updated_at: number;
  superseded_by: string | null;
}

export interface WorkerDbRow {
  id: string;
  pipeline: string;
  host: string;
  pid: number;
  started_at: number;
  last_heartbeat_at: number;
  units_in_flight: number;
  stopped_at: number | null;
}

export interface RunDbRow<J> {
  id: string;
  pipeline: string;
  started_at: number;
  finished_at: number | null;
  report: J | null;
}

export function toUnitRow<J>(row: UnitDbRow<J>, json: (value: J) => unknown): UnitRow {
  const unit: UnitRow = {
    id: row.id,
    pipeline: row.pipeline,
    kind: row.kind,
    key: row.key,
    payload: json(row.payload),
    state: row.state,
    attempts: row.attempts,
    token: row.token,
    leaseOwner: row.lease_owner,
    leaseExpiresAt: row.lease_expires_at,
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error === null ? null : (json(row.last_error) as SerializedError),
    supersededBy: row.superseded_by,
    recordsIn: row.records_in,
    recordsOut: row.records_out,
    recordsRejected: row.records_rejected,
    recordsFiltered: row.records_filtered,
    outputs: json(row.outputs) as string[],
    durationMs: row.duration_ms,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.size !== null) unit.size = row.size;
  return unit;
}

export function toWorkerRow(row: WorkerDbRow): WorkerRow {
  return {
    id: row.id,
    pipeline: row.pipeline,
    host: row.host,
    pid: row.pid,
    startedAt: row.started_at,
    lastHeartbeatAt: row.last_heartbeat_at,
    unitsInFlight: row.units_in_flight,
    stoppedAt: row.stopped_at,
  };
}

export function toRunRecord<J>(row: RunDbRow<J>, json: (value: J) => unknown): RunRecord {
  return {
    id: row.id,
    pipeline: row.pipeline,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    report: row.report === null ? null : json(row.report),
  };
}

/** What completing a unit stores, in the column order records_in … records_filtered, outputs, duration_ms. */
export function resultValues(result: UnitResult): [number, number, number, number, string, number] {
  return [
    result.recordsIn,
    result.recordsOut,
    result.recordsRejected,
    result.recordsFiltered,
    JSON.stringify(result.outputs),
    toMillis(result.durationMs),
  ];
}

/** A zero for every state, so that a state no unit is in still shows in counts(). */
export function zeroCounts(): Record<UnitState, number> {
  return Object.fromEntries(UNIT_STATES.map((state) => [state, 0])) as Record<UnitState, number>;
}

/** The text stored for a payload or report; `undefined`, which JSON cannot hold, is stored as null. */
export function jsonText(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

/**
 * A reset unit goes back to pending, unless it is a leased unit whose newer version was planned
 * while it ran: that one ends superseded. Resetting a superseded unit makes it current again.
 */
export const RESET_STATE = `state = CASE WHEN state = 'leased' AND superseded_by IS NOT NULL THEN 'superseded' ELSE 'pending' END,
          superseded_by = CASE WHEN state = 'leased' THEN superseded_by ELSE NULL END`;
