import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parsePipeline } from '../pipeline/config.js';
import { SluiceError } from './errors.js';
import {
  clearSecretCache,
  isSecretRef,
  literalSecretsIn,
  maskUrlCredentials,
  redactSecrets,
  resolveSecretRef,
  resolveSecretRefAsync,
} from './secrets.js';

describe('resolveSecretRef', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-secrets-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads env:NAME', () => {
    // Prepare
    process.env.SLUICE_TEST_SECRET_A = 'abc/123+xyz';
    // Act + Assess
    assert.equal(resolveSecretRef('env:SLUICE_TEST_SECRET_A'), 'abc/123+xyz');
    delete process.env.SLUICE_TEST_SECRET_A;
  });

  it('reads file:PATH, trimmed', () => {
    const file = path.join(dir, 'key');
    writeFileSync(file, '  s3cr3t\n');
    assert.equal(resolveSecretRef(`file:${file}`), 's3cr3t');
  });

  it('passes literal values through', () => {
    assert.equal(resolveSecretRef('AKIAEXAMPLE'), 'AKIAEXAMPLE');
  });

  it('names a missing variable without printing any value', () => {
    // Prepare: a value that must never appear in the message
    delete process.env.SLUICE_TEST_MISSING;
    process.env.SLUICE_TEST_OTHER = 'do-not-print-me';
    // Act + Assess
    assert.throws(
      () => resolveSecretRef('env:SLUICE_TEST_MISSING'),
      (err: unknown) => {
        assert.ok(err instanceof SluiceError);
        assert.equal(err.code, 'SECRET_NOT_FOUND');
        assert.equal(err.stage, 'config');
        assert.equal(err.message, 'secret reference env:SLUICE_TEST_MISSING: environment variable SLUICE_TEST_MISSING is not set');
        assert.ok(!err.describe().includes('do-not-print-me'));
        return true;
      },
    );
    delete process.env.SLUICE_TEST_OTHER;
  });

  it('names an unreadable file and rejects empty secrets', () => {
    const missing = path.join(dir, 'nope');
    assert.throws(() => resolveSecretRef(`file:${missing}`), (err: unknown) => err instanceof SluiceError && err.code === 'SECRET_NOT_FOUND' && err.message.includes(missing) && err.message.includes('ENOENT'));
    const blank = path.join(dir, 'blank');
    writeFileSync(blank, '\n');
    assert.throws(() => resolveSecretRef(`file:${blank}`), (err: unknown) => err instanceof SluiceError && err.code === 'SECRET_EMPTY');
  });

  it('says plainly that AWS secret-store references need the asynchronous reader', () => {
    assert.throws(
      () => resolveSecretRef('aws-secretsmanager:prod/s3'),
      (err: unknown) => err instanceof SluiceError && err.code === 'SECRET_UNSUPPORTED' && /read synchronously/.test(err.message),
    );
  });

  it('tells references from literals', () => {
    assert.equal(isSecretRef('env:X'), true);
    assert.equal(isSecretRef('file:/run/x'), true);
    assert.equal(isSecretRef('aws-ssm:/a/b'), true);
    assert.equal(isSecretRef('aws-secretsmanager:prod/os#password'), true);
    assert.equal(isSecretRef('env:'), false);
    assert.equal(isSecretRef('hunter2'), false);
  });
});

/**
 * A tiny server speaking the AWS JSON 1.1 protocol of Secrets Manager (GetSecretValue) and SSM
 * (GetParameter), as the SDK sends it: POST /, X-Amz-Target, a signed request, JSON in and out.
 */
