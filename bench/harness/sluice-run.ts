/**
 * Runs Sluice the way a user does — `node bin/sluice.js run -c <pipeline> --json` from the
 * repository root — and checks its JSON run report against what was generated. The benchmark
 * only trusts a throughput figure whose counts reconcile: every generated record came out.
 */
import { readdirSync, statSync, writeFileSync, type Dirent } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { demoEnrichConfig } from '../../src/demo/demo-enrich-config.js';
import { runMeasured, type MeasuredRun } from './measured-process.js';
import { MiB, round, type ScenarioContext, type Step } from './scenario.js';

/** The fields of `sluice run --json` the benchmark relies on. */
export interface SluiceRunReport {
  units: { total: number; done: number; failed: number; dead: number; skipped: number };
  records: { in: number; out: number; rejected: number; filtered?: number };
  outputs: unknown[];
  elapsedMs: number;
  peakRssBytes?: number;
  [key: string]: unknown;
}

export interface SluicePipelineRun {
  pipelineFile: string;
  outDir: string;
  run: MeasuredRun;
  report?: SluiceRunReport;
  /** Why there is no report, when there is none. */
  reportError?: string;
  /** Bytes of everything under the output folder. */
  outputBytes: number;
}

export interface SluicePipelineOptions {
  repoRoot: string;
  workDir: string;
  name: string;
  /** Folder holding the generated AWSLogs/… tree. */
  sourceDir: string;
  concurrency: number;
  workers?: number;
  timeoutMs: number;
}

/** Writes the benchmark pipeline (vpcflow → gzip NDJSON files) and runs it once. */
export async function runSluicePipeline(options: SluicePipelineOptions): Promise<SluicePipelineRun> {
  const outDir = path.join(options.workDir, 'out');
  const pipelineFile = path.join(options.workDir, 'pipeline.yaml');
  const runtime: Record<string, unknown> = { concurrency: options.concurrency, state: path.join(options.workDir, 'state.db') };
  if (options.workers !== undefined) runtime['workers'] = options.workers;
  const pipeline = {
    name: options.name,
    source: { uri: options.sourceDir },
    format: 'vpcflow',
    sinks: [{ type: 'files', path: outDir, format: 'ndjson' }],
    runtime,
  };
  writeFileSync(pipelineFile, stringify(pipeline));

  const run = await runMeasured(process.execPath, [path.join(options.repoRoot, 'bin', 'sluice.js'), 'run', '-c', pipelineFile, '--json'], {
    cwd: options.repoRoot,
    env: { ...process.env, SLUICE_LOG_LEVEL: process.env['SLUICE_LOG_LEVEL'] ?? 'warn' },
    timeoutMs: options.timeoutMs,
  });
  const parsed = parseRunReport(run.stdout);
  return { pipelineFile, outDir, run, ...parsed, outputBytes: folderBytes(outDir) };
}

/** Accepts the report alone on stdout, or after other lines (the report starts a line with `{`). */
export function parseRunReport(stdout: string): { report?: SluiceRunReport; reportError?: string } {
  const text = stdout.trim();
  if (!text) return { reportError: 'no output on stdout (expected the JSON run report)' };
  const candidates = [text, ...[...text.matchAll(/^\{/gm)].map((m) => text.slice(m.index))];
  for (const candidate of candidates) {
    try {
      const value = JSON.parse(candidate) as unknown;
      const problem = reportShapeProblem(value);
      if (problem) return { reportError: `run report: ${problem}` };
      return { report: value as SluiceRunReport };
    } catch {
      // try the next candidate
    }
  }
  return { reportError: `stdout is not a JSON run report: ${text.slice(0, 300)}` };
}

function reportShapeProblem(value: unknown): string | undefined {
  const r = value as Partial<SluiceRunReport> | null;
  if (!r || typeof r !== 'object') return 'not an object';
  const numbers = (obj: unknown, keys: string[], where: string) => {
    for (const k of keys) {
      if (typeof (obj as Record<string, unknown> | undefined)?.[k] !== 'number') return `${where}.${k} missing or not a number`;
    }
    return undefined;
  };
  return (
    numbers(r.units, ['total', 'done', 'failed', 'dead', 'skipped'], 'units') ??
    numbers(r.records, ['in', 'out', 'rejected'], 'records') ??
    (Array.isArray(r.outputs) ? undefined : 'outputs missing or not an array') ??
    (typeof r.elapsedMs === 'number' ? undefined : 'elapsedMs missing or not a number')
  );
}

/**
 * Everything that must hold for the figures to count: all units done, no failed or dead unit,
 * nothing rejected, and records in = records out = the generated records.
 */
export function reconcileRunReport(report: SluiceRunReport, expected: { units: number; records: number }): string[] {
  const problems: string[] = [];
  const u = report.units;
  const r = report.records;
  if (u.total !== expected.units) problems.push(`units.total is ${u.total}, expected ${expected.units} (one per generated object)`);
  if (u.done + u.skipped !== expected.units) problems.push(`units done ${u.done} + skipped ${u.skipped} ≠ ${expected.units} objects`);
  if (u.failed !== 0 || u.dead !== 0) problems.push(`${u.failed} units failed and ${u.dead} dead`);
  if (u.skipped !== 0) problems.push(`${u.skipped} units skipped: the ledger was not fresh, so the figures do not measure a full run`);
  if (r.in !== expected.records) problems.push(`records.in is ${r.in}, expected ${expected.records} (generated lines minus header lines)`);
  if (r.out !== expected.records) problems.push(`records.out is ${r.out}, expected ${expected.records} (generated lines minus header lines)`);
  if (r.rejected !== 0) problems.push(`records.rejected is ${r.rejected}, expected 0 (generated lines are all valid)`);
  return problems;
}

/** The larger of the two peak-RSS figures (they differ by a few pages; be conservative). */
export function peakRss(run: MeasuredRun): number | undefined {
  const figures = [run.gnuTimeMaxRssBytes, run.polledPeakRssBytes].filter((v): v is number => v !== undefined);
  return figures.length > 0 ? Math.max(...figures) : undefined;
}

/**
 * Writes the lake build's pipeline file as a user writes it: vpcflow → the demo tables'
 * enrichment → OCSF Network Activity → Parquet in the Security Lake layout.
 */
export function writeLakePipeline(file: string, options: { name: string; sourceDir: string; tablesDir: string; lakeDir: string; runtime: Record<string, unknown> }): string {
  writeFileSync(
    file,
    stringify({
      name: options.name,
      source: { uri: options.sourceDir },
      format: 'vpcflow',
      transforms: [demoEnrichConfig(options.tablesDir), { type: 'ocsf', mapping: 'builtin:vpcflow' }],
      sinks: [{ type: 'files', path: options.lakeDir, format: 'parquet', layout: 'security-lake' }],
      runtime: options.runtime,
    }),
  );
  return file;
}

/** Bytes of every file under `dir` (0 when it does not exist). */
export function folderBytes(dir: string): number {
  let total = 0;
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += folderBytes(p);
    else if (e.isFile()) total += statSync(p).size;
  }
  return total;
}

