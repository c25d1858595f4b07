/**
 * The retry loop of the sinks that send requests, with what is worth retrying kept out of it: a
 * sink's classifier says what one answer (or failure to get one) means, the loop only acts on
 * that verdict (Vector keeps `retry.rs` apart from its service the same way). So the two sinks'
 * rules differ in a dozen lines of classification, not in two copies of a loop.
 *
 * Invariants:
 * - Every attempt ends in exactly one verdict: delivered (the answer is final; it may carry
 *   per-record results), retry, rejected for good, split (the request is too large), or fail.
 * - Waits are full jitter (core/retry.ts), never shorter than the server's Retry-After; retrying
 *   stops after `maxAttempts` attempts or when the next wait would end past `maxElapsedMs` after
 *   the first attempt. Then the verdict's `whenExhausted` decides: the batch is rejected (the
 *   server answered and keeps refusing it) or the last error is thrown, saying how many attempts
 *   were made (nobody answered: the unit fails and is retried later, nothing is dead-lettered).
 * - An abort ends the loop at once, also in the middle of a request or a wait, with the signal's
 *   reason; nothing is sent after it.
 * - A classifier that throws while reading an answer (a malformed response) fails the request as
 *   it is: such an answer is not retried here.
 */
import { exhausted, nextRetryDelay, type BackoffPolicy, type RetryTiming } from '../retry.js';
import type { HttpResponse } from './transport.js';

/** One attempt's result as the classifier sees it: the 2xx answer, or why there is none. */
export type Attempt = { response: HttpResponse; error?: undefined } | { error: unknown; response?: undefined };

/** A record of the batch refused for good, by position. */
export interface RecordRejection {
  at: number;
  reason: string;
  code: string;
}

/** Per-record results of an answer that reports on each record (a bulk response). */
export interface RecordResults {
  /** Positions delivered. */
  delivered: readonly number[];
  rejected: readonly RecordRejection[];
  /** Positions to send again, with the transient error each came back with. */
  retry: ReadonlyArray<{ at: number; reason: string }>;
  /** What the server asked to wait before the retry, in ms. */
  retryAfterMs?: number;
}

/** What a classifier makes of one attempt. */
export type Verdict =
  /** Final answer: every record delivered, or as `records` says. */
  | { kind: 'delivered'; records?: RecordResults }
  /** Worth another attempt; when attempts run out, reject the batch or fail with `error`. */
  | { kind: 'retry'; error: unknown; retryAfterMs?: number; whenExhausted: 'reject' | 'fail' }
  /** The server refuses these records for good. */
  | { kind: 'rejected'; reason: string; code: string }
  /** The request is too large (HTTP 413): send the batch in smaller parts. */
  | { kind: 'split' }
  /** The unit cannot go on (wrong URL or credentials, a bug): throw `error`. */
  | { kind: 'fail'; error: unknown };

export type Classifier = (attempt: Attempt) => Verdict;

/** How a request ended, when it did not throw. */
export type Settled = Extract<Verdict, { kind: 'delivered' | 'rejected' | 'split' }>;

export interface RetryLoopOptions {
  policy: BackoffPolicy;
  timing: RetryTiming;
  signal: AbortSignal;
}

/**
 * Sends a request until its classifier calls an answer final, retrying as the verdicts and the
 * policy allow. `send` makes one attempt (`attempt` counts from 1); it may rebuild what must be
 * fresh each time (a signature, a token), the body is the caller's to build once.
 *
 * @example
 * const settled = await sendWithRetries(
 *   () => transport.send({ url, method: 'POST', headers, body, signal }),
 *   ({ error }) => (error === undefined ? { kind: 'delivered' } : { kind: 'retry', error, whenExhausted: 'fail' }),
 *   { policy: DEFAULT_BACKOFF, timing: systemTiming, signal },
 * );
 */
export async function sendWithRetries(send: (attempt: number) => Promise<HttpResponse>, classify: Classifier, options: RetryLoopOptions): Promise<Settled> {
  const { policy, timing, signal } = options;
  const state = { attempts: 0, firstAttemptAt: timing.now() };
  for (;;) {
    signal.throwIfAborted();
    state.attempts += 1;
    let attempt: Attempt;
    try {
      attempt = { response: await send(state.attempts) };
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      attempt = { error: err };
    }
    // Outside the try: an answer the classifier cannot read must not be taken for a failed send.
    const verdict = classify(attempt);
    if (verdict.kind === 'fail') throw verdict.error;
    if (verdict.kind !== 'retry') return verdict;
    const delay = nextRetryDelay(state, policy, timing, verdict.retryAfterMs);
    if (delay === undefined) {
      const last = exhausted(verdict.error, state, timing.now(), 'sink');
      if (verdict.whenExhausted === 'fail') throw last;
      return { kind: 'rejected', reason: last.message, code: 'SINK_RETRIES_EXHAUSTED' };
    }
    await timing.sleep(delay, signal);
  }
}
