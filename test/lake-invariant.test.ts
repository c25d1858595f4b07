/**
 * The lake invariant (docs/lake.md), as a model-based test: random sequences of `sluice run`,
 * `--full-load`, `sluice compact`, a source object replaced by a new version, and runs or
 * compactions SIGKILLed at their crash points (SLUICE_CRASH_AT, core/crash-points.ts), over a
 * small generated flow-log source written to an OCSF Parquet lake in the Security Lake layout,
 * on a local folder and on an S3 prefix (the in-process S3 server).
 *
 * The oracle reads the lake as its users do, every Parquet file under the prefix with DuckDB
 * (testing/lake-oracle.ts): after every step no record id is there twice; and once nothing is
 * left unfinished (no crashed run or compaction since the last run or compaction that finishes
 * it, no replaced object not yet run), every expected id is there exactly once and nothing else.
 * The model tracks only those three "unfinished" flags: what a step leaves unfinished, and which
 * later step finishes it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { compactLake } from '../src/lake/compact.js';
import { loadPipelineFile } from '../src/pipeline/config.js';
import { runPipeline } from '../src/runtime/run-pipeline.js';
import type { S3PlaceOptions } from '../src/core/place/index.js';
import { compareLakeIds, lakeIdCounts } from '../src/testing/lake-oracle.js';
import { expectedFlowLogIds } from '../src/testing/output-oracle.js';
import { startSluice } from '../src/testing/reliability.js';
import { startS3Server, type RunningS3Server } from '../src/testing/s3-server.js';

const SEED = Number(process.env.SLUICE_LAKE_MODEL_SEED ?? 20240326);
const RUNS_PER_LAKE = Number(process.env.SLUICE_LAKE_MODEL_RUNS ?? 4);
const ACCOUNTS = ['111122223333', '444455556666'];
const OBJECTS = 4;
const HEADER = 'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status';
const DAY_START = Date.UTC(2024, 2, 26, 3) / 1000;

/** Object `i` (version `version`): `lines` flows of one account, all on 2024-03-26. */
function flowLogObject(i: number, version: number, lines: number): { key: string; body: Buffer } {
  const account = ACCOUNTS[i % ACCOUNTS.length]!;
  const body = Array.from({ length: lines }, (_, n) => {
    const start = DAY_START + i * 600 + n * 7;
    return `2 ${account} eni-0${i}a1b2c3d4e5f607 10.0.${i}.${n % 200} 10.1.${n % 13}.${n % 7} ${30_000 + n} 443 6 ${1 + (n % 9)} ${100 * version + n} ${start} ${start + 30} ${n % 5 ? 'ACCEPT' : 'REJECT'} OK`;
  });
  return {
    key: `AWSLogs/${account}/vpcflowlogs/eu-west-1/2024/03/26/${account}_vpcflowlogs_eu-west-1_fl-0${i}_20240326T0300Z_obj${i}.log.gz`,
    body: gzipSync(`${HEADER}\n${body.join('\n')}\n`),
  };
}

interface World {
  dir: string;
  input: string;
  config: string;
  lake: string;
  s3?: Omit<S3PlaceOptions, 'uri'>;
  /** Source object versions, for new mtimes that always differ. */
  versions: number[];
  mtime: number;
}

function writeObject(world: World, i: number, lines: number): void {
  world.versions[i] = (world.versions[i] ?? 0) + 1;
  const { key, body } = flowLogObject(i, world.versions[i]!, lines);
  const file = path.join(world.input, ...key.split('/'));
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, body);
  // The folder source's version is size and mtime: a replaced object must get a new one.
  world.mtime += 10;
  utimesSync(file, world.mtime, world.mtime);
}

