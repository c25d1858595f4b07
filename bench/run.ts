/**
 * The benchmark harness: `npm run bench -- [scenario...] [flags]`.
 *
 * Runs the named scenarios one after the other, each in its own temporary folder, writes
 * `bench/results/<scenario>.json` (machine, Node version, date, parameters, figures, failures)
 * and prints a short table. Exits 1 when any scenario failed, so CI can run it.
 *
 * Flags override environment variables, which override defaults:
 *   --objects N            SLUICE_BENCH_OBJECTS            8
 *   --lines-per-object N   SLUICE_BENCH_LINES_PER_OBJECT   375000
 *   --big-mb N             SLUICE_BENCH_BIG_MB             2048 (uncompressed MiB of the big object)
 *   --gzip-level N         SLUICE_BENCH_GZIP_LEVEL         6
 *   --concurrency N        SLUICE_BENCH_CONCURRENCY        20
 *   --workers N            SLUICE_BENCH_WORKERS            (Sluice's default)
 *   --seed N               SLUICE_BENCH_SEED               1
 *   --work-dir DIR         SLUICE_BENCH_WORK_DIR           the OS temp folder
 *   --timeout-s N          SLUICE_BENCH_TIMEOUT_S          3600
 *   --no-sluice            generation and ceilings only
 *   --keep                 keep the generated data and outputs
 *   --list                 list the scenarios
 */
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describeMachine } from './harness/machine.js';
import { MiB, round, type BenchOptions, type Scenario, type ScenarioOutcome, type Step } from './harness/scenario.js';
import { demoGenerator } from './scenarios/demo-generator.js';
import { vpcflowBigObject } from './scenarios/vpcflow-big-object.js';
import { vpcflowNdjson } from './scenarios/vpcflow-ndjson.js';
import { ledgerClaims } from './scenarios/ledger-claims.js';
import { cloudtrailCompaction } from './scenarios/cloudtrail-compaction.js';
import { vpcToLake } from './scenarios/vpc-to-lake.js';
import { flowsToOpensearch } from './scenarios/flows-to-opensearch.js';
import { aggregatePeers } from './scenarios/aggregate-peers.js';
import { lakeQuery } from './scenarios/lake-query.js';
import { repoRoot } from '../src/testing/repo-root.js';

const SCENARIOS: Scenario[] = [vpcflowNdjson, vpcflowBigObject, demoGenerator, ledgerClaims, vpcToLake, cloudtrailCompaction, flowsToOpensearch, aggregatePeers, lakeQuery];


class UsageError extends Error {}

function integerOption(flag: string | undefined, envName: string, fallback: number, min: number): number {
  const raw = flag ?? process.env[envName];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new UsageError(`${flag !== undefined ? 'flag' : envName} must be an integer ≥ ${min}, got "${raw}"`);
  }
  return value;
}

function parseCommandLine(argv: string[]): { names: string[]; options: BenchOptions; list: boolean } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      objects: { type: 'string' },
      'lines-per-object': { type: 'string' },
      'big-mb': { type: 'string' },
      'gzip-level': { type: 'string' },
      concurrency: { type: 'string' },
      workers: { type: 'string' },
      seed: { type: 'string' },
      'work-dir': { type: 'string' },
      'timeout-s': { type: 'string' },
      'no-sluice': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
    },
  });
  const workersRaw = values.workers ?? process.env['SLUICE_BENCH_WORKERS'];
  const options: BenchOptions = {
    objects: integerOption(values.objects, 'SLUICE_BENCH_OBJECTS', 8, 1),
    linesPerObject: integerOption(values['lines-per-object'], 'SLUICE_BENCH_LINES_PER_OBJECT', 375_000, 1),
    bigMb: integerOption(values['big-mb'], 'SLUICE_BENCH_BIG_MB', 2048, 1),
    gzipLevel: integerOption(values['gzip-level'], 'SLUICE_BENCH_GZIP_LEVEL', 6, 1),
    concurrency: integerOption(values.concurrency, 'SLUICE_BENCH_CONCURRENCY', 20, 1),
    workers: workersRaw === undefined || workersRaw === '' ? undefined : integerOption(workersRaw, 'SLUICE_BENCH_WORKERS', 0, 0),
    seed: integerOption(values.seed, 'SLUICE_BENCH_SEED', 1, 0),
    workRoot: path.resolve(values['work-dir'] ?? process.env['SLUICE_BENCH_WORK_DIR'] ?? os.tmpdir()),
    timeoutS: integerOption(values['timeout-s'], 'SLUICE_BENCH_TIMEOUT_S', 3600, 1),
    sluice: !values['no-sluice'],
    keep: values.keep,
  };
  if (options.gzipLevel > 9) throw new UsageError(`gzip level must be 1–9, got ${options.gzipLevel}`);
  const known = new Set(SCENARIOS.map((s) => s.name));
  for (const name of positionals) {
    if (name !== 'all' && !known.has(name)) {
      throw new UsageError(`unknown scenario "${name}"; known: ${[...known].join(', ')}, or "all"`);
    }
  }
  const names =
    positionals.length === 0
      ? SCENARIOS.filter((s) => !s.heavy).map((s) => s.name)
      : positionals.includes('all')
        ? SCENARIOS.map((s) => s.name)
        : positionals;
  return { names, options, list: values.list };
}

