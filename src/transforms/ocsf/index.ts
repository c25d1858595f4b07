import type { Transform } from '../../core/component.js';
import { SluiceError } from '../../core/errors.js';
import type { OcsfTransformConfig } from './config.js';

export function createOcsfTransform(_config: OcsfTransformConfig): Transform {
  throw new SluiceError('the ocsf transform is being built', { code: 'NOT_AVAILABLE', stage: 'config' });
}
