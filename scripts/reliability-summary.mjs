#!/usr/bin/env node
// Gathers the scenario results the reliability tests left in bench/results/reliability.d/ into
// bench/results/reliability.json (what `npm run test:reliability` publishes).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const dir = path.resolve('bench/results/reliability.d');
const scenarios = existsSync(dir)
  ? readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')))
  : [];
const summary = {
  generatedAt: new Date().toISOString(),
  machine: { node: process.version, cpus: os.availableParallelism?.() ?? os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30) },
  totals: {
    scenarios: scenarios.length,
    lost: scenarios.reduce((n, s) => n + s.lost, 0),
    duplicated: scenarios.reduce((n, s) => n + s.duplicated, 0),
    faultsInjected: scenarios.reduce((n, s) => n + s.faultsInjected, 0),
  },
  scenarios,
};
writeFileSync('bench/results/reliability.json', `${JSON.stringify(summary, null, 2)}\n`);
console.log(`reliability: ${scenarios.length} scenarios, lost ${summary.totals.lost}, duplicated ${summary.totals.duplicated} -> bench/results/reliability.json`);
