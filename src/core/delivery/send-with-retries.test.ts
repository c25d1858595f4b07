import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SluiceError } from '../errors.js';
import { DEFAULT_BACKOFF, seededRandom, type BackoffPolicy, type RetryTiming } from '../retry.js';
import { sendWithRetries, type Attempt, type Verdict } from './send-with-retries.js';
import type { HttpResponse } from './transport.js';

/** A clock that only moves when the loop sleeps; the waits asked for are kept. */
function fakeTiming(random = seededRandom(5)): RetryTiming & { sleeps: number[]; clock: () => number } {
  let now = 1_000_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    clock: () => now,
    now: () => now,
    random,
    sleep: async (ms: number, signal?: AbortSignal) => {
      signal?.throwIfAborted();
      sleeps.push(ms);
      now += ms;
    },
  };
}

const ok: HttpResponse = { status: 200, headers: {}, body: Buffer.alloc(0) };
const policy = (overrides: Partial<BackoffPolicy> = {}): BackoffPolicy => ({ initialDelayMs: 100, maxDelayMs: 5_000, maxAttempts: 5, maxElapsedMs: 1e9, ...overrides });
const busy = (attempt: number) => new SluiceError(`busy #${attempt}`, { code: 'BUSY', stage: 'sink', retryable: true });

type Step = { kind: 'retry'; retryAfterMs?: number; whenExhausted: 'reject' | 'fail' } | { kind: 'delivered' | 'split' } | { kind: 'rejected'; reason: string; code: string };

const retryStep = fc.record(
  {
    kind: fc.constant('retry' as const),
    retryAfterMs: fc.integer({ min: 0, max: 400_000 }),
    whenExhausted: fc.constantFrom('reject' as const, 'fail' as const),
  },
  { requiredKeys: ['kind', 'whenExhausted'] },
);
const finalStep = fc.oneof(
  fc.constant({ kind: 'delivered' as const }),
  fc.constant({ kind: 'split' as const }),
  fc.constant({ kind: 'rejected' as const, reason: 'HTTP 400: refused', code: 'HTTP_400' }),
);

