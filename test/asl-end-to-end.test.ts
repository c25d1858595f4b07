/**
 * Done-when test of issue 5: the Security Lake ETL framework's flow, reproduced with Sluice on a
 * local S3-protocol server. Generated S3 access logs and VPC flow logs (one object per day from
 * 2023-05-22 to 2023-07-10) sit in two buckets; `sluice import-asl` turns examples/asl/
 * (metadata.csv + the two mapping CSVs in the seed's format) into pipeline files; `sluice run`
 * loads them as three month units each and writes OCSF Parquet that the schema check accepts.
 * A month that fails (an object gone while it runs) is dead; the next run re-runs that month
 * alone.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { parquetReadObjects } from 'hyparquet';
import { loadPipelineFile } from '../src/pipeline/config.js';
import { createFlowLogGenerator } from '../src/demo/flow-log-generator.js';
import { buildDemoInventory } from '../src/demo/inventory.js';
import { openLedger } from '../src/runtime/ledger/open-ledger.js';
import { planPipeline, runPipeline, workPipeline } from '../src/runtime/run-pipeline.js';
import { createFakeClock } from '../src/testing/fake-clock.js';
import { repoRoot } from '../src/testing/repo-root.js';
import { startS3Server, type RunningS3Server } from '../src/testing/s3-server.js';
import { loadOcsfSchema, validateOcsfEvent } from '../src/transforms/ocsf/index.js';

const run = promisify(execFile);
const DAY = 86_400_000;
const FIRST_DAY = Date.UTC(2023, 4, 22);
const DAYS = 50; // 2023-05-22 .. 2023-07-10, the metadata file's historical range
const LINES = 40;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-asl-e2e-'));
const examples = path.join(repoRoot(), 'examples', 'asl');
const sluice = path.join(repoRoot(), 'bin', 'sluice.js');
let server: RunningS3Server;
const junePutKey: { key: string; body: Buffer } = { key: '', body: Buffer.alloc(0) };

function ymd(t: number): [string, string, string] {
  const [y, m, d] = new Date(t).toISOString().slice(0, 10).split('-');
  return [y!, m!, d!];
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** S3 server access log lines of one day (26 fields, the bracketed time with its space). */
function accessLogLines(day: number): string {
  const lines: string[] = [];
  for (let i = 0; i < LINES; i++) {
    const t = new Date(day + i * 1_800_000 + i * 7_000);
    const time = `${String(t.getUTCDate()).padStart(2, '0')}/${MONTHS[t.getUTCMonth()]}/${t.getUTCFullYear()}:${t.toISOString().slice(11, 19)} +0000`;
    const key = i % 5 === 0 ? '-' : `photos/${i}.jpg`;
    const status = i % 7 === 0 ? 404 : 200;
    lines.push(
      [
        '79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be', 'example-bucket', `[${time}]`, `192.0.2.${i + 1}`,
        'arn:aws:iam::123456789012:user/alice', `REQ${day / DAY}X${i}`, 'REST.GET.OBJECT', key, `"GET /example-bucket/${key} HTTP/1.1"`,
        String(status), status === 404 ? 'NoSuchKey' : '-', String(1000 + i), String(2000 + i), String(10 + i), '5', '"-"', '"aws-cli/2.13 Python/3.11"', '-',
        'hostid=', 'SigV4', 'ECDHE-RSA-AES128-GCM-SHA256', 'AuthHeader', 'example-bucket.s3.us-east-1.amazonaws.com', 'TLSv1.2', '-', '-',
      ].join(' '),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** A line whose http_status is not a number: it cannot be mapped, goes to dead letters, and its month still completes. */
const UNMAPPABLE = accessLogLines(Date.UTC(2023, 5, 3)).split('\n')[1]!.replace(' 200 - ', ' abc - ');


before(async () => {
  server = await startS3Server({ buckets: ['example-access-logs', 'example-flow-logs'] });
  const inventory = buildDemoInventory(4);
  const access: Array<[string, Buffer]> = [];
  const flows: Array<[string, Buffer]> = [];
  for (let d = 0; d < DAYS; d++) {
    const day = FIRST_DAY + d * DAY;
    const [y, m, dd] = ymd(day);
    const text = accessLogLines(day) + (`${y}-${m}-${dd}` === '2023-06-03' ? `${UNMAPPABLE}\n` : '');
    access.push([`s3-access/${y}/${m}/${dd}/${y}-${m}-${dd}-00-00-00-0A1B2C3D4E5F${String(d).padStart(4, '0')}`, Buffer.from(text)]);
    const generator = createFlowLogGenerator({ inventory, seed: d + 1, start: day / 1000, durationS: 86_000, lines: LINES, format: 'v2' });
    const chunks: Buffer[] = [Buffer.from(`${generator.header}\n`)];
    for (let c = generator.nextChunk(); c; c = generator.nextChunk()) chunks.push(c);
    const key = `vpcflow/AWSLogs/123456789012/vpcflowlogs/us-east-1/${y}/${m}/${dd}/123456789012_vpcflowlogs_us-east-1_fl-0abc_${y}${m}${dd}T0000Z_${String(d).padStart(8, '0')}.log.gz`;
    const body = gzipSync(Buffer.concat(chunks));
    flows.push([key, body]);
    if (y === '2023' && m === '06' && dd === '15') Object.assign(junePutKey, { key, body });
  }
  await server.seedObjects('example-access-logs', access);
  await server.seedObjects('example-flow-logs', flows);
  process.env.AWS_ACCESS_KEY_ID = server.credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = server.credentials.secretAccessKey;
  process.env.AWS_REGION = 'us-east-1';
});

after(async () => {
  await server?.stop();
});

function parquetFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== '_rejected') out.push(...parquetFiles(p));
    } else if (name.endsWith('.parquet')) out.push(p);
  }
  return out.sort();
}

