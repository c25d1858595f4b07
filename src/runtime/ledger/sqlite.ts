/**
 * The embedded ledger: one SQLite file (better-sqlite3), shared safely by every Sluice process on
 * one machine (`sluice run`, `sluice serve`, `sluice status`).
 *
 * Invariants this file keeps:
 * - Every state change is a single write transaction taken with the write lock up front
 *   (BEGIN IMMEDIATE, or one autocommit UPDATE, which SQLite also starts as a write). Two
 *   processes therefore never read the same claimable unit and both take it: the second one waits
 *   on the lock (busy_timeout) and then sees the first one's lease.
 * - A lease is fenced by `token`: leasing increments it, and renew / complete / fail / release
 *   succeed only while `token = lease.token AND state = 'leased'`. A lease that expired but was not
 *   taken over yet still holds the current token, so its holder may still commit: no one else
 *   did the work.
 * - Leasing never scans finished units. The partial index `units_claimable` holds only pending,
 *   failed and leased units, in key order, with the columns that decide whether each is claimable
 *   now; the lease query walks it from the start and stops at the first claimable entry. What it
 *   skips are live leases (at most the fleet's concurrency) and failed units still backing off.
 * - The retry delay is exact, with no jitter: `min(maxBackoffMs, backoffMs * 2^(attempts-1))`.
 *   Every ledger implementation computes the same instant, so the shared conformance suite can
 *   check it; units that fail together are spread out again by the executor's bounded concurrency.
 * - Planning settles the versions of each planned key (types.ts) in the transaction that inserts
 *   the units: plans are serialised by the write lock, so the last plan's versions are current.
 *   It costs one seek in units_by_key and one by id per planned unit, also when nothing changed.
 * - The schema is versioned (`schema_migrations` + `PRAGMA user_version`). Migrations run inside
 *   BEGIN IMMEDIATE when the file is opened, so two processes opening a fresh file at once apply
 *   each migration exactly once; a file written by a newer Sluice is refused rather than guessed at.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SluiceError, type SerializedError } from '../../core/errors.js';
import { crashPoint } from '../../core/crash-points.js';
import { systemClock, UNIT_STATES } from './types.js';
import type { Clock, FailOutcome, Lease, Ledger, ListUnitsQuery, PlanResult, RetryPolicy, RunRecord, UnitResult, UnitRow, UnitSpec, UnitState, WorkerBeat, WorkerRow } from './types.js';
import { requireDuration, toMillis } from './durations.js';
import { RESET_STATE, jsonText, resultValues, toRunRecord, toUnitRow, toWorkerRow, zeroCounts, type RunDbRow, type UnitDbRow, type WorkerDbRow } from './rows.js';
import { currentVersions } from './unit-id.js';

export interface SqliteLedgerOptions {
  clock?: Clock;
  /**
   * How long a write waits for another process holding the file's write lock before failing with
   * LEDGER_BUSY. The wait blocks this process's event loop (better-sqlite3 is synchronous), which
   * is acceptable because every ledger transaction is short.
   */
  busyTimeoutMs?: number;
}

interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * Append-only: never edit a migration that has shipped; add the next version instead. Exported
 * so that tests can build a ledger of an older version and open it with this one.
 */
