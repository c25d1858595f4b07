/**
 * The lake's exactly-once promise, whole process, as a newcomer meets it: `sluice demo`, then
 * `sluice compact`, then `sluice run --full-load`, then `sluice query` counts every record once
 * (it used to count the compacted ones twice). And the same for a lake in S3, every step through
 * the command line: the sink writes to s3://, `sluice compact -c` compacts it in place with the
 * sink's own S3 options, `sluice query --lake s3://…` reads it through its local mirror, and the
 * mirror follows the lake as compaction and re-runs replace its files.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openPlace } from '../src/core/place/index.js';
import { compareLakeIds, lakeIdCounts } from '../src/testing/lake-oracle.js';
import { startSluice, writeFlowLogInput } from '../src/testing/reliability.js';
import { startS3Server, type RunningS3Server } from '../src/testing/s3-server.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-lake-once-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function sluice(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const exit = await startSluice(args, env).exited;
  return { code: exit.code, stdout: exit.stdout, stderr: exit.stderr };
}

async function counts(args: string[], env: Record<string, string> = {}): Promise<{ rows: number; ids: number; stderr: string }> {
  const r = await sluice(['query', ...args, '--format', 'json', 'select count(*) AS n, count(DISTINCT _id) AS d from network_activity'], env);
  assert.equal(r.code, 0, r.stderr);
  const [row] = JSON.parse(r.stdout) as Array<{ n: number; d: number }>;
  return { rows: row!.n, ids: row!.d, stderr: r.stderr };
}

/** Every file under `dir`, relative, `/`-separated. */
function filesUnder(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(dir, path.posix.join(rel, e.name)) : [path.posix.join(rel, e.name)],
  );
}

describe('the lake holds each record once', () => {
  it('sluice demo, compact, run --full-load: query counts every record once', async () => {
    const demo = path.join(tmp, 'demo');
    const made = await sluice(['demo', '--dir', demo, '--objects', '2', '--lines', '600', '--json']);
    assert.equal(made.code, 0, made.stderr);
    const lake = path.join(demo, 'out', 'lake');
    const before = await counts(['--lake', lake]);
    assert.ok(before.rows > 1000);
    assert.equal(before.ids, before.rows);

    const compacted = await sluice(['compact', '--lake', lake]);
    assert.equal(compacted.code, 0, compacted.stderr);
    const rerun = await sluice(['run', '-c', path.join(demo, 'lake.yaml'), '--full-load', '--json', '--no-progress']);
    assert.equal(rerun.code, 0, rerun.stderr);

    const after = await counts(['--lake', lake]);
    assert.deepEqual([after.rows, after.ids], [before.rows, before.rows], 'compact then --full-load: every record once');
    const again = await sluice(['compact', '--lake', lake, '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { rows: number }).rows, before.rows);
  });

  describe('an S3 lake, through the command line', () => {
    let s3: RunningS3Server;
    before(async () => {
      s3 = await startS3Server({ buckets: ['lake-once'] });
    });
    after(async () => {
      await s3?.stop();
    });

    it('run, query, compact -c, run --full-load, query: every record once, and the mirror holds only current files', async () => {
      const input = await writeFlowLogInput({ dir: path.join(tmp, 's3-logs'), objects: 3, lines: 400, seed: 11 });
      const lake = 's3://lake-once/ext/sluice/';
      const config = path.join(tmp, 's3-lake.yaml');
      writeFileSync(
        config,
        [
          'name: s3-lake',
          `source: { uri: ${input.dir} }`,
          'format: vpcflow',
          'transforms:',
          '  - { type: ocsf, mapping: builtin:vpcflow }',
          'sinks:',
          `  - { type: files, path: "${lake}", format: parquet, layout: security-lake, endpoint: ${s3.endpoint}, forcePathStyle: true, region: us-east-1, accessKeyId: env:LAKE_KEY, secretAccessKey: env:LAKE_SECRET }`,
          `runtime: { state: ${path.join(tmp, 's3-state.db')}, deadLetters: ${path.join(tmp, 's3-dead')}, workers: 1, concurrency: 3, backoffMs: 5 }`,
          '',
        ].join('\n'),
      );
      const env = { LAKE_KEY: s3.credentials.accessKeyId, LAKE_SECRET: s3.credentials.secretAccessKey, AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey };
      const cache = path.join(tmp, 'mirror');
      const reach = ['--endpoint', s3.endpoint, '--region', 'us-east-1', '--force-path-style', '--cache', cache];
      const s3Options = { endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: s3.credentials };

      assert.equal((await sluice(['run', '-c', config, '--json', '--no-progress'], env)).code, 0);
      const first = await counts(['--lake', lake, ...reach], env);
      assert.equal(first.ids, first.rows);
      assert.equal(first.rows, input.ids.size);

      const compacted = await sluice(['compact', '-c', config, '--json'], env);
      assert.equal(compacted.code, 0, compacted.stderr);
      const report = JSON.parse(compacted.stdout) as { root: string; partitions: Array<{ outcome: string }>; rows: number };
      assert.equal(report.root, lake);
      assert.ok(report.partitions.length > 0 && report.partitions.every((p) => p.outcome === 'compacted'));
      assert.equal(report.rows, input.ids.size);

      assert.equal((await sluice(['run', '-c', config, '--full-load', '--json', '--no-progress'], env)).code, 0);
      // The lake as any reader of the prefix sees it, and as sluice query sees it through the same mirror as before.
      const verdict = compareLakeIds(input.ids, await lakeIdCounts(lake, s3Options));
      assert.deepEqual([verdict.doubled.length, verdict.missing.length, verdict.unexpected.length], [0, 0, 0]);
      const after = await counts(['--lake', lake, ...reach], env);
      assert.deepEqual([after.rows, after.ids], [input.ids.size, input.ids.size]);

      const place = openPlace(lake, s3Options);
      const remote: string[] = [];
      for await (const entry of place.listTree()) if (entry.key.endsWith('.parquet')) remote.push(entry.key);
      await place.close();
      assert.deepEqual(filesUnder(path.join(cache, 'files')).sort(), remote.sort(), 'the mirror holds exactly the lake\'s current files');
      assert.ok(statSync(path.join(cache, 'index.json')).isFile());
    });
  });
});
