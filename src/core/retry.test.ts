import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SluiceError } from './errors.js';
import { backoffDelay, fullJitterDelay, nextRetryDelay, parseRetryAfter, retryWithBackoff, seededRandom, type BackoffPolicy } from './retry.js';

const policy: BackoffPolicy = { initialDelayMs: 100, maxDelayMs: 5_000, maxAttempts: 6, maxElapsedMs: 60_000 };

/** A clock that only moves when the code under test sleeps. */
function fakeTiming(seed = 7) {
  let now = 1_000_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    timing: {
      now: () => now,
      random: seededRandom(seed),
      sleep: async (ms: number, signal?: AbortSignal) => {
        signal?.throwIfAborted();
        sleeps.push(ms);
        now += ms;
      },
    },
  };
}

const transient = () => new SluiceError('busy', { code: 'BUSY', stage: 'sink', retryable: true });

describe('fullJitterDelay / backoffDelay', () => {
  it('stays within [0, min(cap, initial * 2^(n-1))] for every retry and random value', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 80 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (retry, r) => {
        const delay = fullJitterDelay(retry, policy, () => r);
        const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (retry - 1));
        return Number.isInteger(delay) && delay >= 0 && delay <= ceiling;
      }),
    );
  });

  it('never waits less than Retry-After (capped at maxRetryAfterMs)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 10_000_000 }), (retry, retryAfter) => {
        const delay = backoffDelay(retry, { ...policy, maxRetryAfterMs: 120_000 }, () => 0.5, retryAfter);
        return delay >= Math.min(retryAfter, 120_000) && delay <= Math.max(Math.min(retryAfter, 120_000), policy.maxDelayMs);
      }),
    );
  });

  it('is reproducible from a seed', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const first = Array.from({ length: 5 }, () => fullJitterDelay(3, policy, a));
    const second = Array.from({ length: 5 }, () => fullJitterDelay(3, policy, b));
    assert.deepEqual(first, second);
    assert.notDeepEqual(first, Array.from({ length: 5 }, () => fullJitterDelay(3, policy, seededRandom(43))));
  });
});

describe('parseRetryAfter', () => {
  it('reads delta seconds and HTTP dates', () => {
    const now = Date.parse('Wed, 21 Oct 2015 07:27:00 GMT');
    assert.equal(parseRetryAfter('3', now), 3000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter(['12', '4'], now), 12_000);
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', now), 60_000);
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:00:00 GMT', now), 0, 'a date in the past means now');
  });

  it('ignores absent and unreadable values', () => {
    for (const bad of [undefined, null, '', '1.5', '-3', 'soon', 'Thu, 99 Foo 2015 07:28:00 GMT']) assert.equal(parseRetryAfter(bad, 0), undefined, String(bad));
  });
});

describe('nextRetryDelay', () => {
  it('gives up after maxAttempts and when the wait would pass maxElapsedMs', () => {
    const timing = { now: () => 10_000, random: () => 0.5 };
    assert.equal(nextRetryDelay({ attempts: 6, firstAttemptAt: 10_000 }, policy, timing), undefined);
    assert.equal(typeof nextRetryDelay({ attempts: 5, firstAttemptAt: 10_000 }, policy, timing), 'number');
    assert.equal(nextRetryDelay({ attempts: 1, firstAttemptAt: 10_000 - 59_990 }, policy, timing), undefined);
    assert.equal(nextRetryDelay({ attempts: 1, firstAttemptAt: 10_000 }, policy, timing, 61_000), undefined, 'Retry-After beyond the budget');
  });
});

describe('retryWithBackoff', () => {
  it('retries retryable failures with growing jittered waits, then succeeds', async () => {
    // Prepare
    const { timing, sleeps } = fakeTiming();
    let calls = 0;
    // Act
    const result = await retryWithBackoff(
      async (attempt) => {
        calls += 1;
        assert.equal(attempt, calls);
        if (calls < 4) throw transient();
        return 'ok';
      },
      { policy, timing },
    );
    // Assess
    assert.equal(result, 'ok');
    assert.equal(sleeps.length, 3);
    sleeps.forEach((ms, i) => assert.ok(ms >= 0 && ms <= 100 * 2 ** i, `wait ${i + 1}: ${ms}`));
  });

  it('throws the last error, annotated, after maxAttempts; it stays retryable for the ledger', async () => {
    const { timing, sleeps } = fakeTiming();
    await assert.rejects(
      retryWithBackoff(async () => Promise.reject(transient()), { policy, timing }),
      (err: unknown) => {
        assert.ok(err instanceof SluiceError);
        assert.equal(err.code, 'BUSY');
        assert.equal(err.retryable, true);
        assert.match(err.message, /^busy \(gave up after 6 attempts over [\d.]+ s\)$/);
        return true;
      },
    );
    assert.equal(sleeps.length, 5);
  });

  it('does not retry what is not retryable', async () => {
    const { timing, sleeps } = fakeTiming();
    let calls = 0;
    const permanent = new SluiceError('bad request', { code: 'HTTP_400', stage: 'sink', retryable: false });
    await assert.rejects(
      retryWithBackoff(async () => {
        calls += 1;
        throw permanent;
      }, { policy, timing }),
      (err: unknown) => err === permanent,
    );
    assert.equal(calls, 1);
    assert.equal(sleeps.length, 0);
  });

  it('honours a Retry-After carried by the error, and a custom classification', async () => {
    const { timing, sleeps } = fakeTiming();
    let calls = 0;
    await retryWithBackoff(
      async () => {
        calls += 1;
        if (calls === 1) throw Object.assign(new Error('throttled'), { status: 429 });
        return undefined;
      },
      { policy, timing, classify: (err) => ((err as { status?: number }).status === 429 ? { retry: true, retryAfterMs: 4_000 } : { retry: false }) },
    );
    assert.deepEqual(sleeps.length, 1);
    assert.ok(sleeps[0]! >= 4_000);
    // The default classification reads `retryAfterMs` from the error.
    const second = fakeTiming();
    let n = 0;
    await retryWithBackoff(
      async () => {
        n += 1;
        if (n === 1) throw Object.assign(transient(), { retryAfterMs: 9_000 });
        return undefined;
      },
      { policy, timing: second.timing },
    );
    assert.ok(second.sleeps[0]! >= 9_000);
  });

  it('stops waiting when aborted', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const run = retryWithBackoff(async () => Promise.reject(transient()), {
      policy: { initialDelayMs: 60_000, maxDelayMs: 60_000, maxAttempts: 10, maxElapsedMs: 3_600_000 },
      timing: { random: () => 0.99 },
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(new Error('stop')), 20);
    await assert.rejects(run, /stop/);
    assert.ok(Date.now() - started < 5_000);
  });

  it('reports each retry', async () => {
    const { timing } = fakeTiming();
    const seen: number[] = [];
    let calls = 0;
    await retryWithBackoff(
      async () => {
        calls += 1;
        if (calls < 3) throw transient();
        return undefined;
      },
      { policy, timing, onRetry: ({ attempt }) => seen.push(attempt) },
    );
    assert.deepEqual(seen, [1, 2]);
  });
});
