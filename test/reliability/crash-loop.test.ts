/** Quick tier of the crash loop to a local folder (28 kills: 4 at each point and 4 at random moments); the long tier is crash-loop.long.test.ts. */
import { test } from 'node:test';
import { recordScenario } from '../../src/testing/reliability.js';
import { assertCrashLoopHeld, crashPointsFor, runCrashLoop } from './crash-loop.js';

const PER_POINT = 4;

test(`crash loop to a local folder, ${PER_POINT} SIGKILLs at every named point and at random moments: nothing lost, nothing duplicated`, { timeout: 300_000 }, async () => {
  const kills = PER_POINT * (crashPointsFor('local').length + 1);
  const outcome = await runCrashLoop({ output: 'local', kills, seed: 20241125, objects: 24, lines: 4000, tier: 'quick' });
  recordScenario(outcome.result);
  assertCrashLoopHeld(outcome, PER_POINT);
});
