/**
 * The pipeline file: a strict zod schema (unknown keys are errors with a suggestion), loaded from
 * YAML. Paths in the file are resolved against the file's folder, so a pipeline runs the same
 * from any working directory; paths given on the command line are resolved against the working
 * directory as usual.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { SluiceError } from '../core/errors.js';
import { enrichTransformSchema, resolveEnrichPaths } from '../transforms/enrich/config.js';
import { ocsfTransformSchema } from '../transforms/ocsf/config.js';
import { httpSinkSchema } from '../sinks/http/config.js';
import { elasticsearchSinkSchema, opensearchSinkSchema } from '../sinks/opensearch/config.js';
import { cwlFormatSchema } from '../formats/cwl/config.js';
import { aggregateTransformSchema } from '../transforms/aggregate/config.js';
import { delimitedFormatSchema } from '../formats/delimited/config.js';
import { jsonFormatSchema, ndjsonFormatSchema } from '../formats/json/config.js';
import { parquetFormatSchema } from '../formats/parquet/config.js';
import { loadPlanSchema } from '../runtime/plan/month-planner.js';
import { groupSchema } from '../runtime/plan/group-planner.js';
import { notifySchema } from '../runtime/notify.js';

const sourceSchema = z
  .strictObject({
    uri: z.string().min(1).describe('A folder path, or s3://bucket/prefix.'),
    endpoint: z.string().url().optional().describe('S3-compatible endpoint URL (e.g. http://127.0.0.1:9000).'),
    region: z.string().optional().describe('AWS region for S3 (default: AWS_REGION or us-east-1).'),
    forcePathStyle: z.boolean().optional().describe('Use path-style S3 URLs (needed by most S3-compatible servers).'),
    accessKeyId: z.string().optional().describe('Secret reference (env:NAME, file:PATH) for the S3 access key id.'),
    secretAccessKey: z.string().optional().describe('Secret reference (env:NAME, file:PATH) for the S3 secret key.'),
    include: z.string().optional().describe('Regular expression a key must match to be read.'),
    exclude: z.string().optional().describe('Regular expression excluding keys (e.g. CloudTrail-Digest/).'),
    layout: z
      .enum(['auto', 'cloudtrail', 'objects'])
      .optional()
      .describe('Units of work: objects = one per object; cloudtrail = partitions (account x region x day, and month for partition: month sinks) of an AWSLogs/[o-org/]<account>/CloudTrail/<region>/yyyy/mm/dd/ tree; auto (default) = cloudtrail when the format is cloudtrail and that tree is found under uri, else objects.'),
    concurrency: z.number().int().min(1).max(1024).optional().describe('GETs in flight inside one multi-object unit (a partition or group), default 64; records still come out in key order.'),
    group: groupSchema.optional(),
  })
  .describe('Where the raw logs are.');

const vpcflowFormatSchema = z.strictObject({
  type: z.literal('vpcflow'),
  fields: z
    .string()
    .optional()
    .describe('Field order for lines without a header (CloudWatch Logs delivery); default: the v2 default format.'),
});

const cloudtrailFormatSchema = z.strictObject({
  type: z.literal('cloudtrail'),
  mode: z
    .enum(['auto', 'records', 'ndjson'])
    .optional()
    .describe('records: {"Records":[...]} delivery files; ndjson: one event per line; auto (default): told apart by the first bytes.'),
  maxRecordMb: z.number().positive().max(1024).optional().describe('Largest single record kept, in MiB (default 32); larger ones are rejected.'),
});

const s3accessFormatSchema = z.strictObject({ type: z.literal('s3access') });
const albFormatSchema = z.strictObject({ type: z.literal('alb') });

export const formatSchema = z
  .union([
    z.literal('vpcflow'), vpcflowFormatSchema,
    z.literal('cloudtrail'), cloudtrailFormatSchema,
    z.literal('s3access'), s3accessFormatSchema,
    z.literal('alb'), albFormatSchema,
    cwlFormatSchema,
    z.literal('delimited'), delimitedFormatSchema,
    z.literal('json'), jsonFormatSchema,
    z.literal('ndjson'), ndjsonFormatSchema,
    z.literal('parquet'), parquetFormatSchema,
  ])
  .transform((f) => (typeof f === 'string' ? { type: f } : f))
  .describe('How to decode the objects: a format name or { type, ...options }.');

const filesSinkSchema = z.strictObject({
  type: z.literal('files'),
  path: z.string().min(1).describe('Output folder.'),
  format: z.enum(['ndjson', 'parquet']).default('ndjson').describe('File format of the parts.'),
  layout: z.enum(['date', 'security-lake']).default('date').describe('Folders: date = event-time partitions (see partition); security-lake = region=<r>/accountId=<a>/eventDay=<yyyymmdd>/, one OCSF class per file.'),
  partition: z.enum(['day', 'hour', 'month', 'none']).default('day').describe('Partition folders by event time (layout: date): yyyy/mm/dd, yyyy/mm/dd/HH, yyyy/mm, or none. With a cloudtrail-layout source, month sinks are written by month units and the others by day units.'),
  targetSizeMb: z.number().positive().default(64).describe('Target size of one part in MB: uncompressed bytes for NDJSON, file bytes for Parquet.'),
  compression: z.enum(['gzip', 'none']).default('gzip').describe('Compression of NDJSON parts.'),
  gzipLevel: z.number().int().min(1).max(9).default(3).describe('gzip level (1 = fastest, 9 = smallest); 3 costs ~2/3 of the CPU of 6 for files ~19% larger.'),
  parquetCompression: z.enum(['snappy', 'zstd', 'gzip', 'none']).default('snappy').describe('Compression of Parquet column chunks (zstd needs Node 22.15 or later).'),
  rowGroupRows: z.number().int().min(1).max(10_000_000).default(65_536).describe('Rows per Parquet row group, at most (a row group is also cut at ~64 MB of buffered data).'),
  schema: z.enum(['inferred', 'cloudtrail']).default('inferred').describe("Parquet schema: inferred from each part's first records, or cloudtrail (the fixed CloudTrail columns, nested parts as JSON strings); values that do not fit go to the _overflow JSON column)."),
  idField: z.union([z.string().min(1), z.literal(false)]).default('_id').describe('Field carrying the record id, or false.'),
}).refine((s) => s.layout !== 'security-lake' || s.partition === 'day', {
  message: 'layout security-lake always partitions by eventDay: remove `partition` or set it to day',
  path: ['partition'],
});

const stdoutSinkSchema = z.strictObject({
  type: z.literal('stdout'),
  idField: z.union([z.string().min(1), z.literal(false)]).default('_id'),
});

export const transformSchema = z.discriminatedUnion('type', [enrichTransformSchema, ocsfTransformSchema, aggregateTransformSchema]);

export const sinkSchema = z.discriminatedUnion('type', [filesSinkSchema, stdoutSinkSchema, opensearchSinkSchema, elasticsearchSinkSchema, httpSinkSchema]);

const runtimeSchema = z
  .strictObject({
    concurrency: z.number().int().min(1).max(1000).default(20).describe('Units (objects) in flight at once.'),
    workers: z.number().int().min(0).max(64).optional().describe('Worker threads for CPU work (default: one per core; 0 = main thread).'),
    state: z
      .string()
      .default('./.sluice/state.db')
      .describe('Ledger: a SQLite file path, or a postgres:// URL shared by a fleet of workers (best as an env:NAME or file:PATH reference, since it holds the password).'),
    deadLetters: z.string().optional().describe('Folder for dead letters (default: <first files sink>/_rejected).'),
    maxAttempts: z.number().int().min(1).max(100).default(5).describe('Attempts before a unit is dead.'),
    backoffMs: z.number().int().min(0).default(1000).describe('First retry delay; doubles each attempt.'),
    maxBackoffMs: z.number().int().min(0).default(60_000).describe('Cap on the retry delay.'),
    leaseMs: z.number().int().min(1000).default(60_000).describe('How long a unit lease lasts without a heartbeat.'),
    notify: notifySchema.optional(),
    literalSecrets: z.boolean().default(false).describe('Allow passwords, keys and tokens written literally in this file (tests only); otherwise `sluice validate` refuses them.'),
  })
  .describe('How the work is run.');

export const pipelineSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, . _ - only').describe('Pipeline name; scopes its units in the ledger.'),
    source: sourceSchema,
    format: formatSchema,
    transforms: z.array(transformSchema).default([]).describe('Record transforms, applied in order.'),
    sinks: z.array(sinkSchema).min(1).describe('Where records go; a unit is done when every sink committed.'),
    load: loadPlanSchema.optional().describe('Plan date periods (historical months, daily days) instead of one unit per object (Security Lake ETL framework loads).'),
    runtime: runtimeSchema.prefault({}),
  })
  .describe('A Sluice pipeline.');

export type PipelineConfig = z.output<typeof pipelineSchema>;
export type SinkConfig = z.output<typeof sinkSchema>;
export type FilesSinkConfig = z.output<typeof filesSinkSchema>;
export type TransformConfig = z.output<typeof transformSchema>;
export type FormatConfig = z.output<typeof formatSchema>;
export type SourceConfig = z.output<typeof sourceSchema>;
export type RuntimeConfig = z.output<typeof runtimeSchema>;

/** Parses and validates a pipeline object; `file` is used in messages and to resolve paths. */
export function parsePipeline(input: unknown, file = '<pipeline>'): PipelineConfig {
  const result = pipelineSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  - ${describeIssue(issue)}`);
    throw new SluiceError(`${file}: invalid pipeline\n${lines.join('\n')}`, {
      code: 'CONFIG_INVALID',
      stage: 'config',
      hint: 'fix the keys listed above; `sluice validate -c <file>` checks a pipeline without running it',
    });
  }
  return resolvePaths(result.data, path.dirname(path.resolve(file)));
}

/** Reads a YAML (or JSON) pipeline file, reporting syntax errors with their line and column. */
export function loadPipelineFile(file: string): PipelineConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SluiceError(`cannot read pipeline file ${file}: ${(err as Error).message}`, {
      code: 'CONFIG_UNREADABLE',
      stage: 'config',
      hint: 'pass the path of a pipeline YAML file with -c',
    });
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const pos = first.linePos?.[0];
    const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
    throw new SluiceError(`${where}: YAML syntax error: ${first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`, {
      code: 'CONFIG_SYNTAX',
      stage: 'config',
      hint: 'check indentation and quoting on that line',
    });
  }
  return parsePipeline(doc.toJS(), file);
}

function resolvePaths(config: PipelineConfig, baseDir: string): PipelineConfig {
  const resolveLocal = (p: string) => (p.startsWith('s3://') || path.isAbsolute(p) ? p : path.resolve(baseDir, p));
  return {
    ...config,
    source: { ...config.source, uri: resolveLocal(config.source.uri) },
    sinks: config.sinks.map((s) =>
      s.type === 'files' ? { ...s, path: resolveLocal(s.path) } : 'tls' in s && s.tls?.ca !== undefined ? { ...s, tls: { ...s.tls, ca: resolveLocal(s.tls.ca) } } : s,
    ),
    transforms: config.transforms.map((t) =>
      t.type === 'enrich' ? resolveEnrichPaths(t, resolveLocal) : t.type === 'ocsf' && /\.csv$/i.test(t.mapping) ? { ...t, mapping: resolveLocal(t.mapping) } : t.type === 'aggregate' && t.partials !== undefined ? { ...t, partials: resolveLocal(t.partials) } : t,
    ),
    runtime: {
      ...config.runtime,
      // A database URL or a secret reference to one is not a path.
      state: /^(postgres(ql)?:\/\/|env:|file:)/i.test(config.runtime.state) ? config.runtime.state : resolveLocal(config.runtime.state),
      deadLetters: config.runtime.deadLetters === undefined ? undefined : resolveLocal(config.runtime.deadLetters),
    },
  };
}

type Issue = z.core.$ZodIssue;

function describeIssue(issue: Issue): string {
  const at = issue.path.length ? issue.path.join('.') : '(top level)';
  if (issue.code === 'unrecognized_keys') {
    return issue.keys
      .map((key) => {
        const suggestion = closestKnownKey(key);
        const keyPath = [...issue.path, key].join('.');
        return `${keyPath}: unknown key${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`;
      })
      .join('\n  - ');
  }
  if (issue.code === 'invalid_union' && 'discriminator' in issue) {
    return `${at}: ${issue.message}`;
  }
  return `${at}: ${issue.message}`;
}

let knownKeys: string[] | undefined;

function closestKnownKey(key: string): string | undefined {
  knownKeys ??= collectKeys(z.toJSONSchema(pipelineSchema, { io: 'input', unrepresentable: 'any' }));
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const candidate of knownKeys) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return best;
}

function collectKeys(schema: unknown, out = new Set<string>()): string[] {
  if (Array.isArray(schema)) schema.forEach((s) => collectKeys(s, out));
  else if (schema && typeof schema === 'object') {
    const obj = schema as Record<string, unknown>;
    if (obj.properties && typeof obj.properties === 'object') {
      for (const k of Object.keys(obj.properties)) out.add(k);
    }
    for (const v of Object.values(obj)) collectKeys(v, out);
  }
  return [...out];
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** JSON Schema for editors, generated from the zod schema. */
export function pipelineJsonSchema(): unknown {
  return z.toJSONSchema(pipelineSchema, { io: 'input', unrepresentable: 'any' });
}
