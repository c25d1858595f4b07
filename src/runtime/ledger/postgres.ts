/**
 * The shared ledger: PostgreSQL, for a fleet of `sluice worker` processes on many machines. It
 * keeps exactly the protocol of the SQLite ledger (the shared conformance suite checks both).
 *
 * Invariants this file keeps:
 * - Claiming is one statement: an UPDATE of the row chosen by a `SELECT … ORDER BY key, id LIMIT 1
 *   FOR UPDATE SKIP LOCKED`. Concurrent claimers skip each other's locked candidate instead of
 *   queueing on it, and a row another claimer leased and committed meanwhile is re-checked
 *   against the claimable test before it is taken (PostgreSQL's EvalPlanQual), so a unit is never
 *   leased twice for one token.
 * - A lease is fenced by `token`: leasing increments it, and renew / complete / fail / release
 *   change the row only while `token = lease.token AND state = 'leased'`. A done unit keeps the
 *   token of the lease that committed it, which lets an operation retried after a lost reply tell
 *   "I already did this" from "someone else holds the unit now".
 * - Every time comes from the injected clock, stored as bigint milliseconds; the retry delay is
 *   `min(maxBackoffMs, backoffMs * 2^(attempts-1))` with no jitter, computed in exact numeric
 *   arithmetic so it is the same instant the SQLite ledger computes.
 * - Claiming never scans finished units: the partial index `units_claimable` holds only pending,
 *   failed and leased units in key order. What a claim walks past is the fleet's live leases and
 *   the failed units still backing off.
 * - Planning settles the versions of each planned key (types.ts) in a statement after the insert,
 *   which sees the inserted rows. Two planners listing different versions of one key at the same
 *   instant may leave both current, or neither; the next plan puts that right.
 * - The schema lives in its own PostgreSQL schema (default `sluice`, `?schema=` in the URL picks
 *   another), versioned in `schema_migrations`. Migrations run in one transaction under a
 *   transaction-scoped advisory lock, so any number of workers starting at once apply each
 *   migration exactly once; a schema written by a newer Sluice is refused rather than guessed at.
 * - The database being unreachable when the ledger is opened is an error at once. Once open, an
 *   operation that loses its connection is retried with backoff (up to `reconnectWithinMs`), which
 *   is safe because every operation is one statement whose effect is guarded by state and token.
 *   Heartbeats (renewLease, recordWorker) are not retried: the next beat is the retry.
 * - No message ever carries the password: URLs are shown masked.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { SluiceError, type SerializedError } from '../../core/errors.js';
import { systemClock, UNIT_STATES } from './types.js';
import type { Clock, FailOutcome, Lease, Ledger, ListUnitsQuery, PlanResult, RetryPolicy, RunRecord, UnitResult, UnitRow, UnitSpec, UnitState, WorkerBeat, WorkerRow } from './types.js';
import { requireDuration, toMillis } from './durations.js';
import { RESET_STATE, jsonText, resultValues, toRunRecord, toUnitRow, toWorkerRow, zeroCounts, type RunDbRow, type UnitDbRow, type WorkerDbRow } from './rows.js';
import { currentVersions } from './unit-id.js';

export interface ConnectionLostEvent {
  /** What the ledger was doing, e.g. `cannot lease a unit of pipeline "flows"`. */
  action: string;
  attempt: number;
  /** How long it waits before trying again. */
  delayMs: number;
  error: string;
}

export interface PostgresLedgerOptions {
  clock?: Clock;
  /** PostgreSQL schema holding the ledger's tables (default: the URL's `?schema=`, else `sluice`). */
  schema?: string;
  /** Connections in the pool (default 10). A worker needs about concurrency / 4. */
  poolSize?: number;
  /** How long one connection attempt may take (default 10 s). */
  connectTimeoutMs?: number;
  /** How long an operation keeps retrying a lost connection before failing (default 5 min; 0 = never retry). */
  reconnectWithinMs?: number;
  onConnectionLost?(event: ConnectionLostEvent): void;
  onConnectionRestored?(action: string, downForMs: number): void;
  /** Refuse to create the schema: reading commands (`status`) must not make an empty ledger. */
  mustExist?: boolean;
}

export interface PostgresMigrationResult {
  /** The ledger's URL with its password masked, and its schema. */
  location: string;
  schema: string;
  version: number;
  /** Versions this call applied (empty when the schema was already current). */
  applied: number[];
}

interface Migration {
  version: number;
  name: string;
  sql: (schema: string) => string;
}

/**
 * Append-only: never edit a migration that has shipped; add the next version instead. Exported
 * so that tests can build a ledger of an older version and open it with this one.
 */
