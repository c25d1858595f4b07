/**
 * `sluice demo` (what `npm start` runs): writes an hour of realistic VPC Flow Logs in the AWS S3
 * layout into a local folder, plus two pipeline files, and runs them — no servers, no cloud
 * account:
 * - `pipeline.yaml`: the logs as gzip NDJSON by event day (decode, dead letters, resume);
 * - `lake.yaml`: the same logs enriched with friendly names (CSV tables and a SQLite table read
 *   by SQL), normalized to OCSF 1.1.0 Network Activity and written as a Parquet lake in Amazon
 *   Security Lake's layout, then queried with DuckDB to show the names.
 * The folder is recreated on every demo so the figures are always those of a fresh run.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import { stringify } from 'yaml';
import { loadPipelineFile } from '../../pipeline/config.js';
import { SluiceError } from '../../core/errors.js';
import { buildDemoInventory, type DemoInventory } from '../../demo/inventory.js';
import { writeFlowLogObjects } from '../../demo/flow-log-generator.js';
import type { RunReport } from '../../runtime/run-pipeline.js';
import { demoEnrichConfig } from '../../demo/demo-enrich-config.js';
import { DEMO_VPCS_SQL, writeDemoTables } from '../../demo/demo-tables.js';
import { printReport } from '../report-text.js';
import { runWithProgress } from './run.js';

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
  const report = await runWithProgress(loadPipelineFile(pipelineFile), { progress: true });
  if (!flags.json) printReport(report, process.stdout);

  // The same logs again, the way seed 000 and 004 want them: friendly names, OCSF, Parquet.
  const lakeFile = writeLakePipeline(dir, inventory);
  const lakeReport = await runWithProgress(loadPipelineFile(lakeFile), { progress: true });
  const lake = path.join(dir, 'out/lake');
  const reports = [report, lakeReport];
  if (flags.json) {
    // One JSON document on stdout, both runs in it.
    process.stdout.write(`${JSON.stringify({ flows: report, lake: lakeReport }, null, 2)}\n`);
  } else {
    process.stdout.write('\n');
    printReport(lakeReport, process.stdout);
  }
  // Exit status as `sluice run`'s: 130 interrupted, 2 some units dead.
  if (reports.some((r) => r.interrupted)) process.exitCode = 130;
  else if (reports.some((r) => r.units.dead > 0)) process.exitCode = 2;
  if (flags.json) return;

  const rel = (p: string) => path.relative(process.cwd(), p) || '.';
  process.stdout.write(await describeLake(lake, rel(lake)));
  process.stdout.write(
    [
      '',
      `demo folder  ${rel(dir)}`,
      `  logs       ${rel(logs)}  (AWS S3 layout: AWSLogs/<account>/vpcflowlogs/<region>/yyyy/mm/dd/)`,
      `  outputs    ${rel(path.join(dir, 'out/flows'))}  (gzip NDJSON by event day)`,
      `  rejected   ${rel(path.join(dir, 'out/flows/_rejected'))}`,
      `  pipeline   ${rel(pipelineFile)}`,
      `  lake       ${rel(lake)}  (OCSF 1.1.0 Network Activity as Parquet, Security Lake layout region=/accountId=/eventDay=)`,
      `  tables     ${rel(path.join(dir, 'tables'))}  (CSV lookup tables; inventory.db: the VPC table, read by SQL)`,
      `  pipeline   ${rel(lakeFile)}  (the lake)`,
      'try next',
      `  node bin/sluice.js status -c ${rel(pipelineFile)}`,
      `  node bin/sluice.js run -c ${rel(pipelineFile)}     # resumes: every unit is already done`,
      `  node bin/sluice.js run -c ${rel(pipelineFile)} --full-load   # redo, byte-identical outputs`,
      `  duckdb -c "select * from read_parquet('${rel(lake)}/**/*.parquet', hive_partitioning = true, union_by_name = true) limit 5"`,
      '  node bin/sluice.js serve      # dashboard and investigation view at http://127.0.0.1:8787',
      '  node bin/sluice.js query "select count(*) from network_activity"',
      `  node bin/sluice.js compact --lake ${rel(lake)}   # one file per day and class, sorted by host pair: faster host queries`,
      '',
    ].join('\n'),
  );
}

/**
 * Writes `lake.yaml`: the demo's enrich tables (demoEnrichConfig), except that VPC names come
 * from a SQL query against the SQLite copy of the inventory, as seed 004 asks; then OCSF and
 * Parquet in the Security Lake layout. Paths are relative to the demo folder.
 */
function writeLakePipeline(dir: string, inventory: DemoInventory): string {
  writeDemoTables(path.join(dir, 'tables'), inventory);
  const enrich = demoEnrichConfig('tables');
  const tables = { ...enrich.tables, vpcs: { sql: DEMO_VPCS_SQL, url: 'sqlite:tables/inventory.db', key: 'vpc_id' } };
  const pipeline = {
    name: 'vpc-to-lake',
    source: { uri: './logs' },
    format: 'vpcflow',
    transforms: [
      { type: 'enrich', tables },
      { type: 'ocsf', mapping: 'builtin:vpcflow' },
    ],
    sinks: [{ type: 'files', path: './out/lake', format: 'parquet', layout: 'security-lake' }],
    runtime: { concurrency: 20, state: './state.db' },
  };
  const file = path.join(dir, 'lake.yaml');
  writeFileSync(
    file,
    `# Written by \`sluice demo\`: flow logs -> friendly names -> OCSF 1.1.0 -> Parquet lake. Run it again with: sluice run -c ${path.relative(process.cwd(), file)}\n${stringify(pipeline)}`,
  );
  return file;
}

/** Where the lake is, and its busiest conversations by name, read back with DuckDB as a user would. */
async function describeLake(lake: string, shown: string): Promise<string> {
  const glob = `${lake}/**/*.parquet`.replaceAll("'", "''");
  const sql = `select coalesce(src_endpoint.name, unmapped.src_network_name, src_endpoint.ip) as source,
      coalesce(dst_endpoint.name, unmapped.dst_network_name, dst_endpoint.ip) as destination,
      count(*) as flows, sum(traffic.bytes) as bytes
    from read_parquet('${glob}', hive_partitioning = true, union_by_name = true)
    where status_code = 'OK' group by all order by bytes desc limit 5`;
  const lines = ['', `OCSF Parquet lake: ${shown}  (query it with DuckDB, Athena or Spark)`];
  let instance: DuckDBInstance | undefined;
  try {
    instance = await DuckDBInstance.create();
    const connection = await instance.connect();
    try {
      const rows = (await connection.runAndReadAll(sql)).getRowObjectsJson();
      lines.push('  busiest conversations, by friendly name (DuckDB over the lake):');
      for (const row of rows) {
        lines.push(`    ${String(row.source).padEnd(28)} -> ${String(row.destination).padEnd(28)} ${String(row.flows).padStart(7)} flows ${formatBytes(Number(row.bytes))}`);
      }
    } finally {
      connection.closeSync();
    }
  } catch (err) {
    lines.push(`  (could not query it here: ${(err as Error).message.split('\n')[0]})`);
  } finally {
    instance?.closeSync();
  }
  return `${lines.join('\n')}\n`;
}

function formatBytes(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}
