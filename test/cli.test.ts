/** The `sluice` command line as a user runs it: messages, exit codes and the JSON report. */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fixturePath, repoRoot } from '../src/testing/repo-root.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function sluice(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(repoRoot(), 'bin', 'sluice.js'), ...args], {
    cwd: tmp,
    encoding: 'utf8',
    env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function writePipeline(name: string, body: string): string {
  const file = path.join(tmp, name);
  writeFileSync(file, body);
  return file;
}

const logs = path.join(tmp, 'logs', 'AWSLogs', '123456789010', 'vpcflowlogs', 'us-east-1', '2014', '12', '14');
mkdirSync(logs, { recursive: true });
copyFileSync(fixturePath('aws-docs/vpcflow/v2-default-examples.with-header.log'), path.join(logs, 'doc-examples.log'));
copyFileSync(fixturePath('elastic-beats/vpcflow/bad.log'), path.join(logs, 'bad.log'));

const good = writePipeline(
  'good.yaml',
  ['name: cli-test', 'source: { uri: ./logs }', 'format: vpcflow', 'sinks:', '  - type: files', '    path: ./out', '    format: ndjson', 'runtime: { state: ./state.db }', ''].join('\n'),
);

describe('sluice validate', () => {
  it('accepts a good pipeline and says what it will do', () => {
    const r = sluice('validate', '-c', good);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ok: pipeline cli-test/);
    assert.match(r.stdout, /format\s+vpcflow/);
  });

  it('names an unknown key with its path and a suggestion, without a stack trace', () => {
    const bad = writePipeline('typo.yaml', 'name: t\nsource: { uri: ./logs }\nformat: vpcflow\nsinks:\n  - { type: files, pathh: ./out }\n');
    const r = sluice('validate', '-c', bad);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /sinks\.0\.pathh: unknown key \(did you mean "path"\?\)/);
    assert.match(r.stderr, /typo\.yaml/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  it('points at the line and column of a YAML syntax error', () => {
    const bad = writePipeline('syntax.yaml', 'name: t\nsource: { uri: ./logs\nformat: vpcflow\n');
    const r = sluice('validate', '-c', bad);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /syntax\.yaml:\d+:\d+: YAML syntax error/);
  });

  it('reports a source folder that does not exist', () => {
    const bad = writePipeline('nosrc.yaml', 'name: t\nsource: { uri: ./nowhere }\nformat: vpcflow\nsinks: [{ type: files, path: ./out }]\n');
    const r = sluice('validate', '-c', bad);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /source\.uri: folder .*nowhere does not exist/);
  });
});

describe('sluice run and status', () => {
  it('prints the JSON report with the documented keys, and counts reconcile', () => {
    const r = sluice('run', '-c', good, '--json');
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as {
      units: Record<string, number>;
      records: Record<string, number>;
      outputs: string[];
      elapsedMs: number;
    };
    assert.deepEqual(
      { total: report.units.total, done: report.units.done, failed: report.units.failed, dead: report.units.dead, skipped: report.units.skipped },
      { total: 2, done: 2, failed: 0, dead: 0, skipped: 0 },
    );
    assert.deepEqual({ in: report.records.in, out: report.records.out, rejected: report.records.rejected }, { in: 8, out: 7, rejected: 1 });
    assert.ok(report.outputs.some((o) => o.endsWith('.ndjson.gz')));
    assert.ok(report.outputs.some((o) => o.endsWith('.rejected.ndjson')));
    assert.equal(typeof report.elapsedMs, 'number');
  });

  it('status shows units by state and the run', () => {
    const r = sluice('status', '-c', good);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /pipeline cli-test/);
    assert.match(r.stdout, /done 2/);
    assert.match(r.stdout, /run .* finished · records in 8 out 7 rejected 1/);
  });

  it('rejects a bad --from with the accepted forms', () => {
    const r = sluice('run', '-c', good, '--from', '2024-13-45');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--from/);
  });

  it('status without a ledger says how to get one', () => {
    const r = sluice('status', '--state', path.join(tmp, 'missing.db'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no ledger at .*missing\.db/);
    assert.match(r.stderr, /hint:/);
  });
});
