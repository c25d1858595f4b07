import { openLedger } from '../../runtime/ledger/open-ledger.js';
import { finish, runWithProgress } from './run.js';
import { loadConfigWithOverrides } from './load-config.js';
import { stateFromOption } from './open-ledger.js';

export interface RetryFlags {
  config: string;
  state?: string;
  key?: string[];
  run?: boolean;
  json?: boolean;
}

export async function retryCommand(flags: RetryFlags): Promise<void> {
  const config = loadConfigWithOverrides({ config: flags.config });
  if (flags.state) config.runtime = { ...config.runtime, state: stateFromOption(flags.state) };
  const ledger = await openLedger(config.runtime.state);
  let redriven: number;
  try {
    let ids: string[] | undefined;
    if (flags.key?.length) {
      const dead = await ledger.listUnits(config.name, { states: ['dead'], limit: 1_000_000 });
      const wanted = new Set(flags.key);
      ids = dead.filter((u) => wanted.has(u.key)).map((u) => u.id);
    }
    redriven = ids && ids.length === 0 ? 0 : await ledger.resetUnits(config.name, ['dead'], ids);
  } finally {
    await ledger.close();
  }
  process.stderr.write(`redriven ${redriven} dead unit(s) of ${config.name}\n`);
  if (flags.run) finish(await runWithProgress(config, { progress: true }), flags.json === true);
  else if (redriven > 0) process.stderr.write(`run \`sluice run -c ${flags.config}\` to process them\n`);
}