function startFakeAws(secrets: Record<string, string>, parameters: Record<string, string>) {
  const calls: Array<{ target: string; body: Record<string, unknown>; signed: boolean }> = [];
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const body = JSON.parse(text || '{}') as Record<string, unknown>;
      calls.push({ target, body, signed: String(req.headers['authorization'] ?? '').startsWith('AWS4-HMAC-SHA256 ') });
      const reply = (status: number, json: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(json));
      };
      if (target === 'secretsmanager.GetSecretValue') {
        const id = String(body['SecretId']);
        if (id === 'forbidden') return reply(400, { __type: 'AccessDeniedException', message: 'not authorized to perform secretsmanager:GetSecretValue' });
        if (!(id in secrets)) return reply(400, { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." });
        return reply(200, { ARN: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${id}-AbCdEf`, Name: id, SecretString: secrets[id], VersionId: 'v1' });
      }
      if (target === 'AmazonSSM.GetParameter') {
        const name = String(body['Name']);
        if (!(name in parameters)) return reply(400, { __type: 'ParameterNotFound', message: '' });
        const decrypted = body['WithDecryption'] === true;
        return reply(200, { Parameter: { Name: name, Type: 'SecureString', Value: decrypted ? parameters[name] : 'AQICAHh-ciphertext', Version: 1, DataType: 'text' } });
      }
      return reply(400, { __type: 'UnknownOperationException' });
    });
  });
  return new Promise<{ endpoint: string; calls: typeof calls; close: () => Promise<void> }>((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ endpoint: `http://127.0.0.1:${port}`, calls, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

describe('resolveSecretRefAsync (AWS JSON protocol against a local server)', () => {
  let aws: Awaited<ReturnType<typeof startFakeAws>>;
  const saved = { ...process.env };
  before(async () => {
    aws = await startFakeAws(
      { 'prod/opensearch': JSON.stringify({ username: 'admin', password: 'p@ss-from-sm', port: 9200 }), 'plain-token': 'tok-123' },
      { '/sluice/es-password': 'p@ss-from-ssm' },
    );
    process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
    process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
    process.env.AWS_REGION = 'eu-west-1';
  });
  after(async () => {
    await aws.close();
    for (const key of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION', 'AWS_ENDPOINT_URL_SECRETS_MANAGER']) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
    clearSecretCache();
  });

  it('reads a whole secret and one key of a JSON secret, signed, once per reference', async () => {
    // Prepare
    clearSecretCache();
    const options = { endpoint: aws.endpoint };
    // Act
    const password = await resolveSecretRefAsync('aws-secretsmanager:prod/opensearch#password', options);
    const again = await resolveSecretRefAsync('aws-secretsmanager:prod/opensearch#password', options);
    const port = await resolveSecretRefAsync('aws-secretsmanager:prod/opensearch#port', options);
    const token = await resolveSecretRefAsync('aws-secretsmanager:plain-token', options);
    // Assess
    assert.equal(password, 'p@ss-from-sm');
    assert.equal(again, 'p@ss-from-sm');
    assert.equal(port, '9200');
    assert.equal(token, 'tok-123');
    const gets = aws.calls.filter((c) => c.target === 'secretsmanager.GetSecretValue');
    assert.equal(gets.length, 3, 'the repeated reference was served from the cache');
    assert.ok(gets.every((c) => c.signed));
    assert.deepEqual(gets[0]!.body, { SecretId: 'prod/opensearch' });
  });

  it('reads an SSM parameter with decryption', async () => {
    clearSecretCache();
    assert.equal(await resolveSecretRefAsync('aws-ssm:/sluice/es-password', { endpoint: aws.endpoint }), 'p@ss-from-ssm');
    const call = aws.calls.find((c) => c.target === 'AmazonSSM.GetParameter');
    assert.deepEqual(call?.body, { Name: '/sluice/es-password', WithDecryption: true });
  });

  it('follows AWS_ENDPOINT_URL_SECRETS_MANAGER when no endpoint is given', async () => {
    clearSecretCache();
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = aws.endpoint;
    assert.equal(await resolveSecretRefAsync('aws-secretsmanager:plain-token'), 'tok-123');
    delete process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
  });

  it('explains not found, access denied, a missing JSON key, without any secret value', async () => {
    clearSecretCache();
    const options = { endpoint: aws.endpoint };
    await assert.rejects(resolveSecretRefAsync('aws-secretsmanager:nope', options), (err: unknown) => err instanceof SluiceError && err.code === 'SECRET_NOT_FOUND' && /no such secret/.test(err.message));
    await assert.rejects(resolveSecretRefAsync('aws-ssm:/missing', options), (err: unknown) => err instanceof SluiceError && err.code === 'SECRET_NOT_FOUND');
    await assert.rejects(resolveSecretRefAsync('aws-secretsmanager:forbidden', options), (err: unknown) => err instanceof SluiceError && err.code === 'SECRET_ACCESS_DENIED' && !err.retryable);
    await assert.rejects(resolveSecretRefAsync('aws-secretsmanager:prod/opensearch#passwrd', options), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.message, 'secret reference aws-secretsmanager:prod/opensearch#passwrd: the secret has no string key "passwrd" (its keys: username, password, port)');
      assert.ok(!err.describe().includes('p@ss-from-sm'));
      return true;
    });
    await assert.rejects(resolveSecretRefAsync('aws-secretsmanager:plain-token#x', options), (err: unknown) => err instanceof SluiceError && !err.message.includes('tok-123'));
  });

  it('reports an unreachable endpoint as retryable, and does not cache the failure', async () => {
    clearSecretCache();
    const dead = { endpoint: 'http://127.0.0.1:9' };
    await assert.rejects(resolveSecretRefAsync('aws-ssm:/sluice/es-password', dead), (err: unknown) => err instanceof SluiceError && err.code === 'SECRET_UNAVAILABLE');
    assert.equal(await resolveSecretRefAsync('aws-ssm:/sluice/es-password', { endpoint: aws.endpoint }), 'p@ss-from-ssm');
  });

  it('resolves env: and file: references too', async () => {
    process.env.SLUICE_TEST_ASYNC = 'from-env';
    assert.equal(await resolveSecretRefAsync('env:SLUICE_TEST_ASYNC'), 'from-env');
    delete process.env.SLUICE_TEST_ASYNC;
  });
});

describe('keeping secrets out of messages', () => {
  it('masks credentials in URLs', () => {
    assert.equal(maskUrlCredentials('https://admin:hunter2@search.example.com:9200/x'), 'https://***:***@search.example.com:9200/x');
    assert.equal(maskUrlCredentials('http://token@host/'), 'http://***:***@host/');
    assert.equal(maskUrlCredentials('http://host/a@b'), 'http://host/a@b', 'an @ in the path is not userinfo');
    assert.equal(maskUrlCredentials('/local/path'), '/local/path');
  });

  it('redacts known values from text', () => {
    assert.equal(redactSecrets('auth failed for hunter2 (hunter2)', ['hunter2']), 'auth failed for *** (***)');
    assert.equal(redactSecrets('a b c', ['a']), 'a b c', 'values shorter than 4 characters are left alone');
  });

  it('lists literal secrets in a pipeline, unless literalSecrets allows them', () => {
    // Prepare
    const base = {
      name: 'p',
      source: { uri: 's3://bucket/x', secretAccessKey: 'wJalrXUtnFEMI' },
      runtime: { state: 'postgres://sluice:ledger-pw@db.internal/sluice' },
      format: 'vpcflow',
      sinks: [
        { type: 'opensearch', url: 'https://admin:pw123@es.example.com', index: 'flows' },
        { type: 'opensearch', url: 'https://es.example.com', index: 'flows', auth: { username: 'admin', password: 'hunter2' } },
        { type: 'elasticsearch', url: 'https://es.example.com', index: 'flows', auth: { apiKey: 'env:ES_KEY' } },
        { type: 'http', url: 'https://example.com/x', headers: { Authorization: 'Bearer abc', 'X-Api-Key': 'file:/run/key', 'X-Source': 'sluice' } },
      ],
    };
    // Act
    const found = literalSecretsIn(parsePipeline(base));
    const allowed = literalSecretsIn(parsePipeline({ ...base, runtime: { ...base.runtime, literalSecrets: true } }));
    // Assess
    assert.deepEqual(found, [
      'source.secretAccessKey: the S3 secret key is written literally',
      'runtime.state: the URL holds a password (postgres://***:***@db.internal/sluice)',
      'sinks.0.url: the URL holds a password (https://***:***@es.example.com)',
      'sinks.1.auth.password: the password is written literally',
      'sinks.3.headers.Authorization: the Authorization header is written literally',
    ]);
    assert.ok(found.every((line) => !line.includes('hunter2') && !line.includes('pw123') && !line.includes('abc') && !line.includes('ledger-pw')));
    assert.deepEqual(allowed, []);
  });
});