export const LEDGER_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'units and runs',
    sql: `
      CREATE TABLE units (
        id               TEXT PRIMARY KEY,
        pipeline         TEXT NOT NULL,
        kind             TEXT NOT NULL CHECK (kind IN ('object', 'partition')),
        key              TEXT NOT NULL,
        payload          TEXT NOT NULL,
        size             INTEGER,
        state            TEXT NOT NULL DEFAULT 'pending'
                         CHECK (state IN ('pending', 'leased', 'done', 'failed', 'dead')),
        attempts         INTEGER NOT NULL DEFAULT 0,
        token            INTEGER NOT NULL DEFAULT 0,
        lease_owner      TEXT,
        lease_expires_at INTEGER,
        next_attempt_at  INTEGER,
        last_error       TEXT,
        records_in       INTEGER NOT NULL DEFAULT 0,
        records_out      INTEGER NOT NULL DEFAULT 0,
        records_rejected INTEGER NOT NULL DEFAULT 0,
        records_filtered INTEGER NOT NULL DEFAULT 0,
        outputs          TEXT NOT NULL DEFAULT '[]',
        duration_ms      INTEGER,
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL
      ) STRICT;
      -- listUnits in key order; the loose index scan behind pipelines().
      CREATE INDEX units_by_key ON units (pipeline, key, id);
      -- counts (covering), listUnits filtered by one state.
      CREATE INDEX units_by_state ON units (pipeline, state, key, id);
      -- leaseNextUnit: only units that may become claimable, in key order, covering the test.
      CREATE INDEX units_claimable ON units (pipeline, key, id, state, next_attempt_at, lease_expires_at)
        WHERE state IN ('pending', 'failed', 'leased');
      -- nextRetryAt.
      CREATE INDEX units_retry ON units (pipeline, next_attempt_at) WHERE state = 'failed';
      -- expireLeasesOf.
      CREATE INDEX units_leased_by_owner ON units (lease_owner) WHERE state = 'leased';

      CREATE TABLE runs (
        id          TEXT PRIMARY KEY,
        pipeline    TEXT NOT NULL,
        started_at  INTEGER NOT NULL,
        finished_at INTEGER,
        report      TEXT
      ) STRICT;
      CREATE INDEX runs_by_pipeline ON runs (pipeline, started_at, id);
      CREATE INDEX runs_by_start ON runs (started_at, id);
    `,
  },
  {
    version: 2,
    name: 'worker registry',
    sql: `
      CREATE TABLE workers (
        id                TEXT PRIMARY KEY,
        pipeline          TEXT NOT NULL,
        host              TEXT NOT NULL,
        pid               INTEGER NOT NULL,
        started_at        INTEGER NOT NULL,
        last_heartbeat_at INTEGER NOT NULL,
        units_in_flight   INTEGER NOT NULL DEFAULT 0,
        stopped_at        INTEGER
      ) STRICT;
      -- listWorkers: most recently heard from first.
      CREATE INDEX workers_by_pipeline ON workers (pipeline, last_heartbeat_at);
    `,
  },
  {
    version: 3,
    name: 'unit counts kept by triggers',
    // counts() (status, the dashboard, every run's report) was a GROUP BY over all units: 0.6 s at
    // 1M units. Triggers keep the counts per state as units are planned and change state, in the
    // same transaction, so they cannot drift; reading them is one small table.
    sql: `
      CREATE TABLE unit_counts (
        pipeline TEXT NOT NULL,
        state    TEXT NOT NULL,
        n        INTEGER NOT NULL,
        PRIMARY KEY (pipeline, state)
      ) STRICT, WITHOUT ROWID;
      INSERT INTO unit_counts (pipeline, state, n) SELECT pipeline, state, COUNT(*) FROM units GROUP BY pipeline, state;
      CREATE TRIGGER unit_counts_insert AFTER INSERT ON units BEGIN
        INSERT INTO unit_counts (pipeline, state, n) VALUES (NEW.pipeline, NEW.state, 1)
          ON CONFLICT (pipeline, state) DO UPDATE SET n = n + 1;
      END;
      CREATE TRIGGER unit_counts_delete AFTER DELETE ON units BEGIN
        UPDATE unit_counts SET n = n - 1 WHERE pipeline = OLD.pipeline AND state = OLD.state;
      END;
      CREATE TRIGGER unit_counts_update AFTER UPDATE OF state, pipeline ON units
        WHEN OLD.state IS NOT NEW.state OR OLD.pipeline IS NOT NEW.pipeline BEGIN
        UPDATE unit_counts SET n = n - 1 WHERE pipeline = OLD.pipeline AND state = OLD.state;
        INSERT INTO unit_counts (pipeline, state, n) VALUES (NEW.pipeline, NEW.state, 1)
          ON CONFLICT (pipeline, state) DO UPDATE SET n = n + 1;
      END;
    `,
  },
  {
    version: 4,
    name: 'superseded versions',
    // A CHECK constraint cannot be altered in SQLite: the table is rebuilt with the new state and
    // the superseded_by column, its indexes and triggers made again. unit_counts stays right as
    // the copy fires no trigger and DROP TABLE fires none either.
    sql: `
      CREATE TABLE units_v4 (
        id               TEXT PRIMARY KEY,
        pipeline         TEXT NOT NULL,
        kind             TEXT NOT NULL CHECK (kind IN ('object', 'partition')),
        key              TEXT NOT NULL,
        payload          TEXT NOT NULL,
        size             INTEGER,
        state            TEXT NOT NULL DEFAULT 'pending'
                         CHECK (state IN ('pending', 'leased', 'done', 'failed', 'dead', 'superseded')),
        attempts         INTEGER NOT NULL DEFAULT 0,
        token            INTEGER NOT NULL DEFAULT 0,
        lease_owner      TEXT,
        lease_expires_at INTEGER,
        next_attempt_at  INTEGER,
        last_error       TEXT,
        records_in       INTEGER NOT NULL DEFAULT 0,
        records_out      INTEGER NOT NULL DEFAULT 0,
        records_rejected INTEGER NOT NULL DEFAULT 0,
        records_filtered INTEGER NOT NULL DEFAULT 0,
        outputs          TEXT NOT NULL DEFAULT '[]',
        duration_ms      INTEGER,
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL,
        superseded_by    TEXT
      ) STRICT;
      INSERT INTO units_v4 (id, pipeline, kind, key, payload, size, state, attempts, token, lease_owner, lease_expires_at,
                            next_attempt_at, last_error, records_in, records_out, records_rejected, records_filtered,
                            outputs, duration_ms, created_at, updated_at)
        SELECT id, pipeline, kind, key, payload, size, state, attempts, token, lease_owner, lease_expires_at,
               next_attempt_at, last_error, records_in, records_out, records_rejected, records_filtered,
               outputs, duration_ms, created_at, updated_at
        FROM units;
      DROP TABLE units;
      ALTER TABLE units_v4 RENAME TO units;
      -- listUnits in key order; the loose index scan behind pipelines(); the versions of a key (planUnits).
      CREATE INDEX units_by_key ON units (pipeline, key, id);
      CREATE INDEX units_by_state ON units (pipeline, state, key, id);
      CREATE INDEX units_claimable ON units (pipeline, key, id, state, next_attempt_at, lease_expires_at)
        WHERE state IN ('pending', 'failed', 'leased');
      CREATE INDEX units_retry ON units (pipeline, next_attempt_at) WHERE state = 'failed';
      CREATE INDEX units_leased_by_owner ON units (lease_owner) WHERE state = 'leased';
      CREATE TRIGGER unit_counts_insert AFTER INSERT ON units BEGIN
        INSERT INTO unit_counts (pipeline, state, n) VALUES (NEW.pipeline, NEW.state, 1)
          ON CONFLICT (pipeline, state) DO UPDATE SET n = n + 1;
      END;
      CREATE TRIGGER unit_counts_delete AFTER DELETE ON units BEGIN
        UPDATE unit_counts SET n = n - 1 WHERE pipeline = OLD.pipeline AND state = OLD.state;
      END;
      CREATE TRIGGER unit_counts_update AFTER UPDATE OF state, pipeline ON units
        WHEN OLD.state IS NOT NEW.state OR OLD.pipeline IS NOT NEW.pipeline BEGIN
        UPDATE unit_counts SET n = n - 1 WHERE pipeline = OLD.pipeline AND state = OLD.state;
        INSERT INTO unit_counts (pipeline, state, n) VALUES (NEW.pipeline, NEW.state, 1)
          ON CONFLICT (pipeline, state) DO UPDATE SET n = n + 1;
      END;
    `,
  },
];

