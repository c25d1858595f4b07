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
import type { FormatDescriptor } from '../core/component.js';
import { FORMATS, SINKS, TRANSFORMS } from './components.js';
import { groupSchema, loadPlanSchema, notifySchema } from './run-config.js';
import { checkS3OutputOptions, s3OutputOptionsShape } from '../core/s3/output-options.js';

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




/** The schemas of a list of descriptors, as a tuple (so the unions below keep each member's type). */
type SchemasOf<T extends readonly { schema: z.ZodType }[]> = { -readonly [K in keyof T]: T[K]['schema'] };
const schemasOf = <T extends readonly { schema: z.ZodType }[]>(list: T) => list.map((d) => d.schema) as unknown as SchemasOf<T>;

const bareFormatNames = FORMATS.filter((d: FormatDescriptor) => d.bareName).map((d) => d.type) as [string, ...string[]];

export const formatSchema = z
  .union([z.enum(bareFormatNames), ...schemasOf(FORMATS)])
  // A bare name means the format with every option at its default.
  .transform((f) => (typeof f === 'string' ? (FORMATS.find((d) => d.type === f)!.schema.parse({ type: f }) as z.output<(typeof FORMATS)[number]['schema']>) : f))
  .describe(`How to decode the objects: a format name (${bareFormatNames.join(', ')}) or { type, ...options }.`);

export const transformSchema = z.discriminatedUnion('type', schemasOf(TRANSFORMS));

export const sinkSchema = z.discriminatedUnion('type', schemasOf(SINKS));

const runtimeSchema = z
  .strictObject({
    concurrency: z.number().int().min(1).max(1000).default(20).describe('Units (objects) in flight at once.'),
    workers: z.number().int().min(0).max(64).optional().describe('Worker threads for CPU work (default: one per core; 0 = main thread).'),
    state: z
      .string()
      .default('./.sluice/state.db')
      .describe('Ledger: a SQLite file path, or a postgres:// URL shared by a fleet of workers (best as an env:NAME or file:PATH reference, since it holds the password).'),
    deadLetters: z.string().optional().describe('Folder or s3://bucket/prefix for dead letters (default: <first files sink>/_rejected, else beside the ledger). In Lambda it must be durable: an s3:// location (or a files sink writing to S3).'),
    s3: z.strictObject(s3OutputOptionsShape).superRefine((o, ctx) => checkS3OutputOptions(undefined, o, ctx)).optional().describe('How the runtime reaches s3:// locations it writes (dead letters, aggregate partials); default: the options of a files sink, or of the source, on the same bucket.'),
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
export type { FilesSinkConfig } from '../sinks/files/config.js';
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
  const resolveWith = <C extends { type: string }>(list: readonly { type: string; resolvePaths?: (c: never, r: (p: string) => string) => unknown }[], c: C): C => {
    const resolve = list.find((d) => d.type === c.type)?.resolvePaths as ((c: C, r: (p: string) => string) => C) | undefined;
    return resolve ? resolve(c, resolveLocal) : c;
  };
  return {
    ...config,
    source: { ...config.source, uri: resolveLocal(config.source.uri) },
    sinks: config.sinks.map((s) => resolveWith(SINKS, s)),
    transforms: config.transforms.map((t) => resolveWith(TRANSFORMS, t)),
    runtime: {
      ...config.runtime,
      state: isLedgerReference(config.runtime.state) ? config.runtime.state : resolveLocal(config.runtime.state),
      deadLetters: config.runtime.deadLetters === undefined ? undefined : resolveLocal(config.runtime.deadLetters),
    },
  };
}

/** True when `runtime.state` names a database or a secret reference rather than a SQLite file path. */
export function isLedgerReference(state: string): boolean {
  return /^postgres(ql)?:\/\//i.test(state) || state.startsWith('env:') || state.startsWith('file:');
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
