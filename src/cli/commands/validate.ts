import { accessSync, constants, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadPipelineFile, type PipelineConfig } from '../../pipeline/config.js';
import { SluiceError } from '../../core/errors.js';
import { createFormat, createSink } from '../../pipeline/catalog.js';
import { checkOcsfOutputSample } from '../../pipeline/ocsf-output-sample.js';
import { isLedgerReference } from '../../runtime/ledger/open-ledger.js';
import { literalSecretsIn } from '../../core/secrets.js';
import { isS3Location } from '../../core/place/index.js';
import { deadLetterDirFor, preflightDeadLetters } from '../../pipeline/build-pipeline.js';

export interface ValidateFlags {
  config: string;
  json?: boolean;
}

/** Semantic checks beyond the schema: things a run would otherwise only discover later. */
export function checkPipeline(config: PipelineConfig, file: string): string[] {
  const problems: string[] = [];
  const uri = config.source.uri;
  if (uri.startsWith('s3://')) {
    if (!/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(uri)) problems.push(`source.uri: "${uri}" is not a valid s3://bucket/prefix`);
  } else if (!existsSync(uri)) {
    problems.push(`source.uri: folder ${uri} does not exist`);
  } else if (!statSync(uri).isDirectory()) {
    problems.push(`source.uri: ${uri} is not a folder`);
  }
  for (const [key, pattern] of [['include', config.source.include], ['exclude', config.source.exclude]] as const) {
    if (pattern === undefined) continue;
    try {
      new RegExp(pattern);
    } catch (err) {
      problems.push(`source.${key}: invalid regular expression: ${(err as Error).message}`);
    }
  }
  try {
    createFormat(config.format);
  } catch (err) {
    problems.push(`format: ${(err as Error).message}`);
  }
  config.sinks.forEach((sink, i) => {
    try {
      // Built to check it (secrets read, templates compiled), then released: no request is made.
      void createSink(sink).close?.();
    } catch (err) {
      problems.push(`sinks.${i}: ${(err as Error).message}`);
    }
    if (sink.type === 'files' && !sink.path.startsWith('s3://')) {
      const existing = nearestExisting(sink.path);
      try {
        accessSync(existing, constants.W_OK);
      } catch {
        problems.push(`sinks.${i}.path: ${sink.path} is not writable (checked ${existing})`);
      }
    }
  });
  for (const found of literalSecretsIn(config)) {
    problems.push(`${found}: write it as a reference (env:NAME, file:PATH, aws-secretsmanager:ID[#key], aws-ssm:/name), or set runtime.literalSecrets: true (tests only)`);
  }
  if (!isLedgerReference(config.runtime.state)) {
    const stateDir = nearestExisting(path.dirname(config.runtime.state));
    try {
      accessSync(stateDir, constants.W_OK);
    } catch {
      problems.push(`runtime.state: cannot create the ledger ${config.runtime.state} (${stateDir} is not writable)`);
    }
  }
  return problems.map((p) => `${file}: ${p}`);
}

function nearestExisting(p: string): string {
  let dir = path.resolve(p);
  while (!existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/**
 * Checks that need the network: every S3 output place (files sinks, dead letters) is reached and
 * takes a probe object, so a missing bucket or a refused write shows here, naming the bucket and
 * the AWS error code, instead of failing every unit of a run.
 */
export async function checkOutputPlaces(config: PipelineConfig, file: string): Promise<string[]> {
  const problems: string[] = [];
  for (const [i, sink] of config.sinks.entries()) {
    if (sink.type !== 'files' || !sink.path.startsWith('s3://')) continue;
    const built = createSink(sink);
    try {
      await built.preflight?.();
    } catch (err) {
      problems.push(`sinks.${i}.path: ${(err as Error).message}`);
    } finally {
      await built.close?.();
    }
  }
  if (isS3Location(deadLetterDirFor(config))) {
    try {
      await preflightDeadLetters(config);
    } catch (err) {
      problems.push(`runtime.deadLetters: ${(err as Error).message}`);
    }
  }
  return problems.map((p) => `${file}: ${p}`);
}

export async function validateCommand(flags: ValidateFlags): Promise<void> {
  const config = loadPipelineFile(flags.config);
  const problems = checkPipeline(config, flags.config);
  if (problems.length === 0) problems.push(...(await checkOutputPlaces(config, flags.config)));
  if (problems.length > 0) {
    throw new SluiceError(`pipeline ${config.name} has problems:\n  - ${problems.join('\n  - ')}`, { code: 'CONFIG_INVALID', stage: 'config' });
  }
  // A pipeline emitting OCSF: map a sample of its first object and check it against the schema.
  const ocsfSample = await checkOcsfOutputSample(config);
  if (ocsfSample && ocsfSample.invalidEvents > 0) {
    const listed = ocsfSample.problems.map((p) => `${p.object} line ${p.line}: ${p.message}`).join('\n  - ');
    throw new SluiceError(`pipeline ${config.name}: ${ocsfSample.invalidEvents} of ${ocsfSample.events} sampled events are not valid OCSF ${ocsfSample.version}:\n  - ${listed}`, {
      code: 'OCSF_SAMPLE_INVALID',
      stage: 'config',
      hint: `the events come from mapping ${ocsfSample.mapping}; fix the mapping (or the transforms before it) for the attributes listed`,
    });
  }
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
    return;
  }
  const sinks = config.sinks.map((s) => (s.type === 'files' ? `files ${s.path} (${s.format}, by ${s.partition})` : s.type)).join(', ');
  process.stdout.write(
    `ok: pipeline ${config.name}\n  source  ${config.source.uri}\n  format  ${config.format.type}\n  sinks   ${sinks}\n  ledger  ${config.runtime.state}\n`,
  );
  if (ocsfSample) {
    process.stdout.write(
      ocsfSample.objects.length === 0
        ? `  ocsf    no source object to sample yet (OCSF ${ocsfSample.version}, ${ocsfSample.mapping})\n`
        : `  ocsf    ${ocsfSample.events} sampled events valid OCSF ${ocsfSample.version} (${ocsfSample.mapping}; ${ocsfSample.rejected} records rejected on the way)\n`,
    );
  }
}