export const LEDGER_SCHEMA_VERSION = LEDGER_MIGRATIONS[LEDGER_MIGRATIONS.length - 1]!.version;

/** Rows per planUnits transaction: long enough to be fast, short enough not to starve other writers. */
const PLAN_BATCH = 5_000;
/** A multi-row INSERT costs a third less per row than one statement per row. */
const INSERT_ROWS_PER_STATEMENT = 100;

/** SQLite returns a JSON column as its text. */
type SqliteUnitRow = UnitDbRow<string>;

/**
 * Opens (creating if needed, with its parent folders) the SQLite ledger at `file`; `':memory:'`
 * gives a private in-memory ledger for tests.
 *
 * @example
 * const ledger = openSqliteLedger('./.sluice/state.db');
 * await ledger.planUnits(specs);
 * const lease = await ledger.leaseNextUnit('flows', owner, 60_000);
 */
export function openSqliteLedger(file: string, options: SqliteLedgerOptions = {}): Ledger {
  return new SqliteLedger(file, options);
}

class SqliteLedger implements Ledger {
  private readonly db: Database.Database;
  private readonly clock: Clock;
  private readonly statements: ReturnType<typeof prepareStatements>;
  private readonly listStatements = new Map<number, Database.Statement>();
  private readonly insertStatements = new Map<number, Database.Statement>();
  private readonly leaseTx: (pipeline: string, owner: string, now: number, expiresAt: number) => SqliteUnitRow | undefined;
  private readonly failTx: (
    lease: Lease,
    error: SerializedError,
    policy: RetryPolicy & { retryable: boolean },
    now: number,
  ) => FailOutcome;
  private readonly planTx: (units: UnitSpec[], now: number) => { inserted: number; superseded: number };

