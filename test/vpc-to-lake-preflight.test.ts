/**
 * A sink that cannot work fails the run before anything is planned or leased: a Parquet codec
 * this Node lacks (zstd on Node 20) and a folder that cannot be written. Without the preflight
 * every unit would fail in its worker thread, be retried with backoff and end dead one by one.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePipeline } from '../src/pipeline/config.js';
import { SluiceError } from '../src/core/errors.js';
import { runPipeline } from '../src/runtime/run-pipeline.js';
import { fixturePath, repoRoot } from '../src/testing/repo-root.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-sink-preflight-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const logs = path.join(tmp, 'logs');
mkdirSync(logs);
copyFileSync(fixturePath('aws-docs', 'vpcflow', 'v2-default-examples.with-header.log'), path.join(logs, 'a.log'));
copyFileSync(fixturePath('elastic-beats', 'vpcflow', 'accept-reject-traffic.log'), path.join(logs, 'b.log'));

function lakeConfig(name: string, sink: Record<string, unknown>) {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  return {
    dir,
    config: parsePipeline({
      name,
      source: { uri: logs },
      format: 'vpcflow',
      transforms: [{ type: 'ocsf', mapping: 'builtin:vpcflow' }],
      sinks: [{ type: 'files', path: path.join(dir, 'lake'), format: 'parquet', layout: 'security-lake', ...sink }],
      runtime: { state: path.join(dir, 'state.db'), workers: 1, backoffMs: 5, maxAttempts: 2 },
    }),
  };
}

const hasZstd = typeof (zlib as unknown as { zstdCompressSync?: unknown }).zstdCompressSync === 'function';

describe('sink preflight: the run fails up front, nothing is planned', () => {
  it('zstd Parquet on a Node without zstd', { skip: hasZstd ? `Node ${process.versions.node} has zstd` : false }, async () => {
    // Prepare
    const { dir, config } = lakeConfig('zstd', { parquetCompression: 'zstd' });

    // Act
    const run = runPipeline(config);

    // Assess
    await assert.rejects(run, (err: unknown) => {
      assert.ok(err instanceof SluiceError, String(err));
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.match(err.message, /zstd needs Node 22\.15/);
      assert.match(err.message, new RegExp(`files sink ${path.join(dir, 'lake').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      return true;
    });
    // No ledger was opened, so no unit was planned, leased or retried.
    assert.equal(existsSync(path.join(dir, 'state.db')), false);
  });

  it('a sink folder under a regular file (ENOTDIR, unwritable even for root)', async () => {
    // Prepare
    const { dir, config } = lakeConfig('notdir', {});
    writeFileSync(path.join(dir, 'blocker'), 'a file where the lake folder would go\n');
    config.sinks[0] = { ...config.sinks[0]!, path: path.join(dir, 'blocker', 'lake') } as (typeof config.sinks)[number];

    // Act
    const run = runPipeline(config);

    // Assess
    await assert.rejects(run, (err: unknown) => {
      assert.ok(err instanceof SluiceError, String(err));
      assert.equal(err.code, 'SINK_PATH_UNWRITABLE');
      assert.equal(err.stage, 'sink');
      assert.equal(err.retryable, false);
      assert.ok(err.message.includes(path.join(dir, 'blocker', 'lake')), err.message);
      assert.match(err.hint ?? '', /path/);
      return true;
    });
    assert.equal(existsSync(path.join(dir, 'state.db')), false);
  });

  it('a read-only folder (mode 0500; as root, the immutable attribute, which binds root too)', async () => {
    // Prepare
    const { dir, config } = lakeConfig('readonly', {});
    const locked = path.join(dir, 'locked');
    mkdirSync(locked, { mode: 0o500 });
    const asRoot = process.getuid?.() === 0;
    if (asRoot) execFileSync('chattr', ['+i', locked]);
    config.sinks[0] = { ...config.sinks[0]!, path: path.join(locked, 'lake') } as (typeof config.sinks)[number];

    try {
      // Act + Assess
      await assert.rejects(runPipeline(config), (err: unknown) => err instanceof SluiceError && err.code === 'SINK_PATH_UNWRITABLE' && (asRoot ? /EPERM/ : /EACCES/).test(err.message));
    } finally {
      if (asRoot) execFileSync('chattr', ['-i', locked]);
    }
  });

  it('a writable folder passes and leaves no probe file behind', async () => {
    // Prepare
    const { dir, config } = lakeConfig('ok', {});

    // Act
    const report = await runPipeline(config);

    // Assess
    assert.equal(report.units.done, 2);
    assert.equal(report.units.dead, 0);
    const lake = path.join(dir, 'lake');
    const names = readdirSync(lake, { recursive: true }).map(String);
    assert.deepEqual(names.filter((n) => n.includes('.sluice-tmp')), []);
    assert.ok(names.some((n) => n.endsWith('-class4001-0000.parquet')), names.join('\n'));
  });

  it('sluice run says what is wrong and exits non-zero without a stack trace', () => {
    // Prepare
    const { dir } = lakeConfig('cli', {});
    writeFileSync(path.join(dir, 'blocker'), 'x\n');
    const pipeline = path.join(dir, 'pipeline.yaml');
    writeFileSync(
      pipeline,
      [
        'name: cli-preflight',
        `source: { uri: ${JSON.stringify(logs)} }`,
        'format: vpcflow',
        'transforms: [{ type: ocsf, mapping: "builtin:vpcflow" }]',
        'sinks: [{ type: files, path: ./blocker/lake, format: parquet, layout: security-lake }]',
        'runtime: { state: ./state.db, workers: 1 }',
        '',
      ].join('\n'),
    );

    // Act
    const r = spawnSync(process.execPath, [path.join(repoRoot(), 'bin', 'sluice.js'), 'run', '-c', pipeline], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' },
    });

    // Assess
    assert.notEqual(r.status, 0);
    assert.ok(r.stderr.includes(path.join(dir, 'blocker', 'lake')), r.stderr);
    assert.match(r.stderr, /ENOTDIR/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.equal(existsSync(path.join(dir, 'state.db')), false);
  });
});