interface ResultFile {
  scenario: string;
  description: string;
  ok: boolean;
  date: string;
  machine: ReturnType<typeof describeMachine>;
  parameters: Record<string, unknown>;
  figures: Record<string, unknown>;
  steps: Array<Step & { uncompressedMBPerS?: number; linesPerS?: number; peakRssMiB?: number }>;
  failures: string[];
  notes: string[];
  workDir?: string;
}

function writeResult(root: string, result: ResultFile): string {
  const dir = path.join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${result.scenario}.json`);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  return file;
}

function withRates(step: Step): ResultFile['steps'][number] {
  return {
    ...step,
    wallS: round(step.wallS, 3),
    uncompressedMBPerS: step.bytes !== undefined ? round(step.bytes / MiB / step.wallS, 1) : undefined,
    linesPerS: step.lines !== undefined ? Math.round(step.lines / step.wallS) : undefined,
    peakRssMiB: step.peakRssBytes !== undefined ? round(step.peakRssBytes / MiB, 0) : undefined,
  };
}

function printTable(rows: Array<{ scenario: string; step: ResultFile['steps'][number] }>): void {
  const header = ['scenario', 'step', 'wall s', 'MB/s', 'lines/s', 'peak RSS MiB', 'status'];
  const body = rows.map(({ scenario, step }) => [
    scenario,
    step.step,
    step.wallS.toFixed(2),
    step.uncompressedMBPerS?.toFixed(0) ?? '',
    step.linesPerS !== undefined ? step.linesPerS.toLocaleString('en') : '',
    step.peakRssMiB?.toFixed(0) ?? '',
    `${step.ok ? 'ok' : 'FAIL'}${step.note ? ` ${step.note}` : ''}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 2 && i <= 5 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  console.log(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  for (const r of body) console.log(line(r));
  console.log('MB/s = uncompressed MiB per second');
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${(err as Error).message}`);
    return 2;
  }
  if (parsed.list) {
    for (const s of SCENARIOS) console.log(`${s.name.padEnd(22)} ${s.description}${s.heavy ? ' (heavy: run by name or with "all")' : ''}`);
    return 0;
  }
  const root = repoRoot();
  const options = parsed.options;
  mkdirSync(options.workRoot, { recursive: true });
  const rows: Array<{ scenario: string; step: ResultFile['steps'][number] }> = [];
  let failed = 0;

  for (const name of parsed.names) {
    const scenario = SCENARIOS.find((s) => s.name === name)!;
    const workDir = mkdtempSync(path.join(options.workRoot, `sluice-bench-${name}-`));
    const machine = describeMachine();
    const date = new Date().toISOString();
    console.log(`\n== ${name}: ${scenario.description}`);
    let outcome: ScenarioOutcome;
    try {
      outcome = await scenario.run({ options, repoRoot: root, workDir, log: (m) => console.log(`   ${m}`) });
    } catch (err) {
      outcome = { parameters: {}, figures: {}, steps: [], failures: [`scenario crashed: ${(err as Error).stack ?? String(err)}`], notes: [] };
    }
    const result: ResultFile = {
      scenario: name,
      description: scenario.description,
      ok: outcome.failures.length === 0,
      date,
      machine,
      parameters: outcome.parameters,
      figures: outcome.figures,
      steps: outcome.steps.map(withRates),
      failures: outcome.failures,
      notes: outcome.notes,
      workDir: options.keep ? workDir : undefined,
    };
    const file = writeResult(root, result);
    for (const step of result.steps) rows.push({ scenario: name, step });
    if (!result.ok) {
      failed++;
      console.error(`\n!! ${name} FAILED:`);
      for (const f of outcome.failures) console.error(`   - ${f}`);
    }
    for (const n of outcome.notes) console.log(`   note: ${n}`);
    console.log(`   results: ${path.relative(process.cwd(), file)}`);
    if (options.keep) console.log(`   data kept in ${workDir}`);
    else rmSync(workDir, { recursive: true, force: true });
  }

  printTable(rows);
  if (failed > 0) console.error(`\n${failed} of ${parsed.names.length} scenarios FAILED`);
  return failed > 0 ? 1 : 0;
}

process.exitCode = await main();
