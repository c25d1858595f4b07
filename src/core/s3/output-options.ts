/**
 * The options of an output that may live in S3 (a files sink's `path`, `runtime.deadLetters`):
 * where to reach the bucket and how objects are written. Ignored (and refused by the schema's
 * refinement) for local folders.
 */
import { z } from 'zod';
import { resolveS3Credentials } from './credentials.js';
import type { S3PlaceOptions } from '../place/s3.js';

export const s3OutputOptionsShape = {
  endpoint: z.string().url().optional().describe('S3-compatible endpoint URL for an s3:// path (e.g. http://127.0.0.1:9000).'),
  region: z.string().optional().describe('AWS region of the bucket of an s3:// path (default: AWS_REGION or us-east-1).'),
  forcePathStyle: z.boolean().optional().describe('Path-style S3 URLs for an s3:// path (needed by most S3-compatible servers).'),
  accessKeyId: z.string().optional().describe('Secret reference (env:NAME, file:PATH) for the S3 access key id; default: the AWS credential chain.'),
  secretAccessKey: z.string().optional().describe('Secret reference (env:NAME, file:PATH) for the S3 secret key.'),
  sse: z.enum(['AES256', 'aws:kms']).optional().describe("Server-side encryption of the objects written to an s3:// path; aws:kms uses kmsKeyId, or the bucket's default key."),
  kmsKeyId: z.string().optional().describe('KMS key (id, ARN or alias) for sse: aws:kms.'),
  storageClass: z.enum(['STANDARD', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR']).optional().describe('S3 storage class of the objects written (default STANDARD).'),
};

export type S3OutputOptions = { [K in keyof typeof s3OutputOptionsShape]?: z.output<(typeof s3OutputOptionsShape)[K]> };

/**
 * The rules of S3 output options, for the schemas that hold them (a files sink, `runtime.s3`):
 * S3-only keys on an output that is a local folder would be ignored, and a KMS key needs
 * `sse: aws:kms`. `location` is undefined where the options serve several locations.
 */
export function checkS3OutputOptions(location: string | undefined, options: S3OutputOptions, ctx: z.core.$RefinementCtx): void {
  if (location !== undefined && !location.startsWith('s3://')) {
    for (const key of Object.keys(s3OutputOptionsShape) as Array<keyof S3OutputOptions>) {
      if (options[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `${key} applies to an s3:// path only (path is a local folder)` });
    }
  }
  if (options.kmsKeyId !== undefined && options.sse !== 'aws:kms') ctx.addIssue({ code: 'custom', path: ['kmsKeyId'], message: 'kmsKeyId needs sse: aws:kms' });
}

/** The place options for an s3:// location, credentials resolved (`where` names the block in messages). */
export function s3PlaceOptionsOf(options: S3OutputOptions, where: string): Omit<S3PlaceOptions, 'uri'> {
  return {
    endpoint: options.endpoint,
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    credentials: resolveS3Credentials(options, where),
    sse: options.sse,
    kmsKeyId: options.kmsKeyId,
    storageClass: options.storageClass,
  };
}
