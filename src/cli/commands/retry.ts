import { openLedger } from '../../runtime/ledger/open-ledger.js';
import type { Ledger, UnitRow } from '../../runtime/ledger/types.js';
import { planPipeline } from '../../runtime/run-pipeline.js';
import { finish, runWithProgress } from './run.js';
import { loadConfigWithOverrides } from './load-config.js';
import { stateFromOption } from './open-ledger.js';
import { describeUnitVersion } from './status.js';

export interface RetryFlags {
  config: string;
  state?: string;
  key?: string[];
  run?: boolean;
  json?: boolean;
}

/** Units named one by one on stderr; beyond that, a count. */
const LISTED_UNITS = 20;

/**
 * Redrives dead units. The source is planned first, as it is now: a dead unit whose object (or
 * group, or day) has changed since it was listed is then superseded by its new version, which is
 * what runs, instead of being redriven to fail again on the version that is gone.
 */
export async function retryCommand(flags: RetryFlags): Promise<void> {
  const config = loadConfigWithOverrides({ config: flags.config });
  if (flags.state) config.runtime = { ...config.runtime, state: stateFromOption(flags.state) };
  const ledger = await openLedger(config.runtime.state);
  const lines: string[] = [];
  let redriven = 0;
  let superseded = 0;
  try {
    const dead = await ledger.listUnits(config.name, { states: ['dead'], limit: 1_000_000 });
    let candidates = dead;
    if (flags.key?.length) {
      const wanted = new Set(flags.key);
      candidates = dead.filter((u) => wanted.has(u.key));
      const deadKeys = new Set(dead.map((u) => u.key));
      for (const key of flags.key) {
        if (!deadKeys.has(key)) lines.push(`no dead unit of ${config.name} has key ${key} (\`sluice status -c ${flags.config}\` lists the dead units and their keys)`);
      }
    }
    if (candidates.length > 0) {
      await planPipeline(config, { ledger });
      const states = await ledger.unitStates(candidates.map((u) => u.id));
      const replaced = candidates.filter((u) => states.get(u.id) === 'superseded');
      const stillDead = candidates.filter((u) => states.get(u.id) === 'dead');
      // A `load` plan puts its dead periods back to pending itself.
      const replanned = candidates.filter((u) => states.get(u.id) === 'pending');
      superseded = replaced.length;
      for (const unit of replaced.slice(0, LISTED_UNITS)) lines.push(await describeSuperseded(unit, ledger));
      if (replaced.length > LISTED_UNITS) lines.push(`… and ${replaced.length - LISTED_UNITS} more dead units superseded by a newer version`);
      const redrive = [...stillDead, ...replanned];
      for (const unit of redrive.slice(0, LISTED_UNITS)) lines.push(`redriving ${unit.key}: ${describeUnitVersion(unit)}, dead after ${unit.attempts} attempts`);
      if (redrive.length > LISTED_UNITS) lines.push(`… and ${redrive.length - LISTED_UNITS} more dead units redriven`);
      const reset = stillDead.length === 0 ? 0 : await ledger.resetUnits(config.name, ['dead'], stillDead.map((u) => u.id));
      redriven = reset + replanned.length;
    }
  } finally {
    await ledger.close();
  }
  for (const line of lines) process.stderr.write(`${line}\n`);
  const replacedNote = superseded > 0 ? `; ${superseded} dead unit(s) superseded by a newer version of their object, planned instead` : '';
  process.stderr.write(`redriven ${redriven} dead unit(s) of ${config.name}${replacedNote}\n`);
  if (flags.run) finish(await runWithProgress(config, { progress: true }), flags.json === true);
  else if (redriven > 0 || superseded > 0) process.stderr.write(`run \`sluice run -c ${flags.config}\` to process them\n`);
}

async function describeSuperseded(unit: UnitRow, ledger: Ledger): Promise<string> {
  const current = await ledger.getUnit(unit.id);
  const newer = current?.supersededBy ? await ledger.getUnit(current.supersededBy) : null;
  const replacement = newer ? describeUnitVersion(newer) : `unit ${current?.supersededBy?.slice(0, 12) ?? '?'}`;
  return `not redriving ${unit.key}: ${describeUnitVersion(unit)} is gone from the source, superseded by ${replacement}`;
}
