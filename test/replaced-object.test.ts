/**
 * A dead object fixed by replacing it, as a user does it with the `sluice` command: the unit of
 * the broken version is superseded by the unit of the good one, so runs end with exit 0, `status`
 * shows no dead unit but the history, and `retry` says which version it redrives or why not.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { repoRoot } from '../src/testing/repo-root.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-replaced-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const FOLDER = path.join('AWSLogs', '123456789010', 'vpcflowlogs', 'us-east-1', '2014', '12', '14');
const KEY = `${FOLDER.split(path.sep).join('/')}/flows.log.gz`;
const HEADER = 'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status';

/** A gzip'd flow log of `lines` records; the same text each time, so only the gzip differs. */
function flowLog(lines: number): Buffer {
  const body = Array.from({ length: lines }, (_, i) => `2 123456789010 eni-1235b8ca123456789 172.31.16.${i % 250} 172.31.16.21 ${20_000 + i} 22 6 20 4249 1418530010 1418530070 ACCEPT OK`);
  return gzipSync(`${HEADER}\n${body.join('\n')}\n`);
}

interface Case {
  dir: string;
  config: string;
  object: string;
  sluice(...args: string[]): { code: number | null; stdout: string; stderr: string };
}

/** A folder source holding one object cut off halfway (a corrupt gzip), and a pipeline that gives up after one attempt. */
function brokenObjectCase(name: string): Case {
  const dir = path.join(tmp, name);
  mkdirSync(path.join(dir, 'logs', FOLDER), { recursive: true });
  const object = path.join(dir, 'logs', FOLDER, 'flows.log.gz');
  const good = flowLog(2_000);
  writeFileSync(object, good.subarray(0, Math.floor(good.length / 2)));
  const config = path.join(dir, 'p.yaml');
  writeFileSync(
    config,
    [`name: ${name}`, 'source: { uri: ./logs }', 'format: vpcflow', 'sinks:', '  - { type: files, path: ./out, format: ndjson }', 'runtime: { state: ./state.db, maxAttempts: 1 }', ''].join('\n'),
  );
  return {
    dir,
    config,
    object,
    sluice: (...args) => {
      const r = spawnSync(process.execPath, [path.join(repoRoot(), 'bin', 'sluice.js'), ...args], {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' },
      });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    },
  };
}

interface StatusJson {
  pipelines: Array<{
    units: Record<string, number>;
    dead: Array<{ key: string }>;
    superseded: Array<{ key: string; unit: string; version: string; supersededBy: string; newVersion: string | null; newState: string | null; code: string }>;
  }>;
}

/** Every NDJSON record under `out`, by its `_id`. */
function outputIds(out: string): string[] {
  const ids: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ndjson.gz')) {
        for (const line of gunzipSync(readFileSync(full)).toString('utf8').split('\n')) if (line) ids.push((JSON.parse(line) as { _id: string })._id);
      }
    }
  };
  walk(out);
  return ids;
}

describe('an object fixed by replacing it', () => {
  it('is superseded: retry --run and every later run exit 0, status shows no dead unit but the superseded history', () => {
    // Prepare: the broken version dies.
    const c = brokenObjectCase('replaced');
    const broken = c.sluice('run', '-c', c.config);
    assert.equal(broken.code, 2, `a dead unit makes run exit 2\n${broken.stdout}${broken.stderr}`);
    assert.match(broken.stdout, new RegExp(`dead: ${KEY.replace(/[.*]/g, '\\$&')} after 1 attempts`));

    // Act: the user replaces the object with a good file, then redrives and runs.
    writeFileSync(c.object, flowLog(2_000));
    const retried = c.sluice('retry', '-c', c.config, '--run');
    const later = c.sluice('run', '-c', c.config);
    const status = c.sluice('status', '-c', c.config);
    const statusJson = c.sluice('status', '-c', c.config, '--json');

    // Assess
    assert.equal(retried.code, 0, `${retried.stdout}${retried.stderr}`);
    assert.match(retried.stderr, /not redriving .*flows\.log\.gz: unit [0-9a-f]{12} \(etag \d+-[\d.]+ · \d+ bytes · modified [^)]+\) is gone from the source, superseded by unit [0-9a-f]{12} \(etag \d+-[\d.]+ · \d+ bytes/);
    assert.match(retried.stderr, /redriven 0 dead unit\(s\) of replaced; 1 dead unit\(s\) superseded by a newer version of their object, planned instead/);
    assert.match(retried.stdout, /pipeline replaced — done/);
    assert.match(retried.stdout, /0 already done · 1 done now · 0 dead/);
    assert.doesNotMatch(retried.stdout, /changed after it was listed/);
    assert.equal(later.code, 0, `${later.stdout}${later.stderr}`);
    assert.match(later.stdout, /1 already done · 0 done now · 0 dead/);

    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /units {3}pending 0 · leased 0 · done 1 · failed 0 · dead 0 · superseded 1/);
    assert.doesNotMatch(status.stdout, /^ {2}dead {4}/m);
    assert.match(status.stdout, /superseded .*flows\.log\.gz: unit [0-9a-f]{12} \(etag [^)]+\) replaced by unit [0-9a-f]{12} \(etag [^)]+\), done · it had failed 1× with CORRUPT_GZIP/);
    const pipeline = (JSON.parse(statusJson.stdout) as StatusJson).pipelines[0]!;
    assert.equal(pipeline.units.dead, 0);
    assert.deepEqual(pipeline.dead, []);
    assert.equal(pipeline.superseded.length, 1);
    const history = pipeline.superseded[0]!;
    assert.deepEqual([history.key, history.newState, history.code], [KEY, 'done', 'CORRUPT_GZIP']);
    assert.notEqual(history.unit, history.supersededBy);

    // Every record of the good version once, under the object's one output name.
    const ids = outputIds(path.join(c.dir, 'out'));
    assert.equal(ids.length, 2_000);
    assert.equal(new Set(ids).size, 2_000);
  });

  it('retry names the version it redrives when the object did not change, and the unit dies again', () => {
    // Prepare
    const c = brokenObjectCase('unchanged');
    assert.equal(c.sluice('run', '-c', c.config).code, 2);

    // Act
    const retried = c.sluice('retry', '-c', c.config);
    const missingKey = c.sluice('retry', '-c', c.config, '--key', 'no/such/key.log.gz');
    const run = c.sluice('run', '-c', c.config);

    // Assess
    assert.equal(retried.code, 0, retried.stderr);
    assert.match(retried.stderr, /redriving .*flows\.log\.gz: unit [0-9a-f]{12} \(etag \d+-[\d.]+ · \d+ bytes · modified [^)]+\), dead after 1 attempts/);
    assert.match(retried.stderr, /redriven 1 dead unit\(s\) of unchanged\n/);
    assert.match(retried.stderr, /run `sluice run -c .*p\.yaml` to process them/);
    assert.equal(missingKey.code, 0, missingKey.stderr);
    assert.match(missingKey.stderr, /no dead unit of unchanged has key no\/such\/key\.log\.gz \(`sluice status -c .*p\.yaml` lists the dead units and their keys\)/);
    assert.equal(run.code, 2, 'the same broken bytes die again');
    assert.match(run.stdout, /1 dead/);
  });
});