export const POSTGRES_LEDGER_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'units, runs and the worker registry',
    sql: (s) => `
      CREATE TABLE ${s}.units (
        id               text COLLATE "C" PRIMARY KEY,
        pipeline         text COLLATE "C" NOT NULL,
        kind             text NOT NULL CHECK (kind IN ('object', 'partition')),
        key              text COLLATE "C" NOT NULL,
        payload          jsonb NOT NULL,
        size             bigint,
        state            text NOT NULL DEFAULT 'pending'
                         CHECK (state IN ('pending', 'leased', 'done', 'failed', 'dead')),
        attempts         integer NOT NULL DEFAULT 0,
        token            bigint NOT NULL DEFAULT 0,
        lease_owner      text COLLATE "C",
        lease_expires_at bigint,
        next_attempt_at  bigint,
        last_error       jsonb,
        records_in       bigint NOT NULL DEFAULT 0,
        records_out      bigint NOT NULL DEFAULT 0,
        records_rejected bigint NOT NULL DEFAULT 0,
        records_filtered bigint NOT NULL DEFAULT 0,
        outputs          jsonb NOT NULL DEFAULT '[]',
        duration_ms      bigint,
        created_at       bigint NOT NULL,
        updated_at       bigint NOT NULL
      -- Free room on each page lets a heartbeat (which touches no indexed column) update in place.
      -- Frequent vacuuming keeps the claim index free of the entries of units that moved on.
      ) WITH (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
      -- counts, listUnits (one range per state, merged in key order), leaseOwners, pipelines().
      CREATE INDEX units_by_state ON ${s}.units (pipeline, state, key, id);
      -- leaseNextUnit: only units that may become claimable, in key order.
      CREATE INDEX units_claimable ON ${s}.units (pipeline, key, id) WHERE state IN ('pending', 'failed', 'leased');
      -- nextRetryAt.
      CREATE INDEX units_retry ON ${s}.units (pipeline, next_attempt_at) WHERE state = 'failed';
      -- expireLeasesOf.
      CREATE INDEX units_leased_by_owner ON ${s}.units (lease_owner) WHERE state = 'leased';

      CREATE TABLE ${s}.runs (
        id          text COLLATE "C" PRIMARY KEY,
        pipeline    text COLLATE "C" NOT NULL,
        started_at  bigint NOT NULL,
        finished_at bigint,
        report      jsonb
      );
      CREATE INDEX runs_by_pipeline ON ${s}.runs (pipeline, started_at, id);
      CREATE INDEX runs_by_start ON ${s}.runs (started_at, id);

      CREATE TABLE ${s}.workers (
        id                text COLLATE "C" PRIMARY KEY,
        pipeline          text COLLATE "C" NOT NULL,
        host              text NOT NULL,
        pid               integer NOT NULL,
        started_at        bigint NOT NULL,
        last_heartbeat_at bigint NOT NULL,
        units_in_flight   integer NOT NULL DEFAULT 0,
        stopped_at        bigint
      );
      CREATE INDEX workers_by_pipeline ON ${s}.workers (pipeline, last_heartbeat_at);
    `,
  },
  {
    version: 2,
    name: 'superseded versions',
    // units_state_check is the name PostgreSQL gave the column's CHECK in version 1. Adding a
    // nullable column without a default rewrites nothing; the new CHECK reads the table once.
    sql: (s) => `
      ALTER TABLE ${s}.units ADD COLUMN superseded_by text COLLATE "C";
      ALTER TABLE ${s}.units DROP CONSTRAINT units_state_check;
      ALTER TABLE ${s}.units ADD CONSTRAINT units_state_check
        CHECK (state IN ('pending', 'leased', 'done', 'failed', 'dead', 'superseded'));
    `,
  },
];

export const POSTGRES_LEDGER_SCHEMA_VERSION = POSTGRES_LEDGER_MIGRATIONS[POSTGRES_LEDGER_MIGRATIONS.length - 1]!.version;

/** Rows per INSERT of planUnits: one round trip each, short enough not to hold locks for long. */
const PLAN_BATCH = 5_000;
const DEFAULT_SCHEMA = 'sluice';

/** pg returns a jsonb column already parsed. */
type PostgresUnitRow = UnitDbRow<unknown>;

interface LedgerTarget {
  connectionString: string;
  /** The URL with its password replaced by `***`: the only form that may appear in a message. */
  masked: string;
  schema: string;
  /** The schema name, quoted for SQL. */
  quoted: string;
  password: string;
}

/** True when `state` names a PostgreSQL ledger rather than a SQLite file. */
export function isPostgresUrl(state: string): boolean {
  return /^postgres(ql)?:\/\//i.test(state);
}

/**
 * The URL with its password (in the authority or as a `password=` parameter) replaced by `***`.
 *
 * @example
 * maskConnectionUrl('postgres://sluice:s3cret@db:5432/ledger') // 'postgres://sluice:***@db:5432/ledger'
 */
export function maskConnectionUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Never echo an unparseable URL: it may hold a password in a place we did not recognise.
    return `${url.split('//')[0] ?? 'postgres:'}//(unparseable URL)`;
  }
  if (parsed.password) parsed.password = '***';
  for (const name of [...parsed.searchParams.keys()]) {
    if (/^(password|sslpassword)$/i.test(name)) parsed.searchParams.set(name, '***');
  }
  return parsed.toString().replace(/%2A%2A%2A/g, '***');
}

/**
 * Opens the PostgreSQL ledger at `url` (`postgres://user:password@host:port/database`, optionally
 * `?schema=name`), creating its schema or migrating it to this version first.
 *
 * @example
 * const ledger = await openPostgresLedger(resolveSecretRef('env:SLUICE_LEDGER_URL'));
 * const lease = await ledger.leaseNextUnit('flows', owner, 60_000);
 */
