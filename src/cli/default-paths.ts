/**
 * Where the reading commands (`serve`, `status`, `query`, `compact`) find their ledger and lake
 * when `--state` / `--lake` are not given: the pipeline file (`-c`), then `SLUICE_STATE` /
 * `SLUICE_LAKE`, then the demo's folder, but only if it exists. Nothing here creates a file: a
 * command run from the wrong folder says where it looked instead of serving an empty ledger.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadPipelineFile } from '../pipeline/config.js';
import { SluiceError } from '../core/errors.js';
import { describeLedger, isLedgerReference, resolveLedgerState } from '../runtime/ledger/open-ledger.js';
import { DEMO_LAKE, DEMO_STATE } from './demo-paths.js';

export interface LocateFlags {
  config?: string;
  state?: string;
  lake?: string;
}

export interface Located {
  /** A resolved path, or a ledger reference (URL, env:, file:) kept as given. */
  value: string;
  /** Where it came from, for messages: `--state`, `-c pipeline.yaml`, `$SLUICE_STATE`, `the demo folder`. */
  from: string;
}

const rel = (p: string) => path.relative(process.cwd(), p) || '.';

/** A path given on the command line or in the environment: relative to the working directory. */
function localOrReference(value: string): string {
  return isLedgerReference(value) ? value : path.resolve(value);
}

function ledgerCandidate(flags: LocateFlags, env: NodeJS.ProcessEnv): Located | undefined {
  if (flags.state) return { value: localOrReference(flags.state), from: '--state' };
  if (flags.config) return { value: loadPipelineFile(flags.config).runtime.state, from: `-c ${flags.config} (runtime.state)` };
  if (env.SLUICE_STATE) return { value: localOrReference(env.SLUICE_STATE), from: '$SLUICE_STATE' };
  const demo = path.resolve(DEMO_STATE);
  if (existsSync(demo)) return { value: demo, from: 'the demo folder' };
  return undefined;
}

/**
 * The ledger a reading command opens. A SQLite file must already exist (a PostgreSQL ledger is
 * checked when it is opened).
 *
 * @example
 * locateLedger({ config: 'pipeline.yaml' }) // { value: '/abs/.sluice/state.db', from: '-c pipeline.yaml (runtime.state)' }
 */
export function locateLedger(flags: LocateFlags, env: NodeJS.ProcessEnv = process.env): Located {
  const found = ledgerCandidate(flags, env);
  if (!found) {
    throw new SluiceError(`no ledger given, and none at ${rel(path.resolve(DEMO_STATE))} (looked at --state, -c, $SLUICE_STATE, then the demo folder in ${process.cwd()})`, {
      code: 'LEDGER_NOT_FOUND',
      stage: 'ledger',
      hint: 'pass --state <ledger file or postgres:// URL>, or -c <pipeline.yaml>, or set SLUICE_STATE; `sluice demo` writes sluice-demo/ in the folder it runs in',
    });
  }
  if (!isLedgerReference(found.value) || resolveLedgerState(found.value).kind === 'sqlite') {
    const file = isLedgerReference(found.value) ? resolveLedgerState(found.value).location : found.value;
    if (!existsSync(file)) {
      throw new SluiceError(`no ledger at ${describeLedger(file)} (from ${found.from})`, {
        code: 'LEDGER_NOT_FOUND',
        stage: 'ledger',
        hint: 'point --state at an existing ledger file or a postgres:// URL, or run the pipeline first; to watch a ledger before its first run, create it with `sluice migrate --state <file>`',
      });
    }
  }
  return found;
}

/** The path of the first Parquet files sink of a pipeline file: where its lake is written. */
function lakeOfPipeline(file: string): string | undefined {
  const config = loadPipelineFile(file);
  for (const sink of config.sinks) {
    if (sink.type === 'files' && sink.format === 'parquet' && !sink.path.startsWith('s3://')) return sink.path;
  }
  return undefined;
}

function lakeCandidate(flags: LocateFlags, env: NodeJS.ProcessEnv): Located | undefined {
  if (flags.lake) return { value: path.resolve(flags.lake), from: '--lake' };
  if (flags.config) {
    const lake = lakeOfPipeline(flags.config);
    if (lake) return { value: lake, from: `-c ${flags.config} (its parquet files sink)` };
  }
  if (env.SLUICE_LAKE) return { value: path.resolve(env.SLUICE_LAKE), from: '$SLUICE_LAKE' };
  const demo = path.resolve(DEMO_LAKE);
  if (existsSync(demo)) return { value: demo, from: 'the demo folder' };
  return undefined;
}

/**
 * The lake folder a reading command opens; it must exist. With `optional`, no lake found at all
 * gives undefined (the dashboard still serves the ledger), but a named lake that is missing is
 * still an error.
 */
export function locateLake(flags: LocateFlags, options: { optional: true }, env?: NodeJS.ProcessEnv): Located | undefined;
export function locateLake(flags: LocateFlags, options?: { optional?: false }, env?: NodeJS.ProcessEnv): Located;
export function locateLake(flags: LocateFlags, options: { optional?: boolean } = {}, env: NodeJS.ProcessEnv = process.env): Located | undefined {
  const found = lakeCandidate(flags, env);
  if (!found) {
    if (options.optional) return undefined;
    const why = flags.config ? ` (${flags.config} has no parquet files sink)` : '';
    throw new SluiceError(`no lake given${why}, and none at ${rel(path.resolve(DEMO_LAKE))} (looked at --lake, -c, $SLUICE_LAKE, then the demo folder in ${process.cwd()})`, {
      code: 'LAKE_NOT_FOUND',
      stage: 'read',
      hint: 'pass --lake <folder of Parquet files>, or -c <pipeline.yaml> with a `format: parquet` files sink, or set SLUICE_LAKE',
    });
  }
  if (!existsSync(found.value) || !statSync(found.value).isDirectory()) {
    throw new SluiceError(`no lake folder at ${found.value} (from ${found.from})`, {
      code: 'LAKE_NOT_FOUND',
      stage: 'read',
      hint: found.from.startsWith('-c') ? 'run the pipeline first: its parquet sink creates the folder' : 'pass --lake with the folder a `format: parquet` files sink writes',
    });
  }
  return found;
}
