/**
 * The executor leases units from the ledger and runs at most `concurrency` of them at once. Each
 * running unit keeps its lease alive by heartbeat; if the lease is lost (another worker took the
 * unit over after we stalled) the unit is aborted, and any late commit would be refused by the
 * ledger's fencing anyway. Failures are recorded in the ledger with their backoff, so retries
 * survive a restart; the executor sleeps until the next retry is due and stops when nothing is
 * claimable and nothing waits for a retry.
 *
 * On abort (Ctrl-C, SIGTERM) it stops leasing, aborts in-flight units and releases their leases
 * without counting the attempt.
 */
import { setMaxListeners } from 'node:events';
import type { UnitContext, UnitPartition } from '../core/component.js';
import { SluiceError, toSluiceError } from '../core/errors.js';
import type { ObjectRef } from '../core/record.js';
import type { Clock, FailOutcome, Lease, Ledger, RetryPolicy, UnitPayload, UnitResult } from './ledger/types.js';

export type { UnitPayload } from './ledger/types.js';
import { systemClock } from './ledger/types.js';
import { crashPoint } from '../core/crash-points.js';
import type { UnitProgress } from './process-unit.js';
import type { UnitRunner } from './unit-runner.js';

export interface ExecutorEvents {
  onUnitStart?(lease: Lease): void;
  onUnitProgress?(lease: Lease, progress: UnitProgress): void;
  onUnitDone?(lease: Lease, result: UnitResult): void;
  onUnitFailed?(lease: Lease, error: SluiceError, outcome: FailOutcome): void;
  /** A result that could not be committed because another worker holds the unit now. */
  onUnitFenced?(lease: Lease): void;
  onWaitingForRetry?(untilMs: number): void;
}

export interface ExecuteOptions {
  ledger: Ledger;
  pipeline: string;
  owner: string;
  runner: UnitRunner;
  concurrency: number;
  leaseMs: number;
  policy: RetryPolicy;
  clock?: Clock;
  signal?: AbortSignal;
  events?: ExecutorEvents;
}


export function unitContextOf(lease: Lease): UnitContext {
  const payload = lease.unit.payload as UnitPayload;
  const context: UnitContext = { id: lease.unitId, outputStem: payload.outputStem, objects: payload.objects };
  if (payload.partition) context.partition = payload.partition;
  return context;
}

export async function executeUnits(options: ExecuteOptions): Promise<void> {
  const { ledger, pipeline, owner, runner, concurrency, leaseMs, policy, signal, events = {} } = options;
  const clock = options.clock ?? systemClock;
  const inFlight = new Set<Promise<void>>();
  // Every unit in flight listens for the outer abort: that many listeners are expected, not a leak.
  if (signal) setMaxListeners(concurrency + 16, signal);

  const runOne = async (lease: Lease): Promise<void> => {
    events.onUnitStart?.(lease);
    if (lease.unit.attempts > policy.maxAttempts) {
      // Attempts only grow past the limit through lease takeovers, i.e. the unit's previous
      // holders died while running it (a unit that crashes its process): stop feeding it to workers.
      const error = new SluiceError(
        `unit ${lease.unit.key} was taken over ${lease.unit.attempts - 1} times from workers that stopped while running it`,
        { code: 'UNIT_ABANDONED', stage: 'ledger', hint: 'check the worker logs for a crash on this object; `sluice retry` redrives it' },
      );
      const outcome = await ledger.failUnit(lease, error.toJSON(), { ...policy, retryable: false });
      events.onUnitFailed?.(lease, error, outcome);
      return;
    }
    const controller = new AbortController();
    const onOuterAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onOuterAbort, { once: true });
    const heartbeat = setInterval(() => {
      ledger.renewLease(lease, leaseMs).then(
        (kept) => {
          if (!kept) controller.abort(new SluiceError('lease lost to another worker', { code: 'LEASE_LOST', stage: 'ledger' }));
        },
        () => undefined, // a transient ledger error: the next beat tries again
      );
    }, Math.max(250, Math.floor(leaseMs / 3)));
    try {
      const result = await runner.run(unitContextOf(lease), {
        signal: controller.signal,
        onProgress: (p) => events.onUnitProgress?.(lease, p),
      });
      crashPoint('before-ledger-commit');
      if (await ledger.completeUnit(lease, result)) events.onUnitDone?.(lease, result);
      else events.onUnitFenced?.(lease);
    } catch (err) {
      if (signal?.aborted) {
        await ledger.releaseLease(lease).catch(() => undefined);
        return;
      }
      if (controller.signal.aborted) {
        events.onUnitFenced?.(lease);
        return;
      }
      const error = toSluiceError(err, 'read');
      const outcome = await ledger.failUnit(lease, error.toJSON(), { ...policy, retryable: error.retryable });
      events.onUnitFailed?.(lease, error, outcome);
    } finally {
      clearInterval(heartbeat);
      signal?.removeEventListener('abort', onOuterAbort);
    }
  };

  while (!signal?.aborted) {
    while (inFlight.size < concurrency && !signal?.aborted) {
      const lease = await ledger.leaseNextUnit(pipeline, owner, leaseMs);
      if (!lease) break;
      const task: Promise<void> = runOne(lease).finally(() => inFlight.delete(task));
      inFlight.add(task);
    }
    if (inFlight.size > 0) {
      await Promise.race(inFlight);
      continue;
    }
    const next = await ledger.nextRetryAt(pipeline);
    if (next === null) break;
    events.onWaitingForRetry?.(next);
    await sleep(Math.max(10, next - clock()), signal);
  }
  await Promise.allSettled(inFlight);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
