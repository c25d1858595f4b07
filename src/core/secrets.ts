/**
 * Secret references in pipeline files:
 * - `env:NAME` reads an environment variable;
 * - `file:PATH` reads a file (trimmed, so a trailing newline from `echo` does not end up in a
 *   password);
 * - `aws-secretsmanager:ID[#jsonKey]` reads a Secrets Manager secret (its SecretString, or one
 *   key of it when it holds a JSON object); ID is a name or an ARN;
 * - `aws-ssm:/param/name` reads an SSM parameter, decrypted (SecureString).
 * Anything else is taken literally (and `sluice validate` refuses literal values where a secret
 * belongs, see `literalSecretsIn`).
 *
 * The AWS references need a network call, so only `resolveSecretRefAsync` reads them; the
 * synchronous `resolveSecretRef` serves the settings that are read synchronously (env:/file:).
 * AWS values are fetched once per process and reference (a failed fetch is not cached), with
 * the SDK's default credentials and region; `AWS_ENDPOINT_URL_SECRETS_MANAGER`,
 * `AWS_ENDPOINT_URL_SSM` or `AWS_ENDPOINT_URL` (or the `endpoint` option) point them elsewhere.
 *
 * Error messages name the reference (a variable name, a path, a secret id: not secret), never a
 * value. `maskUrlCredentials` and `redactSecrets` keep values out of messages built from URLs or
 * from text a server sent back.
 */
import { readFileSync } from 'node:fs';
// The Secrets Manager and SSM clients are imported where they are used: most processes (and every
// Lambda bundle whose pipeline has no aws- reference) never evaluate them.
import { SluiceError, toSluiceError } from './errors.js';

const SECRETS_MANAGER = 'aws-secretsmanager:';
const SSM = 'aws-ssm:';
const SECRET_SCHEMES = ['env:', 'file:', SECRETS_MANAGER, SSM] as const;

/** True when `value` is a secret reference rather than a literal. */
export function isSecretRef(value: string): boolean {
  return SECRET_SCHEMES.some((scheme) => value.startsWith(scheme) && value.length > scheme.length);
}

/** True for references only `resolveSecretRefAsync` can read (AWS secret stores). */
export function isAsyncSecretRef(value: string): boolean {
  return value.startsWith(SECRETS_MANAGER) || value.startsWith(SSM);
}

/**
 * Resolves an `env:` or `file:` reference (or a literal) to its value, synchronously.
 *
 * @example
 * resolveSecretRef('env:AWS_SECRET_ACCESS_KEY')
 * resolveSecretRef('file:/run/secrets/s3-key')
 */
