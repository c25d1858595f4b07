/**
 * The crash loop: `sluice run` over a multi-object input is SIGKILLed again and again, at each
 * named crash point in turn (src/core/crash-points.ts) and at seeded random moments from outside,
 * then run to completion. When a run gets to the end before its kill, the next one is a
 * `--full-load`, so every kill lands on work in progress. The oracle then checks every record is
 * in the outputs exactly once or in dead letters (only the planted garbage lines), that the bytes
 * add up, that no temp file is left, and that work really was redone (units with more than one
 * attempt).
 *
 * The outputs (parts and dead letters) go to a local folder or to an S3 prefix on the in-process
 * S3-protocol server (the source stays a local folder). For S3 the oracle downloads the prefixes
 * and counts the same way, and also finds no incomplete multipart upload and no `.sluice-` object
 * (spool, temp, preflight probe) left.
 *
 * Runs alternate between two sink configs with the same pipeline name and ledger: `fine` (gzip,
 * 0.75 MB parts) and `coarse` (plain NDJSON, 8.5 MB parts). A unit redone under the other config
 * than the one that published its parts writes other keys (another extension, fewer or more part
 * numbers), so its commit has stale parts to delete: that is what makes `before-stale-delete`
 * reachable. The S3 loop's input also has big objects (> 8.5 MB of NDJSON) whose coarse part
 * 0000 is a multipart upload (the place uploads files of 8 MiB and more that way), the only way
 * to reach `mid-multipart-upload`; a local folder never does (S3_ONLY_CRASH_POINTS).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { CRASH_POINTS, S3_ONLY_CRASH_POINTS, type CrashPoint } from '../../src/core/crash-points.js';
import { openSqliteLedger } from '../../src/runtime/ledger/sqlite.js';
import { listFiles } from '../../src/testing/output-oracle.js';
import {
  assertExactlyOnce,
  bytesSumInOutputs,
  deadLetterIds,
  idCountsInOutputs,
  reconcile,
  seededInts,
  startSluice,
  writeFlowLogInput,
  type Reconciliation,
  type ScenarioResult,
} from '../../src/testing/reliability.js';
import { startS3Server, type RunningS3Server, type S3Request } from '../../src/testing/s3-server.js';

export type CrashLoopOutput = 'local' | 's3';

export interface CrashLoopOptions {
  output: CrashLoopOutput;
  kills: number;
  seed: number;
  objects: number;
  lines: number;
  /** Objects with more lines than a coarse part holds (S3: its part 0000 is a multipart upload). */
  big?: { objects: number; lines: number };
  /**
   * A named kill comes at the n-th time a worker thread reaches its point, n drawn from
   * 1..maxHit (default 4). A point reached fewer times than that in a run lets the run finish
   * (then a full load follows), so a small input wants a small maxHit.
   */
  maxHit?: number;
  /** `runtime.workers` (default 2: units run in worker threads, and a kill comes from one of them). */
  workers?: number;
  tier: 'quick' | 'long';
}

export interface CrashLoopOutcome {
  output: CrashLoopOutput;
  result: ScenarioResult;
  reconciliation: Reconciliation;
  bytes: { in: number; out: number };
  /** Temp files (local) or objects (S3) with `.sluice-` in their name left in the outputs. */
  tempFilesLeft: number;
  /** Incomplete multipart uploads left in the bucket at the end (always 0 for a local folder). */
  incompleteUploads: number;
  /** Distinct incomplete multipart uploads found right after the kills: what the next attempts had to abort. */
  uploadsLeftByKills: number;
  /** Kills by where they landed: a named point, or `random` (from outside, while running). */
  killsByPoint: Record<string, number>;
  /** Runs that finished before their kill (the next one was a full load). */
  completedRuns: number;
  unitsRedone: number;
  finalExit: number | null;
  /** Garbage lines planted in the input (they must be exactly the dead letters). */
  planted: number;
}

const BUCKET = 'crash-loop';

/** The crash points a loop writing to `output` must land kills at. */
export function crashPointsFor(output: CrashLoopOutput): readonly CrashPoint[] {
  return output === 's3' ? CRASH_POINTS : CRASH_POINTS.filter((p) => !S3_ONLY_CRASH_POINTS.includes(p));
}