  constructor(
    private readonly file: string,
    options: SqliteLedgerOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.db = openDatabase(file, options.busyTimeoutMs ?? 10_000);
    try {
      migrate(this.db, file);
      this.statements = prepareStatements(this.db);
    } catch (err) {
      this.db.close();
      throw err instanceof SluiceError ? err : ledgerError(err, file, 'cannot prepare the ledger');
    }
    const s = this.statements;

    const lease = this.db.transaction((pipeline: string, owner: string, now: number, expiresAt: number) => {
      const next = s.nextClaimable.get(pipeline, now, now) as { id: string } | undefined;
      if (!next) return undefined;
      return s.takeLease.get(owner, expiresAt, now, next.id) as SqliteUnitRow;
    });
    this.leaseTx = (pipeline, owner, now, expiresAt) => lease.immediate(pipeline, owner, now, expiresAt);

    const fail = this.db.transaction(
      (lease: Lease, error: SerializedError, policy: RetryPolicy & { retryable: boolean }, now: number): FailOutcome => {
        const row = s.currentAttempts.get(lease.unitId, lease.token) as { attempts: number; superseded_by: string | null } | undefined;
        if (!row) return 'fenced';
        const errorJson = JSON.stringify(error);
        if (row.superseded_by !== null) {
          s.failSuperseded.run(errorJson, now, lease.unitId, lease.token);
          return 'superseded';
        }
        if (!policy.retryable || row.attempts >= policy.maxAttempts) {
          s.failDead.run(errorJson, now, lease.unitId, lease.token);
          return 'dead';
        }
        s.failRetry.run(now + retryDelayMs(policy, row.attempts), errorJson, now, lease.unitId, lease.token);
        return 'retry';
      },
    );
    this.failTx = (lease, error, policy, now) => fail.immediate(lease, error, policy, now);

    const plan = this.db.transaction((units: UnitSpec[], now: number): { inserted: number; superseded: number } => {
      let inserted = 0;
      for (let start = 0; start < units.length; start += INSERT_ROWS_PER_STATEMENT) {
        const rows = units.slice(start, start + INSERT_ROWS_PER_STATEMENT);
        const values: unknown[] = [];
        for (const unit of rows) {
          values.push(
            unit.id,
            unit.pipeline,
            unit.kind,
            unit.key,
            jsonText(unit.payload),
            unit.size === undefined ? null : Math.round(unit.size),
            now,
            now,
          );
        }
        inserted += this.insertStatement(rows.length).run(values).changes;
      }
      // In the same transaction as the insert: no reader sees two current versions of a key.
      const current = currentVersions(units);
      s.revive.run(now, JSON.stringify(current.map((u) => u.id)));
      const superseded = s.supersede.run(now, JSON.stringify(current.map((u) => [u.id, u.pipeline, u.kind, u.key]))).changes;
      return { inserted, superseded };
    });
    this.planTx = (units, now) => plan.immediate(units, now);
  }

  async planUnits(units: UnitSpec[]): Promise<PlanResult> {
    return this.guard(`cannot plan ${units.length} units`, () => {
      let inserted = 0;
      let superseded = 0;
      for (let start = 0; start < units.length; start += PLAN_BATCH) {
        const batch = this.planTx(units.slice(start, start + PLAN_BATCH), this.now());
        inserted += batch.inserted;
        superseded += batch.superseded;
      }
      return { inserted, existing: units.length - inserted, superseded };
    });
  }

  async leaseNextUnit(pipeline: string, owner: string, leaseMs: number): Promise<Lease | null> {
    return this.guard(`cannot lease a unit of pipeline "${pipeline}"`, () => {
      const now = this.now();
      const row = this.leaseTx(pipeline, owner, now, now + requireDuration('leaseMs', leaseMs));
      if (!row) return null;
      const unit = toUnit(row);
      return { unitId: unit.id, owner, token: unit.token, expiresAt: unit.leaseExpiresAt!, unit };
    });
  }

  async renewLease(lease: Lease, leaseMs: number): Promise<boolean> {
    return this.guard(`cannot renew the lease of unit ${lease.unitId}`, () => {
      const now = this.now();
      return this.statements.renew.run(now + requireDuration('leaseMs', leaseMs), now, lease.unitId, lease.token).changes === 1;
    });
  }

  async completeUnit(lease: Lease, result: UnitResult): Promise<boolean> {
    return this.guard(`cannot complete unit ${lease.unitId}`, () => this.completeTx(lease, result));
  }

  /** One transaction, so a crash inside it (see crash-points.ts) must leave the unit as it was. */
  private readonly completeTx = (lease: Lease, result: UnitResult): boolean =>
    this.db.transaction(() => {
      const changes = this.statements.complete.run(...resultValues(result), this.now(), lease.unitId, lease.token).changes;
      crashPoint('mid-ledger-commit');
      return changes === 1;
    })();

  async failUnit(lease: Lease, error: SerializedError, policy: RetryPolicy & { retryable: boolean }): Promise<FailOutcome> {
    return this.guard(`cannot record the failure of unit ${lease.unitId}`, () => {
      requireDuration('backoffMs', policy.backoffMs, true);
      requireDuration('maxBackoffMs', policy.maxBackoffMs, true);
      return this.failTx(lease, error, policy, this.now());
    });
  }

  async releaseLease(lease: Lease): Promise<void> {
    this.guard(`cannot release the lease of unit ${lease.unitId}`, () => {
      this.statements.release.run(this.now(), lease.unitId, lease.token);
    });
  }

  async expireLeasesOf(owner: string): Promise<number> {
    return this.guard(`cannot expire the leases of ${owner}`, () => {
      const now = this.now();
      return this.statements.expireOwner.run(now - 1, now, owner).changes;
    });
  }

