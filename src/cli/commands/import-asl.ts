/**
 * `sluice import-asl metadata.csv mapping.csv [-o out.yaml]`: the Security Lake ETL framework's
 * files become reviewable Sluice pipeline files, one per source_log_type; and `sluice run --asl
 * metadata.csv,mapping.csv`: the same pipelines, built in memory and run one after the other.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parsePipeline, type PipelineConfig } from '../../pipeline/config.js';
import { SluiceError } from '../../core/errors.js';
import { importAsl } from '../../asl/to-pipeline.js';
import { windowFromFlags } from '../../core/key-dates.js';
import type { RunReport } from '../../runtime/run-pipeline.js';
import { isLedgerReference } from '../../runtime/ledger/open-ledger.js';
import { printReport } from '../report-text.js';
import { runCommand, runWithProgress, type RunFlags } from './run.js';

export interface ImportAslFlags {
  output?: string;
  logType?: string;
  s3Endpoint?: string;
  target?: string;
}

/**
 * Writes `<out.yaml>` (one source row, or with --log-type) or `<folder>/<source_log_type>.yaml`
 * for each row (default folder: the working directory).
 */
export async function importAslCommand(metadataFile: string, mappingFiles: string[], flags: ImportAslFlags): Promise<void> {
  const toFile = flags.output !== undefined && /\.ya?ml$/i.test(flags.output) && !(existsSync(flags.output) && statSync(flags.output).isDirectory());
  const dir = toFile ? path.dirname(path.resolve(flags.output!)) : path.resolve(flags.output ?? '.');
  const pipelines = importAsl({ metadataFile, mappingFiles, pipelineDir: dir, logType: flags.logType, s3Endpoint: flags.s3Endpoint, output: flags.target });
  if (toFile && pipelines.length > 1) {
    throw new SluiceError(`${metadataFile} describes ${pipelines.length} source log types (${pipelines.map((p) => p.logType).join(', ')}); -o ${flags.output} can hold one`, {
      code: 'BAD_OPTION',
      stage: 'config',
      hint: 'pass --log-type <name>, or -o <folder> to write one <source_log_type>.yaml each',
    });
  }
  mkdirSync(dir, { recursive: true });
  for (const pipeline of pipelines) {
    const file = toFile ? path.resolve(flags.output!) : path.join(dir, `${pipeline.logType}.yaml`);
    // The file must load as written: a generated pipeline that does not validate is our bug.
    parsePipeline(pipeline.config, file);
    writeFileSync(file, pipeline.yaml);
    process.stdout.write(`wrote ${path.relative(process.cwd(), file) || file} (${pipeline.logType})\n`);
  }
  process.stdout.write('next: sluice validate -c <file>, then sluice run -c <file>\n');
}

export interface RunAslFlags extends RunFlags {
  asl?: string;
  logType?: string;
  s3Endpoint?: string;
}

/** `sluice run`: a pipeline file (-c), or the framework's CSV pair (--asl). */
export async function runOrRunAsl(flags: RunAslFlags): Promise<void> {
  if (flags.asl === undefined) {
    if (flags.config === undefined) {
      throw new SluiceError('sluice run needs a pipeline: -c <pipeline.yaml>, or --asl <metadata.csv>,<mapping.csv>', { code: 'BAD_OPTION', stage: 'config' });
    }
    return runCommand(flags);
  }
  if (flags.config !== undefined) {
    throw new SluiceError('give either -c <pipeline.yaml> or --asl <metadata.csv>,<mapping.csv>, not both', { code: 'BAD_OPTION', stage: 'config' });
  }
  const files = flags.asl.split(',').map((f) => f.trim());
  if (files.length < 2 || files.some((f) => f === '')) {
    throw new SluiceError(`--asl "${flags.asl}": expected <metadata.csv>,<mapping.csv>[,<mapping.csv>...]`, { code: 'BAD_OPTION', stage: 'config', hint: 'for example --asl config/metadata.csv,config/mapping.csv' });
  }
  const [metadataFile, ...mappingFiles] = files as [string, ...string[]];
  const pipelines = importAsl({
    metadataFile,
    mappingFiles,
    pipelineDir: process.cwd(),
    logType: flags.logType,
    s3Endpoint: flags.s3Endpoint,
    ...(flags.output !== undefined ? { output: path.resolve(flags.output) } : {}),
  });
  const window = windowFromFlags(flags);
  const reports: RunReport[] = [];
  for (const pipeline of pipelines) {
    const config: PipelineConfig = parsePipeline(pipeline.config, path.join(process.cwd(), `${pipeline.logType}.yaml`));
    if (flags.state) config.runtime = { ...config.runtime, state: isLedgerReference(flags.state) ? flags.state : path.resolve(flags.state) };
    if (flags.concurrency !== undefined) config.runtime = { ...config.runtime, concurrency: flags.concurrency };
    if (flags.workers !== undefined) config.runtime = { ...config.runtime, workers: flags.workers };
    const report = await runWithProgress(config, { window, fullLoad: flags.fullLoad, progress: flags.progress !== false });
    reports.push(report);
    if (!flags.json) printReport(report, process.stdout);
  }
  if (flags.json) process.stdout.write(`${JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2)}\n`);
  if (reports.some((r) => r.interrupted)) process.exitCode = 130;
  else if (reports.some((r) => r.units.dead > 0)) process.exitCode = 2;
}
