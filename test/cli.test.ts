/** The `sluice` command line as a user runs it: messages, exit codes and the JSON report. */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fixturePath, repoRoot } from '../src/testing/repo-root.js';
import { buildDemoInventory } from '../src/demo/inventory.js';
import { writeFlowLogObjects } from '../src/demo/flow-log-generator.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** The reading commands' defaults come from these: a test sets them only when it means to. */
const { SLUICE_STATE: _state, SLUICE_LAKE: _lake, ...cleanEnv } = process.env;

function sluiceIn(cwd: string, env: Record<string, string>, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(repoRoot(), 'bin', 'sluice.js'), ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...cleanEnv, SLUICE_LOG_LEVEL: 'warn', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function sluice(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  return sluiceIn(tmp, {}, ...args);
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

  it('a run that finds every unit done says so, instead of "0 done"', () => {
    const r = sluice('run', '-c', good);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /pipeline cli-test — done: all 2 units already done/);
    assert.match(r.stdout, /units {4}2 total · 2 already done · 0 done now · 0 dead/);
  });

  it('status exits 2 when a unit is dead, with and without --json; 0 when none is', () => {
    const corrupt = path.join(tmp, 'corrupt-logs');
    mkdirSync(corrupt, { recursive: true });
    // A gzip stream cut short: the object cannot be read, and with one attempt its unit is dead.
    writeFileSync(path.join(corrupt, 'broken.log.gz'), gzipSync(Buffer.from('2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK\n'.repeat(2000))).subarray(0, 40));
    const config = writePipeline(
      'dead.yaml',
      ['name: dead-test', 'source: { uri: ./corrupt-logs }', 'format: vpcflow', 'sinks: [{ type: files, path: ./dead-out }]', 'runtime: { state: ./dead.db, maxAttempts: 1, backoffMs: 0 }', ''].join('\n'),
    );
    assert.equal(sluice('run', '-c', config).code, 2);
    const text = sluice('status', '-c', config);
    assert.equal(text.code, 2, text.stderr);
    assert.match(text.stdout, /dead {4}broken\.log\.gz/);
    const json = sluice('status', '-c', config, '--json');
    assert.equal(json.code, 2, json.stderr);
    assert.equal((JSON.parse(json.stdout) as { pipelines: Array<{ dead: unknown[] }> }).pipelines[0]!.dead.length, 1);
    assert.equal(sluice('status', '-c', good).code, 0);
    assert.match(sluice('status', '--help').stdout, /Exit status: 0 no unit is dead, 2 some units are dead/);
  });
});

