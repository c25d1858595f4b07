import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SluiceError } from '../core/errors.js';
import { resolveSecretRef } from './secrets.js';

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

  it('says plainly that secret-store references are not supported yet', () => {
    assert.throws(
      () => resolveSecretRef('aws-secretsmanager:prod/s3'),
      (err: unknown) => err instanceof SluiceError && err.code === 'SECRET_UNSUPPORTED' && !err.message.includes('prod/s3'),
    );
  });
});
