/**
 * How the Lambda handlers are bundled (`sluice/lambda/bundle`), in one place for the CDK construct
 * (@sluice/cdk, at synth time), scripts/bundle-lambda.mjs (which measures the bundles) and the bundle
 * test: esbuild, platform node, target node20, ESM split at the handlers' dynamic imports (the
 * registry and the components load when a pipeline is opened), minified. The folder it writes is
 * deployable as it is: `<name>.mjs` per handler, shared `chunk-*.mjs`, a package.json marking ESM,
 * and data/ocsf for the ocsf transform.
 *
 * This package knows what to bundle (its handler modules, its data files); the caller brings
 * esbuild. esbuild is a build tool: a dependency of @sluice/cdk, which bundles at synth, and only
 * a devDependency here, so installing the CLI never downloads it.
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildOptions, Metafile } from 'esbuild';
import { packageRoot } from '../core/package-root.js';

// A deployment tool validates the pipeline it ships at build time; it gets the loader from here.
export { loadPipelineFile, type PipelineConfig } from '../pipeline/config.js';
export { lambdaDeadLetterLocation } from './lambda-pipeline.js';
export { SluiceError } from '../core/errors.js';

export const LAMBDA_HANDLERS = {
  sqs: { module: 'sqs', export: 'sqsHandler' },
  cwl: { module: 'cwl', export: 'cwlHandler' },
  'map-item': { module: 'map-item', export: 'mapItemHandler' },
} as const;

export type LambdaHandlerName = keyof typeof LAMBDA_HANDLERS;

// CommonJS dependencies call require() for Node built-ins; an ESM bundle has no require.
const REQUIRE_SHIM = "import{createRequire as __sluiceRequire}from'node:module';const require=__sluiceRequire(import.meta.url);";


/** The handler module beside this file (`.ts` when run from source, `.js` when compiled). */
function handlerEntry(name: LambdaHandlerName): string {
  const ext = path.extname(fileURLToPath(import.meta.url));
  return fileURLToPath(new URL(`./${LAMBDA_HANDLERS[name].module}${ext}`, import.meta.url));
}

/**
 * esbuild options bundling `handlers` into `outDir`, each as `<file>.mjs` (file names given by
 * `entryNames`, default the handler name).
 */
export function lambdaBuildOptions(outDir: string, handlers: Partial<Record<LambdaHandlerName, string>>): BuildOptions {
  return {
    entryPoints: Object.fromEntries(Object.entries(handlers).map(([name, file]) => [file, handlerEntry(name as LambdaHandlerName)])),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    splitting: true,
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunk-[hash]',
    minify: true,
    legalComments: 'none',
    // A native addon cannot run from a bundle: SQLite enrichment tables are for the CLI (Lambda
    // pipelines use CSV/JSON tables or PostgreSQL/MySQL).
    // DuckDB (a native addon too) is needed only to rewrite a compacted lake file (the files
    // sink loads it on demand); a Lambda unit that meets that case fails with a clear error.
    external: ['better-sqlite3', '@duckdb/node-api'],
    banner: { js: REQUIRE_SHIM },
    metafile: true,
    logLevel: 'error',
  };
}

/** Writes what the bundle needs beside the code: ESM marker and the OCSF schema data. */
export function finishLambdaBundle(outDir: string): void {
  writeFileSync(path.join(outDir, 'package.json'), JSON.stringify({ type: 'module', private: true }) + '\n');
  cpSync(path.join(packageRoot(), 'data', 'ocsf'), path.join(outDir, 'data', 'ocsf'), { recursive: true });
}

/** The part of esbuild's API the bundling uses; pass the `esbuild` module itself. */
export type LambdaBundler = Pick<typeof import('esbuild'), 'buildSync'>;

/**
 * Bundles handlers synchronously (CDK constructs are built synchronously) with the caller's esbuild.
 *
 * @example
 * import * as esbuild from 'esbuild';
 * bundleLambdaHandlersSync(esbuild, '/tmp/asset', { sqs: 'sqs', 'map-item': 'map-item' }); // handler "sqs.sqsHandler"
 */
export function bundleLambdaHandlersSync(esbuild: LambdaBundler, outDir: string, handlers: Partial<Record<LambdaHandlerName, string>>): Metafile | undefined {
  mkdirSync(outDir, { recursive: true });
  const result = esbuild.buildSync(lambdaBuildOptions(outDir, handlers));
  finishLambdaBundle(outDir);
  return result.metafile;
}
