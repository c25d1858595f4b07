/**
 * End to end: a folder of generated flow logs -> runPipeline (worker thread) -> Parquet parts,
 * queried with DuckDB: the count and the byte sum equal the input's.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import { parsePipeline } from '../../../pipeline/config.js';
import { buildDemoInventory } from '../../../demo/inventory.js';
import { writeFlowLogObjects } from '../../../demo/flow-log-generator.js';
import { runPipeline } from '../../../runtime/run-pipeline.js';

const scratch = await mkdtemp(path.join(tmpdir(), 'sluice-parquet-pipeline-'));
after(() => rm(scratch, { recursive: true, force: true }));

/** Records, the sum of `bytes` and the accounts in generated flow-log objects, read the plain way. */
async function inputTotals(files: string[]): Promise<{ records: number; bytes: bigint; accounts: number }> {
  let records = 0;
  let bytes = 0n;
  const accounts = new Set<string>();
  for (const file of files) {
    const [header, ...lines] = gunzipSync(await readFile(file)).toString('utf8').trimEnd().split('\n');
    const names = header!.split(' ');
    const bytesColumn = names.indexOf('bytes');
    const accountColumn = names.indexOf('account-id');
    for (const line of lines) {
      records += 1;
      const values = line.split(' ');
      if (values[bytesColumn] !== '-') bytes += BigInt(values[bytesColumn]!);
      accounts.add(values[accountColumn]!);
    }
  }
  return { records, bytes, accounts: accounts.size };
}

test('a folder of flow logs through runPipeline with format: parquet: DuckDB counts and sums what went in', async () => {
  // Prepare
  const logs = path.join(scratch, 'logs');
  const out = path.join(scratch, 'lake');
  const written = await writeFlowLogObjects({
    dir: logs, inventory: buildDemoInventory(3), seed: 3, objects: 6, linesPerObject: 2_500,
    start: new Date('2024-05-01T23:40:00Z'), durationMinutes: 30, format: 'v5',
  });
  const expected = await inputTotals(written.files);
  const config = parsePipeline({
    name: 'parquet-e2e',
    source: { uri: logs },
    format: 'vpcflow',
    sinks: [{ type: 'files', path: out, format: 'parquet', rowGroupRows: 4_000 }],
    runtime: { state: path.join(scratch, 'state.db'), workers: 1, backoffMs: 5 },
  });

  // Act
  const report = await runPipeline(config);
  const duckdb = await DuckDBInstance.create();
  const connection = await duckdb.connect();
  const reader = await connection.runAndReadAll(
    `select count(*) as n, sum(bytes) as bytes, count(distinct _id) as ids, count(_overflow) as overflow,
       count(distinct account_id) as accounts
     from read_parquet('${out}/**/*.parquet')`,
  );
  const [row] = reader.getRowObjectsJson();
  connection.closeSync();
  duckdb.closeSync();

  // Assess
  assert.equal(report.units.done, 6);
  assert.equal(report.records.out, expected.records);
  assert.equal(report.records.rejected, 0);
  assert.deepEqual(row, {
    n: String(expected.records),
    bytes: expected.bytes.toString(),
    ids: String(expected.records),
    overflow: '0',
    accounts: String(expected.accounts),
  });
  assert.ok(report.outputs.length >= 6 && report.outputs.every((f) => f.endsWith('.parquet')), report.outputs.join());
  assert.ok(report.outputs.some((f) => f.includes(path.join('2024', '05', '02'))), 'the run crosses midnight into a second day folder');
});
