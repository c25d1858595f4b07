/**
 * A clock that only moves when a test says so, for code that takes a `Clock` (`() => number`).
 * `now` is a bound arrow function, so `clock.now` can be passed where a Clock is expected.
 */
export interface FakeClock {
  /** The current fake time in epoch milliseconds. */
  readonly now: () => number;
  /** Moves time forward by `ms` (never backward). */
  advance(ms: number): void;
  /** Jumps to an absolute time (tests of ordering may need to go back; most should not). */
  set(ms: number): void;
}

/** Starts at `start` (default 2024-01-15T00:00:00Z, a fixed instant so failures read the same every run). */
export function createFakeClock(start = Date.UTC(2024, 0, 15)): FakeClock {
  let current = start;
  return {
    now: () => current,
    advance(ms: number) {
      if (!(ms >= 0)) throw new RangeError(`fake clock: advance(${ms}) must be a non-negative number of milliseconds`);
      current += ms;
    },
    set(ms: number) {
      current = ms;
    },
  };
}