/**
 * Parquet cannot tell an absent attribute from a null one: drop nulls (and the id column) before
 * the OCSF check; timestamp columns read back as Dates, OCSF wants epoch milliseconds.
 */
function withoutNulls(value: unknown): unknown {
  if (value instanceof Date) return value.getTime();
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined && k !== '_id') out[k] = withoutNulls(typeof v === 'bigint' ? Number(v) : v);
    return out;
  }
  return typeof value === 'bigint' ? Number(value) : value;
}

async function readEvents(dir: string): Promise<Array<Record<string, any>>> {
  const events: Array<Record<string, any>> = [];
  for (const file of parquetFiles(dir)) {
    const bytes = readFileSync(file);
    const rows = await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer });
    for (const row of rows) events.push(withoutNulls(row) as Record<string, any>);
  }
  return events;
}

describe('import-asl + run: the seed\'s flow on a local S3 server', () => {
  const schema = loadOcsfSchema('1.1.0');
  const pipelines = path.join(tmp, 'pipelines');

  it('sluice import-asl writes one reviewable pipeline per source_log_type', async () => {
    const { stdout } = await run(process.execPath, [
      sluice, 'import-asl', path.join(examples, 'metadata.csv'), path.join(examples, 's3access-mapping.csv'), path.join(examples, 'vpcflow-mapping.csv'),
      '-o', pipelines, '--s3-endpoint', server.endpoint,
    ]);
    assert.match(stdout, /s3-access-log\.yaml/);
    assert.match(stdout, /vpc-flow-log\.yaml/);
    const { stdout: validated } = await run(process.execPath, [sluice, 'validate', '-c', path.join(pipelines, 's3-access-log.yaml')]);
    assert.match(validated, /ok: pipeline s3-access-log/);
  });

  it('sluice run: S3 access logs of 50 days -> 3 month units -> valid OCSF HTTP Activity in Parquet', async () => {
    const { stdout } = await run(process.execPath, [sluice, 'run', '-c', path.join(pipelines, 's3-access-log.yaml'), '--json', '--workers', '1', '--state', path.join(tmp, 'access.db')], {
      cwd: tmp,
      env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' },
    });
    const report = JSON.parse(stdout);
    assert.equal(report.units.total, 3);
    assert.equal(report.units.done, 3);
    assert.equal(report.records.in, DAYS * LINES + 1);
    assert.equal(report.records.out, DAYS * LINES);
    assert.equal(report.records.rejected, 1);
    const deadLetters = readdirSync(report.deadLetters).map((f) => readFileSync(path.join(report.deadLetters, f), 'utf8')).join('');
    assert.match(deadLetters, /field \\"http_status\\" must be an integer for OCSF http_response\.code, found \\"abc\\"/);
    const config = loadPipelineFile(path.join(pipelines, 's3-access-log.yaml'));
    const events = await readEvents((config.sinks[0] as { path: string }).path);
    assert.equal(events.length, DAYS * LINES);
    for (const event of events) assert.deepEqual(validateOcsfEvent(event, schema), [], JSON.stringify(event).slice(0, 300));
    assert.ok(events.every((e) => e.class_uid === 4002 && e.metadata.product.name === 'Amazon S3'));
    assert.equal(events.filter((e) => e.http_response.code === 404).length, DAYS * Math.ceil(LINES / 7));
  });

  it('sluice run --asl takes the CSV pair (here a metadata file and two mapping files) directly', async () => {
    const out = path.join(tmp, 'asl-direct');
    const { stdout } = await run(
      process.execPath,
      [sluice, 'run', '--asl', [path.join(examples, 'metadata.csv'), path.join(examples, 's3access-mapping.csv'), path.join(examples, 'vpcflow-mapping.csv')].join(','),
        '--log-type', 's3-access-log', '--s3-endpoint', server.endpoint, '--output', out, '--state', path.join(tmp, 'direct.db'), '--workers', '1', '--json'],
      { cwd: tmp, env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' } },
    );
    const report = JSON.parse(stdout);
    assert.equal(report.pipeline, 's3-access-log');
    assert.equal(report.units.done, 3);
    assert.equal(report.records.out, DAYS * LINES);
    assert.equal(report.records.rejected, 1);
    assert.equal(parquetFiles(out).length > 0, true);
  });

  it('sluice validate names the mapping row that targets an attribute the class does not have', async () => {
    const dir = path.join(tmp, 'bad-mapping');
    mkdirSync(path.join(dir, 'logs'), { recursive: true });
    writeFileSync(path.join(dir, 'logs', 'a.csv'), 'src,colour\n10.0.0.1,red\n');
    writeFileSync(path.join(dir, 'mapping.csv'), 'src_log_type,src_column_name,tgt_column,default_values\nfw,src,src_endpoint:object.ip:string,\nfw,colour,traffic:object.colour:string,\n');
    writeFileSync(
      path.join(dir, 'pipeline.yaml'),
      'name: fw\nsource: { uri: ./logs }\nformat: { type: delimited, header: true }\ntransforms:\n  - type: ocsf\n    mapping: ./mapping.csv\n    csv: { classUid: 4001 }\nsinks: [{ type: files, path: ./out }]\n',
    );
    const result = await run(process.execPath, [sluice, 'validate', '-c', path.join(dir, 'pipeline.yaml')]).then(
      () => assert.fail('validate accepted a mapping with an unknown attribute'),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(result.code, 2);
    assert.match(result.stderr, /mapping\.csv row 3: .*has no attribute "colour"/);
  });

  it('sluice run: VPC flow logs in month units; a month that fails is the only one re-run', async () => {
    const config = loadPipelineFile(path.join(pipelines, 'vpc-flow-log.yaml'));
    config.runtime = { ...config.runtime, state: path.join(tmp, 'flows.db'), workers: 0, maxAttempts: 1 };
    const clock = createFakeClock(Date.UTC(2024, 0, 15));
    const ledger = await openLedger(config.runtime.state);
    try {
      const plan = await planPipeline(config, { ledger, clock: clock.now });
      assert.equal(plan.total, 3);
      // An object of June disappears between planning and work: June's unit fails, and dies.
      await server.client.send(new DeleteObjectCommand({ Bucket: 'example-flow-logs', Key: junePutKey.key }));
      const first = await workPipeline(config, { ledger, clock: clock.now });
      assert.equal(first.units.done, 2);
      assert.equal(first.units.dead, 1);
      assert.deepEqual((await ledger.listUnits(config.name, { states: ['dead'] })).map((u) => u.key), ['2023-06']);

      // The object is back (same bytes, same etag): the next run redoes June alone.
      await server.putObject('example-flow-logs', junePutKey.key, junePutKey.body);
      const second = await runPipeline(config, { ledger, clock: clock.now });
      assert.equal(second.units.total, 3);
      assert.equal(second.units.skipped, 2);
      assert.equal(second.units.done, 1);
      assert.equal(second.units.dead, 0);
      assert.equal(second.records.in, 30 * LINES, 'June only: 30 days');
    } finally {
      await ledger.close();
    }
    const events = await readEvents((config.sinks[0] as { path: string }).path);
    assert.equal(events.length, DAYS * LINES);
    let gaps = 0;
    for (const event of events) {
      // NODATA/SKIPDATA records carry no addresses: a one-to-one mapping cannot invent endpoints.
      const allowMissing = event.status_code === 'OK' ? [] : ['dst_endpoint', 'src_endpoint'];
      if (allowMissing.length > 0) gaps++;
      assert.deepEqual(validateOcsfEvent(event, schema, { allowMissing }), [], JSON.stringify(event).slice(0, 300));
    }
    assert.ok(gaps < events.length / 4);
    assert.ok(events.every((e) => e.class_uid === 4001 && e.time >= FIRST_DAY && e.time < FIRST_DAY + DAYS * DAY));
  });
});