  async leaseOwners(pipeline: string): Promise<string[]> {
    return this.guard(`cannot list the lease owners of pipeline "${pipeline}"`, () =>
      (this.statements.leaseOwners.all(pipeline) as Array<{ lease_owner: string }>).map((r) => r.lease_owner),
    );
  }

  async resetUnits(pipeline: string, states: UnitState[], unitIds?: string[]): Promise<number> {
    return this.guard(`cannot reset units of pipeline "${pipeline}"`, () => {
      if (states.length === 0 || unitIds?.length === 0) return 0;
      const statesJson = JSON.stringify(states);
      const now = this.now();
      if (unitIds === undefined) return this.statements.resetByState.run(now, pipeline, statesJson).changes;
      return this.statements.resetByIds.run(now, pipeline, statesJson, JSON.stringify(unitIds)).changes;
    });
  }

  async counts(pipeline: string): Promise<Record<UnitState, number>> {
    return this.guard(`cannot count the units of pipeline "${pipeline}"`, () => {
      const counts = zeroCounts();
      for (const row of this.statements.counts.all(pipeline) as Array<{ state: UnitState; n: number }>) {
        counts[row.state] = row.n;
      }
      return counts;
    });
  }

  async nextRetryAt(pipeline: string): Promise<number | null> {
    return this.guard(`cannot read the next retry time of pipeline "${pipeline}"`, () => {
      const row = this.statements.nextRetryAt.get(pipeline) as { at: number | null };
      return row.at;
    });
  }

  async listUnits(pipeline: string, query: ListUnitsQuery = {}): Promise<UnitRow[]> {
    return this.guard(`cannot list the units of pipeline "${pipeline}"`, () => {
      const states = query.states ? [...new Set(query.states)] : undefined;
      if (states?.length === 0) return [];
      const limit = query.limit ?? -1; // SQLite: a negative LIMIT means none
      const offset = query.offset ?? 0;
      if (!Number.isInteger(limit) || !Number.isInteger(offset) || offset < 0 || (query.limit !== undefined && limit < 0)) {
        throw new SluiceError(`listUnits: limit and offset must be non-negative whole numbers (got limit ${query.limit}, offset ${offset})`, {
          code: 'LEDGER_BAD_QUERY',
          stage: 'ledger',
        });
      }
      const everyState = states === undefined || states.length === UNIT_STATES.length;
      let rows: SqliteUnitRow[];
      if (everyState) rows = this.listStatement(0).all(pipeline, limit, offset) as SqliteUnitRow[];
      else if (states.length === 1) rows = this.listStatement(1).all(pipeline, states[0], limit, offset) as SqliteUnitRow[];
      else {
        const perStateLimit = limit < 0 ? -1 : limit + offset;
        const params: Record<string, unknown> = { pipeline, perStateLimit, limit, offset };
        states.forEach((state, i) => (params[`state${i}`] = state));
        rows = this.listStatement(states.length).all(params) as SqliteUnitRow[];
      }
      return rows.map(toUnit);
    });
  }

  async getUnit(unitId: string): Promise<UnitRow | null> {
    return this.guard(`cannot read unit ${unitId}`, () => {
      const row = this.statements.getUnit.get(unitId) as SqliteUnitRow | undefined;
      return row ? toUnit(row) : null;
    });
  }

  async unitStates(unitIds: string[]): Promise<Map<string, UnitState>> {
    return this.guard(`cannot read the states of ${unitIds.length} units`, () => {
      const states = new Map<string, UnitState>();
      if (unitIds.length === 0) return states;
      for (const row of this.statements.unitStates.all(JSON.stringify(unitIds)) as Array<{ id: string; state: UnitState }>) {
        states.set(row.id, row.state);
      }
      return states;
    });
  }

  async pipelines(): Promise<string[]> {
    return this.guard('cannot list pipelines', () =>
      (this.statements.pipelines.all() as Array<{ name: string }>).map((r) => r.name),
    );
  }

  /** Idempotent: starting a run id again (a retried Lambda invocation) keeps the first record. */
  async startRun(run: { id: string; pipeline: string; startedAt: number }): Promise<void> {
    this.guard(`cannot record the start of run ${run.id}`, () => {
      this.statements.startRun.run(run.id, run.pipeline, toMillis(run.startedAt));
    });
  }

  async finishRun(id: string, finishedAt: number, report: unknown): Promise<void> {
    this.guard(`cannot record the end of run ${id}`, () => {
      const changes = this.statements.finishRun.run(toMillis(finishedAt), jsonText(report), id).changes;
      if (changes === 0) {
        throw new SluiceError(`ledger ${this.file}: run ${id} was never started, so it cannot be finished`, {
          code: 'LEDGER_RUN_UNKNOWN',
          stage: 'ledger',
          hint: 'call startRun before finishRun with the same run id',
        });
      }
    });
  }

