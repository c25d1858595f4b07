/** A one-line progress bar for TTYs: units done/total, records/s and ETA, redrawn in place. */
export interface ProgressState {
  unitsDone: number;
  unitsTotal: number;
  unitsDead: number;
  records: number;
  inFlight: number;
  /** Compressed bytes read so far and to read in all: the ETA follows bytes, not units, when known. */
  bytesDone: number;
  bytesTotal: number;
  /** Units done before this run: not in `unitsTotal`, shown apart so a resume does not read "0/0". */
  unitsAlreadyDone?: number;
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function renderProgress(state: ProgressState, elapsedMs: number, width = 24): string {
  const finished = state.unitsDone + state.unitsDead;
  const already = state.unitsAlreadyDone ?? 0;
  // Nothing left to do is a full bar, not an empty one.
  const ratio = state.unitsTotal > 0 ? Math.min(1, finished / state.unitsTotal) : already > 0 ? 1 : 0;
  const filled = Math.round(ratio * width);
  const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
  const rate = elapsedMs > 0 ? (state.records * 1000) / elapsedMs : 0;
  const byBytes = state.bytesTotal > 0 && state.bytesDone > 0;
  const eta =
    ratio >= 1
      ? '--'
      : byBytes
        ? formatDuration((elapsedMs / state.bytesDone) * Math.max(0, state.bytesTotal - state.bytesDone))
        : finished > 0
          ? formatDuration((elapsedMs / finished) * (state.unitsTotal - finished))
          : '--';
  const dead = state.unitsDead > 0 ? ` · ${state.unitsDead} dead` : '';
  if (state.unitsTotal === 0 && already > 0) return `${bar} ${already} units already done · nothing left to do`;
  const before = already > 0 ? ` (+${already} already done)` : '';
  return `${bar} ${finished}/${state.unitsTotal} units${before}${dead} · ${state.inFlight} in flight · ${formatCount(state.records)} records · ${formatCount(rate)}/s · ETA ${eta}`;
}

export class ProgressBar {
  private timer: NodeJS.Timeout | undefined;
  private readonly started = performance.now();

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly state: ProgressState,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.draw(), 200);
    this.timer.unref();
  }

  draw(): void {
    const line = renderProgress(this.state, performance.now() - this.started);
    this.out.write(`\r\x1b[2K${line.slice(0, (this.out.columns ?? 120) - 1)}`);
  }

  /** Clears the bar so a log line can be printed, then the next tick redraws it. */
  clear(): void {
    this.out.write('\r\x1b[2K');
  }

  /**
   * Prints a line of its own above the bar: the bar's line is cleared first (with whatever the
   * terminal echoed there, such as `^C`), then the bar is drawn again below it.
   */
  say(print: () => void): void {
    this.clear();
    print();
    if (this.timer) this.draw();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.draw();
    this.out.write('\n');
  }
}