export async function runCrashLoop(options: CrashLoopOptions): Promise<CrashLoopOutcome> {
  const started = performance.now();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-crash-loop-'));
  const requests: Record<string, number> = {};
  let server: RunningS3Server | undefined;
  try {
    if (options.output === 's3') server = await startS3Server({ buckets: [BUCKET], faults: (r) => void countRequest(requests, r) });
    const input = await writeFlowLogInput({ dir: path.join(tmp, 'logs'), objects: options.objects, lines: options.lines, big: options.big, seed: options.seed, garbageEvery: 997 });
    const local = { out: path.join(tmp, 'out'), dead: path.join(tmp, 'dead') };
    const state = path.join(tmp, 'state.db');
    // The child's spool files (S3 parts being written) land here, not in the machine's temp folder.
    const childTmp = path.join(tmp, 'child-tmp');
    mkdirSync(childTmp);
    const s3Options = server && {
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      accessKeyId: 'env:SLUICE_CRASH_LOOP_S3_KEY',
      secretAccessKey: 'env:SLUICE_CRASH_LOOP_S3_SECRET',
    };
    const childEnv = {
      TMPDIR: childTmp,
      ...(server && { SLUICE_CRASH_LOOP_S3_KEY: server.credentials.accessKeyId, SLUICE_CRASH_LOOP_S3_SECRET: server.credentials.secretAccessKey }),
    };
    const configs = (['fine', 'coarse'] as const).map((kind) => {
      const file = path.join(tmp, `pipeline-${kind}.yaml`);
      const sink = {
        type: 'files',
        path: server ? `s3://${BUCKET}/out/` : local.out,
        format: 'ndjson',
        ...(kind === 'fine' ? { targetSizeMb: 0.75 } : { targetSizeMb: 8.5, compression: 'none' }),
        ...s3Options,
      };
      const runtime = { concurrency: 3, workers: options.workers ?? 2, state, deadLetters: server ? `s3://${BUCKET}/dead/` : local.dead, maxAttempts: 100, backoffMs: 10, maxBackoffMs: 50 };
      // JSON is YAML: no quoting of URLs and secret references to get wrong.
      writeFileSync(file, `${JSON.stringify({ name: 'crash-loop', source: { uri: input.dir }, format: 'vpcflow', sinks: [sink], runtime }, null, 2)}\n`);
      return file;
    });
    const points = crashPointsFor(options.output);
    const random = seededInts(options.seed);
    const killsByPoint: Record<string, number> = {};
    let completedRuns = 0;
    let fullLoadNext = false;
    let runs = 0;
    const uploadsLeftByKills = new Set<string>();
    for (let i = 0; i < options.kills; ) {
      const slot = i % (points.length + 1);
      const named = slot < points.length ? points[slot]! : undefined;
      // Only coarse parts of the big objects are multipart uploads.
      const config = configs[named === 'mid-multipart-upload' ? 1 : runs % 2]!;
      const args = ['run', '-c', config, '--json', '--no-progress', ...(fullLoadNext ? ['--full-load'] : [])];
      const run = startSluice(args, { ...childEnv, ...(named ? { SLUICE_CRASH_AT: `${named}@${1 + random(options.maxHit ?? 4)}` } : {}) });
      runs++;
      let killedFromOutside = false;
      if (!named) {
        const timer = setTimeout(() => {
          killedFromOutside = run.child.exitCode === null;
          run.child.kill('SIGKILL');
        }, 300 + random(1500));
        await run.exited;
        clearTimeout(timer);
      }
      const exit = await run.exited;
      if (exit.signal === 'SIGKILL' && (named || killedFromOutside)) {
        const where = named ?? 'random';
        killsByPoint[where] = (killsByPoint[where] ?? 0) + 1;
        if (server) for (const id of await incompleteUploadIds(server)) uploadsLeftByKills.add(id);
        fullLoadNext = false;
        i++;
      } else if (exit.code === 0) {
        // Everything was done before the kill came: start over so the next kill hits work.
        completedRuns++;
        fullLoadNext = true;
        if (completedRuns > options.kills) throw new Error('the crash loop never reaches its crash points');
      } else {
        throw new Error(`run ${runs} ended with code ${exit.code} signal ${exit.signal}: ${exit.stderr.slice(-2000)}`);
      }
    }
    const final = await startSluice(['run', '-c', configs[runs % 2]!, '--json', '--no-progress'], childEnv).exited;
    runs++;
    const report = final.code === 0 ? (JSON.parse(final.stdout) as { peakRssBytes: number }) : undefined;

    const ledger = openSqliteLedger(state);
    let unitsRedone = 0;
    try {
      for (const unit of await ledger.listUnits('crash-loop', { limit: 100_000 })) if (unit.attempts > 1) unitsRedone++;
    } finally {
      await ledger.close();
    }
    let outputs = local;
    let tempFilesLeft: number;
    let incompleteUploads = 0;
    if (server) {
      outputs = { out: path.join(tmp, 's3-copy', 'out'), dead: path.join(tmp, 's3-copy', 'dead') };
      const keys = await downloadBucket(server, path.join(tmp, 's3-copy'));
      tempFilesLeft = keys.filter((k) => k.includes('.sluice-')).length;
      incompleteUploads = (await incompleteUploadIds(server)).length;
    } else {
      tempFilesLeft = [local.out, local.dead].filter(existsSync).flatMap((d) => listFiles(d)).filter((f) => path.basename(f).includes('.sluice-')).length;
    }
    const reconciliation = reconcile(input, idCountsInOutputs(outputs.out), await deadLetterIds(outputs.dead, input.dir));
    // Spool files of killed processes: nothing removes them (see the report), so they are counted, not asserted.
    const spoolFilesLeft = listFiles(childTmp).length;
    const faults = Object.values(killsByPoint).reduce((a, b) => a + b, 0);
    return {
      output: options.output,
      result: {
        scenario: `crash-loop-${options.output === 's3' ? 's3-' : ''}${options.tier}`,
        tier: options.tier,
        runs,
        faultsInjected: faults,
        records: { in: reconciliation.in, out: reconciliation.out, dead: reconciliation.dead },
        lost: reconciliation.lost,
        duplicated: reconciliation.duplicated,
        peakRssBytes: report?.peakRssBytes,
        elapsedMs: Math.round(performance.now() - started),
        details: {
          output: options.output,
          workers: options.workers ?? 2,
          killsByPoint,
          completedRuns,
          unitsRedone,
          unexpected: reconciliation.unexpected,
          wrongDead: reconciliation.wrongDead,
          ...(server && { uploadsLeftByKills: uploadsLeftByKills.size, incompleteUploads, s3Requests: requests, spoolFilesLeft }),
        },
      },
      reconciliation,
      bytes: { in: input.bytesSum, out: bytesSumInOutputs(outputs.out) },
      tempFilesLeft,
      incompleteUploads,
      uploadsLeftByKills: uploadsLeftByKills.size,
      killsByPoint,
      completedRuns,
      unitsRedone,
      finalExit: final.code,
      planted: input.garbageIds.size,
    };
  } finally {
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Counts the child's S3 requests by operation, for the scenario's figures (injects no fault). */
function countRequest(counts: Record<string, number>, r: S3Request): void {
  if (r.key === '') return;
  const operation =
    r.method === 'POST' ? (r.query.has('uploads') ? 'createMultipartUpload' : 'completeMultipartUpload')
    : r.method === 'PUT' ? (r.query.has('partNumber') ? 'uploadPart' : 'putObject')
    : r.method === 'DELETE' ? (r.query.has('uploadId') ? 'abortMultipartUpload' : 'deleteObject')
    : r.method.toLowerCase();
  counts[operation] = (counts[operation] ?? 0) + 1;
}

async function incompleteUploadIds(server: RunningS3Server): Promise<string[]> {
  return ((await server.client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }))).Uploads ?? []).map((u) => u.UploadId!);
}

