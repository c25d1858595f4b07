/**
 * The engine reading from a real S3-protocol server (s3rver, in process) through the AWS SDK:
 * listing with date pruning, streaming GETs, worker threads, and credentials given as references.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePipeline } from '../src/pipeline/config.js';
import { buildDemoInventory } from '../src/demo/inventory.js';
import { writeFlowLogObjects } from '../src/demo/flow-log-generator.js';
import { parseWindow } from '../src/core/key-dates.js';
import { runPipeline } from '../src/runtime/run-pipeline.js';
import { startS3Server, type RunningS3Server } from '../src/testing/s3-server.js';
import { idCountsInOutputs } from '../src/testing/output-oracle.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-s3e2e-'));
let server: RunningS3Server;
const linesPerDay = new Map<string, number>();

before(async () => {
  server = await startS3Server({ buckets: ['flow-logs'] });
  const inventory = buildDemoInventory(5);
  for (const [day, start] of [['2024-03-26', Date.UTC(2024, 2, 26, 3)], ['2024-03-27', Date.UTC(2024, 2, 27, 9)]] as const) {
    const dir = path.join(tmp, 'gen', day);
    const written = await writeFlowLogObjects({ dir, inventory, seed: start, objects: 3, linesPerObject: 4000, start: new Date(start), format: 'v5' });
    let lines = 0;
    for (const file of written.files) {
      const body = readFileSync(file);
      lines += gunzipSync(body).toString('utf8').split('\n').filter((l) => l && !l.startsWith('version ')).length;
      await server.putObject('flow-logs', path.relative(dir, file).split(path.sep).join('/'), body);
    }
    linesPerDay.set(day, lines);
  }
  process.env.SLUICE_TEST_S3_KEY = server.credentials.accessKeyId;
  process.env.SLUICE_TEST_S3_SECRET = server.credentials.secretAccessKey;
});

after(async () => {
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('engine: S3 source through the AWS SDK', () => {
  it('prunes by the date in the key, reads every object of the window once, and resumes', async () => {
    // Prepare
    const out = path.join(tmp, 'out');
    const config = parsePipeline({
      name: 's3-e2e',
      source: {
        uri: 's3://flow-logs/AWSLogs/',
        endpoint: server.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        accessKeyId: 'env:SLUICE_TEST_S3_KEY',
        secretAccessKey: 'env:SLUICE_TEST_S3_SECRET',
      },
      format: 'vpcflow',
      sinks: [{ type: 'files', path: out, format: 'ndjson' }],
      runtime: { state: path.join(tmp, 'state.db'), workers: 1, concurrency: 4 },
    });

    // Act
    const first = await runPipeline(config, { window: parseWindow('2024-03-26', '2024-03-26') });
    const second = await runPipeline(config, { window: parseWindow('2024-03-26', '2024-03-27') });

    // Assess
    assert.equal(first.units.total, 3, 'only the objects dated 2024-03-26');
    assert.equal(first.units.done, 3);
    assert.equal(first.records.in, linesPerDay.get('2024-03-26'));
    assert.equal(first.records.out, first.records.in);
    assert.equal(second.units.total, 6);
    assert.equal(second.units.skipped, 3);
    assert.equal(second.units.done, 3);
    assert.equal(second.records.in, linesPerDay.get('2024-03-27'));
    const counts = idCountsInOutputs(out);
    assert.equal(counts.size, linesPerDay.get('2024-03-26')! + linesPerDay.get('2024-03-27')!);
    assert.ok([...counts.values()].every((n) => n === 1));
    assert.ok(first.outputs.every((f) => f.includes(`${path.sep}2024${path.sep}03${path.sep}`)));
  });
});