export async function openPostgresLedger(url: string, options: PostgresLedgerOptions = {}): Promise<Ledger> {
  const target = parseTarget(url, options.schema);
  const pool = createPool(target, options);
  try {
    await applyMigrations(pool, target, options.mustExist === true);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  const ledger = new PostgresLedger(pool, target, options);
  await ledger.analyzeIfNeverAnalyzed();
  return ledger;
}

/** Applies pending migrations (what `sluice migrate` does) and reports the version reached. */
export async function migratePostgresLedger(url: string, options: Pick<PostgresLedgerOptions, 'schema' | 'connectTimeoutMs'> = {}): Promise<PostgresMigrationResult> {
  const target = parseTarget(url, options.schema);
  const pool = createPool(target, { ...options, poolSize: 1 });
  try {
    const applied = await applyMigrations(pool, target, false);
    return { location: target.masked, schema: target.schema, version: POSTGRES_LEDGER_SCHEMA_VERSION, applied };
  } finally {
    await pool.end().catch(() => undefined);
  }
}

function parseTarget(url: string, schemaOption: string | undefined): LedgerTarget {
  const masked = maskConnectionUrl(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SluiceError(`runtime.state ${masked} is not a valid PostgreSQL URL`, {
      code: 'LEDGER_BAD_URL',
      stage: 'config',
      hint: 'write it as postgres://user@host:5432/database (the password via env:NAME or file:PATH), percent-encoding special characters',
    });
  }
  if (!isPostgresUrl(url)) {
    throw new SluiceError(`runtime.state ${masked} is not a postgres:// URL`, { code: 'LEDGER_BAD_URL', stage: 'config' });
  }
  const schema = schemaOption ?? parsed.searchParams.get('schema') ?? DEFAULT_SCHEMA;
  parsed.searchParams.delete('schema');
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw new SluiceError(`runtime.state ${masked}: schema "${schema}" is not a plain PostgreSQL identifier`, {
      code: 'LEDGER_BAD_URL',
      stage: 'config',
      hint: 'use letters, digits and _ (at most 63), not starting with a digit',
    });
  }
  const password = decodeURIComponent(parsed.password);
  return { connectionString: parsed.toString(), masked: maskConnectionUrl(parsed.toString()) + (schema === DEFAULT_SCHEMA ? '' : ` (schema ${schema})`), schema, quoted: `"${schema}"`, password };
}

/** bigint columns hold milliseconds and counts, far below 2^53: read them as numbers. */
const LEDGER_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

function createPool(target: LedgerTarget, options: PostgresLedgerOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: target.connectionString,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    idleTimeoutMillis: 30_000,
    // A connection cut without a reset (a dead host, a dropped route) must end, not hang forever.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    query_timeout: 120_000,
    application_name: 'sluice',
    types: LEDGER_TYPES,
  });
  // An idle connection that breaks (database restart) is dropped by the pool; the next query
  // opens a new one. Without a listener the error would end the process.
  pool.on('error', () => undefined);
  return pool;
}

