/**
 * Retry with exponential backoff and full jitter, for anything that talks to a remote service.
 *
 * Invariants:
 * - The n-th retry waits a uniformly random time in [0, min(maxDelayMs, initialDelayMs * 2^(n-1))]
 *   ("full jitter"): clients that failed together do not come back together. The random source is
 *   injectable and seedable, so a test replays the same delays.
 * - A server's `Retry-After` (delta seconds or an HTTP date) is a floor: the wait is never shorter
 *   than what the server asked for (capped at `maxRetryAfterMs`, so a hostile or broken header
 *   cannot park a worker for a day).
 * - Retrying stops after `maxAttempts` attempts in all, or when the next wait would end more than
 *   `maxElapsedMs` after the first attempt started; the last error is then thrown, annotated with
 *   how many attempts were made. Only failures the caller classifies as retryable are retried.
 * - Time comes from an injectable clock and sleeps go through an injectable `sleep`, so tests run
 *   instantly with a fake clock; a sleep ends early (rejecting) when the abort signal fires.
 */
import { SluiceError, toSluiceError, type Stage } from './errors.js';

export interface BackoffPolicy {
  /** Upper bound of the first retry's wait, in ms; doubles with each retry. */
  initialDelayMs: number;
  /** Cap on any single wait computed from the backoff, in ms. */
  maxDelayMs: number;
  /** Attempts in all, the first one included (1 = never retry). */
  maxAttempts: number;
  /** Give up once retrying would end later than this many ms after the first attempt started. */
  maxElapsedMs: number;
  /** Cap on a server's Retry-After, in ms (default 5 minutes). */
  maxRetryAfterMs?: number;
}

/** Defaults used by the network sinks: up to 10 attempts within 5 minutes, waits up to 30 s. */
export const DEFAULT_BACKOFF: Readonly<BackoffPolicy> = Object.freeze({
  initialDelayMs: 200,
  maxDelayMs: 30_000,
  maxAttempts: 10,
  maxElapsedMs: 300_000,
  maxRetryAfterMs: 300_000,
});

/** A source of uniform numbers in [0, 1), like Math.random. */
export type RandomSource = () => number;

/** What retrying needs from the outside world; every part can be replaced in tests. */
export interface RetryTiming {
  now: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  random: RandomSource;
}

export const systemTiming: RetryTiming = {
  now: () => Date.now(),
  sleep: sleepUnlessAborted,
  random: Math.random,
};

