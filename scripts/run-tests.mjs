#!/usr/bin/env node
// Finds the compiled tests and runs them with Node's test runner.
//   unit      every *.test.js except *.services.test.js and the long reliability tier (npm test)
//   services  *.services.test.js: need PostgreSQL, MySQL/MariaDB, Chromium (npm run test:services)
//   reliability  everything under test/reliability/, quick and long tiers (npm run test:reliability)
// Extra arguments filter test files by substring. The workspace packages' compiled tests
// (packages/*/dist) run with the rest, so `npm test` at the root covers @sluice/cdk too.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';

const [tier = 'unit', ...filters] = process.argv.slice(2);
const packagesDir = path.resolve('packages');
const roots = [
  path.resolve('dist'),
  ...(existsSync(packagesDir) ? readdirSync(packagesDir).map((name) => path.join(packagesDir, name, 'dist')).filter((dir) => existsSync(dir)) : []),
];

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const all = roots.flatMap((root) => walk(root)).sort();
const pick = {
  unit: (f) => !f.endsWith('.services.test.js') && !f.endsWith('.long.test.js'),
  services: (f) => f.endsWith('.services.test.js'),
  long: (f) => f.endsWith('.long.test.js'),
  // The reliability suite, quick and long tiers together (npm run test:reliability).
  reliability: (f) => f.includes(`${path.sep}test${path.sep}reliability${path.sep}`),
}[tier];
if (!pick) {
  console.error(`unknown test tier "${tier}" (unit, services, long, reliability)`);
  process.exit(2);
}
const files = all.filter(pick).filter((f) => filters.every((s) => f.includes(s)));
if (files.length === 0) {
  if (tier === 'services' && filters.length === 0) {
    // No component needs an external service yet; the tier exists so CI runs it as soon as one does.
    console.log('services tier: no *.services.test.js files yet');
    process.exit(0);
  }
  console.error(`no ${tier} test files found under dist/ (did the build run?)`);
  process.exit(1);
}
const child = spawn(process.execPath, ['--test', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