function makeWorld(root: string, n: number, s3: RunningS3Server | undefined): World {
  const dir = path.join(root, `world-${n}`);
  const input = path.join(dir, 'logs');
  const lake = s3 ? `s3://lake-model/world-${n}/lake/` : path.join(dir, 'lake');
  const sinkS3 = s3 ? `, endpoint: ${s3.endpoint}, forcePathStyle: true, region: us-east-1, accessKeyId: env:LAKE_MODEL_KEY, secretAccessKey: env:LAKE_MODEL_SECRET` : '';
  const config = path.join(dir, 'pipeline.yaml');
  mkdirSync(input, { recursive: true });
  writeFileSync(
    config,
    [
      'name: lake-model',
      `source: { uri: ${input} }`,
      'format: vpcflow',
      'transforms:',
      '  - { type: ocsf, mapping: builtin:vpcflow }',
      'sinks:',
      `  - { type: files, path: ${JSON.stringify(lake)}, format: parquet, layout: security-lake${sinkS3} }`,
      `runtime: { state: ${path.join(dir, 'state.db')}, deadLetters: ${path.join(dir, 'dead')}, workers: 0, concurrency: 4, maxAttempts: 50, backoffMs: 5, maxBackoffMs: 20 }`,
      '',
    ].join('\n'),
  );
  const world: World = { dir, input, config, lake, versions: [], mtime: Math.floor(Date.UTC(2024, 2, 27) / 1000) };
  if (s3) world.s3 = { endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: s3.credentials };
  for (let i = 0; i < OBJECTS; i++) writeObject(world, i, 40 + i * 5);
  return world;
}

/** What is left unfinished (see the file comment). */
interface Model {
  runUnfinished: boolean;
  compactionUnfinished: boolean;
  sourceChanged: boolean;
  steps: string[];
}

async function checkLake(model: Model, world: World): Promise<void> {
  const seen = await lakeIdCounts(world.lake, world.s3);
  const verdict = compareLakeIds(await expectedFlowLogIds(world.input), seen);
  const where = `after ${model.steps.join(' → ')}`;
  assert.equal(verdict.doubled.length, 0, `${where}: ${verdict.doubled.length} record(s) seen twice, e.g. ${verdict.doubled[0]}`);
  if (!model.runUnfinished && !model.compactionUnfinished && !model.sourceChanged) {
    assert.deepEqual({ missing: verdict.missing.length, unexpected: verdict.unexpected.length }, { missing: 0, unexpected: 0 }, `${where}: each record exactly once`);
  }
}

async function runInProcess(world: World, fullLoad: boolean): Promise<void> {
  const report = await runPipeline(loadPipelineFile(world.config), { fullLoad });
  assert.equal(report.units.dead, 0, `no dead unit: ${JSON.stringify(report.deadUnits)}`);
}

class RunCommand implements fc.AsyncCommand<Model, World> {
  constructor(readonly fullLoad: boolean) {}
  check = () => true;
  async run(model: Model, world: World): Promise<void> {
    model.steps.push(this.toString());
    await runInProcess(world, this.fullLoad);
    model.runUnfinished = false;
    model.sourceChanged = false;
    // A full load commits into every folder, which finishes any interrupted compaction there.
    if (this.fullLoad) model.compactionUnfinished = false;
    await checkLake(model, world);
  }
  toString = () => (this.fullLoad ? 'run --full-load' : 'run');
}

class CompactCommand implements fc.AsyncCommand<Model, World> {
  check = () => true;
  async run(model: Model, world: World): Promise<void> {
    model.steps.push(this.toString());
    await compactLake(world.lake, { s3: world.s3, threads: 1 });
    model.compactionUnfinished = false;
    await checkLake(model, world);
  }
  toString = () => 'compact';
}

class ReplaceObjectCommand implements fc.AsyncCommand<Model, World> {
  constructor(readonly index: number, readonly lines: number) {}
  check = () => true;
  async run(model: Model, world: World): Promise<void> {
    model.steps.push(this.toString());
    writeObject(world, this.index, this.lines);
    model.sourceChanged = true;
    await checkLake(model, world);
  }
  toString = () => `replace object ${this.index} (${this.lines} lines)`;
}

