/**
 * The layers of docs/architecture.md, checked on every `npm test` (scripts/check-layers.mjs):
 *
 *   adapters    cli/ lambda/ cdk/ dashboard/ lake/ asl/      parse input, call the engine, render
 *   runtime     runtime/ (plan/, ledger/, executor, workers, dead letters)
 *   catalog     pipeline/   the static list of components and the composed config schema
 *   components  sources/<x>/ formats/<x>/ transforms/<x>/ sinks/<x>/   each imports only the kit
 *   kit         core/
 *
 * Imports run one way, bottom to top; a component never imports a sibling; product code never
 * imports demo/ or testing/ (only tests, benches and the `demo` command do). Tests beside the code
 * may use the test kits and demo data, and are otherwise held to the same arrows.
 */
const COMPONENTS = '^src/(sources|formats|transforms|sinks)/';
const ADAPTERS = '^src/(cli|lambda|cdk|dashboard|lake|asl)/';
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
      to: { path: '^src/(pipeline|runtime|cli|lambda|cdk|dashboard|lake|asl)/' },
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
      comment: 'lambda/, cdk/, lake/ and asl/ are used by the CLI and the dashboard, never the other way round.',
      from: { path: '^src/(lambda|lake|asl)/', pathNot: TESTS },
      to: { path: '^src/(cli|dashboard|cdk)/' },
    },
    {
      name: 'dashboard-below-cli',
      severity: 'error',
      from: { path: '^src/(dashboard|cdk)/', pathNot: TESTS },
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
      name: 'no-orphans-in-product',
      severity: 'error',
      comment: 'A product file nothing imports is dead code (entry points excepted).',
      from: {
        orphan: true,
        path: '^src/',
        pathNot: `${TESTS}|\\.d\\.ts$|^src/(index|lambda/index|cdk/index|cli/main|runtime/unit-worker|pipeline/unit-worker)\\.ts$`,
      },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.mjs', '.json'] },
  },
};