export function resolveSecretRef(ref: string): string {
  if (ref.startsWith('env:')) {
    const name = ref.slice(4);
    const value = process.env[name];
    if (value === undefined) {
      throw new SluiceError(`secret reference ${ref}: environment variable ${name} is not set`, {
        code: 'SECRET_NOT_FOUND',
        stage: 'config',
        hint: `export ${name} before running, or use file:PATH`,
      });
    }
    if (value.length === 0) throw emptySecret(ref);
    return value;
  }
  if (ref.startsWith('file:')) {
    const file = ref.slice(5);
    let value: string;
    try {
      value = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new SluiceError(`secret reference ${ref}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, {
        code: 'SECRET_NOT_FOUND',
        stage: 'config',
        hint: 'check the path and that this user may read the file',
      });
    }
    if (value.length === 0) throw emptySecret(ref);
    return value;
  }
  if (isAsyncSecretRef(ref)) {
    throw new SluiceError(`secret reference ${ref}: this setting is read synchronously and cannot fetch from an AWS secret store`, {
      code: 'SECRET_UNSUPPORTED',
      stage: 'config',
      hint: 'use env:NAME or file:PATH here (sink credentials accept aws-secretsmanager: and aws-ssm:)',
    });
  }
  return ref;
}

export interface AwsSecretOptions {
  /** AWS region (default: the SDK's, i.e. AWS_REGION / profile). */
  region?: string;
  /** Endpoint URL of a Secrets Manager / SSM compatible server (tests, VPC endpoints). */
  endpoint?: string;
}

const fetched = new Map<string, Promise<string>>();

/** Forgets fetched AWS secrets (tests; a rotation picked up by a long-running process). */
export function clearSecretCache(): void {
  fetched.clear();
}

/**
 * Resolves any secret reference, including `aws-secretsmanager:` and `aws-ssm:`.
 *
 * @example
 * await resolveSecretRefAsync('aws-secretsmanager:prod/opensearch#password')
 * await resolveSecretRefAsync('aws-ssm:/sluice/prod/es-password')
 * await resolveSecretRefAsync('env:OS_PASSWORD')
 */
export async function resolveSecretRefAsync(ref: string, options: AwsSecretOptions = {}): Promise<string> {
  if (!isAsyncSecretRef(ref)) return resolveSecretRef(ref);
  const cacheKey = `${options.region ?? ''}\0${options.endpoint ?? ''}\0${ref}`;
  let value = fetched.get(cacheKey);
  if (value === undefined) {
    value = ref.startsWith(SECRETS_MANAGER) ? fetchSecretsManager(ref, options) : fetchSsmParameter(ref, options);
    fetched.set(cacheKey, value);
    value.catch(() => fetched.delete(cacheKey));
  }
  return value;
}

async function fetchSecretsManager(ref: string, options: AwsSecretOptions): Promise<string> {
  const spec = ref.slice(SECRETS_MANAGER.length);
  const hash = spec.lastIndexOf('#');
  const secretId = hash === -1 ? spec : spec.slice(0, hash);
  const jsonKey = hash === -1 ? undefined : spec.slice(hash + 1);
  if (secretId === '' || jsonKey === '') {
    throw new SluiceError(`secret reference ${ref}: expected aws-secretsmanager:ID or aws-secretsmanager:ID#jsonKey`, { code: 'SECRET_REF_INVALID', stage: 'config' });
  }
  const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
  const client = new SecretsManagerClient({ region: options.region, endpoint: options.endpoint });
  let text: string;
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (out.SecretString !== undefined) text = out.SecretString;
    else if (out.SecretBinary !== undefined) text = Buffer.from(out.SecretBinary).toString('utf8');
    else throw emptySecret(ref);
  } catch (err) {
    throw awsSecretError(ref, err);
  } finally {
    client.destroy();
  }
  if (jsonKey === undefined) return nonEmpty(ref, text);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SluiceError(`secret reference ${ref}: the secret is not a JSON object, so it has no key "${jsonKey}"`, {
      code: 'SECRET_NOT_FOUND',
      stage: 'config',
      hint: `drop #${jsonKey} to use the whole secret, or store it as a JSON object`,
    });
  }
  const field = parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>)[jsonKey] : undefined;
  if (typeof field !== 'string' && typeof field !== 'number') {
    const keys = parsed !== null && typeof parsed === 'object' ? Object.keys(parsed).join(', ') : '';
    throw new SluiceError(`secret reference ${ref}: the secret has no string key "${jsonKey}"${keys ? ` (its keys: ${keys})` : ''}`, {
      code: 'SECRET_NOT_FOUND',
      stage: 'config',
      hint: 'check the key after # (names are case-sensitive)',
    });
  }
  return nonEmpty(ref, String(field));
}

async function fetchSsmParameter(ref: string, options: AwsSecretOptions): Promise<string> {
  const name = ref.slice(SSM.length);
  if (name === '') throw new SluiceError(`secret reference ${ref}: expected aws-ssm:/parameter/name`, { code: 'SECRET_REF_INVALID', stage: 'config' });
  const { GetParameterCommand, SSMClient } = await import('@aws-sdk/client-ssm');
  const client = new SSMClient({ region: options.region, endpoint: options.endpoint });
  try {
    const out = await client.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    return nonEmpty(ref, out.Parameter?.Value ?? '');
  } catch (err) {
    throw awsSecretError(ref, err);
  } finally {
    client.destroy();
  }
}

/** A clear error for a failed AWS fetch: not found and access denied are not worth retrying. */
function awsSecretError(ref: string, err: unknown): SluiceError {
  if (err instanceof SluiceError) return err;
  const name = (err as { name?: string }).name ?? 'Error';
  if (name === 'ResourceNotFoundException' || name === 'ParameterNotFound' || name === 'ParameterVersionNotFound') {
    return new SluiceError(`secret reference ${ref}: no such secret or parameter (${name})`, {
      code: 'SECRET_NOT_FOUND',
      stage: 'config',
      hint: 'check the name and the region (AWS_REGION)',
    });
  }
  if (name === 'AccessDeniedException' || name === 'AccessDenied' || name === 'UnrecognizedClientException' || name === 'InvalidSignatureException') {
    return new SluiceError(`secret reference ${ref}: access denied (${name})`, {
      code: 'SECRET_ACCESS_DENIED',
      stage: 'config',
      hint: 'grant secretsmanager:GetSecretValue / ssm:GetParameter (and kms:Decrypt for its key) to the role running Sluice',
    });
  }
  const wrapped = toSluiceError(err, 'config');
  return new SluiceError(`secret reference ${ref}: cannot fetch it (${name}: ${wrapped.message})`, {
    code: 'SECRET_UNAVAILABLE',
    stage: 'config',
    retryable: wrapped.retryable,
    hint: 'check network access to the AWS endpoint and the credentials Sluice runs with',
  });
}

