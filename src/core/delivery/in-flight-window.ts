/**
 * A counting semaphore bounding the requests one sink instance has in flight (including the
 * batches waiting to be retried: a retrying batch keeps its slot, so a throttling server slows
 * every writer down instead of letting new batches pile up in memory). `acquire()` waits while
 * the window is full: that wait is how backpressure reaches the reader of a unit, whose
 * `write()` awaits it. Waiters are served first come, first served.
 */
export class InFlightWindow {
  private used = 0;
  private readonly waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  private closedWith: Error | undefined;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`in-flight window: size must be a positive integer, got ${size}`);
  }

  /** Slots taken now. */
  get inUse(): number {
    return this.used;
  }

  /** Resolves with a release function once a slot is free; call it exactly once. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.closedWith) throw this.closedWith;
    signal?.throwIfAborted();
    if (this.used < this.size) {
      this.used += 1;
      return this.releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (err: Error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      const onAbort = () => {
        const at = this.waiters.indexOf(waiter);
        if (at !== -1) this.waiters.splice(at, 1);
        reject(signal!.reason instanceof Error ? signal!.reason : new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
    // The slot was handed over by a release (used was not decremented for us).
    return this.releaser();
  }

  /** Fails every waiter and every later acquire with `err` (the sink is closing). */
  close(err: Error): void {
    this.closedWith ??= err;
    for (const waiter of this.waiters.splice(0)) waiter.reject(err);
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next.resolve();
      else this.used -= 1;
    };
  }
}