/** Copies every object of the bucket into `dir` (same relative names), as a reader would see them; returns the keys. */
async function downloadBucket(server: RunningS3Server, dir: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await server.client.send(new ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: token }));
    for (const object of page.Contents ?? []) keys.push(object.Key!);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  for (const key of keys) {
    const out = await server.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const file = path.join(dir, ...key.split('/'));
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, await out.Body!.transformToByteArray());
  }
  return keys;
}

/** What every crash loop must show, whatever its size: see the file's opening comment. */
export function assertCrashLoopHeld(outcome: CrashLoopOutcome, minKillsPerPoint: number): void {
  assert.equal(outcome.finalExit, 0, 'the final run must succeed');
  assertExactlyOnce(outcome.reconciliation);
  assert.ok(outcome.planted > 0);
  assert.equal(outcome.reconciliation.dead, outcome.planted, 'exactly the planted garbage lines are dead letters');
  assert.equal(outcome.bytes.out, outcome.bytes.in, 'the bytes of the outputs add up to the input');
  assert.equal(outcome.tempFilesLeft, 0, 'no temp, spool or probe file or object left in the outputs');
  assert.equal(outcome.incompleteUploads, 0, 'no multipart upload left incomplete');
  // The crashes landed where they matter, and work was redone because of them.
  for (const point of crashPointsFor(outcome.output)) {
    assert.ok((outcome.killsByPoint[point] ?? 0) >= minKillsPerPoint, `too few kills at ${point}: ${JSON.stringify(outcome.killsByPoint)}`);
  }
  assert.ok((outcome.killsByPoint.random ?? 0) >= minKillsPerPoint, `too few random kills: ${JSON.stringify(outcome.killsByPoint)}`);
  assert.ok(outcome.unitsRedone > 0, 'no unit was ever redone: the kills missed the work');
  if (outcome.output === 's3') assert.ok(outcome.uploadsLeftByKills > 0, 'no kill ever left an incomplete multipart upload for the next attempt to abort');
}
