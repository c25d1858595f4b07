/**
 * Opens the place a location names: `s3://bucket/prefix` is an S3 prefix, anything else a local
 * folder. The S3 side loads the AWS SDK on first use only, so local runs never pay for it.
 */
import { parseS3Uri } from '../s3/uri.js';
import { createLocalPlace } from './local.js';
import type { Place } from './place.js';
import type { S3PlaceOptions } from './s3.js';

export { joinKey, type Place, type PlaceEntry, type PublishedObject, type StagedObject } from './place.js';
export type { S3PlaceOptions } from './s3.js';

export function isS3Location(location: string): boolean {
  return location.startsWith('s3://');
}

/**
 * @example
 * const place = openPlace('s3://security-lake/ext/sluice-vpc/1.0/', { endpoint: 'http://127.0.0.1:4568', forcePathStyle: true });
 * const staged = await place.stage('region=us-east-1/accountId=1/eventDay=20240101/part-0000.parquet');
 */
export function openPlace(location: string, s3?: Omit<S3PlaceOptions, 'uri'>): Place {
  if (!isS3Location(location)) return createLocalPlace(location);
  const { bucket, prefix } = parseS3Uri(location);
  const root = `s3://${bucket}/${prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`}`;
  let loaded: Promise<Place> | undefined;
  const place = () => (loaded ??= import('./s3.js').then((m) => m.createS3Place({ ...s3, uri: location })));
  return {
    root,
    kind: 's3',
    uri: (key) => `${root}${key}`,
    stage: async (key) => (await place()).stage(key),
    put: async (key, bytes) => (await place()).put(key, bytes),
    create: async (key, bytes) => (await place()).create(key, bytes),
    read: async (key) => (await place()).read(key),
    readRange: async (key, offset, length) => (await place()).readRange(key, offset, length),
    download: async (key, file) => (await place()).download(key, file),
    move: async (fromKey, toKey) => (await place()).move(fromKey, toKey),
    list: async (folder) => (await place()).list(folder),
    async *listTree(prefixOfKeys) {
      yield* (await place()).listTree(prefixOfKeys);
    },
    remove: async (key) => (await place()).remove(key),
    removeLeftovers: async (keyPrefix, nameFilter) => (await place()).removeLeftovers(keyPrefix, nameFilter),
    probe: async () => (await place()).probe(),
    close: async () => {
      if (loaded) await (await loaded).close();
    },
  };
}
