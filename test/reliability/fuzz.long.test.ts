/**
 * Long tier: every parser's property tests run as fuzzers, with at least 10,000 generated
 * (mostly malformed) inputs per property instead of the few hundred of `npm test`. The
 * properties are the parsers' own (they assert that no throw escapes, that every line is a record
 * or a rejection, and round trips where there are any); this file only turns the count up.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recordScenario } from '../../src/testing/reliability.js';
import { repoRoot } from '../../src/testing/repo-root.js';

const RUNS = 10_000;
/** The parsers' property tests (compiled), relative to dist/src. */
export const PARSER_PROPERTIES = [
  'formats/lines.test.js',
  'formats/vpcflow/property.test.js',
  'formats/cloudtrail/property.test.js',
  'formats/s3access/property.test.js',
  'formats/alb/property.test.js',
  'formats/delimited/property.test.js',
  'formats/json/index.test.js',
  'sources/cwl/index.test.js',
];

/** The child is a test run of its own: without the runner's context variable it reports as TAP. */
function fuzzEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, SLUICE_FUZZ_RUNS: String(RUNS) };
  delete env['NODE_TEST_CONTEXT'];
  return env;
}

for (const file of PARSER_PROPERTIES) {
  test(`fuzz ${file} with ${RUNS} cases per property`, { timeout: 1_200_000 }, async () => {
    const started = performance.now();
    const compiled = path.join(repoRoot(), 'dist', 'src', file);
    assert.ok(existsSync(compiled), `${compiled} is missing (did the build run?)`);
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(process.execPath, ['--test', '--test-reporter=tap', compiled], { env: fuzzEnv() });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      child.on('exit', (c) => resolve({ code: c, output }));
    });
    const passed = Number(/^# pass (\d+)/m.exec(output)?.[1] ?? 0);
    const failed = Number(/^# fail (\d+)/m.exec(output)?.[1] ?? 0);
    recordScenario({
      scenario: `fuzz-${file.replace(/\.test\.js$/, '').replace(/\//g, '-')}`,
      tier: 'long',
      runs: passed + failed,
      faultsInjected: 0,
      records: { in: 0, out: 0, dead: 0 },
      lost: 0,
      duplicated: 0,
      elapsedMs: Math.round(performance.now() - started),
      details: { casesPerProperty: RUNS, testsPassed: passed, testsFailed: failed },
    });
    assert.equal(code, 0, output.slice(-4000));
    assert.ok(passed > 0);
  });
}
