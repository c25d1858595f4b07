/** Quick tier of the crash loop (25 kills); the long tier (300) is crash-loop.long.test.ts. */
import { test } from 'node:test';
import { recordScenario } from '../../src/testing/reliability.js';
import { assertCrashLoopHeld, runCrashLoop } from './crash-loop.js';

test('crash loop, 25 SIGKILLs at every named point and at random moments: nothing lost, nothing duplicated', { timeout: 300_000 }, async () => {
  const outcome = await runCrashLoop({ kills: 25, seed: 20241125, objects: 24, lines: 4000, tier: 'quick' });
  recordScenario(outcome.result);
  assertCrashLoopHeld(outcome, 4);
});
