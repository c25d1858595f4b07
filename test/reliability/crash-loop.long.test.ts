/** Long tier of the crash loop: 300 SIGKILLs (npm run test:reliability). */
import { test } from 'node:test';
import { recordScenario } from '../../src/testing/reliability.js';
import { assertCrashLoopHeld, runCrashLoop } from './crash-loop.js';

test('crash loop, 300 SIGKILLs: nothing lost, nothing duplicated', { timeout: 1_500_000 }, async () => {
  const outcome = await runCrashLoop({ kills: 300, seed: 7_300, objects: 60, lines: 4000, tier: 'long' });
  recordScenario(outcome.result);
  assertCrashLoopHeld(outcome, 50);
});