describe('sendWithRetries', () => {
  it('follows the verdicts: retries with full-jitter waits never under Retry-After, until a final one or maxAttempts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(retryStep, { maxLength: 10 }), finalStep, fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 1000 }), async (retries, last, maxAttempts, seed) => {
        // Prepare: even attempts fail to send, odd ones get an answer; the script says what each means.
        const script: Step[] = [...retries, last];
        const timing = fakeTiming(seededRandom(seed));
        const seen: Attempt[] = [];
        let sends = 0;
        const send = async (attempt: number) => {
          sends += 1;
          assert.equal(attempt, sends, 'attempts are numbered from 1');
          if (attempt % 2 === 0) throw busy(attempt);
          return ok;
        };
        const classify = (attempt: Attempt): Verdict => {
          seen.push(attempt);
          const step = script[seen.length - 1]!;
          return step.kind === 'retry' ? { ...step, error: attempt.error ?? busy(seen.length) } : step;
        };
        // Act
        const outcome = await sendWithRetries(send, classify, { policy: policy({ maxAttempts }), timing, signal: new AbortController().signal }).then(
          (settled) => ({ settled }),
          (thrown: unknown) => ({ thrown }),
        );
        // Assess
        const expectedAttempts = Math.min(retries.length + 1, maxAttempts);
        assert.equal(sends, expectedAttempts);
        assert.deepEqual(seen.map((a) => (a.response === undefined ? 'error' : 'response')), seen.map((_, i) => ((i + 1) % 2 === 0 ? 'error' : 'response')));
        assert.equal(timing.sleeps.length, expectedAttempts - 1);
        timing.sleeps.forEach((wait, i) => {
          const floor = Math.min((retries[i] as { retryAfterMs?: number }).retryAfterMs ?? 0, DEFAULT_BACKOFF.maxRetryAfterMs!);
          const ceiling = Math.min(100 * 2 ** i, 5_000);
          assert.ok(wait >= floor && wait <= Math.max(floor, ceiling), `wait ${i + 1}: ${wait} ms outside [${floor}, ${Math.max(floor, ceiling)}]`);
        });
        if (retries.length < maxAttempts) {
          assert.deepEqual(outcome, { settled: last });
          return;
        }
        const giveUp = retries[maxAttempts - 1]!;
        const gaveUp = new RegExp(`^busy #${maxAttempts} \\(gave up after ${maxAttempts} attempts? over [\\d.]+ s\\)$`);
        if (giveUp.whenExhausted === 'reject') {
          assert.ok('settled' in outcome && outcome.settled.kind === 'rejected', JSON.stringify(outcome));
          assert.equal(outcome.settled.code, 'SINK_RETRIES_EXHAUSTED');
          assert.match(outcome.settled.reason, gaveUp);
        } else {
          assert.ok('thrown' in outcome && outcome.thrown instanceof SluiceError, String(outcome));
          assert.equal(outcome.thrown.code, 'BUSY');
          assert.equal(outcome.thrown.retryable, true, 'running out of retries leaves the error retryable for a later run');
          assert.match(outcome.thrown.message, gaveUp);
        }
      }),
    );
  });

  it('gives up when the next wait would end past maxElapsedMs after the first attempt', async () => {
    const timing = fakeTiming(() => 0.9999);
    let sends = 0;
    const settled = sendWithRetries(
      async () => {
        sends += 1;
        throw busy(sends);
      },
      ({ error }) => ({ kind: 'retry', error, whenExhausted: 'fail' }),
      { policy: policy({ initialDelayMs: 1_000, maxDelayMs: 1_000, maxAttempts: 1_000, maxElapsedMs: 5_000 }), timing, signal: new AbortController().signal },
    );
    await assert.rejects(settled, /^SluiceError: busy #6 \(gave up after 6 attempts over 5 s\)$/);
    assert.deepEqual(timing.sleeps, [999, 999, 999, 999, 999], 'a sixth wait would have ended 5.994 s after the first attempt');
  });

  it('a fail verdict throws its error as it is, and an answer the classifier cannot read is not retried', async () => {
    const refused = new SluiceError('HTTP 401', { code: 'HTTP_401', stage: 'sink', retryable: false });
    const malformed = new SluiceError('not a bulk answer', { code: 'SINK_PROTOCOL_ERROR', stage: 'sink', retryable: true });
    let sends = 0;
    const options = { policy: policy(), timing: fakeTiming(), signal: new AbortController().signal };
    const failing = async () => {
      sends += 1;
      throw refused;
    };
    const answering = async () => {
      sends += 1;
      return ok;
    };
    const unreadable = () => {
      throw malformed;
    };
    await assert.rejects(sendWithRetries(failing, ({ error }) => ({ kind: 'fail', error }), options), (err: unknown) => err === refused);
    await assert.rejects(sendWithRetries(answering, unreadable, options), (err: unknown) => err === malformed);
    assert.equal(sends, 2, 'one attempt each');
  });

  it('an abort ends a wait or a request at once with its reason, and nothing is sent after it', async () => {
    // Prepare: backoffs and requests that last until aborted
    const reason = new SluiceError('unit aborted', { code: 'ABORTED', stage: 'sink', retryable: true });
    const untilAborted = (signal: AbortSignal | undefined, error = () => signal?.reason as unknown) =>
      new Promise<never>((_resolve, reject) => {
        if (signal?.aborted) reject(error());
        signal?.addEventListener('abort', () => reject(error()), { once: true });
      });
    const timing = { ...fakeTiming(), sleep: (_ms: number, signal?: AbortSignal) => untilAborted(signal) };
    // Act + Assess: in a backoff
    const inWait = new AbortController();
    let sends = 0;
    const waiting = sendWithRetries(
      async () => {
        sends += 1;
        setImmediate(() => inWait.abort(reason));
        throw busy(sends);
      },
      ({ error }) => ({ kind: 'retry', error, whenExhausted: 'fail' }),
      { policy: policy(), timing, signal: inWait.signal },
    );
    await assert.rejects(waiting, (err: unknown) => err === reason);
    assert.equal(sends, 1);
    // Act + Assess: in a request; the failure it causes is not classified
    const inRequest = new AbortController();
    const classified: Attempt[] = [];
    const sending = sendWithRetries(
      () => {
        setImmediate(() => inRequest.abort(reason));
        // As undici does: the request fails with an error of its own, not the signal's reason.
        return untilAborted(inRequest.signal, () => new Error('This operation was aborted'));
      },
      (attempt) => (classified.push(attempt), { kind: 'retry', error: attempt.error, whenExhausted: 'fail' }),
      { policy: policy(), timing, signal: inRequest.signal },
    );
    await assert.rejects(sending, (err: unknown) => err === reason);
    assert.deepEqual(classified, []);
    // Act + Assess: already aborted
    await assert.rejects(
      sendWithRetries(async () => assert.fail('sent after the abort'), () => ({ kind: 'delivered' }), { policy: policy(), timing, signal: inRequest.signal }),
      (err: unknown) => err === reason,
    );
  });
});
