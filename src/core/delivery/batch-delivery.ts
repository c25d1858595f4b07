/**
 * Delivering one batch of records with requests: the request's retry loop (send-with-retries.ts),
 * then what the kit does with the batch itself. A 413 halves it, each half sent on its own,
 * recursively, down to a single record, which is rejected. An answer with per-record results
 * (a bulk response) settles the records it delivered or refused, and sends the ones it answered
 * with a transient error again, in a batch of their own, until each is delivered or has used up
 * its own attempts and time.
 *
 * Invariants:
 * - Every record of the batch ends exactly once in `delivered` or `reject`, or the returned promise
 *   rejects (the unit fails; what was already reported stays reported, a re-run redoes the rest).
 * - A record's retries are counted from the batch's first send, across 413 halves and partial
 *   re-sends: at most `maxAttempts` sends that came back with a transient error, and no retry that
 *   would start more than `maxElapsedMs` after the first send. Then it is rejected with its last error.
 * - Each round of re-sends waits a full-jitter backoff, never shorter than the answer's Retry-After.
 * - The halves of a batch go out one after the other: a server answering 413 is not sent more at once.
 */
import type { SluiceRecord } from '../record.js';
import { backoffDelay, type BackoffPolicy, type RetryTiming } from '../retry.js';
import { sendWithRetries, type Attempt, type Verdict } from './send-with-retries.js';
import type { HttpResponse } from './transport.js';

/** A batch of records the kit can halve (413) and re-send in part (per-record retries). */
export interface DeliveryBatch<Self> {
  readonly records: readonly SluiceRecord[];
  /** Records [from, to) as a batch of their own. */
  slice(from: number, to: number): Self;
  /** The chosen records, in that order, as a batch of their own. */
  pick(which: readonly number[]): Self;
}

/** What a sink does for the kit: build a batch's request and read the answers. */
export interface BatchRequests<B> {
  /** Builds the request of a batch once (its body); the function returned makes one attempt. */
  prepare(batch: B): Promise<(attempt: number) => Promise<HttpResponse>>;
  /** What one attempt to send `batch` came to. */
  classify(attempt: Attempt, batch: B): Verdict;
  /** Why a single record refused with 413 is rejected (SINK_RECORD_TOO_LARGE). */
  tooLarge(batch: B): string;
}

/** Where the kit reports each record's outcome. */
export interface DeliveryAccount<B> {
  /** `positions` of `batch` delivered (undefined: all of them). */
  delivered(batch: B, positions: readonly number[] | undefined): void;
  reject(record: SluiceRecord, reason: string, code: string): void;
}

export interface BatchDeliveryOptions {
  policy: BackoffPolicy;
  timing: RetryTiming;
  signal: AbortSignal;
}

/** A batch with the retry history of its records. */
interface Pending<B> {
  batch: B;
  /** Sends of each record that came back with a transient error, once one did. */
  attempts: number[] | undefined;
}

/**
 * Sends `batch` until each of its records is delivered or rejected.
 *
 * @example
 * await deliverBatch(batch, { prepare, classify, tooLarge }, { delivered, reject }, { policy, timing, signal });
 */
export async function deliverBatch<B extends DeliveryBatch<B>>(batch: B, requests: BatchRequests<B>, account: DeliveryAccount<B>, options: BatchDeliveryOptions): Promise<void> {
  await deliver({ batch, attempts: undefined }, options.timing.now(), requests, account, options);
}

async function deliver<B extends DeliveryBatch<B>>(
  start: Pending<B>,
  firstSentAt: number,
  requests: BatchRequests<B>,
  account: DeliveryAccount<B>,
  options: BatchDeliveryOptions,
): Promise<void> {
  const { policy, timing, signal } = options;
  let pending = start;
  let round = 0;
  for (;;) {
    const { batch } = pending;
    const send = await requests.prepare(batch);
    const settled = await sendWithRetries(send, (attempt) => requests.classify(attempt, batch), options);
    if (settled.kind === 'split') {
      const count = batch.records.length;
      if (count === 1) {
        account.reject(batch.records[0]!, requests.tooLarge(batch), 'SINK_RECORD_TOO_LARGE');
        return;
      }
      const half = count >> 1;
      await deliver(slicePending(pending, 0, half), firstSentAt, requests, account, options);
      await deliver(slicePending(pending, half, count), firstSentAt, requests, account, options);
      return;
    }
    if (settled.kind === 'rejected') {
      for (const record of batch.records) account.reject(record, settled.reason, settled.code);
      return;
    }
    const results = settled.records;
    account.delivered(batch, results?.delivered);
    if (results === undefined) return;
    for (const r of results.rejected) account.reject(batch.records[r.at]!, r.reason, r.code);
    if (results.retry.length === 0) return;
    round += 1;
    const delay = backoffDelay(round, policy, timing.random, results.retryAfterMs);
    const resumeAt = timing.now() + delay;
    const attempts = (pending.attempts ??= new Array<number>(batch.records.length).fill(0));
    const keep: number[] = [];
    for (const { at, reason } of results.retry) {
      const sends = (attempts[at] += 1);
      if (sends >= policy.maxAttempts || resumeAt - firstSentAt > policy.maxElapsedMs) {
        const seconds = Math.round((timing.now() - firstSentAt) / 100) / 10;
        account.reject(batch.records[at]!, `${reason} (gave up after ${sends} attempts over ${seconds} s)`, 'SINK_ITEM_RETRIES_EXHAUSTED');
      } else {
        keep.push(at);
      }
    }
    if (keep.length === 0) return;
    pending = pickPending(pending, keep);
    await timing.sleep(delay, signal);
  }
}

function slicePending<B extends DeliveryBatch<B>>(pending: Pending<B>, from: number, to: number): Pending<B> {
  return { batch: pending.batch.slice(from, to), attempts: pending.attempts?.slice(from, to) };
}

function pickPending<B extends DeliveryBatch<B>>(pending: Pending<B>, which: readonly number[]): Pending<B> {
  return { batch: pending.batch.pick(which), attempts: which.map((i) => pending.attempts?.[i] ?? 0) };
}
