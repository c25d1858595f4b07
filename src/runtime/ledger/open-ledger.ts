/**
 * One place that turns `runtime.state` into a Ledger: a file path opens the embedded SQLite
 * ledger, a `postgres://` or `postgresql://` URL the shared PostgreSQL one. The URL (which holds
 * the password) is best given as a secret reference, `env:NAME` or `file:PATH`, resolved here
 * and never written back into a message: messages show `describeLedger(state)`, which masks it.
 */
import { existsSync } from 'node:fs';
import { SluiceError } from '../../core/errors.js';
import { resolveSecretRef } from '../../core/secrets.js';
import { LEDGER_SCHEMA_VERSION, openSqliteLedger, type SqliteLedgerOptions } from './sqlite.js';
import {
  isPostgresUrl,
  maskConnectionUrl,
  migratePostgresLedger,
  openPostgresLedger,
  type PostgresLedgerOptions,
} from './postgres.js';
import type { Clock, Ledger } from './types.js';

export interface OpenLedgerOptions {
  clock?: Clock;
  /** Refuse to create a new ledger (reading commands such as `status`). */
  mustExist?: boolean;
  sqlite?: Omit<SqliteLedgerOptions, 'clock'>;
  postgres?: Omit<PostgresLedgerOptions, 'clock' | 'mustExist'>;
}

export type LedgerKind = 'sqlite' | 'postgres';

/** True for `env:`/`file:` references and database URLs: values that are not resolved as paths. */
export { isLedgerReference } from '../../pipeline/config.js';

/** Resolves a secret reference, if `state` is one, to the path or URL it holds. */
export function resolveLedgerState(state: string): { kind: LedgerKind; location: string } {
  const location = state.startsWith('env:') || state.startsWith('file:') ? resolveSecretRef(state).trim() : state;
  return { kind: isPostgresUrl(location) ? 'postgres' : 'sqlite', location };
}

/**
 * How a ledger is named in messages and in `status`: a path as it is, a URL with its password
 * masked, a reference by its name (never its value).
 *
 * @example
 * describeLedger('postgres://sluice:pw@db/ledger') // 'postgres://sluice:***@db/ledger'
 * describeLedger('env:SLUICE_LEDGER_URL')          // 'env:SLUICE_LEDGER_URL'
 */
export function describeLedger(state: string): string {
  return isPostgresUrl(state) ? maskConnectionUrl(state) : state;
}

/**
 * Opens the ledger `runtime.state` names: SQLite for a path, PostgreSQL for a URL (directly or
 * through an `env:`/`file:` reference). A PostgreSQL ledger is migrated on open.
 *
 * @example
 * const ledger = await openLedger(config.runtime.state, { clock });
 */
export async function openLedger(state: string, options: OpenLedgerOptions = {}): Promise<Ledger> {
  const { kind, location } = resolveLedgerState(state);
  if (kind === 'postgres') {
    return openPostgresLedger(location, { ...options.postgres, clock: options.clock, mustExist: options.mustExist });
  }
  if (options.mustExist && location !== ':memory:') {
    if (!existsSync(location)) {
      throw new SluiceError(`no ledger at ${location}`, {
        code: 'LEDGER_NOT_FOUND',
        stage: 'ledger',
        hint: 'run `sluice run -c <pipeline>` first, or point --state at the ledger file',
      });
    }
  }
  return openSqliteLedger(location, { ...options.sqlite, clock: options.clock });
}

export interface MigrateResult {
  kind: LedgerKind;
  /** The ledger as it may be shown (password masked). */
  location: string;
  version: number;
  /** Versions applied by this call (PostgreSQL reports them; SQLite applies silently on open). */
  applied: number[];
}

/** Brings the ledger's schema to this Sluice's version (`sluice migrate`). */
export async function migrateLedger(state: string): Promise<MigrateResult> {
  const { kind, location } = resolveLedgerState(state);
  if (kind === 'postgres') {
    const result = await migratePostgresLedger(location);
    return { kind, location: result.location, version: result.version, applied: result.applied };
  }
  await openSqliteLedger(location).close();
  return { kind, location, version: LEDGER_SCHEMA_VERSION, applied: [] };
}
