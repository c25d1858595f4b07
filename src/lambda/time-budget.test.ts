import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ThroughputEstimate, TimeBudget } from './time-budget.js';

/** A Lambda context whose clock the test moves. */
function fakeContext(remainingMs: number) {
  const context = { remaining: remainingMs, getRemainingTimeInMillis: () => context.remaining };
  return context;
}

describe('TimeBudget', () => {
  it('allows work until the time left reaches the margin, then aborts its signal', () => {
    const context = fakeContext(60_000);
    const budget = new TimeBudget(context, { marginMs: 10_000, pollMs: 60_000 });
    try {
      assert.equal(budget.hasTimeFor(49_000), true);
      assert.equal(budget.hasTimeFor(50_000), false, 'needs more than the 50 s before the margin');
      context.remaining = 10_000;
      assert.equal(budget.hasTimeFor(0), false);
      assert.equal(budget.signal.aborted, true);
    } finally {
      budget.dispose();
    }
  });

  it('keeps a default margin to at most a quarter of a short invocation', () => {
    const budget = new TimeBudget(fakeContext(8_000), { pollMs: 60_000 });
    budget.dispose();
    assert.equal(budget.marginMs, 2_000);
  });

  it('is exhausted from the start when the context has less than the margin left', () => {
    const budget = new TimeBudget(fakeContext(3_000), { marginMs: 5_000, pollMs: 60_000 });
    budget.dispose();
    assert.equal(budget.signal.aborted, true);
  });
});

describe('ThroughputEstimate', () => {
  it('knows nothing until a big enough object was timed, then scales by size', () => {
    const estimate = new ThroughputEstimate();
    assert.equal(estimate.estimateMs(10_000_000), 0);
    estimate.observe(1_000, 5_000); // tiny: request latency, not throughput
    assert.equal(estimate.estimateMs(10_000_000), 0);
    estimate.observe(4_000_000, 1_000);
    assert.equal(estimate.estimateMs(8_000_000), 2_000);
    assert.equal(estimate.estimateMs(undefined), 0);
  });
});