  async listRuns(pipeline?: string, limit?: number): Promise<RunRecord[]> {
    return this.guard('cannot list runs', () => {
      const max = limit ?? -1;
      const rows = (
        pipeline === undefined ? this.statements.listRuns.all(max) : this.statements.listRunsOf.all(pipeline, max)
      ) as Array<RunDbRow<string>>;
      return rows.map((r) => toRunRecord(r, parseJson));
    });
  }

  async recordWorker(beat: WorkerBeat): Promise<void> {
    this.guard(`cannot record the heartbeat of worker ${beat.id}`, () => {
      const now = this.now();
      this.statements.recordWorker.run(
        beat.id,
        beat.pipeline,
        beat.host,
        beat.pid,
        toMillis(beat.startedAt),
        now,
        Math.max(0, Math.round(beat.unitsInFlight)),
        beat.stopped ? now : null,
      );
    });
  }

  async listWorkers(pipeline: string, limit = 100): Promise<WorkerRow[]> {
    return this.guard(`cannot list the workers of pipeline "${pipeline}"`, () =>
      (this.statements.listWorkers.all(pipeline, limit) as WorkerDbRow[]).map(toWorkerRow),
    );
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private now(): number {
    return toMillis(this.clock());
  }

  /** Runs synchronous SQLite work, turning driver errors into SluiceErrors that name the file. */
  private guard<T>(action: string, work: () => T): T {
    try {
      return work();
    } catch (err) {
      throw err instanceof SluiceError ? err : ledgerError(err, this.file, action);
    }
  }

  private insertStatement(rowCount: number): Database.Statement {
    let statement = this.insertStatements.get(rowCount);
    if (!statement) {
      const row = '(?, ?, ?, ?, ?, ?, ?, ?)';
      statement = this.db.prepare(
        `INSERT OR IGNORE INTO units (id, pipeline, kind, key, payload, size, created_at, updated_at) VALUES ${Array(rowCount).fill(row).join(', ')}`,
      );
      this.insertStatements.set(rowCount, statement);
    }
    return statement;
  }

  /**
   * One state reads its range of units_by_state in key order. Several states merge those ranges,
   * each cut at offset + limit rows, so that listing the few dead units among a million done ones
   * never walks the done ones.
   */
  private listStatement(stateCount: number): Database.Statement {
    let statement = this.listStatements.get(stateCount);
    if (!statement) {
      let sql: string;
      if (stateCount === 0) {
        sql = 'SELECT * FROM units WHERE pipeline = ? ORDER BY key, id LIMIT ? OFFSET ?';
      } else if (stateCount === 1) {
        sql = 'SELECT * FROM units WHERE pipeline = ? AND state = ? ORDER BY key, id LIMIT ? OFFSET ?';
      } else {
        const perState = Array.from(
          { length: stateCount },
          (_, i) => `SELECT * FROM (SELECT * FROM units WHERE pipeline = @pipeline AND state = @state${i} ORDER BY key, id LIMIT @perStateLimit)`,
        );
        sql = `SELECT * FROM (${perState.join(' UNION ALL ')}) ORDER BY key, id LIMIT @limit OFFSET @offset`;
      }
      statement = this.db.prepare(sql);
      this.listStatements.set(stateCount, statement);
    }
    return statement;
  }
}

/** The delay before retry number `attempts + 1`, given that `attempts` attempts were made. */
function retryDelayMs(policy: Pick<RetryPolicy, 'backoffMs' | 'maxBackoffMs'>, attempts: number): number {
  return Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** Math.max(0, attempts - 1));
}

function openDatabase(file: string, busyTimeoutMs: number): Database.Database {
  let db: Database.Database;
  try {
    if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    db = new Database(file, { timeout: busyTimeoutMs });
  } catch (err) {
    throw new SluiceError(`cannot open the ledger file ${file}: ${(err as Error).message}`, {
      code: 'LEDGER_OPEN_FAILED',
      stage: 'ledger',
      hint: 'check that the folder exists or can be created and is writable (runtime.state in the pipeline file)',
      cause: err,
    });
  }
  try {
    // busy_timeout first: switching to WAL needs a lock another process may hold at this moment.
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    // SQLite may answer SQLITE_BUSY to the switch at once, without its busy handler, while another
    // process opens the same new file: retry it for the busy timeout like any other lock wait.
    for (const deadline = Date.now() + busyTimeoutMs; ; ) {
      try {
        db.pragma('journal_mode = WAL');
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw err;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      }
    }
    // NORMAL in WAL mode: a commit survives a process crash; only an OS crash can lose the last ones.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // 32 MB of page cache keeps the hot index pages of a million-unit ledger in memory.
    db.pragma('cache_size = -32000');
  } catch (err) {
    db.close();
    throw ledgerError(err, file, 'cannot configure the ledger');
  }
  return db;
}

