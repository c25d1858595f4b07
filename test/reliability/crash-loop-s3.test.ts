/**
 * Quick tier of the crash loop to an S3 prefix (parts and dead letters on the in-process S3
 * server): 2 SIGKILLs at every point, the S3-only mid-multipart-upload included, and 2 at random
 * moments. Units run on the main thread (workers: 0), which halves each run's start-up; kills
 * from worker threads are the local loop's and the S3 long tier's. The input is small (4 units
 * with dead letters, 2 whose coarse part is a multipart upload), so a named kill comes at the
 * 1st or 2nd time its point is reached: later ones would often not come before the run ends.
 */
import { test } from 'node:test';
import { recordScenario } from '../../src/testing/reliability.js';
import { assertCrashLoopHeld, crashPointsFor, runCrashLoop } from './crash-loop.js';

const PER_POINT = 2;

test(`crash loop to S3, ${PER_POINT} SIGKILLs at every named point and at random moments: nothing lost, nothing duplicated, no upload left incomplete`, { timeout: 300_000 }, async () => {
  const kills = PER_POINT * (crashPointsFor('s3').length + 1);
  const outcome = await runCrashLoop({ output: 's3', kills, seed: 20250107, objects: 10, lines: 4000, big: { objects: 2, lines: 30_000 }, maxHit: 2, workers: 0, tier: 'quick' });
  recordScenario(outcome.result);
  assertCrashLoopHeld(outcome, PER_POINT);
});
