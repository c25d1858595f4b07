/**
 * Lease owners are `host/pid/nonce`. On one machine a run can tell that the owner of a leftover
 * lease is a process that no longer exists (killed, crashed) and expire its leases at once,
 * instead of waiting for them to time out: a re-run after Ctrl-C or SIGKILL resumes immediately.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Ledger } from './ledger/types.js';

export function newOwnerId(): string {
  return `${os.hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
}

function isLocalOwnerGone(owner: string, self: string): boolean {
  const [host, pidText] = owner.split('/');
  if (host !== os.hostname() || owner === self) return false;
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true; // a previous process whose pid we now have
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Expires leases of this pipeline held by processes of this host that are gone. Returns how many. */
export async function reclaimLeasesOfDeadLocalOwners(ledger: Ledger, pipeline: string, self: string): Promise<number> {
  let expired = 0;
  for (const owner of await ledger.leaseOwners(pipeline)) {
    if (isLocalOwnerGone(owner, self)) expired += await ledger.expireLeasesOf(owner);
  }
  return expired;
}
