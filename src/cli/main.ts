/**
 * The `sluice` command line: thin adapters over the engine. User mistakes print a short message
 * (what, where, what to do) without a stack trace; `--verbose` adds the detail.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { packageRoot } from '../core/package-root.js';
import { SluiceError } from '../core/errors.js';
import { describeViewNaming } from '../lake/view-names.js';
import { DEMO_LAKE, DEMO_STATE } from './demo-paths.js';

/**
 * A command's action, its module loaded only when the command runs: `sluice --help` and every
 * command start without the others' dependencies (DuckDB, the AWS SDK, the dashboard...).
 */
function lazy<K extends string>(load: () => Promise<{ [P in K]: (...args: never[]) => unknown }>, name: K) {
  return async (...args: unknown[]): Promise<void> => {
    const action = (await load())[name] as (...a: unknown[]) => unknown;
    await action(...args);
  };
}

/** The version of the installed package, as `sluice --version` prints it. */
export function sluiceVersion(): string {
  return (JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** How the reading commands find a ledger or a lake they are not given (see default-paths.ts). */
const STATE_DEFAULT = `default: -c's runtime.state, else $SLUICE_STATE, else ${DEMO_STATE} if it exists`;
const LAKE_DEFAULT = `default: -c's parquet files sink, else $SLUICE_LAKE, else ${DEMO_LAKE} if it exists`;
const LEDGER_FORMS = 'a ledger file, a postgres:// URL, or env:NAME / file:PATH holding one';

/** How the lake commands reach an s3:// lake (default: what -c's files sink says, else the AWS defaults). */
function withLakeS3Options(command: Command, cache: boolean): Command {
  command
    .option('--endpoint <url>', 'S3-compatible endpoint of an s3:// lake')
    .option('--region <region>', 'AWS region of an s3:// lake (default: AWS_REGION or us-east-1)')
    .option('--force-path-style', 'path-style S3 URLs for an s3:// lake (most S3-compatible servers need them)');
  if (cache) command.option('--cache <folder>', "where an s3:// lake's partitions are downloaded to be queried (default: ~/.cache/sluice/lake/<hash>)");
  return command;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('sluice')
    .version(sluiceVersion(), '-V, --version', 'print the version of sluice')
    .description('Turn raw cloud security logs in object storage into parsed, enriched, partitioned data — without losing a record.')
    .option('--verbose', 'print full error details (stack traces, causes)')
    .showHelpAfterError('(run "sluice help <command>" for usage)');

  program
    .command('run')
    .description('run a pipeline: plan the source objects, process them with bounded parallelism, resume where a previous run stopped')
    .option('-c, --config <file>', 'pipeline YAML file (or --asl)')
    .option('--asl <metadata.csv,mapping.csv>', 'run Security Lake ETL framework metadata + mapping CSV(s) directly, one pipeline per source_log_type (see import-asl)')
    .option('--log-type <name>', 'with --asl: only this source_log_type')
    .option('--s3-endpoint <url>', 'with --asl: S3-compatible endpoint of the source (path-style)')
    .option('--source <uri>', 'override source.uri (a folder or s3://bucket/prefix)')
    .option('--output <path>', 'override the path of the first files sink')
    .option('--state <ledger>', `override runtime.state (${LEDGER_FORMS})`)
    .option('--concurrency <n>', 'override runtime.concurrency (units in flight)', parsePositiveInt)
    .option('--workers <n>', 'worker threads (default: one per core; 0 = main thread)', parseNonNegativeInt)
    .option('--from <date>', 'only objects dated at/after this (YYYY-MM-DD or ISO time, UTC), read from the key')
    .option('--to <date>', 'only objects dated before this (YYYY-MM-DD is inclusive of that day)')
    .option('--days <n>', 'only the last N UTC days, today included (instead of --from/--to)', parsePositiveInt)
    .option('--full-load', 'redo units that are already done (default: skip them)')
    .option('--json', 'print the run report as JSON on stdout')
    .addOption(new Option('--no-progress', 'no progress bar even on a TTY'))
    .action(lazy(() => import('./commands/import-asl.js'), 'runOrRunAsl'));

  program
    .command('import-asl')
    .description('turn Security Lake ETL framework metadata + mapping CSVs into Sluice pipeline files (one per source_log_type) to review and commit')
    .argument('<metadata.csv>', 'the framework metadata file (header row + one row per source_log_type)')
    .argument('<mapping.csv...>', 'the framework mapping file(s) (src_log_type, src_column_name, tgt_column, default_values)')
    .option('-o, --output <file|folder>', 'a .yaml file (one source log type), or a folder for <source_log_type>.yaml files (default: .)')
    .option('--log-type <name>', 'only this source_log_type')
    .option('--s3-endpoint <url>', 'S3-compatible endpoint of the source (path-style), e.g. http://127.0.0.1:9000')
    .option('--target <folder>', 'where the files sink writes (default ./<target_s3_bucket>/<target_s3_prefix> beside the pipeline file)')
    .action(lazy(() => import('./commands/import-asl.js'), 'importAslCommand'));

  program
    .command('plan')
    .description('list the source and record its units in the ledger (then run `sluice worker` on any number of machines)')
    .requiredOption('-c, --config <file>', 'pipeline YAML file')
    .option('--source <uri>', 'override source.uri (a folder or s3://bucket/prefix)')
    .option('--state <ledger>', 'override runtime.state (a ledger file, a postgres:// URL, or env:NAME / file:PATH holding one)')
    .option('--from <date>', 'only objects dated at/after this (YYYY-MM-DD or ISO time, UTC), read from the key')
    .option('--to <date>', 'only objects dated before this (YYYY-MM-DD is inclusive of that day)')
    .option('--days <n>', 'only the last N UTC days, today included (instead of --from/--to)', parsePositiveInt)
    .option('--full-load', 'put units that are already done back to pending')
    .option('--json', 'print the plan report as JSON on stdout')
    .action(lazy(() => import('./commands/plan.js'), 'planCommand'));

  program
    .command('worker')
    .description('lease and process planned units from the (shared) ledger until none is left; SIGTERM stops gracefully')
    .requiredOption('-c, --config <file>', 'pipeline YAML file')
    .option('--source <uri>', 'override source.uri (a folder or s3://bucket/prefix)')
    .option('--output <path>', 'override the path of the first files sink')
    .option('--state <ledger>', 'override runtime.state (a ledger file, a postgres:// URL, or env:NAME / file:PATH holding one)')
    .option('--concurrency <n>', 'override runtime.concurrency (units in flight)', parsePositiveInt)
    .option('--workers <n>', 'worker threads (default: one per core; 0 = main thread)', parseNonNegativeInt)
    .option('--follow', 'keep polling for new units instead of stopping when the pipeline is drained')
    .option('--poll-ms <ms>', 'how often an idle worker looks for units', parsePositiveInt, 1000)
    .option('--json', 'print the worker report as JSON on stdout')
    .action(lazy(() => import('./commands/worker.js'), 'workerCommand'));

  program
    .command('migrate')
    .description('create or upgrade the ledger schema (workers also do it on start)')
    .option('-c, --config <file>', 'pipeline YAML file (its runtime.state is used)')
    .option('--state <ledger>', 'a ledger file, a postgres:// URL, or env:NAME / file:PATH holding one')
    .option('--json', 'print as JSON')
    .action(lazy(() => import('./commands/migrate.js'), 'migrateCommand'));

  program
    .command('status')
    .description('show units by state, dead units with their errors, and recent runs; exits 2 when a unit is dead')
    .option('-c, --config <file>', 'pipeline YAML file (its state and name are used)')
    .option('--state <ledger>', `${LEDGER_FORMS} (${STATE_DEFAULT})`)
    .option('--pipeline <name>', 'pipeline name (default: the config\'s name, or every pipeline in the ledger)')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExit status: 0 no unit is dead, 2 some units are dead (listed; `sluice retry` redrives them), 1 the ledger cannot be read.')
    .action(lazy(() => import('./commands/status.js'), 'statusCommand'));

  program
    .command('retry')
    .description('redrive dead units: plan the source as it is now (a dead unit whose object changed is superseded by the new version), then put the dead units back to pending so the next run (or this one with --run) processes them')
    .requiredOption('-c, --config <file>', 'pipeline YAML file')
    .option('--state <ledger>', `override runtime.state (${LEDGER_FORMS})`)
    .option('--key <key...>', 'only these unit keys (default: every dead unit)')
    .option('--run', 'run the pipeline right after redriving')
    .option('--json', 'print the run report as JSON on stdout (with --run)')
    .action(lazy(() => import('./commands/retry.js'), 'retryCommand'));

  program
    .command('validate')
    .description('check a pipeline file: keys, types, and that its source and outputs are usable')
    .requiredOption('-c, --config <file>', 'pipeline YAML file')
    .option('--json', 'print the resolved pipeline as JSON')
    .action(lazy(() => import('./commands/validate.js'), 'validateCommand'));

  withLakeS3Options(
    program
      .command('serve')
      .description('the dashboard: runs and units live, failures with redrive, throughput, the investigation view over the lake, /metrics')
      .option('-c, --config <file>', 'pipeline YAML file: its runtime.state and its parquet files sink are served')
      .option('--state <ledger>', `ledger to watch: ${LEDGER_FORMS} (${STATE_DEFAULT})`)
      .option('--lake <path>', `folder or s3://bucket/prefix holding the Parquet lake, searched recursively (${LAKE_DEFAULT}; none: no investigation data)`)
      .option('--port <n>', 'port (0 = any free port)', parseNonNegativeInt, 8787)
      .option('--host <address>', 'address to bind; anything but loopback needs --token', '127.0.0.1')
      .option('--token <secret-ref>', 'bearer token as a secret reference (env:NAME, file:PATH, aws-secretsmanager:ID, aws-ssm:NAME)')
      .option('--poll-ms <ms>', 'how often the live view reads the ledger', parsePositiveInt, 500),
    true,
  ).action(lazy(() => import('./commands/serve.js'), 'serveCommand'));

  withLakeS3Options(
    program
      .command('query')
      .description("SQL over the Parquet lake with DuckDB; without SQL it lists the lake's views with their row counts and columns")
      .argument('[sql]', 'the query')
      .option('-c, --config <file>', "pipeline YAML file: query the lake its parquet files sink writes")
      .option('--lake <path>', `folder or s3://bucket/prefix holding the Parquet lake (${LAKE_DEFAULT})`)
      .option('--describe <view>', "print a view's columns, nested struct fields included, with their types")
      .addOption(new Option('--format <format>', 'output format (json: BIGINTs within ±2^53 as numbers, larger ones as strings)').choices(['table', 'csv', 'json']).default('table'))
      .option('--explain', 'print the query plan instead of running it')
      .option('--max-rows <n>', 'print at most this many rows', parsePositiveInt)
      .addHelpText('after', `\n${describeViewNaming()}`),
    true,
  ).action(lazy(() => import('./commands/query.js'), 'queryCommand'));

  withLakeS3Options(
    program
      .command('compact')
      .description('rewrite each lake partition (eventDay folder, per OCSF class) into one Parquet file sorted by endpoint pair and time, so per-host queries skip most of it')
      .option('-c, --config <file>', 'pipeline YAML file: compact the lake its parquet files sink writes')
      .option('--lake <path>', `folder or s3://bucket/prefix holding the Parquet lake (${LAKE_DEFAULT})`)
      .option('--day <yyyymmdd...>', 'only these eventDay partitions (default: all)')
      .option('--row-group-rows <n>', 'rows per row group of the compacted files', parsePositiveInt, 16_384)
      .option('--memory-limit <size>', "DuckDB's memory limit, e.g. 2GB (the sort spills beyond it)")
      .option('--json', 'print the report as JSON'),
    false,
  ).action(lazy(() => import('./commands/compact.js'), 'compactCommand'));

  program
    .command('demo')
    .description('generate a realistic hour of VPC Flow Logs in an AWS bucket layout and run a pipeline over it')
    .option('--dir <folder>', 'where to put the demo (logs, outputs, ledger, pipeline file)', 'sluice-demo')
    .option('--objects <n>', 'number of flow-log objects', parsePositiveInt, 12)
    .option('--lines <n>', 'lines per object', parsePositiveInt, 25_000)
    .option('--json', 'print the run report as JSON on stdout')
    .action(lazy(() => import('./commands/demo.js'), 'demoCommand'));

  return program;
}

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new SluiceError(`expected a whole number ≥ 1, got "${value}"`, { code: 'BAD_OPTION', stage: 'config' });
  return n;
}

function parseNonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new SluiceError(`expected a whole number ≥ 0, got "${value}"`, { code: 'BAD_OPTION', stage: 'config' });
  return n;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const verbose = argv.includes('--verbose');
    if (err instanceof SluiceError) {
      process.stderr.write(`sluice: ${err.describe()}\n`);
      if (verbose && err.stack) process.stderr.write(`${err.stack}\n`);
      process.exitCode = err.stage === 'config' ? 2 : 1;
    } else {
      process.stderr.write(`sluice: ${(err as Error)?.message ?? String(err)}\n`);
      if (verbose && (err as Error)?.stack) process.stderr.write(`${(err as Error).stack}\n`);
      else process.stderr.write('  (run with --verbose for details)\n');
      process.exitCode = 1;
    }
  }
}
