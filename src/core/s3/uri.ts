/**
 * `s3://bucket/prefix` URIs, apart from the S3 source so that checking one does not load the AWS SDK.
 */
import { SluiceError } from '../errors.js';

export interface S3Location {
  bucket: string;
  /** Key prefix, possibly empty. */
  prefix: string;
}

/** Splits `s3://bucket/prefix` into its parts. */
export function parseS3Uri(uri: string): S3Location {
  const m = /^s3:\/\/([^/]+)(?:\/([\s\S]*))?$/.exec(uri);
  if (!m) {
    throw new SluiceError(`"${uri}" is not an S3 URI: expected s3://bucket or s3://bucket/prefix`, {
      code: 'BAD_SOURCE_URI',
      stage: 'config',
      hint: 'for example s3://my-logs/AWSLogs/123456789012/vpcflowlogs/',
    });
  }
  return { bucket: m[1]!, prefix: m[2] ?? '' };
}

