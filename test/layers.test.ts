/**
 * The layer rules of .dependency-cruiser.cjs (docs/architecture.md) hold for the project, and
 * they bite: each rule is shown failing on a small tree that breaks it, so a rule that stopped
 * matching (a renamed folder, a typo in a pattern) fails here instead of passing silently.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot as repoRootOf } from '../src/testing/repo-root.js';

const repoRoot = repoRootOf();
const cli = path.join(repoRoot, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

function cruise(cwd: string, ...roots: string[]): Violation[] {
  const run = spawnSync(process.execPath, [cli, ...roots, '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  assert.ok(run.stdout, `dependency-cruiser printed nothing: ${run.stderr}`);
  return (JSON.parse(run.stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

/** A throw-away project with the real rules and tsconfig, holding `files` (path -> source). */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-layers-'));
  copyFileSync(path.join(repoRoot, '.dependency-cruiser.cjs'), path.join(dir, '.dependency-cruiser.cjs'));
  writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true }, include: ['src'] }));
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.join(dir, path.dirname(file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

describe('layers: imports run one way (dependency-cruiser)', () => {
  it('the project has no import against the rules and no cycle', () => {
    const violations = cruise(repoRoot, 'src', 'test', 'bench', 'examples', 'packages');
    assert.deepEqual(violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`), []);
  });

  it('each rule fails on a tree that breaks it', () => {
    const dir = tree({
      'src/index.ts': "export * from './cli/main.js';\n",
      'src/cli/main.ts': "import { run } from '../runtime/run.js';\nimport { a } from '../lake/a.js';\nexport const main = () => [run, a];\n",
      'src/cli/deploy.ts': "import { main } from './main.js';\nimport { SluicePipeline } from '@sluice/cdk';\nimport { cdk } from '../../packages/cdk/src/index.js';\nexport const deploy = [main, SluicePipeline, cdk];\n",
      'packages/cdk/src/index.ts': "import { a } from '../../../src/lake/a.js';\nexport const cdk = a;\n",
      'src/core/kit.ts': "import { sink } from '../sinks/http/index.js';\nexport const kit = sink;\n",
      'src/sinks/http/index.ts': "import { os } from '../opensearch/index.js';\nimport { plan } from '../../pipeline/catalog.js';\nexport const sink = [os, plan];\n",
      'src/sinks/opensearch/index.ts': "export const os = 1;\n",
      'src/sinks/loose.ts': "export const loose = 1;\n",
      'src/pipeline/catalog.ts': "import { run } from '../runtime/run.js';\nimport { loose } from '../sinks/loose.js';\nexport const plan = [run, loose];\n",
      'src/runtime/run.ts': "import { os } from '../sinks/opensearch/index.js';\nimport { fake } from '../testing/fake.js';\nexport const run = [os, fake];\n",
      'src/testing/fake.ts': 'export const fake = 1;\n',
      'src/lake/a.ts': "import { b } from './b.js';\nimport { main } from '../cli/main.js';\nexport const a = [b, main];\n",
      'src/lake/b.ts': "import { a } from './a.js';\nexport const b = a;\n",
      'src/lake/dead.ts': 'export const dead = 1;\n',
    });
    try {
      const violations = cruise(dir, 'src', 'packages');
      const fired = new Set(violations.map((v) => v.rule.name));
      // Both ways of reaching the construct package are caught: by name and by path.
      assert.deepEqual(
        violations.filter((v) => v.rule.name === 'main-package-never-imports-cdk-package').map((v) => `${v.from} -> ${v.to}`).sort(),
        ['src/cli/deploy.ts -> @sluice/cdk', 'src/cli/deploy.ts -> packages/cdk/src/index.ts'],
      );
      for (const rule of [
        'no-cycles',
        'kit-imports-only-kit',
        'component-imports-no-sibling',
        'component-imports-only-kit',
        'components-in-folders',
        'catalog-below-runtime',
        'runtime-knows-components-through-the-catalog',
        'adapters-are-leaves',
        'product-code-imports-no-demo-or-tests',
        'no-orphans-in-product',
        'main-package-never-imports-cdk-package',
        'cdk-package-uses-sluice-through-its-exports',
      ]) {
        assert.ok(fired.has(rule), `rule ${rule} did not fire (fired: ${[...fired].join(', ')})`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