/** Describes a failed Sluice process for the results file and the console. */
export function describeFailedRun(run: SluicePipelineRun): string {
  const r = run.run;
  const how = r.timedOut ? `timed out after ${(r.wallMs / 1000).toFixed(0)} s` : `exited with ${r.exitCode ?? r.signal}`;
  const stderr = r.stderrTail.trim().split('\n').slice(-8).join('\n    ');
  return `sluice run ${how}${run.reportError ? `; ${run.reportError}` : ''}${stderr ? `\n    stderr: ${stderr}` : ''}`;
}

export interface SluiceBenchmark {
  step: Step;
  figures: Record<string, unknown>;
  failures: string[];
}

/**
 * Runs the pipeline over `sourceDir` and turns the outcome into a table row, figures for the
 * results file and failures (a failed process, a missing report, or counts that do not reconcile).
 */
export async function benchmarkSluice(
  ctx: ScenarioContext,
  input: { name: string; sourceDir: string; units: number; records: number; uncompressedBytes: number },
): Promise<SluiceBenchmark> {
  const o = ctx.options;
  ctx.log(`sluice run: ${input.units} objects, ${input.records.toLocaleString('en')} records, concurrency ${o.concurrency}`);
  const result = await runSluicePipeline({
    repoRoot: ctx.repoRoot,
    workDir: ctx.workDir,
    name: input.name,
    sourceDir: input.sourceDir,
    concurrency: o.concurrency,
    workers: o.workers,
    timeoutMs: o.timeoutS * 1000,
  });
  const failures: string[] = [];
  const r = result.run;
  if (r.exitCode !== 0 || r.timedOut || !result.report) failures.push(describeFailedRun(result));
  if (result.report) failures.push(...reconcileRunReport(result.report, { units: input.units, records: input.records }));
  const report = result.report;
  const elapsedS = report ? report.elapsedMs / 1000 : undefined;
  const measuredPeak = peakRss(r);
  const figures: Record<string, unknown> = {
    ok: failures.length === 0,
    exitCode: r.exitCode,
    wallS: round(r.wallMs / 1000, 3),
    elapsedS: elapsedS === undefined ? undefined : round(elapsedS, 3),
    recordsPerS: report && elapsedS ? Math.round(report.records.in / elapsedS) : undefined,
    recordsPerSWall: report ? Math.round(report.records.in / (r.wallMs / 1000)) : undefined,
    uncompressedMBPerS: elapsedS ? round(input.uncompressedBytes / MiB / elapsedS, 1) : undefined,
    peakRss: {
      reportedBytes: report?.peakRssBytes,
      polledVmHwmBytes: r.polledPeakRssBytes,
      gnuTimeMaxRssBytes: r.gnuTimeMaxRssBytes,
      note: r.memoryNote,
    },
    units: report?.units,
    records: report?.records,
    outputs: report ? report.outputs.length : undefined,
    outputBytes: result.outputBytes,
    pipelineFile: ctx.options.keep ? result.pipelineFile : undefined,
    error: failures.length > 0 ? failures : undefined,
  };
  return {
    step: {
      step: 'sluice run (vpcflow → ndjson.gz)',
      wallS: elapsedS ?? r.wallMs / 1000,
      bytes: input.uncompressedBytes,
      lines: report?.records.in,
      peakRssBytes: measuredPeak ?? report?.peakRssBytes,
      ok: failures.length === 0,
      note: failures.length > 0 ? 'FAILED (see results file)' : `wall incl. start-up ${(r.wallMs / 1000).toFixed(1)} s`,
    },
    figures,
    failures: failures.map((f) => `sluice: ${f}`),
  };
}