describe('sluice --version', () => {
  it('prints the version of package.json', () => {
    const { version } = JSON.parse(readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as { version: string };
    const r = sluice('--version');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${version}\n`);
  });
});

describe('a run that plans no units says why', () => {
  it('a date window that excludes every object: the window and the dates of the keys', () => {
    const r = sluice('run', '-c', good, '--from', '2023-05-01', '--to', '2023-07-31', '--state', path.join(tmp, 'window.db'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /nothing to do: 0 units planned/);
    assert.match(r.stdout, /why {6}0 of the 2 objects under .*logs matched: the window 2023-05-01\.\.2023-07-31 excludes them all; their keys are dated 2014-12-14\.\.2014-12-14/);
    const json = sluice('run', '-c', good, '--days', '3', '--state', path.join(tmp, 'window.db'), '--json');
    assert.match((JSON.parse(json.stdout) as { emptyPlan: string }).emptyPlan, /excludes them all; their keys are dated 2014-12-14/);
  });

  it('include/exclude patterns that leave nothing, and an empty folder', () => {
    const filtered = writePipeline(
      'filtered.yaml',
      ['name: filtered', 'source: { uri: ./logs, include: "\\\\.json$", exclude: "bad" }', 'format: vpcflow', 'sinks: [{ type: files, path: ./filtered-out }]', 'runtime: { state: ./filtered.db }', ''].join('\n'),
    );
    const r = sluice('run', '-c', filtered);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /why {6}include \/\\\.json\$\/ and exclude \/bad\/ leave none of the 2 objects under .*logs/);
    mkdirSync(path.join(tmp, 'empty-logs'), { recursive: true });
    const empty = writePipeline('empty.yaml', ['name: empty', 'source: { uri: ./empty-logs }', 'format: vpcflow', 'sinks: [{ type: files, path: ./empty-out }]', 'runtime: { state: ./empty.db }', ''].join('\n'));
    const plan = sluice('plan', '-c', empty);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /nothing planned: the folder .*empty-logs holds no files/);
  });
});

describe('reading commands never make a ledger or a lake up', () => {
  const elsewhere = mkdtempSync(path.join(tmp, 'elsewhere-'));

  it('serve, status, query and compact from a folder without the demo: an error naming where they looked, nothing created', () => {
    for (const command of [['serve', '--port', '0'], ['status']]) {
      const r = sluiceIn(elsewhere, {}, ...command);
      assert.equal(r.code, 1, `${command}: ${r.stderr}`);
      assert.match(r.stderr, /no ledger given, and none at sluice-demo\/state\.db \(looked at --state, -c, \$SLUICE_STATE, then the demo folder in /);
      assert.match(r.stderr, /hint: pass --state <ledger file or postgres:\/\/ URL>, or -c <pipeline\.yaml>, or set SLUICE_STATE/);
    }
    for (const command of ['query', 'compact']) {
      const r = sluiceIn(elsewhere, {}, command);
      assert.equal(r.code, 1, `${command}: ${r.stderr}`);
      assert.match(r.stderr, /no lake given, and none at sluice-demo\/out \(looked at --lake, -c, \$SLUICE_LAKE, then the demo folder/);
    }
    const missing = sluiceIn(elsewhere, {}, 'serve', '--port', '0', '--state', 'state.db');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no ledger at .*state\.db \(from --state\)/);
    assert.deepEqual(readdirSync(elsewhere), []);
  });

  it('status finds the ledger from $SLUICE_STATE, and from -c before it', () => {
    const r = sluiceIn(elsewhere, { SLUICE_STATE: path.join(tmp, 'state.db') }, 'status');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /pipeline cli-test/);
    const fromConfig = sluiceIn(elsewhere, { SLUICE_STATE: path.join(tmp, 'missing.db') }, 'status', '-c', good);
    assert.equal(fromConfig.code, 0, fromConfig.stderr);
    assert.match(fromConfig.stdout, /pipeline cli-test/);
    assert.match(sluice('status', '--help').stdout, /--state <ledger> +a ledger file, a postgres:\/\/ URL/);
  });
});

describe('sluice query: finding the views', () => {
  // The fixture flow logs through the OCSF transform into a Security Lake layout Parquet lake.
  const lakePipeline = writePipeline(
    'lake.yaml',
    [
      'name: lake-test',
      'source: { uri: ./logs, include: "doc-examples" }',
      'format: vpcflow',
      'transforms: [{ type: ocsf, mapping: "builtin:vpcflow" }]',
      'sinks: [{ type: files, path: ./lake, format: parquet, layout: security-lake }]',
      'runtime: { state: ./lake.db }',
      '',
    ].join('\n'),
  );

  it('without SQL lists each view with its row count and top-level columns; -c finds the lake', () => {
    const run = sluice('run', '-c', lakePipeline);
    assert.equal(run.code, 0, run.stderr);
    const r = sluice('query', '-c', lakePipeline);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\nnetwork_activity +4001 +7 +\d+ +\d+ +region, accountId, eventDay\n/, 'view, class, 7 rows, files, bytes, partitions');
    assert.match(r.stdout, /network_activity columns:\n {2}_id VARCHAR, class_uid BIGINT,/);
    assert.match(r.stdout, /src_endpoint STRUCT, /);
    assert.doesNotMatch(r.stdout, /src_endpoint\.ip/, 'nested fields are for --describe');
    assert.match(sluiceIn(tmp, { SLUICE_LAKE: path.join(tmp, 'lake') }, 'query').stdout, /network_activity\s+4001\s+7/);
  });

  it('--describe prints nested fields whole, with their types', () => {
    const r = sluice('query', '--lake', path.join(tmp, 'lake'), '--describe', 'network_activity');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^network_activity: 7 rows in /);
    assert.match(r.stdout, /\n {2}src_endpoint +STRUCT\n/);
    assert.match(r.stdout, /\n {4}src_endpoint\.ip +VARCHAR\n/);
    assert.match(r.stdout, /\n {4}src_endpoint\.port +BIGINT\n/);
    assert.match(r.stdout, /\n {4}metadata\.product +STRUCT\n {6}metadata\.product\.name +VARCHAR\n/);
    assert.doesNotMatch(r.stdout, /…/);
    const bad = sluice('query', '--lake', path.join(tmp, 'lake'), '--describe', 'flows');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /no view "flows" in the lake .*\n {2}hint: the lake's views: network_activity/);
  });

  it('--help names only views a lake can have, and says how to list the real ones', () => {
    const help = sluice('query', '--help').stdout.replace(/\s+/g, ' ');
    assert.match(help, /network_activity \(OCSF class 4001\)/);
    assert.match(help, /run `sluice query` without SQL to list this lake's views with their row counts and columns/);
    assert.doesNotMatch(help, /views: network_activity, api_activity, flows/);
    assert.match(help, /json: BIGINTs within ±2\^53 as numbers, larger ones as strings/);
  });

  it('--format json keeps BIGINTs as numbers, nested ones too, and only huge ones as strings', () => {
    const r = sluice('query', '--lake', path.join(tmp, 'lake'), '--format', 'json', 'SELECT dst_endpoint.port AS port, count(*) AS n, traffic, 9007199254740993::BIGINT AS huge FROM network_activity WHERE dst_endpoint.port = 22 GROUP BY ALL');
    assert.equal(r.code, 0, r.stderr);
    const [row] = JSON.parse(r.stdout) as Array<{ port: unknown; n: unknown; traffic: { bytes: unknown }; huge: unknown }>;
    assert.equal(row!.port, 22);
    assert.equal(typeof row!.n, 'number');
    assert.equal(typeof row!.traffic.bytes, 'number');
    assert.equal(row!.huge, '9007199254740993');
  });
});

describe('Ctrl-C during a run on a terminal', () => {
  it('prints the stopping warning on a line of its own, not after the progress bar', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(path.join(tmp, 'ctrl-c-'));
    await writeFlowLogObjects({ dir: path.join(dir, 'logs'), inventory: buildDemoInventory(1), seed: 3, objects: 6, linesPerObject: 60_000, start: new Date(Date.UTC(2024, 2, 26, 3)), format: 'v2' });
    const config = path.join(dir, 'pipeline.yaml');
    writeFileSync(config, ['name: ctrl-c', 'source: { uri: ./logs }', 'format: vpcflow', 'sinks: [{ type: files, path: ./out }]', 'runtime: { state: ./state.db, concurrency: 2, workers: 1 }', ''].join('\n'));
    // The progress bar is drawn only on a terminal: this makes stderr one, as far as sluice can tell.
    const terminal = path.join(dir, 'terminal.mjs');
    writeFileSync(terminal, "Object.defineProperty(process.stderr, 'isTTY', { value: true });\nObject.defineProperty(process.stderr, 'columns', { value: 200 });\n");
    const child = spawn(process.execPath, ['--import', pathToFileURL(terminal).href, path.join(repoRoot(), 'bin', 'sluice.js'), 'run', '-c', config], {
      cwd: dir,
      env: { ...cleanEnv, SLUICE_LOG_LEVEL: 'info' },
    });
    let stderr = '';
    let signalled = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
      if (!signalled && / units · /.test(stderr)) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.ok(signalled, `the bar was never drawn:\n${stderr}`);
    assert.equal(code, 130, stderr);
    const at = stderr.search(/\d\d:\d\d:\d\d warn  stopping: /);
    assert.ok(at > 0, stderr);
    assert.ok(stderr.slice(0, at).endsWith('\r\x1b[2K'), `the warning follows ${JSON.stringify(stderr.slice(Math.max(0, at - 40), at))}, not a cleared line`);
  });
});
