/**
 * Secret references in pipeline files: `env:NAME` reads an environment variable, `file:PATH` reads
 * a file (trimmed, so a trailing newline from `echo` does not end up in a password). Anything
 * else is taken literally. Error messages name the reference, never a value.
 */
import { readFileSync } from 'node:fs';
import { SluiceError } from '../core/errors.js';

/** Reference schemes that are part of the design but read by a later version. */
const NOT_YET_SUPPORTED = ['aws-secretsmanager:', 'aws-ssm:'];

/**
 * Resolves a secret reference to its value.
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
  const scheme = NOT_YET_SUPPORTED.find((s) => ref.startsWith(s));
  if (scheme) {
    throw new SluiceError(`secret reference ${scheme}...: this kind of reference is not supported yet`, {
      code: 'SECRET_UNSUPPORTED',
      stage: 'config',
      hint: 'use env:NAME or file:PATH',
    });
  }
  return ref;
}

function emptySecret(ref: string): SluiceError {
  return new SluiceError(`secret reference ${ref} resolves to an empty value`, {
    code: 'SECRET_EMPTY',
    stage: 'config',
    hint: 'set the variable or file to the secret',
  });
}
