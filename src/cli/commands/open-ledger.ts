import path from 'node:path';
import { isLedgerReference, openLedger } from '../../runtime/ledger/open-ledger.js';
import type { Ledger } from '../../runtime/ledger/types.js';

/** Opens an existing ledger (SQLite file or PostgreSQL schema) for reading commands; never creates an empty one by mistake. */
export function openExistingLedger(state: string): Promise<Ledger> {
  return openLedger(state, { mustExist: true });
}

/** A `--state` value: a path is resolved against the working directory, a URL or an env:/file: reference is kept as given. */
export function stateFromOption(state: string): string {
  return isLedgerReference(state) ? state : path.resolve(state);
}
