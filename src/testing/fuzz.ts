/**
 * How many cases a property test runs: its quick-tier count in `npm test`, or at least
 * `SLUICE_FUZZ_RUNS` when the reliability suite's long tier runs the same properties as fuzzers
 * (test/reliability/fuzz.long.test.ts sets it to 10,000).
 */
export function fuzzRuns(quick: number): number {
  const asked = Number(process.env.SLUICE_FUZZ_RUNS);
  return Number.isInteger(asked) && asked > 0 ? Math.max(asked, quick) : quick;
}
