/**
 * `sluice demo` (what `npm start` runs): writes an hour of realistic VPC Flow Logs in the AWS S3
 * layout into a local folder, plus a pipeline file, and runs it — no servers, no cloud account.
 * The folder is recreated on every demo so the figures are always those of a fresh run.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadPipelineFile } from '../../core/config.js';
import { SluiceError } from '../../core/errors.js';
import { buildDemoInventory } from '../../demo/inventory.js';
import { writeFlowLogObjects } from '../../demo/flow-log-generator.js';
import { finish, runWithProgress } from './run.js';

export interface DemoFlags {
  dir: string;
  objects: number;
  lines: number;
  json?: boolean;
}

const MARKER = '.sluice-demo';
/** The hour the demo's logs belong to (fixed, so the demo is the same everywhere). */
const DEMO_START = new Date(Date.UTC(2024, 2, 26, 3, 0, 0));

function prepareFolder(dir: string): void {
  if (existsSync(dir)) {
    const entries = readdirSync(dir);
    if (entries.length > 0 && !entries.includes(MARKER)) {
      throw new SluiceError(`${dir} exists and is not a Sluice demo folder`, {
        code: 'DEMO_DIR_TAKEN',
        stage: 'config',
        hint: 'pass --dir with a new or empty folder',
      });
    }
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, MARKER), 'This folder is recreated by `sluice demo`.\n');
}

export async function demoCommand(flags: DemoFlags): Promise<void> {
  const dir = path.resolve(flags.dir);
  prepareFolder(dir);
  const logs = path.join(dir, 'logs');
  const inventory = buildDemoInventory(1);
  const v2Objects = Math.ceil(flags.objects / 2);
  const started = performance.now();
  const v2 = await writeFlowLogObjects({ dir: logs, inventory, seed: 1, objects: v2Objects, linesPerObject: flags.lines, start: DEMO_START, format: 'v2' });
  const v5 =
    flags.objects > v2Objects
      ? await writeFlowLogObjects({ dir: logs, inventory, seed: 2, objects: flags.objects - v2Objects, linesPerObject: flags.lines, start: DEMO_START, format: 'v5' })
      : { files: [], lines: 0, bytes: 0 };
  // One object with damaged lines, as real buckets sometimes have: they go to dead letters, the rest goes on.
  const damagedKey = path.join(logs, 'AWSLogs/123456789012/vpcflowlogs/eu-west-1/2024/03/26/123456789012_vpcflowlogs_eu-west-1_fl-0damaged00000000_20240326T0355Z_d4m4g3d0.log.gz');
  mkdirSync(path.dirname(damagedKey), { recursive: true });
  writeFileSync(
    damagedKey,
    gzipSync(
      [
        'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status',
        '2 123456789012 eni-0a1b2c3d4e5f60718 10.0.1.12 10.0.2.40 49152 5432 6 12 3400 1711422900 1711422960 ACCEPT OK',
        '2 123456789012 eni-0a1b2c3d4e5f60718 10.0.1.12 10.0.2.40 49153 5432 6 twelve 3400 1711422900 1711422960 ACCEPT OK',
        '2 123456789012 eni-0a1b2c3d4e5f60718 10.0.1.12',
        '2 123456789012 eni-0a1b2c3d4e5f60718 10.0.1.12 10.0.2.40 49154 5432 6 8 2100 1711422901 1711422961 ACCEPT OK',
        '',
      ].join('\n'),
    ),
  );
  const generatedLines = v2.lines + v5.lines + 3;
  process.stderr.write(
    `demo: wrote ${v2.files.length + v5.files.length + 1} flow-log objects (${generatedLines} lines) under ${logs} in ${Math.round(performance.now() - started)} ms\n`,
  );

  const pipelineFile = path.join(dir, 'pipeline.yaml');
  writeFileSync(
    pipelineFile,
    [
      '# Written by `sluice demo`. Run it again with: sluice run -c ' + path.relative(process.cwd(), pipelineFile),
      'name: vpc-demo',
      'source: { uri: ./logs }',
      'format: vpcflow',
      'sinks:',
      '  - type: files',
      '    path: ./out/flows',
      '    format: ndjson',
      'runtime: { concurrency: 20, state: ./state.db }',
      '',
    ].join('\n'),
  );
  const config = loadPipelineFile(pipelineFile);
  const report = await runWithProgress(config, { progress: true });
  finish(report, flags.json === true);
  if (!flags.json) {
    const rel = (p: string) => path.relative(process.cwd(), p) || '.';
    process.stdout.write(
      [
        '',
        `demo folder  ${rel(dir)}`,
        `  logs       ${rel(logs)}  (AWS S3 layout: AWSLogs/<account>/vpcflowlogs/<region>/yyyy/mm/dd/)`,
        `  outputs    ${rel(path.join(dir, 'out/flows'))}  (gzip NDJSON by event day)`,
        `  rejected   ${rel(path.join(dir, 'out/flows/_rejected'))}`,
        `  pipeline   ${rel(pipelineFile)}`,
        'try next',
        `  node bin/sluice.js status -c ${rel(pipelineFile)}`,
        `  node bin/sluice.js run -c ${rel(pipelineFile)}     # resumes: every unit is already done`,
        `  node bin/sluice.js run -c ${rel(pipelineFile)} --full-load   # redo, byte-identical outputs`,
        '',
      ].join('\n'),
    );
  }
}
