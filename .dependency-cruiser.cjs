/**
 * The layers of docs/architecture.md, checked on every `npm test` (scripts/check-layers.mjs):
 *
 *   adapters    cli/ lambda/ dashboard/ lake/ asl/      parse input, call the engine, render
 *   runtime     runtime/ (plan/, ledger/, executor, workers, dead letters)
 *   catalog     pipeline/   the static list of components and the composed config schema
 *   components  sources/<x>/ formats/<x>/ transforms/<x>/ sinks/<x>/   each imports only the kit
 *   kit         core/
 *
 * Imports run one way, bottom to top; a component never imports a sibling; product code never
 * imports demo/ or testing/ (only tests, benches and the `demo` command do). Tests beside the code
 * may use the test kits and demo data, and are otherwise held to the same arrows.
 *
 * The CDK construct is a package of its own (packages/cdk, `@sluice/cdk`) on top of everything: it
 * uses this package through its published entry points (`sluice/lambda/bundle`), and nothing here
 * imports it, so the CLI never needs aws-cdk-lib.
 */
const COMPONENTS = '^src/(sources|formats|transforms|sinks)/';
const ADAPTERS = '^src/(cli|lambda|dashboard|lake|asl)/';
// By path (packages/cdk/..., node_modules/@sluice/cdk/...) or by name when it is not installed.
const CDK_PACKAGE = '^(packages/cdk/|(node_modules/)?@sluice/cdk(/|$))';
const TESTS = '\\.test\\.ts$';

module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', comment: 'No import cycles anywhere.', from: {}, to: { circular: true } },
    {
      name: 'kit-imports-only-kit',
      severity: 'error',
      comment: 'core/ is the bottom layer: it imports nothing of the project outside core/.',
      from: { path: '^src/core/', pathNot: TESTS },
      to: { path: '^(src|test|bench)/', pathNot: '^src/core/' },
    },
    {
      name: 'component-imports-no-sibling',
      severity: 'error',
      comment: 'A component folder imports the kit and its own folder, never another component: what two share moves into core/.',
      from: { path: '^src/(sources|formats|transforms|sinks)/([^/]+)/', pathNot: TESTS },
      to: { path: COMPONENTS, pathNot: '^src/$1/$2/' },
    },
    {
      name: 'component-imports-only-kit',
      severity: 'error',
      comment: 'Components sit on the kit alone: not on the catalog, the runtime or an adapter.',
      from: { path: COMPONENTS, pathNot: TESTS },
      to: { path: '^src/(pipeline|runtime|cli|lambda|dashboard|lake|asl)/' },
    },
    {
      name: 'components-in-folders',
      severity: 'error',
      comment: 'Every component lives in a folder of its own (sources/<name>/...), nothing loose at a kind root.',
      from: {},
      to: { path: '^src/(sources|formats|transforms|sinks)/[^/]+\\.ts$' },
    },
    {
      name: 'catalog-below-runtime',
      severity: 'error',
      comment: 'The catalog composes components; it never reaches up into the runtime or an adapter.',
      from: { path: '^src/pipeline/', pathNot: TESTS },
      to: { path: `^src/(runtime)/|${ADAPTERS}` },
    },
    {
      name: 'runtime-knows-components-through-the-catalog',
      severity: 'error',
      comment: 'The runtime sees components only through the contracts (core/component.ts) and the catalog (pipeline/).',
      from: { path: '^src/runtime/', pathNot: TESTS },
      to: { path: `${COMPONENTS}|${ADAPTERS}` },
    },
    {
      name: 'adapters-are-leaves',
      severity: 'error',
      comment: 'lambda/, lake/ and asl/ are used by the CLI and the dashboard, never the other way round.',
      from: { path: '^src/(lambda|lake|asl)/', pathNot: TESTS },
      to: { path: '^src/(cli|dashboard)/' },
    },
    {
      name: 'dashboard-below-cli',
      severity: 'error',
      from: { path: '^src/dashboard/', pathNot: TESTS },
      to: { path: '^src/cli/' },
    },
    {
      name: 'product-code-imports-no-demo-or-tests',
      severity: 'error',
      comment: 'Demo data and test kits are for tests, benches and the `demo` command only.',
      from: { path: '^src/', pathNot: `^src/(demo|testing)/|${TESTS}|^src/cli/commands/demo\\.ts$` },
      to: { path: '^(src/(demo|testing)/|test/|bench/)' },
    },
    {
      name: 'demo-uses-product-not-tests',
      severity: 'error',
      from: { path: '^src/demo/', pathNot: TESTS },
      to: { path: '^(src/testing/|test/|bench/)' },
    },
    {
      name: 'main-package-never-imports-cdk-package',
      severity: 'error',
      comment: 'The sluice package (CLI, Lambda handlers, tests, benches) never imports @sluice/cdk: its users would have to install aws-cdk-lib.',
      from: { path: '^(src|test|bench|examples|scripts)/' },
      to: { path: CDK_PACKAGE },
    },
    {
      name: 'cdk-package-uses-sluice-through-its-exports',
      severity: 'error',
      comment: 'packages/cdk imports the sluice package by name (sluice/lambda/bundle), as a CDK app would, never by a relative path into its source.',
      from: { path: '^packages/cdk/' },
      to: { path: '^(src|test|bench|examples|scripts)/' },
    },
    {
      name: 'no-orphans-in-product',
      severity: 'error',
      comment: 'A product file nothing imports is dead code (entry points excepted).',
      from: {
        orphan: true,
        path: '^(src|packages/cdk/src)/',
        pathNot: `${TESTS}|\\.d\\.ts$|^src/(index|lambda/index|lambda/bundle|cli/main|runtime/unit-worker|pipeline/unit-worker)\\.ts$|^packages/cdk/src/index\\.ts$`,
      },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // node_modules stays in the graph (not followed), so the rules see which packages are imported.
    exclude: { path: ['^dist/', '^packages/[^/]+/dist/', '/cdk\\.out/'] },
    // Workspace packages are symlinked into node_modules: keep the link's path, so an import of
    // `@sluice/cdk` shows as node_modules/@sluice/cdk (and `sluice` from packages/cdk as node_modules/sluice).
    preserveSymlinks: true,
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.mjs', '.json'] },
  },
};
