import type { Transform } from '../../core/component.js';
import { SluiceError } from '../../core/errors.js';
import type { EnrichTransformConfig } from './config.js';

export function createEnrichTransform(_config: EnrichTransformConfig): Transform {
  throw new SluiceError('the enrich transform is being built', { code: 'NOT_AVAILABLE', stage: 'config' });
}
