/**
 * Builds the source a pipeline's `source:` block describes: `s3://...` is a bucket, anything else
 * (a path or a `file://` URL) a local folder. Credential references are resolved here, once, so
 * a missing variable fails before any work starts.
 */
import { fileURLToPath } from 'node:url';
import type { Source } from '../core/component.js';
import type { SourceConfig } from './config.js';
import { SluiceError } from '../core/errors.js';
import { resolveS3Credentials } from '../core/s3/credentials.js';
import { createDirSource } from '../sources/dir/index.js';
import type { S3SourceOptions } from '../sources/s3/index.js';
import { parseS3Uri } from '../core/s3/uri.js';

/**
 * @example
 * const source = openSource({ uri: 's3://logs/AWSLogs/', accessKeyId: 'env:KEY_ID', secretAccessKey: 'env:SECRET' });
 */
export function openSource(config: SourceConfig): Source {
  const include = compilePattern(config.include, 'include');
  const exclude = compilePattern(config.exclude, 'exclude');
  if (config.uri.startsWith('s3://')) {
    return lazyS3Source({
      uri: config.uri,
      endpoint: config.endpoint,
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      credentials: resolveS3Credentials(config, 'source'),
      include,
      exclude,
    });
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(config.uri) && !config.uri.startsWith('file://')) {
    throw new SluiceError(`source.uri "${config.uri}": unsupported scheme`, {
      code: 'BAD_SOURCE_URI',
      stage: 'config',
      hint: 'use a folder path or s3://bucket/prefix',
    });
  }
  const root = config.uri.startsWith('file://') ? fileURLToPath(config.uri) : config.uri;
  return createDirSource(root, { include, exclude });
}

/**
 * An S3 source that loads the AWS SDK (a quarter of a second of start-up, in every process and
 * worker thread) only when it is first used: runs over local folders never pay for it. The URI
 * is checked at once, so a bad one still fails before any work starts.
 */
function lazyS3Source(options: S3SourceOptions): Source {
  const { bucket, prefix } = parseS3Uri(options.uri);
  let loaded: Promise<Source> | undefined;
  const source = () => (loaded ??= import('../sources/s3/index.js').then((m) => m.createS3Source(options)));
  return {
    root: `s3://${bucket}/${prefix}`,
    async *list(window) {
      yield* (await source()).list(window);
    },
    async open(ref, signal) {
      return (await source()).open(ref, signal);
    },
    async *listFolder(keyPrefix) {
      const s3 = await source();
      if (s3.listFolder) yield* s3.listFolder(keyPrefix);
    },
    async close() {
      if (loaded) await (await loaded).close?.();
    },
  };
}

function compilePattern(pattern: string | undefined, key: 'include' | 'exclude'): RegExp | undefined {
  if (pattern === undefined) return undefined;
  try {
    return new RegExp(pattern);
  } catch (err) {
    throw new SluiceError(`source.${key}: "${pattern}" is not a valid regular expression (${(err as Error).message})`, {
      code: 'CONFIG_INVALID',
      stage: 'config',
      hint: 'JavaScript regular expression syntax; escape literal dots as \\.',
    });
  }
}
