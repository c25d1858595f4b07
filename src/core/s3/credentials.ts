/** S3 credentials given as secret references in a pipeline (both or neither), resolved once. */
import { SluiceError } from '../errors.js';
import { resolveSecretRef } from '../secrets.js';

/**
 * `where` names the block in messages (`source`, `sinks.0`). Neither key: undefined, the AWS
 * credential chain applies (env, profile, instance or task role).
 */
export function resolveS3Credentials(
  config: { accessKeyId?: string; secretAccessKey?: string },
  where: string,
): { accessKeyId: string; secretAccessKey: string } | undefined {
  const { accessKeyId, secretAccessKey } = config;
  if (accessKeyId === undefined && secretAccessKey === undefined) return undefined;
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw new SluiceError(`${where}: ${accessKeyId === undefined ? 'accessKeyId' : 'secretAccessKey'} is missing`, {
      code: 'CONFIG_INVALID',
      stage: 'config',
      hint: 'give both accessKeyId and secretAccessKey, or neither to use the AWS credential chain',
    });
  }
  return { accessKeyId: resolveSecretRef(accessKeyId), secretAccessKey: resolveSecretRef(secretAccessKey) };
}