/** Waits `ms`; an abort ends the wait at once, rejecting with the signal's reason. */
function sleepUnlessAborted(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A seedable random source (mulberry32): the same seed gives the same sequence.
 *
 * @example
 * const random = seededRandom(42);
 * random(); // always the same first number for seed 42
 */
export function seededRandom(seed: number): RandomSource {
  let state = seed | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The full-jitter wait before retry number `retry` (1 = the first retry), in whole ms.
 *
 * @example
 * fullJitterDelay(3, { initialDelayMs: 100, maxDelayMs: 10_000 }, () => 0.5); // 200 (half of 400)
 */
export function fullJitterDelay(retry: number, policy: Pick<BackoffPolicy, 'initialDelayMs' | 'maxDelayMs'>, random: RandomSource): number {
  // 2^(retry-1) overflows to Infinity long after the cap applies; Math.min keeps it finite.
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/**
 * Reads an HTTP `Retry-After` header: delta seconds ("120") or an HTTP date. Returns the wait in
 * ms (0 for a date in the past), or undefined when the header is absent or unreadable.
 *
 * @example
 * parseRetryAfter('2', Date.now()); // 2000
 * parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:27:00 GMT')); // 60000
 */
export function parseRetryAfter(value: string | readonly string[] | null | undefined, nowMs: number): number | undefined {
  const raw = Array.isArray(value) ? value[0] : (value as string | null | undefined);
  if (raw === undefined || raw === null) return undefined;
  const text = raw.trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Only dates that look like an HTTP date: Date.parse accepts far too much (e.g. "1.5").
  if (!/^[A-Za-z]{3},? /.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/** Where a run of attempts stands: the attempt that just failed and when the first began. */
export interface AttemptState {
  /** Attempts made so far (1 after the first failure). */
  attempts: number;
  /** Clock time when the first attempt started. */
  firstAttemptAt: number;
}

/**
 * The wait before the next attempt, or undefined when the policy says to give up. `retryAfterMs`
 * (from the server) is a floor on the wait.
 */
export function nextRetryDelay(state: AttemptState, policy: BackoffPolicy, timing: Pick<RetryTiming, 'now' | 'random'>, retryAfterMs?: number): number | undefined {
  if (state.attempts >= policy.maxAttempts) return undefined;
  const delay = backoffDelay(state.attempts, policy, timing.random, retryAfterMs);
  if (timing.now() + delay - state.firstAttemptAt > policy.maxElapsedMs) return undefined;
  return delay;
}

/**
 * The wait before retry number `retry`: full jitter, but never shorter than the server's
 * Retry-After (itself capped at `maxRetryAfterMs`).
 */
export function backoffDelay(retry: number, policy: Pick<BackoffPolicy, 'initialDelayMs' | 'maxDelayMs' | 'maxRetryAfterMs'>, random: RandomSource, retryAfterMs?: number): number {
  const jitter = fullJitterDelay(retry, policy, random);
  if (retryAfterMs === undefined) return jitter;
  return Math.max(jitter, Math.min(retryAfterMs, policy.maxRetryAfterMs ?? DEFAULT_BACKOFF.maxRetryAfterMs!));
}

/** What the caller says about a failure: give up at once, or retry (not sooner than retryAfterMs). */
export type RetryVerdict = { retry: false } | { retry: true; retryAfterMs?: number };

export interface RetryOptions {
  policy: BackoffPolicy;
  /** Decides whether a failure is worth another attempt (default: SluiceError.retryable). */
  classify?: (err: unknown) => RetryVerdict;
  timing?: Partial<RetryTiming>;
  signal?: AbortSignal;
  /** Stage for errors that are not SluiceErrors yet (default 'sink'). */
  stage?: Stage;
  /** Called before each wait, e.g. to log or count retries. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

/** Reads a `retryAfterMs` a thrower may attach to its error (see RetryAfterCarrier). */
export interface RetryAfterCarrier {
  retryAfterMs?: number;
}

function defaultClassify(err: unknown, stage: Stage): RetryVerdict {
  if (!toSluiceError(err, stage).retryable) return { retry: false };
  const retryAfterMs = (err as RetryAfterCarrier | undefined)?.retryAfterMs;
  return typeof retryAfterMs === 'number' ? { retry: true, retryAfterMs } : { retry: true };
}

/**
 * Runs `operation` until it succeeds, a failure is not retryable, or the policy gives up; then
 * throws the last error as a SluiceError whose message tells how many attempts were made.
 *
 * @example
 * const body = await retryWithBackoff((attempt) => fetchPage(url), {
 *   policy: { initialDelayMs: 100, maxDelayMs: 5_000, maxAttempts: 5, maxElapsedMs: 60_000 },
 * });
 */
export async function retryWithBackoff<T>(operation: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const timing: RetryTiming = { ...systemTiming, ...options.timing };
  const stage = options.stage ?? 'sink';
  const classify = options.classify ?? ((err: unknown) => defaultClassify(err, stage));
  const state: AttemptState = { attempts: 0, firstAttemptAt: timing.now() };
  for (;;) {
    options.signal?.throwIfAborted();
    state.attempts += 1;
    try {
      return await operation(state.attempts);
    } catch (err) {
      if (options.signal?.aborted) throw err;
      const verdict = classify(err);
      if (!verdict.retry) throw err;
      const delay = nextRetryDelay(state, options.policy, timing, verdict.retryAfterMs);
      if (delay === undefined) throw exhausted(err, state, timing.now(), stage);
      options.onRetry?.({ attempt: state.attempts, delayMs: delay, error: err });
      await timing.sleep(delay, options.signal);
    }
  }
}

/** The last error, saying that retries ran out; stays retryable so a later run may try again. */
export function exhausted(err: unknown, state: AttemptState, now: number, stage: Stage): SluiceError {
  const last = toSluiceError(err, stage);
  const seconds = Math.round((now - state.firstAttemptAt) / 100) / 10;
  return new SluiceError(`${last.message} (gave up after ${state.attempts} attempt${state.attempts === 1 ? '' : 's'} over ${seconds} s)`, {
    code: last.code,
    stage: last.stage,
    retryable: last.retryable,
    hint: last.hint,
    cause: err,
  });
}