function migrate(db: Database.Database, file: string): void {
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    ) STRICT`);
    const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>).map((r) => r.version));
    const newest = Math.max(0, ...applied, db.pragma('user_version', { simple: true }) as number);
    if (newest > LEDGER_SCHEMA_VERSION) {
      throw new SluiceError(
        `ledger ${file} has schema version ${newest}, newer than the ${LEDGER_SCHEMA_VERSION} this Sluice understands`,
        { code: 'LEDGER_SCHEMA_TOO_NEW', stage: 'ledger', hint: 'upgrade Sluice, or point runtime.state at another file' },
      );
    }
    const insert = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const migration of LEDGER_MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      db.exec(migration.sql);
      insert.run(migration.version, migration.name, Date.now());
    }
    db.pragma(`user_version = ${LEDGER_SCHEMA_VERSION}`);
  }).immediate();
}

function prepareStatements(db: Database.Database) {
  return {
    // planUnits: a planned unit is the current version: a superseded one is pending again, and a
    // leased one marked for supersession is not marked any more.
    revive: db.prepare(`
      UPDATE units
      SET state = CASE WHEN state = 'superseded' THEN 'pending' ELSE state END,
          attempts = CASE WHEN state = 'superseded' THEN 0 ELSE attempts END,
          superseded_by = NULL, updated_at = ?
      WHERE id IN (SELECT value FROM json_each(?)) AND superseded_by IS NOT NULL`),
    // planUnits: every other unfinished version of a planned key. One seek per planned unit in
    // units_by_key, which usually finds the planned unit alone.
    supersede: db.prepare(`
      UPDATE units AS o INDEXED BY units_by_key
      SET state = CASE WHEN o.state = 'leased' THEN 'leased' ELSE 'superseded' END,
          superseded_by = n.id, next_attempt_at = NULL, updated_at = ?
      FROM (SELECT value ->> 0 AS id, value ->> 1 AS pipeline, value ->> 2 AS kind, value ->> 3 AS key FROM json_each(?)) AS n
      WHERE o.pipeline = n.pipeline AND o.key = n.key AND o.id <> n.id AND o.kind = n.kind
        AND o.state IN ('pending', 'failed', 'dead', 'leased') AND o.superseded_by IS NOT n.id`),
    // Walks units_claimable in key order; the state IN term lets SQLite use the partial index.
    nextClaimable: db.prepare(`
      SELECT id FROM units INDEXED BY units_claimable
      WHERE pipeline = ?
        AND state IN ('pending', 'failed', 'leased')
        AND (state = 'pending'
             OR (state = 'failed' AND next_attempt_at <= ?)
             OR (state = 'leased' AND lease_expires_at < ?))
      ORDER BY key, id
      LIMIT 1`),
    takeLease: db.prepare(`
      UPDATE units
      SET state = 'leased', lease_owner = ?, lease_expires_at = ?, token = token + 1, attempts = attempts + 1,
          next_attempt_at = NULL, updated_at = ?
      WHERE id = ?
      RETURNING *`),
    renew: db.prepare(`
      UPDATE units SET lease_expires_at = ?, updated_at = ?
      WHERE id = ? AND token = ? AND state = 'leased'`),
    complete: db.prepare(`
      UPDATE units
      SET state = 'done', records_in = ?, records_out = ?, records_rejected = ?, records_filtered = ?, outputs = ?,
          duration_ms = ?, updated_at = ?,
          lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = NULL, last_error = NULL, superseded_by = NULL
      WHERE id = ? AND token = ? AND state = 'leased'`),
    currentAttempts: db.prepare(`SELECT attempts, superseded_by FROM units WHERE id = ? AND token = ? AND state = 'leased'`),
    failSuperseded: db.prepare(`
      UPDATE units
      SET state = 'superseded', last_error = ?, updated_at = ?,
          lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = NULL
      WHERE id = ? AND token = ? AND state = 'leased'`),
    failDead: db.prepare(`
      UPDATE units
      SET state = 'dead', last_error = ?, updated_at = ?,
          lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = NULL
      WHERE id = ? AND token = ? AND state = 'leased'`),
    failRetry: db.prepare(`
      UPDATE units
      SET state = 'failed', next_attempt_at = ?, last_error = ?, updated_at = ?,
          lease_owner = NULL, lease_expires_at = NULL
      WHERE id = ? AND token = ? AND state = 'leased'`),
    release: db.prepare(`
      UPDATE units
      SET state = CASE WHEN superseded_by IS NULL THEN 'pending' ELSE 'superseded' END,
          attempts = MAX(attempts - 1, 0), updated_at = ?,
          lease_owner = NULL, lease_expires_at = NULL
      WHERE id = ? AND token = ? AND state = 'leased'`),
    expireOwner: db.prepare(`
      UPDATE units SET lease_expires_at = MIN(lease_expires_at, ?), updated_at = ?
      WHERE lease_owner = ? AND state = 'leased'`),
    leaseOwners: db.prepare(`
      SELECT DISTINCT lease_owner FROM units
      WHERE pipeline = ? AND state = 'leased' AND lease_owner IS NOT NULL
      ORDER BY lease_owner`),
    // A reset unit's previous result no longer stands, so it is cleared; last_error is kept so
    // that `status` still shows why a redriven unit died until its next attempt says otherwise.
    resetByState: db.prepare(`
      UPDATE units
      SET ${RESET_STATE}, attempts = 0, updated_at = ?,
          lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = NULL,
          records_in = 0, records_out = 0, records_rejected = 0, records_filtered = 0, outputs = '[]', duration_ms = NULL
      WHERE pipeline = ? AND state IN (SELECT value FROM json_each(?))`),
    // The unary + keeps SQLite on the id lookups: a page of ids must not scan every done unit.
    resetByIds: db.prepare(`
      UPDATE units
      SET ${RESET_STATE}, attempts = 0, updated_at = ?,
          lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = NULL,
          records_in = 0, records_out = 0, records_rejected = 0, records_filtered = 0, outputs = '[]', duration_ms = NULL
      WHERE +pipeline = ? AND +state IN (SELECT value FROM json_each(?)) AND id IN (SELECT value FROM json_each(?))`),
    counts: db.prepare(`SELECT state, n FROM unit_counts WHERE pipeline = ?`),
    nextRetryAt: db.prepare(`SELECT MIN(next_attempt_at) AS at FROM units WHERE pipeline = ? AND state = 'failed'`),
    getUnit: db.prepare(`SELECT * FROM units WHERE id = ?`),
    unitStates: db.prepare(`SELECT id, state FROM units WHERE id IN (SELECT value FROM json_each(?))`),
    // A loose index scan: one index seek per distinct pipeline instead of reading every unit.
    pipelines: db.prepare(`
      WITH RECURSIVE p(name) AS (
        SELECT MIN(pipeline) FROM units
        UNION ALL
        SELECT (SELECT MIN(pipeline) FROM units WHERE pipeline > p.name) FROM p WHERE p.name IS NOT NULL
      )
      SELECT name FROM p WHERE name IS NOT NULL`),
    startRun: db.prepare(`INSERT INTO runs (id, pipeline, started_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`),
    finishRun: db.prepare(`UPDATE runs SET finished_at = ?, report = ? WHERE id = ?`),
    listRuns: db.prepare(`SELECT * FROM runs ORDER BY started_at DESC, id DESC LIMIT ?`),
    listRunsOf: db.prepare(`SELECT * FROM runs WHERE pipeline = ? ORDER BY started_at DESC, id DESC LIMIT ?`),
    recordWorker: db.prepare(`
      INSERT INTO workers (id, pipeline, host, pid, started_at, last_heartbeat_at, units_in_flight, stopped_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET
        last_heartbeat_at = excluded.last_heartbeat_at, units_in_flight = excluded.units_in_flight, stopped_at = excluded.stopped_at`),
    listWorkers: db.prepare(`SELECT * FROM workers WHERE pipeline = ? ORDER BY last_heartbeat_at DESC, id LIMIT ?`),
  };
}

function toUnit(row: SqliteUnitRow): UnitRow {
  return toUnitRow(row, parseJson);
}

function parseJson(text: string): unknown {
  return JSON.parse(text);
}

function ledgerError(err: unknown, file: string, action: string): SluiceError {
  const e = err as { message?: string; code?: string };
  const code = e?.code ?? '';
  const message = `ledger ${file}: ${action}: ${e?.message ?? String(err)}`;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new SluiceError(message, {
      code: 'LEDGER_BUSY',
      stage: 'ledger',
      retryable: true,
      hint: 'another Sluice process held the ledger file longer than the busy timeout; try again, or raise busyTimeoutMs',
      cause: err,
    });
  }
  if (code.startsWith('SQLITE_CORRUPT') || code.startsWith('SQLITE_NOTADB')) {
    return new SluiceError(message, {
      code: 'LEDGER_CORRUPT',
      stage: 'ledger',
      hint: 'the file is not a healthy Sluice ledger: restore it from a backup or point runtime.state at a new file',
      cause: err,
    });
  }
  if (err instanceof TypeError && /not open/i.test(e.message ?? '')) {
    return new SluiceError(message, { code: 'LEDGER_CLOSED', stage: 'ledger', hint: 'the ledger was already closed', cause: err });
  }
  const retryable = code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_FULL') || code.startsWith('SQLITE_CANTOPEN');
  return new SluiceError(message, { code: 'LEDGER_ERROR', stage: 'ledger', retryable, cause: err });
}
