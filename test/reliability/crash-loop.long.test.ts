/** Long tier of the crash loop to a local folder: 50 SIGKILLs at each point and 50 at random moments (npm run test:reliability). */
import { test } from 'node:test';
import { recordScenario } from '../../src/testing/reliability.js';
import { assertCrashLoopHeld, crashPointsFor, runCrashLoop } from './crash-loop.js';

const PER_POINT = 50;

test(`crash loop to a local folder, ${PER_POINT} SIGKILLs at every point and at random moments: nothing lost, nothing duplicated`, { timeout: 2_400_000 }, async () => {
  const kills = PER_POINT * (crashPointsFor('local').length + 1);
  const outcome = await runCrashLoop({ output: 'local', kills, seed: 7_300, objects: 60, lines: 4000, tier: 'long' });
  recordScenario(outcome.result);
  assertCrashLoopHeld(outcome, PER_POINT);
});
