/** What a benchmark scenario is, what it receives and what it hands back to the harness. */

export interface BenchOptions {
  /** Objects generated for the multi-object scenarios (half v2, half v5). */
  objects: number;
  linesPerObject: number;
  /** Uncompressed size of the single big object, in MiB. */
  bigMb: number;
  /** gzip level of the generated objects (what AWS delivers is ordinary gzip; 6 is zlib's default). */
  gzipLevel: number;
  seed: number;
  /** `runtime.concurrency` of the Sluice pipeline. */
  concurrency: number;
  /** `runtime.workers` of the Sluice pipeline; absent = Sluice's default. */
  workers?: number;
  /** Run the Sluice part (off = generation and ceilings only). */
  sluice: boolean;
  /** Keep the generated data and outputs. */
  keep: boolean;
  /** Folder under which each scenario gets its own temporary folder. */
  workRoot: string;
  /** Give up on one Sluice run after this long. */
  timeoutS: number;
}

/** One row of the human summary table. */
export interface Step {
  step: string;
  wallS: number;
  /** Uncompressed bytes processed, for MB/s. */
  bytes?: number;
  /** Lines (or records) processed, for lines/s. */
  lines?: number;
  peakRssBytes?: number;
  ok: boolean;
  note?: string;
}

export interface ScenarioContext {
  options: BenchOptions;
  /** Repository root (holds package.json and bin/sluice.js). */
  repoRoot: string;
  /** Empty temporary folder for this scenario. */
  workDir: string;
  log(message: string): void;
}

export interface ScenarioOutcome {
  parameters: Record<string, unknown>;
  figures: Record<string, unknown>;
  steps: Step[];
  /** Anything wrong: a non-empty list fails the scenario (and `npm run bench`). */
  failures: string[];
  notes: string[];
}

export interface Scenario {
  name: string;
  description: string;
  /** Long-running: not part of the default selection. */
  heavy?: boolean;
  run(ctx: ScenarioContext): Promise<ScenarioOutcome>;
}

/** Runs `work`, returning its result with wall-clock and process CPU seconds (all threads). */
export async function timed<T>(work: () => Promise<T> | T): Promise<{ result: T; wallS: number; cpuS: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await work();
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { result, wallS, cpuS: (cpu.user + cpu.system) / 1e6 };
}

export const MiB = 1024 * 1024;

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
