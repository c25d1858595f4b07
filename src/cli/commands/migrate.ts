/**
 * `sluice migrate`: brings the ledger's schema to this Sluice's version. Workers do it on start
 * too (safely, several at once); a separate step suits deployments where the workers' database
 * user may not create tables.
 */
import { loadPipelineFile } from '../../pipeline/config.js';
import { SluiceError } from '../../core/errors.js';
import { migrateLedger } from '../../runtime/ledger/open-ledger.js';
import { stateFromOption } from './open-ledger.js';

export interface MigrateFlags {
  config?: string;
  state?: string;
  json?: boolean;
}

export async function migrateCommand(flags: MigrateFlags): Promise<void> {
  const state = flags.state ? stateFromOption(flags.state) : flags.config ? loadPipelineFile(flags.config).runtime.state : undefined;
  if (!state) {
    throw new SluiceError('migrate needs a ledger', {
      code: 'BAD_OPTION',
      stage: 'config',
      hint: 'pass -c <pipeline.yaml> or --state <ledger file or postgres:// URL or env:NAME>',
    });
  }
  const result = await migrateLedger(state);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const what = result.applied.length > 0 ? `applied migration${result.applied.length > 1 ? 's' : ''} ${result.applied.join(', ')}` : 'already current';
  process.stdout.write(`ledger ${result.location}: ${result.kind} schema version ${result.version}, ${what}\n`);
}
