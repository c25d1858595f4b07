/**
 * Duration arguments shared by every ledger. A NaN, negative or infinite duration would store a
 * NULL expiry or retry time and leave a unit unclaimable forever, so it is refused before it
 * reaches the database; stored times and durations are whole milliseconds.
 */
import { SluiceError } from '../../core/errors.js';

export function requireDuration(name: string, ms: number, zeroAllowed = false): number {
  if (!Number.isFinite(ms) || ms < 0 || (ms === 0 && !zeroAllowed)) {
    throw new SluiceError(`ledger: ${name} must be a ${zeroAllowed ? 'non-negative' : 'positive'} number of milliseconds, got ${ms}`, {
      code: 'LEDGER_BAD_ARGUMENT',
      stage: 'ledger',
      hint: 'check runtime.leaseMs, runtime.backoffMs and runtime.maxBackoffMs in the pipeline file',
    });
  }
  return toMillis(ms);
}

export function toMillis(ms: number): number {
  return Math.round(ms);
}
