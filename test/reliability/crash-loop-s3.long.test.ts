/**
 * Long tier of the crash loop to an S3 prefix: 25 SIGKILLs at every point and 25 at random
 * moments (npm run test:reliability), units in 2 worker threads. 28 objects, 10 with dead letters
 * and 4 whose coarse part is a multipart upload of 2 parts: in a full load, one of the threads
 * reaches every point at least 4 times, the latest a named kill waits for.
 */
import { test } from 'node:test';
import { recordScenario } from '../../src/testing/reliability.js';
import { assertCrashLoopHeld, crashPointsFor, runCrashLoop } from './crash-loop.js';

const PER_POINT = 25;

test(`crash loop to S3, ${PER_POINT} SIGKILLs at every point and at random moments: nothing lost, nothing duplicated, no upload left incomplete`, { timeout: 2_400_000 }, async () => {
  const kills = PER_POINT * (crashPointsFor('s3').length + 1);
  const outcome = await runCrashLoop({ output: 's3', kills, seed: 7_301, objects: 24, lines: 4000, big: { objects: 4, lines: 30_000 }, tier: 'long' });
  recordScenario(outcome.result);
  assertCrashLoopHeld(outcome, PER_POINT);
});