class CrashCommand implements fc.AsyncCommand<Model, World> {
  constructor(readonly what: 'run' | 'run --full-load' | 'compact', readonly point: string, readonly at: number) {}
  check = () => true;
  async run(model: Model, world: World): Promise<void> {
    model.steps.push(this.toString());
    const args =
      this.what === 'compact'
        ? ['compact', '--lake', world.lake, '--json', ...(world.s3 ? ['--endpoint', world.s3.endpoint!, '--region', 'us-east-1', '--force-path-style'] : [])]
        : ['run', '-c', world.config, '--json', '--no-progress', ...(this.what === 'run --full-load' ? ['--full-load'] : [])];
    const exit = await startSluice(args, { SLUICE_CRASH_AT: `${this.point}@${this.at}`, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' }).exited;
    model.steps[model.steps.length - 1] += exit.signal === 'SIGKILL' ? ' (killed)' : ' (not reached)';
    if (exit.signal === 'SIGKILL') {
      if (this.what === 'compact') model.compactionUnfinished = true;
      else model.runUnfinished = true;
    } else {
      assert.equal(exit.code, 0, `${this}: ${exit.stderr.slice(-2000)}`);
      // The crash point was never reached: the step completed.
      if (this.what === 'compact') model.compactionUnfinished = false;
      else {
        model.runUnfinished = false;
        model.sourceChanged = false;
        if (this.what === 'run --full-load') model.compactionUnfinished = false;
      }
    }
    await checkLake(model, world);
  }
  toString = () => `${this.what} killed at ${this.point}@${this.at}`;
}

const RUN_POINTS = ['mid-part-write', 'mid-sink-commit', 'mid-lake-rewrite', 'before-ledger-commit', 'mid-ledger-commit'] as const;

const commands = [
  fc.boolean().map((fullLoad) => new RunCommand(fullLoad)),
  fc.constant(new CompactCommand()),
  fc.tuple(fc.integer({ min: 0, max: OBJECTS - 1 }), fc.integer({ min: 20, max: 60 })).map(([i, lines]) => new ReplaceObjectCommand(i, lines)),
  fc.tuple(fc.constantFrom('run', 'run --full-load') , fc.constantFrom(...RUN_POINTS), fc.integer({ min: 1, max: 3 })).map(([what, point, at]) => new CrashCommand(what, point, at)),
  fc.integer({ min: 1, max: 6 }).map((at) => new CrashCommand('compact', 'mid-compaction', at)),
  fc.integer({ min: 1, max: 6 }).map((at) => new CrashCommand('compact', 'mid-compaction', at)),
];

describe('the lake never doubles a row (model-based)', () => {
  let s3: RunningS3Server;
  let root: string;
  let worlds = 0;
  before(async () => {
    s3 = await startS3Server({ buckets: ['lake-model'] });
    process.env.LAKE_MODEL_KEY = s3.credentials.accessKeyId;
    process.env.LAKE_MODEL_SECRET = s3.credentials.secretAccessKey;
    root = mkdtempSync(path.join(os.tmpdir(), 'sluice-lake-model-'));
  });
  after(async () => {
    await s3.stop();
    rmSync(root, { recursive: true, force: true });
  });

  for (const kind of ['local folder', 'S3 prefix'] as const) {
    it(`${kind}: run, --full-load, compact, replaced objects and crashes in any order`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.boolean(), fc.commands(commands, { maxCommands: 7, size: 'max' }), async (startCompacted, cmds) => {
          const world = makeWorld(root, ++worlds, kind === 'S3 prefix' ? s3 : undefined);
          const model: Model = { runUnfinished: false, compactionUnfinished: false, sourceChanged: false, steps: ['run'] };
          try {
            await runInProcess(world, false);
            if (startCompacted) {
              // The state the reported bug began in.
              model.steps.push('compact');
              await compactLake(world.lake, { s3: world.s3, threads: 1 });
            }
            await checkLake(model, world);
            await fc.asyncModelRun(() => ({ model, real: world }), cmds);
            if (process.env.SLUICE_LAKE_MODEL_LOG) console.log(kind, model.steps.join(" → "));
            // Whatever the sequence left unfinished, a full load puts every record back exactly once.
            model.steps.push('run --full-load');
            await runInProcess(world, true);
            model.runUnfinished = model.compactionUnfinished = model.sourceChanged = false;
            await checkLake(model, world);
          } finally {
            rmSync(world.dir, { recursive: true, force: true });
          }
        }),
        { numRuns: RUNS_PER_LAKE, seed: SEED + (kind === 'S3 prefix' ? 1 : 0), endOnFailure: true },
      );
    });
  }
});