async function applyMigrations(pool: pg.Pool, target: LedgerTarget, mustExist: boolean): Promise<number[]> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw openError(err, target);
  }
  const applied: number[] = [];
  try {
    await client.query('BEGIN');
    // Serialises every Sluice process migrating this schema, and only them; released at COMMIT.
    await client.query('SELECT pg_advisory_xact_lock($1)', [advisoryLockKey(`sluice-ledger-migrations:${target.schema}`)]);
    const present = await client.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [
      `${target.quoted}.schema_migrations`,
    ]);
    if (!present.rows[0]!.present) {
      if (mustExist) {
        throw new SluiceError(`no ledger at ${target.masked}: schema ${target.schema} has no Sluice tables`, {
          code: 'LEDGER_NOT_FOUND',
          stage: 'ledger',
          hint: 'run `sluice migrate`, `sluice plan` or `sluice run` against it first, or check the URL and ?schema=',
        });
      }
      const schemaExists = await client.query<{ present: boolean }>('SELECT to_regnamespace($1) IS NOT NULL AS present', [target.quoted]);
      if (!schemaExists.rows[0]!.present) await client.query(`CREATE SCHEMA ${target.quoted}`);
      await client.query(`CREATE TABLE ${target.quoted}.schema_migrations (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        applied_at bigint NOT NULL
      )`);
    }
    const versions = (await client.query<{ version: number }>(`SELECT version FROM ${target.quoted}.schema_migrations`)).rows.map((r) => r.version);
    const newest = Math.max(0, ...versions);
    if (newest > POSTGRES_LEDGER_SCHEMA_VERSION) {
      throw new SluiceError(
        `ledger ${target.masked} has schema version ${newest}, newer than the ${POSTGRES_LEDGER_SCHEMA_VERSION} this Sluice understands`,
        { code: 'LEDGER_SCHEMA_TOO_NEW', stage: 'ledger', hint: 'upgrade Sluice on this machine, or point runtime.state at another schema' },
      );
    }
    const done = new Set(versions);
    for (const migration of POSTGRES_LEDGER_MIGRATIONS) {
      if (done.has(migration.version)) continue;
      await client.query(migration.sql(target.quoted));
      await client.query(`INSERT INTO ${target.quoted}.schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, [
        migration.version,
        migration.name,
        Date.now(),
      ]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release(true);
    throw err instanceof SluiceError ? err : openError(err, target);
  }
  client.release();
  return applied;
}

/** A stable signed 64-bit key for pg_advisory_xact_lock. */
function advisoryLockKey(name: string): string {
  return createHash('sha256').update(name).digest().readBigInt64BE(0).toString();
}

class PostgresLedger implements Ledger {
  private readonly clock: Clock;
  private readonly reconnectWithinMs: number;
  private readonly closing = new AbortController();
  private closed = false;
  /** Rows the table had when this process last saw it analyzed, and rows changed in bulk since. */
  private rowsAtAnalyze = 0;
  private bulkChangedSinceAnalyze = 0;
  private readonly sql: ReturnType<typeof statementsFor>;

  constructor(
    private readonly pool: pg.Pool,
    private readonly target: LedgerTarget,
    private readonly options: PostgresLedgerOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.reconnectWithinMs = options.reconnectWithinMs ?? 5 * 60_000;
    this.sql = statementsFor(target.quoted);
  }

  async planUnits(units: UnitSpec[]): Promise<PlanResult> {
    let inserted = 0;
    let superseded = 0;
    for (let start = 0; start < units.length; start += PLAN_BATCH) {
      // Sorted by id: two planners inserting overlapping batches take row locks in the same order,
      // so they wait for each other instead of deadlocking.
      const listed = units.slice(start, start + PLAN_BATCH);
      const batch = [...listed].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const now = this.now();
      const result = await this.call(`cannot plan ${units.length} units`, () =>
        this.pool.query({
          name: this.sql.plan.name,
          text: this.sql.plan.text,
          values: [
            batch.map((u) => u.id),
            batch.map((u) => u.pipeline),
            batch.map((u) => u.kind),
            batch.map((u) => u.key),
            batch.map((u) => jsonText(u.payload)),
            batch.map((u) => (u.size === undefined ? null : Math.round(u.size))),
            now,
          ],
        }),
      );
      inserted += result.rowCount ?? 0;
      await this.noteBulkChange(result.rowCount ?? 0);
      // A second statement, so that it sees the rows just inserted (a data-modifying CTE would
      // not). Both are idempotent: one lost between them is done by the next plan of the listing.
      // In listing order: the last version listed of a key is its current one.
      const current = currentVersions(listed);
      const versions = await this.call(`cannot supersede older versions of ${current.length} units`, () =>
        this.pool.query<{ superseded: number }>({
          ...this.sql.supersede,
          values: [current.map((u) => u.id), current.map((u) => u.pipeline), current.map((u) => u.kind), current.map((u) => u.key), now],
        }),
      );
      superseded += versions.rows[0]!.superseded;
    }
    return { inserted, existing: units.length - inserted, superseded };
  }

  async leaseNextUnit(pipeline: string, owner: string, leaseMs: number): Promise<Lease | null> {
    const duration = requireDuration('leaseMs', leaseMs);
    return this.call(`cannot lease a unit of pipeline "${pipeline}"`, async () => {
      const now = this.now();
      const result = await this.pool.query<PostgresUnitRow>({ ...this.sql.lease, values: [pipeline, owner, now, now + duration] });
      const row = result.rows[0];
      if (!row) return null;
      const unit = toUnit(row);
      return { unitId: unit.id, owner, token: unit.token, expiresAt: unit.leaseExpiresAt!, unit };
    });
  }

  async renewLease(lease: Lease, leaseMs: number): Promise<boolean> {
    const duration = requireDuration('leaseMs', leaseMs);
    return this.call(
      `cannot renew the lease of unit ${lease.unitId}`,
      async () => {
        const now = this.now();
        const result = await this.pool.query({ ...this.sql.renew, values: [lease.unitId, lease.token, now + duration, now] });
        return result.rowCount === 1;
      },
      { retry: false },
    );
  }

  async completeUnit(lease: Lease, result: UnitResult): Promise<boolean> {
    return this.call(`cannot complete unit ${lease.unitId}`, async (retried) => {
      const updated = await this.pool.query({
        ...this.sql.complete,
        values: [lease.unitId, lease.token, ...resultValues(result), this.now()],
      });
      if (updated.rowCount === 1) return true;
      // After a lost reply the commit may have gone through: a done unit still carries the token
      // of the lease that completed it, so ours means the first attempt succeeded.
      return retried && (await this.stateUnderToken(lease)) === 'done';
    });
  }

  async failUnit(lease: Lease, error: SerializedError, policy: RetryPolicy & { retryable: boolean }): Promise<FailOutcome> {
    requireDuration('backoffMs', policy.backoffMs, true);
    requireDuration('maxBackoffMs', policy.maxBackoffMs, true);
    const errorJson = jsonbSafe(JSON.stringify(error));
    return this.call(`cannot record the failure of unit ${lease.unitId}`, async (retried): Promise<FailOutcome> => {
      const updated = await this.pool.query<{ state: UnitState }>({
        ...this.sql.fail,
        values: [lease.unitId, lease.token, policy.retryable, policy.maxAttempts, policy.backoffMs, policy.maxBackoffMs, this.now(), errorJson],
      });
      let state: UnitState | undefined = updated.rows[0]?.state;
      if (state === undefined && retried) state = await this.stateUnderToken(lease);
      return state === 'failed' ? 'retry' : state === 'dead' ? 'dead' : state === 'superseded' ? 'superseded' : 'fenced';
    });
  }

  async releaseLease(lease: Lease): Promise<void> {
    await this.call(`cannot release the lease of unit ${lease.unitId}`, () =>
      this.pool.query({ ...this.sql.release, values: [lease.unitId, lease.token, this.now()] }),
    );
  }

  async expireLeasesOf(owner: string): Promise<number> {
    return this.call(`cannot expire the leases of ${owner}`, async () => {
      const now = this.now();
      return (await this.pool.query({ ...this.sql.expireOwner, values: [owner, now - 1, now] })).rowCount ?? 0;
    });
  }

  async leaseOwners(pipeline: string): Promise<string[]> {
    return this.call(`cannot list the lease owners of pipeline "${pipeline}"`, async () =>
      (await this.pool.query<{ lease_owner: string }>({ ...this.sql.leaseOwners, values: [pipeline] })).rows.map((r) => r.lease_owner),
    );
  }

  async resetUnits(pipeline: string, states: UnitState[], unitIds?: string[]): Promise<number> {
    if (states.length === 0 || unitIds?.length === 0) return 0;
    return this.call(`cannot reset units of pipeline "${pipeline}"`, async () => {
      const now = this.now();
      const result =
        unitIds === undefined
          ? await this.pool.query({ ...this.sql.resetByState, values: [now, pipeline, states] })
          : await this.pool.query({ ...this.sql.resetByIds, values: [now, pipeline, states, unitIds] });
      return result.rowCount ?? 0;
    }).then(async (reset) => {
      await this.noteBulkChange(reset);
      return reset;
    });
  }

  async counts(pipeline: string): Promise<Record<UnitState, number>> {
    return this.call(`cannot count the units of pipeline "${pipeline}"`, async () => {
      const counts = zeroCounts();
      for (const row of (await this.pool.query<{ state: UnitState; n: number }>({ ...this.sql.counts, values: [pipeline] })).rows) {
        counts[row.state] = row.n;
      }
      return counts;
    });
  }

  async nextRetryAt(pipeline: string): Promise<number | null> {
    return this.call(`cannot read the next retry time of pipeline "${pipeline}"`, async () =>
      (await this.pool.query<{ at: number | null }>({ ...this.sql.nextRetryAt, values: [pipeline] })).rows[0]!.at,
    );
  }

  async listUnits(pipeline: string, query: ListUnitsQuery = {}): Promise<UnitRow[]> {
    const states = query.states ? [...new Set(query.states)] : [...UNIT_STATES];
    if (states.length === 0) return [];
    const offset = query.offset ?? 0;
    const limit = query.limit;
    if ((limit !== undefined && (!Number.isInteger(limit) || limit < 0)) || !Number.isInteger(offset) || offset < 0) {
      throw new SluiceError(`listUnits: limit and offset must be non-negative whole numbers (got limit ${limit}, offset ${offset})`, {
        code: 'LEDGER_BAD_QUERY',
        stage: 'ledger',
      });
    }
    return this.call(`cannot list the units of pipeline "${pipeline}"`, async () => {
      const statement = this.sql.list(states.length);
      const perStateLimit = limit === undefined ? null : limit + offset;
      const result = await this.pool.query<PostgresUnitRow>({ ...statement, values: [pipeline, ...states, perStateLimit, limit ?? null, offset] });
      return result.rows.map(toUnit);
    });
  }

  async getUnit(unitId: string): Promise<UnitRow | null> {
    return this.call(`cannot read unit ${unitId}`, async () => {
      const row = (await this.pool.query<PostgresUnitRow>({ ...this.sql.getUnit, values: [unitId] })).rows[0];
      return row ? toUnit(row) : null;
    });
  }

  async unitStates(unitIds: string[]): Promise<Map<string, UnitState>> {
    const states = new Map<string, UnitState>();
    if (unitIds.length === 0) return states;
    return this.call(`cannot read the states of ${unitIds.length} units`, async () => {
      for (const row of (await this.pool.query<{ id: string; state: UnitState }>({ ...this.sql.unitStates, values: [unitIds] })).rows) {
        states.set(row.id, row.state);
      }
      return states;
    });
  }

  async pipelines(): Promise<string[]> {
    return this.call('cannot list pipelines', async () =>
      (await this.pool.query<{ name: string }>({ ...this.sql.pipelines })).rows.map((r) => r.name),
    );
  }

  /** Idempotent: starting a run id again (a retried invocation) keeps the first record. */
  async startRun(run: { id: string; pipeline: string; startedAt: number }): Promise<void> {
    await this.call(`cannot record the start of run ${run.id}`, () =>
      this.pool.query({ ...this.sql.startRun, values: [run.id, run.pipeline, toMillis(run.startedAt)] }),
    );
  }

  async finishRun(id: string, finishedAt: number, report: unknown): Promise<void> {
    const result = await this.call(`cannot record the end of run ${id}`, () =>
      this.pool.query({ ...this.sql.finishRun, values: [id, toMillis(finishedAt), jsonbSafe(jsonText(report))] }),
    );
    if (result.rowCount === 0) {
      throw new SluiceError(`ledger ${this.target.masked}: run ${id} was never started, so it cannot be finished`, {
        code: 'LEDGER_RUN_UNKNOWN',
        stage: 'ledger',
        hint: 'call startRun before finishRun with the same run id',
      });
    }
  }

  async listRuns(pipeline?: string, limit?: number): Promise<RunRecord[]> {
    return this.call('cannot list runs', async () => {
      const result =
        pipeline === undefined
          ? await this.pool.query({ ...this.sql.listRuns, values: [limit ?? null] })
          : await this.pool.query({ ...this.sql.listRunsOf, values: [pipeline, limit ?? null] });
      return result.rows.map((r: RunDbRow<unknown>) => toRunRecord(r, (value) => value));
    });
  }

  async recordWorker(beat: WorkerBeat): Promise<void> {
    await this.call(
      `cannot record the heartbeat of worker ${beat.id}`,
      () => {
        const now = this.now();
        return this.pool.query({
          ...this.sql.recordWorker,
          values: [beat.id, beat.pipeline, beat.host, beat.pid, toMillis(beat.startedAt), now, Math.max(0, Math.round(beat.unitsInFlight)), beat.stopped ? now : null],
        });
      },
      { retry: false },
    );
  }

  async listWorkers(pipeline: string, limit = 100): Promise<WorkerRow[]> {
    return this.call(`cannot list the workers of pipeline "${pipeline}"`, async () =>
      (await this.pool.query<WorkerDbRow>({ ...this.sql.listWorkers, values: [pipeline, limit] })).rows.map(toWorkerRow),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    await this.pool.end().catch(() => undefined);
  }

  private now(): number {
    return toMillis(this.clock());
  }

  /**
   * The claim query is only fast if the planner knows how many units there are: believing the
   * table nearly empty, it sorts every claimable unit instead of walking units_claimable in order
   * (seconds per claim at a million units). Autovacuum analyzes eventually, but a worker starting
   * right after `sluice plan` cannot wait for it, so the ledger analyzes the table itself when it
   * has never been analyzed, and whenever bulk changes (planning, full-load resets) have doubled
   * what it saw at the last analyze. ANALYZE samples a fixed number of rows and blocks no writer.
   */
  async analyzeIfNeverAnalyzed(): Promise<void> {
    const row = (await this.call('cannot read the table statistics', async () => (await this.pool.query<{ rows: number }>(this.sql.tableRows)).rows[0]))!;
    if (row.rows < 0) await this.analyze();
    else this.rowsAtAnalyze = row.rows;
  }

  private async noteBulkChange(rows: number): Promise<void> {
    this.bulkChangedSinceAnalyze += rows;
    if (this.bulkChangedSinceAnalyze >= Math.max(1_000, this.rowsAtAnalyze)) await this.analyze();
  }

  private async analyze(): Promise<void> {
    await this.call('cannot analyze the units table', () => this.pool.query(this.sql.analyze));
    const row = (await this.pool.query<{ rows: number }>(this.sql.tableRows)).rows[0]!;
    this.rowsAtAnalyze = Math.max(0, row.rows);
    this.bulkChangedSinceAnalyze = 0;
  }

  /** The unit's state if it still carries this lease's token (so this lease was its last holder). */
  private async stateUnderToken(lease: Lease): Promise<UnitState | undefined> {
    const row = (await this.pool.query<{ state: UnitState; token: number }>({ ...this.sql.stateAndToken, values: [lease.unitId] })).rows[0];
    return row && row.token === lease.token ? row.state : undefined;
  }

  /**
   * Runs one ledger operation, turning driver errors into SluiceErrors that name the (masked)
   * database. A lost connection is retried with exponential backoff (100 ms doubling to 5 s) for
   * up to `reconnectWithinMs`; `work` learns whether it is a retry, to recognise its own effect.
   */
  private async call<T>(action: string, work: (retried: boolean) => Promise<T>, options: { retry?: boolean } = {}): Promise<T> {
    let attempt = 0;
    let firstFailureAt = 0;
    for (;;) {
      if (this.closed) {
        throw new SluiceError(`ledger ${this.target.masked}: ${action}: the ledger was closed`, {
          code: 'LEDGER_CLOSED',
          stage: 'ledger',
          hint: 'the ledger was already closed',
        });
      }
      try {
        const result = await work(attempt > 0);
        if (attempt > 0) this.options.onConnectionRestored?.(action, Date.now() - firstFailureAt);
        return result;
      } catch (err) {
        if (err instanceof SluiceError) throw err;
        if (attempt === 0) firstFailureAt = Date.now();
        const delayMs = Math.min(5_000, 100 * 2 ** attempt);
        const retryable = options.retry !== false && isConnectionLoss(err) && !this.closed;
        if (!retryable || Date.now() - firstFailureAt + delayMs > this.reconnectWithinMs) {
          throw operationError(err, this.target, action, attempt > 0 ? Date.now() - firstFailureAt : 0);
        }
        attempt++;
        this.options.onConnectionLost?.({ action, attempt, delayMs, error: scrub(messageOf(err), this.target) });
        await sleep(delayMs, this.closing.signal);
      }
    }
  }
}

type Statement = { name: string; text: string };

/** Every statement, named so each pooled connection parses and plans it once. */
function statementsFor(s: string) {
  const named = (name: string, text: string): Statement => ({ name: `sluice_${name}`, text });
  const listStatements = new Map<number, Statement>();
  return {
    plan: named(
      'plan',
      `INSERT INTO ${s}.units (id, pipeline, kind, key, payload, size, created_at, updated_at)
       SELECT t.id, t.pipeline, t.kind, t.key, t.payload::jsonb, t.size, $7, $7
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS t(id, pipeline, kind, key, payload, size)
       ON CONFLICT (id) DO NOTHING`,
    ),
    // $1..$4 the current versions (id, pipeline, kind, key, one per key), $5 now. A planned unit
    // is current: a superseded one is pending again, a leased one is not marked any more. Every
    // other unfinished version of its key is superseded, or marked when leased. The two updates
    // touch disjoint rows because there is one planned unit per key.
    supersede: named(
      'supersede',
      `WITH listed AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS t(id, pipeline, kind, key)
       ), revived AS (
         UPDATE ${s}.units AS u
         SET state = CASE WHEN u.state = 'superseded' THEN 'pending' ELSE u.state END,
             attempts = CASE WHEN u.state = 'superseded' THEN 0 ELSE u.attempts END,
             superseded_by = NULL, updated_at = $5
         FROM listed AS l
         WHERE u.id = l.id AND u.superseded_by IS NOT NULL
       ), superseded AS (
         UPDATE ${s}.units AS o
         SET state = CASE WHEN o.state = 'leased' THEN 'leased' ELSE 'superseded' END,
             superseded_by = l.id, next_attempt_at = NULL, updated_at = $5
         FROM listed AS l
         WHERE o.pipeline = l.pipeline AND o.state IN ('pending', 'failed', 'dead', 'leased') AND o.key = l.key
           AND o.id <> l.id AND o.kind = l.kind AND o.superseded_by IS DISTINCT FROM l.id
         RETURNING o.id
       )
       SELECT count(*) AS superseded FROM superseded`,
    ),
    // $1 pipeline, $2 owner, $3 now, $4 expiry. The state IN term matches units_claimable's predicate.
    lease: named(
      'lease',
      `UPDATE ${s}.units AS u
       SET state = 'leased', lease_owner = $2, lease_expires_at = $4, token = u.token + 1, attempts = u.attempts + 1,
           next_attempt_at = NULL, updated_at = $3
       WHERE u.id = (
         SELECT c.id FROM ${s}.units AS c
         WHERE c.pipeline = $1
           AND c.state IN ('pending', 'failed', 'leased')
           AND (c.state = 'pending'
                OR (c.state = 'failed' AND c.next_attempt_at <= $3)
                OR (c.state = 'leased' AND c.lease_expires_at < $3))
         ORDER BY c.key, c.id
         LIMIT 1
         FOR UPDATE SKIP LOCKED)
       RETURNING u.*`,
    ),
    renew: named(
      'renew',
      `UPDATE ${s}.units SET lease_expires_at = $3, updated_at = $4
       WHERE id = $1 AND token = $2 AND state = 'leased'`,
    ),
    complete: named(
      'complete',
      `UPDATE ${s}.units
       SET state = 'done', records_in = $3, records_out = $4, records_rejected = $5, records_filtered = $6, outputs = $7::jsonb,
           duration_ms = $8, updated_at = $9,
           lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = NULL, last_error = NULL, superseded_by = NULL
       WHERE id = $1 AND token = $2 AND state = 'leased'`,
    ),
    // $3 retryable, $4 maxAttempts, $5 backoffMs, $6 maxBackoffMs, $7 now, $8 error. numeric keeps 2^n exact.
    // A unit whose newer version was planned during the attempt ends superseded, whatever the policy.
    fail: named(
      'fail',
      `UPDATE ${s}.units
       SET state = CASE WHEN superseded_by IS NOT NULL THEN 'superseded'
                        WHEN $3::boolean AND attempts < $4::integer THEN 'failed' ELSE 'dead' END,
           next_attempt_at = CASE WHEN superseded_by IS NULL AND $3::boolean AND attempts < $4::integer
             THEN $7::bigint + round(LEAST($6::numeric, $5::numeric * power(2::numeric, GREATEST(attempts - 1, 0))))::bigint
             ELSE NULL END,
           last_error = $8::jsonb, updated_at = $7::bigint, lease_owner = NULL, lease_expires_at = NULL
       WHERE id = $1 AND token = $2 AND state = 'leased'
       RETURNING state`,
    ),
    release: named(
      'release',
      `UPDATE ${s}.units
       SET state = CASE WHEN superseded_by IS NULL THEN 'pending' ELSE 'superseded' END,
           attempts = GREATEST(attempts - 1, 0), updated_at = $3, lease_owner = NULL, lease_expires_at = NULL
       WHERE id = $1 AND token = $2 AND state = 'leased'`,
    ),
    stateAndToken: named('state_and_token', `SELECT state, token FROM ${s}.units WHERE id = $1`),
    // reltuples is -1 until the table is first analyzed (PostgreSQL 14+; 0 before that).
    tableRows: { text: `SELECT reltuples::bigint AS rows FROM pg_class WHERE oid = '${s}.units'::regclass` },
    // SKIP_LOCKED: when another process is analyzing already, its statistics will do.
    analyze: { text: `ANALYZE (SKIP_LOCKED) ${s}.units` },
    expireOwner: named(
      'expire_owner',
      `UPDATE ${s}.units SET lease_expires_at = LEAST(lease_expires_at, $2), updated_at = $3
       WHERE lease_owner = $1 AND state = 'leased'`,
    ),
    leaseOwners: named(
      'lease_owners',
      `SELECT DISTINCT lease_owner FROM ${s}.units
       WHERE pipeline = $1 AND state = 'leased' AND lease_owner IS NOT NULL
       ORDER BY lease_owner`,
    ),
    // A reset unit's previous result no longer stands; last_error is kept so `status` still says why it died.
    resetByState: named(
      'reset_by_state',
      `UPDATE ${s}.units
       SET ${RESET_STATE}, attempts = 0, updated_at = $1, lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = NULL,
           records_in = 0, records_out = 0, records_rejected = 0, records_filtered = 0, outputs = '[]', duration_ms = NULL
       WHERE pipeline = $2 AND state = ANY($3::text[])`,
    ),
    resetByIds: named(
      'reset_by_ids',
      `UPDATE ${s}.units
       SET ${RESET_STATE}, attempts = 0, updated_at = $1, lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = NULL,
           records_in = 0, records_out = 0, records_rejected = 0, records_filtered = 0, outputs = '[]', duration_ms = NULL
       WHERE id = ANY($4::text[]) AND pipeline = $2 AND state = ANY($3::text[])`,
    ),
    counts: named('counts', `SELECT state, count(*) AS n FROM ${s}.units WHERE pipeline = $1 GROUP BY state`),
    nextRetryAt: named('next_retry_at', `SELECT min(next_attempt_at) AS at FROM ${s}.units WHERE pipeline = $1 AND state = 'failed'`),
    getUnit: named('get_unit', `SELECT * FROM ${s}.units WHERE id = $1`),
    unitStates: named('unit_states', `SELECT id, state FROM ${s}.units WHERE id = ANY($1::text[])`),
    // A loose index scan: one index seek per distinct pipeline instead of reading every unit.
    pipelines: named(
      'pipelines',
      `WITH RECURSIVE p(name) AS (
         SELECT min(pipeline) FROM ${s}.units
         UNION ALL
         SELECT (SELECT min(pipeline) FROM ${s}.units WHERE pipeline > p.name) FROM p WHERE p.name IS NOT NULL
       )
       SELECT name FROM p WHERE name IS NOT NULL`,
    ),
    startRun: named('start_run', `INSERT INTO ${s}.runs (id, pipeline, started_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`),
    finishRun: named('finish_run', `UPDATE ${s}.runs SET finished_at = $2, report = $3::jsonb WHERE id = $1`),
    listRuns: named('list_runs', `SELECT * FROM ${s}.runs ORDER BY started_at DESC, id DESC LIMIT $1`),
    listRunsOf: named('list_runs_of', `SELECT * FROM ${s}.runs WHERE pipeline = $1 ORDER BY started_at DESC, id DESC LIMIT $2`),
    recordWorker: named(
      'record_worker',
      `INSERT INTO ${s}.workers (id, pipeline, host, pid, started_at, last_heartbeat_at, units_in_flight, stopped_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (id) DO UPDATE SET
         last_heartbeat_at = EXCLUDED.last_heartbeat_at, units_in_flight = EXCLUDED.units_in_flight, stopped_at = EXCLUDED.stopped_at`,
    ),
    listWorkers: named('list_workers', `SELECT * FROM ${s}.workers WHERE pipeline = $1 ORDER BY last_heartbeat_at DESC, id LIMIT $2`),
    /**
     * Units of some states in key order: one range of units_by_state per state, each cut at
     * offset + limit rows, merged. Listing the few dead units among a million done ones never
     * walks the done ones. Parameters: $1 pipeline, $2…$(n+1) states, then per-state limit, limit, offset.
     */
    list(stateCount: number): Statement {
      let statement = listStatements.get(stateCount);
      if (!statement) {
        const perState = Array.from(
          { length: stateCount },
          (_, i) => `(SELECT * FROM ${s}.units WHERE pipeline = $1 AND state = $${i + 2} ORDER BY key, id LIMIT $${stateCount + 2})`,
        );
        statement = named(
          `list_${stateCount}`,
          `SELECT * FROM (${perState.join(' UNION ALL ')}) AS u ORDER BY key, id LIMIT $${stateCount + 3} OFFSET $${stateCount + 4}`,
        );
        listStatements.set(stateCount, statement);
      }
      return statement;
    },
  };
}

function toUnit(row: PostgresUnitRow): UnitRow {
  return toUnitRow(row, (value) => value);
}

/**
 * jsonb cannot hold U+0000, which an error message quoting a binary object may contain: it is
 * replaced by U+FFFD. Only an escape preceded by an even number of backslashes is a real one.
 */
function jsonbSafe(json: string): string {
  return json.includes('\\u0000') ? json.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, '$1\\ufffd') : json;
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED']);
/** admin/crash shutdown, cannot connect now, too many connections, serialization failure, deadlock. */
const RETRYABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '40001', '40P01']);

function isConnectionLoss(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  const code = typeof e?.code === 'string' ? e.code : '';
  if (CONNECTION_CODES.has(code) || RETRYABLE_SQLSTATES.has(code) || code.startsWith('08')) return true;
  return /Connection terminated|connection error|timeout exceeded when trying to connect|Query read timeout|not queryable/i.test(e?.message ?? '');
}

function messageOf(err: unknown): string {
  const e = err as { message?: string; code?: string; errors?: Array<{ message?: string }> };
  // A refused connection to a host with several addresses arrives as an AggregateError with no message.
  const message = e?.message || e?.errors?.map((x) => x.message).join('; ') || e?.code || String(err);
  return message;
}

/** Drops the password from a driver message, should one ever echo it. */
function scrub(message: string, target: LedgerTarget): string {
  return target.password.length >= 3 ? message.split(target.password).join('***') : message;
}

function openError(err: unknown, target: LedgerTarget): SluiceError {
  const e = err as { code?: string };
  const message = scrub(messageOf(err), target);
  if (e?.code === '28P01' || e?.code === '28000') {
    return new SluiceError(`cannot log in to the PostgreSQL ledger at ${target.masked}: ${message}`, {
      code: 'LEDGER_AUTH_FAILED',
      stage: 'ledger',
      hint: 'check the user and the password reference (env:NAME or file:PATH) in runtime.state, and pg_hba.conf on the server',
    });
  }
  if (e?.code === '3D000') {
    return new SluiceError(`the PostgreSQL ledger database does not exist at ${target.masked}: ${message}`, {
      code: 'LEDGER_OPEN_FAILED',
      stage: 'ledger',
      hint: 'create the database (createdb), or fix the database name in runtime.state',
    });
  }
  if (e?.code === '42501') {
    return new SluiceError(`the PostgreSQL ledger at ${target.masked} refused to create its tables: ${message}`, {
      code: 'LEDGER_OPEN_FAILED',
      stage: 'ledger',
      hint: `grant this user CREATE on the database (or create schema ${target.schema} for it), then run \`sluice migrate\``,
    });
  }
  if (isConnectionLoss(err)) {
    return new SluiceError(`cannot reach the PostgreSQL ledger at ${target.masked}: ${message}`, {
      code: 'LEDGER_UNREACHABLE',
      stage: 'ledger',
      retryable: true,
      hint: 'check that PostgreSQL is running and reachable from this machine, and the host, port and database in runtime.state',
      cause: err,
    });
  }
  return new SluiceError(`cannot open the PostgreSQL ledger at ${target.masked}: ${message}`, {
    code: 'LEDGER_OPEN_FAILED',
    stage: 'ledger',
    cause: err,
  });
}

function operationError(err: unknown, target: LedgerTarget, action: string, downForMs: number): SluiceError {
  const message = `ledger ${target.masked}: ${action}: ${scrub(messageOf(err), target)}`;
  if (isConnectionLoss(err)) {
    return new SluiceError(downForMs > 0 ? `${message} (connection lost for ${Math.round(downForMs / 1000)} s)` : message, {
      code: 'LEDGER_UNREACHABLE',
      stage: 'ledger',
      retryable: true,
      hint: 'the PostgreSQL ledger stopped answering; check the database, then start the worker again (leases it held expire and are taken over)',
      cause: err,
    });
  }
  return new SluiceError(message, { code: 'LEDGER_ERROR', stage: 'ledger', cause: err });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
