#!/usr/bin/env node
// Bundles each Lambda handler with esbuild and measures what a cold start pays for it.
//
//   npm run build && node scripts/bundle-lambda.mjs [--out DIR] [--runs N] [--no-measure] [--without-parquet] [--json] [--save]
//   (--save writes bench/results/lambda-bundles[-without-parquet].json)
//
// The esbuild options live in src/lambda/bundle.ts, shared with the CDK construct.
//
// Per handler, DIR/<name>/ is a deployable folder: index.mjs (+ chunk-*.mjs: the registry and the
// components are split at the handlers' dynamic imports and evaluated when a pipeline is opened),
// package.json ({"type":"module"}) and data/ocsf (the OCSF schema the ocsf transform reads). The
// handler names are `index.sqsHandler`, `index.cwlHandler`, `index.mapItemHandler`.
//
// Measured per handler (a fresh `node` process per run, median of N):
//   zip       bytes of DIR/<name> zipped (zip -9), what Lambda stores;
//   import    ms to `import()` index.mjs (wall, and CPU time of the process: trust CPU on a busy machine);
//   init      ms to import it and run a first invocation that opens a vpcflow -> files pipeline
//             but reads nothing (the registry chunk, the AWS SDK S3 client, ... are evaluated).
// --without-parquet replaces the Parquet modules (reader and writer) with stubs that throw, to
// show what Parquet costs; the default bundle has it.
// In Lambda, dead letters need a durable place: the measured pipeline puts them in a bucket of an
// in-process S3-protocol server (src/testing/s3-server.ts), so an invocation that commits a unit
// (cwl's CONTROL_MESSAGE) pays a local S3 round trip, not a trip to AWS.
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : args[i + 1];
};
const outRoot = path.resolve(option('--out', path.join(root, 'dist', 'lambda-bundles')));
const runs = Number(option('--runs', '5'));
const withoutParquet = flag('--without-parquet');

const { LAMBDA_HANDLERS, lambdaBuildOptions, finishLambdaBundle } = await import(new URL('../dist/src/lambda/bundle.js', import.meta.url).href).catch(() => {
  console.error('dist/src/lambda/bundle.js is missing: run `npm run build` first');
  process.exit(1);
});

/** Replaces the Parquet modules by stubs (for the --without-parquet measurement only). */
const stubParquet = {
  name: 'stub-parquet',
  setup(build) {
    build.onResolve({ filter: /^hyparquet(-writer)?(\/.*)?$/ }, (a) => ({ path: a.path, namespace: 'stub-parquet' }));
    build.onResolve({ filter: /(formats\/parquet\/index|sinks\/files\/parquet-[a-z-]+)\.js$/ }, (a) => ({ path: a.path, namespace: 'stub-parquet' }));
    build.onLoad({ filter: /.*/, namespace: 'stub-parquet' }, () => ({
      contents: 'const no = () => { throw new Error("Parquet is not in this bundle (built --without-parquet)"); }; export default new Proxy({}, { get: () => no }); export const parquetFormat = no, parquetPartFormat = no, ByteWriter = class { constructor() { no(); } }, writePageHeader = no, snappyCompress = no, writeMetadata = no, ParquetWriter = no, parquetRead = no, parquetMetadataAsync = no, parquetSchema = no, asyncBufferFromFile = no;',
      loader: 'js',
    }));
  },
};

/** Bundles one handler into outDir as index.mjs (+ chunks); returns esbuild's metafile. */
export async function bundleHandler(name, outDir, options = {}) {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const build = lambdaBuildOptions(outDir, { [name]: 'index' });
  const result = await esbuild.build({ ...build, plugins: options.withoutParquet ? [stubParquet] : [] });
  finishLambdaBundle(outDir);
  return result.metafile;
}

function dirBytes(dir) {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    total += statSync(p).isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return total;
}

function zipBytes(dir) {
  const zip = path.join(mkdtempSync(path.join(os.tmpdir(), 'sluice-zip-')), 'bundle.zip');
  execFileSync('zip', ['-q', '-r', '-9', zip, '.'], { cwd: dir });
  const size = statSync(zip).size;
  rmSync(path.dirname(zip), { recursive: true, force: true });
  return size;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Wall and CPU milliseconds for a fresh node to import the bundle, medians of `runs`. CPU time
 * (user + system of that process) is the figure to trust on a busy machine: wall time there
 * mostly measures waiting for a core.
 */
function importMs(outDir, exportName) {
  const url = new URL(`file://${path.join(outDir, 'index.mjs')}`).href;
  const code = `const c=process.cpuUsage(); const t=performance.now(); const m=await import(${JSON.stringify(url)}); void m.${exportName}; const u=process.cpuUsage(c); process.stdout.write(JSON.stringify([performance.now()-t,(u.user+u.system)/1000]));`;
  return measure(code, {});
}

// Asynchronous, so the in-process S3 server answers the child's requests.
const run = promisify(execFile);

async function measure(code, env) {
  const wall = [];
  const cpu = [];
  for (let i = 0; i < runs; i++) {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, ...env } });
    const [w, c] = JSON.parse(stdout);
    wall.push(w);
    cpu.push(c);
  }
  return { wall: Math.round(median(wall)), cpu: Math.round(median(cpu)) };
}

