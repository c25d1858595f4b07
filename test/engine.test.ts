/**
 * The engine end to end, in process: real fixtures in a folder (one corrupt gzip among them) ->
 * runPipeline -> gzip NDJSON parts + dead letters + ledger, then a re-run that resumes and a full
 * load that rewrites byte-identical files.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePipeline } from '../src/pipeline/config.js';
import { runPipeline } from '../src/runtime/run-pipeline.js';
import { openSqliteLedger } from '../src/runtime/ledger/sqlite.js';
import { fixturePath } from '../src/testing/repo-root.js';
import { idCountsInOutputs, listFiles } from '../src/testing/output-oracle.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-engine-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function place(logs: string, key: string, body: Buffer | string): void {
  const file = path.join(logs, key);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, body);
}

/** Non-blank lines that are not a header line: what the format must turn into records or rejects. */
function candidateLines(text: string): number {
  return text.split('\n').filter((l) => l.trim() !== '' && !/^version\s/.test(l)).length;
}

describe('engine: folder of real flow logs -> gzip NDJSON', () => {
  const logs = path.join(tmp, 'logs');
  const out = path.join(tmp, 'out');
  const day = 'AWSLogs/123456789010/vpcflowlogs/us-east-1/2014/12/14/';
  const good = gunzipSync(readFileSync(fixturePath('splunk-aws-gdi-toolkit/sample-vpcflow.log.gz')));
  const withHeader = readFileSync(fixturePath('aws-docs/vpcflow/v2-default-examples.with-header.log'));
  const midFileHeader = readFileSync(fixturePath('elastic-beats/vpcflow/tcp-flag-sequence-skip-data.log'));
  const garbage = readFileSync(fixturePath('elastic-beats/vpcflow/bad.log'));
  place(logs, `${day}a-sample.log.gz`, gzipSync(good));
  place(logs, `${day}b-doc-examples.log`, withHeader);
  place(logs, `${day}c-skip-data.log`, midFileHeader);
  place(logs, `${day}d-garbage.log`, garbage);
  const truncated = gzipSync(good).subarray(0, 3000);
  place(logs, `${day}e-truncated.log.gz`, truncated);
  copyFileSync(
    fixturePath('constructed/123456789010_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz'),
    path.join(logs, `${day}f-constructed.log.gz`),
  );
  const expectedIn =
    candidateLines(good.toString()) + candidateLines(withHeader.toString()) * 2 + candidateLines(midFileHeader.toString()) + candidateLines(garbage.toString());
  const config = parsePipeline({
    name: 'engine-test',
    source: { uri: logs },
    format: 'vpcflow',
    sinks: [{ type: 'files', path: out, format: 'ndjson' }],
    runtime: { state: path.join(tmp, 'state.db'), maxAttempts: 3, backoffMs: 5, workers: 1 },
  });

  it('processes every object, rejects bad lines with their line numbers, and ends the corrupt object dead', async () => {
    // Act
    const report = await runPipeline(config);
    // Assess
    assert.equal(report.units.total, 6);
    assert.equal(report.units.done, 5);
    assert.equal(report.units.dead, 1);
    assert.equal(report.units.retried, 2, 'the corrupt object is retried before it is dead');
    assert.match(report.deadUnits[0]!.key, /e-truncated\.log\.gz$/);
    assert.match(report.deadUnits[0]!.error, /e-truncated\.log\.gz/);
    assert.equal(report.records.in, expectedIn);
    assert.equal(report.records.in, report.records.out + report.records.rejected + report.records.filtered);
    assert.ok(report.records.rejected >= 1);
    const counts = idCountsInOutputs(out);
    assert.equal(counts.size, report.records.out);
    assert.ok([...counts.values()].every((n) => n === 1));
    const rejectedFile = listFiles(path.join(out, '_rejected')).find((f) => f.includes('d-garbage'));
    assert.ok(rejectedFile, 'dead-letter file for the garbage object');
    const rejected = readFileSync(rejectedFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { line: number; raw: string; reason: string; object: string });
    assert.equal(rejected[0]!.line, 1);
    assert.equal(rejected[0]!.raw, 'Phony unsupported log format.');
    assert.match(rejected[0]!.object, /d-garbage\.log$/);
    assert.ok(rejected[0]!.reason.length > 10);
  });

  it('a re-run skips what is done and leaves the outputs untouched', async () => {
    const before = snapshot(out);
    const report = await runPipeline(config);
    assert.equal(report.units.skipped, 5);
    assert.equal(report.units.done, 0);
    assert.equal(report.records.in, 0);
    assert.deepEqual(snapshot(out), before);
  });

  it('a full load rewrites byte-identical outputs', async () => {
    const before = snapshot(out);
    const report = await runPipeline(config, { fullLoad: true });
    assert.equal(report.units.done, 5);
    assert.equal(report.records.in, expectedIn);
    assert.deepEqual(snapshot(out), before);
  });

  it('the ledger holds each unit with its counts and outputs', async () => {
    const ledger = openSqliteLedger(config.runtime.state);
    try {
      const units = await ledger.listUnits('engine-test');
      assert.equal(units.length, 6);
      const sample = units.find((u) => u.key.endsWith('a-sample.log.gz'))!;
      assert.equal(sample.state, 'done');
      assert.equal(sample.recordsIn, candidateLines(good.toString()));
      assert.ok(sample.outputs.length >= 1);
      const dead = units.find((u) => u.state === 'dead')!;
      assert.equal(dead.attempts, 3);
      assert.equal(dead.lastError?.code, 'CORRUPT_GZIP');
    } finally {
      await ledger.close();
    }
  });
});

function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const f of listFiles(dir).sort()) files[path.relative(dir, f)] = readFileSync(f).toString('base64');
  return files;
}

describe('engine: an object that changes after it was processed', () => {
  it('is processed again and its new outputs replace the old ones (no second copy)', async () => {
    // Prepare
    const logs = path.join(tmp, 'changing-logs');
    const out = path.join(tmp, 'changing-out');
    const key = 'AWSLogs/123456789010/vpcflowlogs/us-east-1/2014/12/14/one.log';
    const text = readFileSync(fixturePath('aws-docs/vpcflow/v2-default-examples.with-header.log'), 'utf8');
    place(logs, key, text);
    const config = parsePipeline({
      name: 'changing',
      source: { uri: logs },
      format: 'vpcflow',
      sinks: [{ type: 'files', path: out }],
      runtime: { state: path.join(tmp, 'changing.db'), workers: 0 },
    });
    const first = await runPipeline(config);

    // Act: the object is rewritten with one more line.
    const extra = '2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20642 22 6 20 4249 1418530010 1418530070 ACCEPT OK\n';
    place(logs, key, text.endsWith('\n') ? text + extra : `${text}\n${extra}`);
    const second = await runPipeline(config);

    // Assess
    assert.equal(first.records.out, 7);
    assert.equal(second.units.done, 1);
    assert.equal(second.records.out, 8);
    const counts = idCountsInOutputs(out);
    assert.equal(counts.size, 8, 'only the new version is in the outputs');
    assert.ok([...counts.values()].every((n) => n === 1));
    assert.deepEqual(listFiles(out).map((f) => path.relative(out, f)), first.outputs.map((f) => path.relative(out, f)), 'the same output names');
  });
});
