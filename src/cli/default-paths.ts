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
import type { S3PlaceOptions } from '../core/place/index.js';
import { s3PlaceOptionsOf } from '../core/s3/output-options.js';
import { describeLedger, isLedgerReference, resolveLedgerState } from '../runtime/ledger/open-ledger.js';
import { DEMO_LAKE, DEMO_STATE } from './demo-paths.js';

export interface LocateFlags {
  config?: string;
  state?: string;
  lake?: string;
  /** How to reach an s3:// lake; override what the pipeline file's sink says. */
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
}

/** A lake: a resolved folder or an `s3://` location, with how to reach it. */
export interface LocatedLake extends Located {
  s3?: Omit<S3PlaceOptions, 'uri'>;
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

/** The first Parquet files sink of a pipeline file: where its lake is written, and how to reach it on S3. */
function lakeOfPipeline(file: string): LocatedLake | undefined {
  const config = loadPipelineFile(file);
  for (const sink of config.sinks) {
    if (sink.type !== 'files' || sink.format !== 'parquet') continue;
    const from = `-c ${file} (its parquet files sink)`;
    return sink.path.startsWith('s3://') ? { value: sink.path, from, s3: s3PlaceOptionsOf(sink, `files sink ${sink.path}`) } : { value: sink.path, from };
  }
  return undefined;
}

/** A lake named on the command line or in the environment: an s3:// location as it is, a folder resolved. */
function lakeLocation(value: string): string {
  return value.startsWith('s3://') ? value : path.resolve(value);
}

function lakeCandidate(flags: LocateFlags, env: NodeJS.ProcessEnv): LocatedLake | undefined {
  const pipelineLake = flags.config ? lakeOfPipeline(flags.config) : undefined;
  if (flags.lake) {
    const value = lakeLocation(flags.lake);
    // The pipeline's sink knows how to reach its own bucket.
    return { value, from: '--lake', s3: pipelineLake?.value === value ? pipelineLake.s3 : undefined };
  }
  if (pipelineLake) return pipelineLake;
  if (env.SLUICE_LAKE) return { value: lakeLocation(env.SLUICE_LAKE), from: '$SLUICE_LAKE' };
  const demo = path.resolve(DEMO_LAKE);
  if (existsSync(demo)) return { value: demo, from: 'the demo folder' };
  return undefined;
}

/** The S3 options of a located lake with the command line's `--endpoint`, `--region`, `--force-path-style` on top. */
function withS3Flags(found: LocatedLake, flags: LocateFlags): LocatedLake {
  if (!found.value.startsWith('s3://')) return found;
  const s3 = { ...found.s3 };
  if (flags.endpoint !== undefined) s3.endpoint = flags.endpoint;
  if (flags.region !== undefined) s3.region = flags.region;
  if (flags.forcePathStyle !== undefined) s3.forcePathStyle = flags.forcePathStyle;
  return { ...found, s3 };
}

/**
 * The lake a reading command opens: a folder, which must exist, or an `s3://` location (checked
 * when it is read). With `optional`, no lake found at all gives undefined (the dashboard still
 * serves the ledger), but a named lake that is missing is still an error.
 */
export function locateLake(flags: LocateFlags, options: { optional: true }, env?: NodeJS.ProcessEnv): LocatedLake | undefined;
export function locateLake(flags: LocateFlags, options?: { optional?: false }, env?: NodeJS.ProcessEnv): LocatedLake;
export function locateLake(flags: LocateFlags, options: { optional?: boolean } = {}, env: NodeJS.ProcessEnv = process.env): LocatedLake | undefined {
  const candidate = lakeCandidate(flags, env);
  const found = candidate && withS3Flags(candidate, flags);
  if (!found) {
    if (options.optional) return undefined;
    const why = flags.config ? ` (${flags.config} has no parquet files sink)` : '';
    throw new SluiceError(`no lake given${why}, and none at ${rel(path.resolve(DEMO_LAKE))} (looked at --lake, -c, $SLUICE_LAKE, then the demo folder in ${process.cwd()})`, {
      code: 'LAKE_NOT_FOUND',
      stage: 'read',
      hint: 'pass --lake <folder of Parquet files, or s3://bucket/prefix>, or -c <pipeline.yaml> with a `format: parquet` files sink, or set SLUICE_LAKE',
    });
  }
  if (found.value.startsWith('s3://')) return found;
  if (!existsSync(found.value) || !statSync(found.value).isDirectory()) {
    throw new SluiceError(`no lake folder at ${found.value} (from ${found.from})`, {
      code: 'LAKE_NOT_FOUND',
      stage: 'read',
      hint: found.from.startsWith('-c') ? 'run the pipeline first: its parquet sink creates the folder' : 'pass --lake with the folder a `format: parquet` files sink writes',
    });
  }
  return found;
}
