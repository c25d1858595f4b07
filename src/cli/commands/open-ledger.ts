import { existsSync } from 'node:fs';
import { SluiceError } from '../../core/errors.js';
import { openSqliteLedger } from '../../runtime/ledger/sqlite.js';
import type { Ledger } from '../../runtime/ledger/types.js';

/** Opens an existing ledger for reading commands; never creates an empty one by mistake. */
export function openExistingLedger(state: string): Ledger {
  if (!existsSync(state)) {
    throw new SluiceError(`no ledger at ${state}`, {
      code: 'LEDGER_NOT_FOUND',
      stage: 'ledger',
      hint: 'run `sluice run -c <pipeline>` first, or point --state at the ledger file',
    });
  }
  return openSqliteLedger(state);
}
