/**
 * The dashboard's ledger, following its SQLite file. An open SQLite connection keeps reading the
 * file it opened even after that file is deleted, so a dashboard left running while `npm start`
 * recreates `sluice-demo/` would show the old runs as live forever. Before each read the file's
 * identity (device and inode) is compared with the one opened: a missing file is reported (the
 * page says so), another file under the same name is opened in place of the old one.
 *
 * Closing the stale connection is safe for the new file: SQLite does not checkpoint or delete
 * the WAL on close when the database file was unlinked or moved (`databaseIsUnmoved`).
 */
import { statSync } from 'node:fs';
import type { Logger } from '../core/logger.js';
import type { Ledger } from '../runtime/ledger/types.js';

export interface LedgerFile {
  /** The SQLite file the ledger was opened from. */
  path: string;
  /** Opens the file again, once it has been replaced. */
  reopen(): Promise<Ledger>;
}

export interface LedgerFollower {
  /** The ledger as the file is now; null while the file is missing (`missing` says why). */
  current(): Promise<Ledger | null>;
  /** A sentence for the page while `current()` is null. */
  readonly missing: string | null;
  /** Closes the ledgers this follower opened or retired (not a ledger it does not follow). */
  close(): Promise<void>;
}

/** Requests already reading a retired ledger get this long to finish before it is closed. */
const RETIRE_GRACE_MS = 2_000;

function identity(file: string): string | null {
  try {
    const s = statSync(file);
    // A file that exists but is still empty is being created by a run: not readable yet.
    return s.size > 0 ? `${s.dev}:${s.ino}` : null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * @example
 * const follower = followLedger(ledger, { path: 'sluice-demo/state.db', reopen: () => openLedger('sluice-demo/state.db') }, log);
 * const now = await follower.current(); // null while the file is gone
 */
export function followLedger(ledger: Ledger, file: LedgerFile | undefined, log: Logger): LedgerFollower {
  if (!file) {
    return { current: async () => ledger, missing: null, close: async () => undefined };
  }
  let current: Ledger | null = ledger;
  let opened = identity(file.path);
  let missing: string | null = null;
  let switching: Promise<void> | null = null;
  const retired = new Set<Ledger>();

  const retire = (old: Ledger) => {
    retired.add(old);
    const timer = setTimeout(() => {
      retired.delete(old);
      void old.close().catch(() => undefined);
    }, RETIRE_GRACE_MS);
    timer.unref();
  };

  const follow = async () => {
    const now = identity(file.path);
    if (now === opened && current) return;
    if (current) {
      retire(current);
      current = null;
    }
    if (now === null) {
      if (missing === null) log.warn({ ledger: file.path }, 'the ledger file is gone; waiting for it to be written again');
      missing = `The ledger file ${file.path} was deleted (or is being written anew): nothing to show until a run creates it again.`;
      opened = null;
      return;
    }
    try {
      current = await file.reopen();
    } catch (err) {
      // Half written, say; the next read tries again.
      missing = `The ledger file ${file.path} was replaced, but the new one cannot be opened yet: ${(err as Error).message}`;
      opened = null;
      return;
    }
    opened = now;
    missing = null;
    log.info({ ledger: file.path }, 'the ledger file was replaced; reading the new one');
  };

  return {
    async current() {
      // One switch at a time: concurrent requests must not open the new file twice.
      switching ??= follow().finally(() => (switching = null));
      await switching;
      return current;
    },
    get missing() {
      return missing;
    },
    async close() {
      for (const old of retired) await old.close().catch(() => undefined);
      retired.clear();
      await current?.close();
      current = null;
    },
  };
}
