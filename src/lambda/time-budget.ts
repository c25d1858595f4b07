/**
 * A Lambda invocation's time budget. Lambda kills a function at its timeout, mid-write, and then
 * the whole SQS batch comes back; worse, a killed function reports nothing, so the messages that
 * did finish are redelivered too. The handler therefore stops on its own a margin before the
 * deadline: objects not started are not started, objects in flight are aborted (their sink
 * writers discard what they wrote aside), and their messages are reported as failed so SQS
 * redelivers just those. Outputs are named deterministically, so the redelivered attempt
 * rewrites the same files and the same OpenSearch `_id`s.
 *
 * The clock is the context's `getRemainingTimeInMillis()`, polled: tests pass a fake context.
 */
export interface RemainingTime {
  getRemainingTimeInMillis(): number;
}

export interface TimeBudgetOptions {
  /** Stop this long before the deadline (default: SLUICE_TIME_MARGIN_MS, else 10 s, at most a quarter of the time left at start). */
  marginMs?: number;
  /** How often the deadline is checked while work is in flight (default 250 ms). */
  pollMs?: number;
}

export class TimeBudget {
  readonly marginMs: number;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly context: RemainingTime,
    options: TimeBudgetOptions = {},
  ) {
    const configured = options.marginMs ?? envMargin() ?? 10_000;
    const atStart = context.getRemainingTimeInMillis();
    // A 3 s function must not spend its whole life "in the margin".
    this.marginMs = options.marginMs !== undefined ? configured : Math.min(configured, Math.floor(atStart / 4));
    this.timer = setInterval(() => this.check(), options.pollMs ?? 250);
    this.timer.unref();
    this.check();
  }

  /** Aborted once the time left is within the margin. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Milliseconds left before the margin (negative when inside it). */
  usableMs(): number {
    return this.context.getRemainingTimeInMillis() - this.marginMs;
  }

  /** True when work estimated to take `estimateMs` can finish before the margin. */
  hasTimeFor(estimateMs = 0): boolean {
    this.check();
    return !this.signal.aborted && this.usableMs() > estimateMs;
  }

  dispose(): void {
    clearInterval(this.timer);
  }

  private check(): void {
    if (!this.controller.signal.aborted && this.usableMs() <= 0) {
      this.controller.abort(new Error('time budget exhausted'));
      clearInterval(this.timer);
    }
  }
}

function envMargin(): number | undefined {
  const raw = process.env.SLUICE_TIME_MARGIN_MS;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/**
 * Observed processing speed in this container (compressed bytes per millisecond), used to leave
 * an object unstarted when it would not finish anyway. Unknown until one object has been timed.
 */
export class ThroughputEstimate {
  private bytesPerMs: number | undefined;

  observe(bytes: number, ms: number): void {
    // Tiny objects are dominated by request latency and would make big ones look fast or slow.
    if (bytes < 256 * 1024 || ms <= 0) return;
    const rate = bytes / ms;
    this.bytesPerMs = this.bytesPerMs === undefined ? rate : 0.7 * this.bytesPerMs + 0.3 * rate;
  }

  /** Estimated milliseconds for an object of `bytes`, or 0 when nothing is known. */
  estimateMs(bytes: number | undefined): number {
    if (bytes === undefined || this.bytesPerMs === undefined) return 0;
    return bytes / this.bytesPerMs;
  }
}