// `init`: import, then one invocation that opens the pipeline but reads nothing (an s3:TestEvent,
// a CONTROL_MESSAGE, a CloudTrail digest item), so the figure is the container's start-up work.
function initMs(outDir, name, pipelineFile, env) {
  const url = new URL(`file://${path.join(outDir, 'index.mjs')}`).href;
  const events = {
    sqs: { Records: [{ messageId: 'm', eventSource: 'aws:sqs', body: '{"Service":"Amazon S3","Event":"s3:TestEvent"}' }] },
    cwl: { awslogs: { data: Buffer.from(JSON.stringify({ messageType: 'CONTROL_MESSAGE', logEvents: [] })).toString('base64') } },
    'map-item': { Key: 'AWSLogs/x/CloudTrail-Digest/y.json.gz' },
  };
  const code = `const c=process.cpuUsage(); const t=performance.now(); const m=await import(${JSON.stringify(url)}); await m.${LAMBDA_HANDLERS[name].export}(${JSON.stringify(events[name])}, { getRemainingTimeInMillis: () => 60000 }); const u=process.cpuUsage(c); process.stdout.write(JSON.stringify([performance.now()-t,(u.user+u.system)/1000]));`;
  return measure(code, { ...env, SLUICE_PIPELINE: pipelineFile, SLUICE_LOG_LEVEL: 'silent', AWS_REGION: 'us-east-1' });
}

async function main() {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-bundle-'));
  const pipelineFile = path.join(tmp, 'pipeline.yaml');
  const measuring = !flag('--no-measure');
  const { startS3Server } = await import(new URL('../dist/src/testing/s3-server.js', import.meta.url).href);
  const s3 = measuring ? await startS3Server({ buckets: ['bundle-check-bucket'] }) : undefined;
  const s3Env = s3 ? { BUNDLE_S3_KEY: s3.credentials.accessKeyId, BUNDLE_S3_SECRET: s3.credentials.secretAccessKey } : {};
  writeFileSync(
    pipelineFile,
    `name: bundle-check\nsource:\n  uri: s3://bundle-check-bucket/AWSLogs/\nformat: vpcflow\nsinks:\n  - type: files\n    path: ${path.join(tmp, 'out')}\nruntime:\n  deadLetters: s3://bundle-check-bucket/dead-letters/\n` +
      (s3 ? `  s3:\n    endpoint: ${s3.endpoint}\n    forcePathStyle: true\n    accessKeyId: env:BUNDLE_S3_KEY\n    secretAccessKey: env:BUNDLE_S3_SECRET\n` : ''),
  );
  const rows = [];
  for (const name of Object.keys(LAMBDA_HANDLERS)) {
    const outDir = path.join(outRoot, name);
    await bundleHandler(name, outDir, { withoutParquet });
    const row = { handler: name, bytes: dirBytes(outDir), zipBytes: zipBytes(outDir) };
    if (measuring) {
      row.import = await importMs(outDir, LAMBDA_HANDLERS[name].export);
      row.init = await initMs(outDir, name, pipelineFile, s3Env);
    }
    rows.push(row);
  }
  await s3?.stop();
  rmSync(tmp, { recursive: true, force: true });
  const load = os.loadavg()[0].toFixed(1);
  console.log(`Lambda bundles in ${outRoot}${withoutParquet ? ' (Parquet stubbed out)' : ''}; node ${process.version}, ${os.cpus().length} CPUs, load ${load}, median of ${runs} cold runs`);
  for (const r of rows) {
    console.log(`  ${r.handler.padEnd(9)} ${(r.bytes / 1e6).toFixed(2)} MB on disk, ${(r.zipBytes / 1e6).toFixed(2)} MB zipped${r.import === undefined ? '' : `, import ${r.import.wall} ms (cpu ${r.import.cpu} ms), import + first invocation ${r.init.wall} ms (cpu ${r.init.cpu} ms)`}`);
  }
  const report = { scenario: 'lambda-bundles', description: 'zipped size and cold import / first-invocation time of each Lambda handler bundle', date: new Date().toISOString(), machine: { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, loadAverage1m: Number(load) }, parameters: { runs, withoutParquet }, rows };
  if (flag('--json')) console.log(JSON.stringify(report));
  if (flag('--save')) {
    const file = path.join(root, 'bench', 'results', `lambda-bundles${withoutParquet ? '-without-parquet' : ''}.json`);
    writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
    console.log(`saved ${path.relative(root, file)}`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