function nonEmpty(ref: string, value: string): string {
  if (value.length === 0) throw emptySecret(ref);
  return value;
}

function emptySecret(ref: string): SluiceError {
  return new SluiceError(`secret reference ${ref} resolves to an empty value`, {
    code: 'SECRET_EMPTY',
    stage: 'config',
    hint: 'set the variable, file or stored secret to the secret',
  });
}

/**
 * Replaces the password (and user) of a URL with `***`, for messages and reports.
 *
 * @example
 * maskUrlCredentials('https://admin:hunter2@search.example.com/'); // 'https://***:***@search.example.com/'
 */
export function maskUrlCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@?#]*@/i, (_m, scheme: string) => `${scheme}***:***@`);
}

/**
 * Replaces every occurrence of the given secret values in `text` with `***`: for messages that
 * quote text from elsewhere (a server's error body may echo a header).
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    // Very short values would blank out ordinary words; they are not worth hiding anyway.
    if (secret.length >= 4) out = out.split(secret).join('***');
  }
  return out;
}

/** The parts of a pipeline that can hold credentials (a parsed pipeline has this shape). */
export interface SecretBearingConfig {
  source: { secretAccessKey?: string };
  transforms: readonly unknown[];
  sinks: readonly unknown[];
  runtime: { state: string; literalSecrets?: boolean };
}

/** Header names whose values are credentials. */
const SENSITIVE_HEADER = /^(authorization|proxy-authorization|cookie)$|token|secret|api[-_]?key|password|passwd|credential/i;

/** True when a header of this name carries a credential (so its value must be a reference). */
export function isSensitiveHeader(name: string): boolean {
  return SENSITIVE_HEADER.test(name);
}

/**
 * The places in a pipeline holding a secret written literally instead of as a reference, as
 * `path: what` lines for `sluice validate`. Empty when `runtime.literalSecrets: true` allows them.
 */
export function literalSecretsIn(config: SecretBearingConfig): string[] {
  if (config.runtime.literalSecrets) return [];
  const found: string[] = [];
  const check = (where: string, value: unknown, what: string) => {
    if (typeof value === 'string' && value !== '' && !isSecretRef(value)) found.push(`${where}: ${what} is written literally`);
  };
  const checkUrl = (where: string, value: unknown) => {
    if (typeof value !== 'string') return;
    const password = /^[a-z][a-z0-9+.-]*:\/\/[^/@?#]*:([^/@?#]+)@/i.exec(value)?.[1];
    if (password !== undefined) found.push(`${where}: the URL holds a password (${maskUrlCredentials(value)})`);
  };
  check('source.secretAccessKey', config.source.secretAccessKey, 'the S3 secret key');
  checkUrl('runtime.state', config.runtime.state);
  config.transforms.forEach((transform, i) => {
    const tables = (transform as { tables?: Record<string, { url?: unknown }> }).tables;
    if (tables && typeof tables === 'object') for (const [name, table] of Object.entries(tables)) checkUrl(`transforms.${i}.tables.${name}.url`, table?.url);
  });
  config.sinks.forEach((sink, i) => {
    const s = sink as { url?: unknown; auth?: Record<string, unknown>; headers?: Record<string, unknown> };
    checkUrl(`sinks.${i}.url`, s.url);
    if (s.auth && typeof s.auth === 'object') {
      check(`sinks.${i}.auth.password`, s.auth['password'], 'the password');
      check(`sinks.${i}.auth.apiKey`, s.auth['apiKey'], 'the API key');
    }
    if (s.headers && typeof s.headers === 'object') {
      for (const [name, value] of Object.entries(s.headers)) {
        if (isSensitiveHeader(name)) check(`sinks.${i}.headers.${name}`, value, `the ${name} header`);
      }
    }
  });
  return found;
}
