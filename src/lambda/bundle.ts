/**
 * How the Lambda handlers are bundled, in one place for the CDK construct (at synth time) and
 * scripts/bundle-lambda.mjs (which measures the bundles): esbuild, platform node, target node20,
 * ESM split at the handlers' dynamic imports (the registry and the components load when a
 * pipeline is opened), minified. The folder it writes is deployable as it is: `<name>.mjs` per
 * handler, shared `chunk-*.mjs`, a package.json marking ESM, and data/ocsf for the ocsf transform.
 *
 * esbuild is loaded only when a bundle is built (it is a build tool, not a runtime dependency).
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildOptions, Metafile } from 'esbuild';
import { SluiceError } from '../core/errors.js';
import { packageRoot } from '../core/package-root.js';

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

/**
 * Bundles handlers synchronously (CDK constructs are built synchronously).
 *
 * @example
 * bundleLambdaHandlersSync('/tmp/asset', { sqs: 'sqs', 'map-item': 'map-item' }); // handler "sqs.sqsHandler"
 */
export function bundleLambdaHandlersSync(outDir: string, handlers: Partial<Record<LambdaHandlerName, string>>): Metafile | undefined {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  } catch (err) {
    throw new SluiceError(`bundling the Lambda handlers needs esbuild: ${(err as Error).message}`, {
      code: 'BUNDLER_MISSING',
      stage: 'config',
      hint: 'npm install --save-dev esbuild, or pass a prebuilt bundle as `code` (see scripts/bundle-lambda.mjs)',
    });
  }
  mkdirSync(outDir, { recursive: true });
  const result = esbuild.buildSync(lambdaBuildOptions(outDir, handlers));
  finishLambdaBundle(outDir);
  return result.metafile;
}
