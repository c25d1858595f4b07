/**
 * Authentication of bulk requests: HTTP basic, an API key (`Authorization: ApiKey ...`), or AWS
 * SigV4 for Amazon OpenSearch Service (`es`) and OpenSearch Serverless (`aoss`).
 *
 * Secrets are references: `env:`/`file:` ones are read when the sink is created (so `sluice
 * validate` and the run's start report a missing one), AWS secret-store ones on the first request
 * (once per sink instance; a failed fetch is retried by the next request). Every value read is
 * remembered in `secrets`, so the sink can redact it from any message.
 *
 * SigV4 signs each attempt afresh (signatures expire after 5 minutes, and retries can take
 * longer). The payload hash is computed with Node's crypto and passed as x-amz-content-sha256
 * (required by aoss, accepted by es), so the signer never hashes megabytes in JavaScript.
 */
import { createHash } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { SluiceError } from '../../core/errors.js';
import { isAsyncSecretRef, resolveSecretRef, resolveSecretRefAsync, type AwsSecretOptions } from '../../core/secrets.js';
import type { BulkAuthConfig } from './config.js';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export type AwsCredentialSource = AwsCredentials | (() => Promise<AwsCredentials>);

export interface SignableRequest {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: Buffer;
}

export interface RequestAuthorizer {
  /** Secret values in use (filled as they are read), for redaction. */
  readonly secrets: readonly string[];
  /** Headers to add to this request (an Authorization header, or a SigV4 signature). */
  headersFor(request: SignableRequest): Promise<Record<string, string>>;
}

export interface AuthorizerOptions {
  /** Credentials written in the URL (already removed from it). */
  urlCredentials?: { username?: string; password?: string };
  /** SigV4 credentials instead of the default provider chain (tests). */
  awsCredentials?: AwsCredentialSource;
  secretOptions?: AwsSecretOptions;
}

/**
 * Builds the authorizer of a sink; throws a config error for a missing env:/file: secret.
 *
 * @example
 * const auth = createRequestAuthorizer({ username: 'admin', password: 'env:OS_PASSWORD' }, new URL('http://127.0.0.1:9200'));
 * await auth.headersFor({ url, method: 'POST', headers: {}, body }); // { authorization: 'Basic ...' }
 */
export function createRequestAuthorizer(auth: BulkAuthConfig | undefined, url: URL, options: AuthorizerOptions = {}): RequestAuthorizer {
  const secrets: string[] = [];
  const remember = (value: string) => {
    if (!secrets.includes(value)) secrets.push(value);
    return value;
  };
  /** A secret read now when it can be, else on first use (cached; failures retried). */
  const secretValue = (ref: string): (() => Promise<string>) => {
    if (!isAsyncSecretRef(ref)) {
      const value = remember(resolveSecretRef(ref));
      return () => Promise.resolve(value);
    }
    let pending: Promise<string> | undefined;
    return () => {
      pending ??= resolveSecretRefAsync(ref, options.secretOptions).then(remember, (err: unknown) => {
        pending = undefined;
        throw err;
      });
      return pending;
    };
  };

  if (auth === undefined) {
    const { username, password } = options.urlCredentials ?? {};
    if (username === undefined && password === undefined) return { secrets, headersFor: async () => ({}) };
    const header = basicHeader(username ?? '', remember(password ?? ''));
    return { secrets, headersFor: async () => ({ authorization: header }) };
  }
  if ('username' in auth) {
    const user = secretValue(auth.username);
    const password = secretValue(auth.password);
    let header: string | undefined;
    return {
      secrets,
      async headersFor() {
        header ??= basicHeader(await user(), await password());
        return { authorization: header };
      },
    };
  }
  if ('apiKey' in auth) {
    const key = secretValue(auth.apiKey);
    return { secrets, headersFor: async () => ({ authorization: `ApiKey ${await key()}` }) };
  }
  return createSigV4Authorizer(auth.aws, url, secrets, options.awsCredentials);
}

function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** The region in an AWS OpenSearch endpoint name (search-x.eu-west-1.es.amazonaws.com, x.us-east-1.aoss.amazonaws.com). */
export function regionFromEndpoint(hostname: string): string | undefined {
  return /\.([a-z]{2}(?:-[a-z]+)+-\d+)\.(?:es|aoss)\.amazonaws\.com$/.exec(hostname)?.[1];
}

function createSigV4Authorizer(
  aws: { region?: string; service: 'es' | 'aoss' },
  url: URL,
  secrets: string[],
  credentials: AwsCredentialSource | undefined,
): RequestAuthorizer {
  const region = aws.region ?? regionFromEndpoint(url.hostname) ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'];
  if (region === undefined) {
    throw new SluiceError(`SigV4 for ${url.origin}: no AWS region`, {
      code: 'CONFIG_INVALID',
      stage: 'config',
      hint: 'set auth.aws.region, or AWS_REGION',
    });
  }
  const signer = new SignatureV4({
    credentials: credentials ?? defaultProvider(),
    region,
    service: aws.service,
    sha256: Sha256,
    uriEscapePath: true,
  });
  return {
    secrets,
    async headersFor(request) {
      const query: Record<string, string> = {};
      for (const [k, v] of request.url.searchParams) query[k] = v;
      const headers: Record<string, string> = { ...lowerCaseKeys(request.headers), host: request.url.host };
      headers['x-amz-content-sha256'] = createHash('sha256').update(request.body).digest('hex');
      const signed = await signer.sign({
        method: request.method,
        protocol: request.url.protocol,
        hostname: request.url.hostname,
        port: request.url.port === '' ? undefined : Number(request.url.port),
        path: request.url.pathname,
        query,
        headers,
        body: request.body,
      });
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(signed.headers)) {
        // undici derives Host from the URL; everything else signed must be sent as signed.
        if (k.toLowerCase() !== 'host') out[k.toLowerCase()] = String(v);
      }
      return out;
    },
  };
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}
