import path from 'node:path';
import { loadPipelineFile, type PipelineConfig } from '../../pipeline/config.js';
import { SluiceError } from '../../core/errors.js';
import { isLedgerReference } from '../../runtime/ledger/open-ledger.js';

export interface ConfigOverrides {
  config: string;
  source?: string;
  output?: string;
  state?: string;
  concurrency?: number;
  workers?: number;
}

/** Loads the pipeline file and applies command-line overrides (paths relative to the working directory). */
export function loadConfigWithOverrides(opts: ConfigOverrides): PipelineConfig {
  const config = loadPipelineFile(opts.config);
  const local = (p: string) => (p.startsWith('s3://') ? p : path.resolve(p));
  if (opts.source) config.source = { ...config.source, uri: local(opts.source) };
  if (opts.output) {
    const index = config.sinks.findIndex((s) => s.type === 'files');
    if (index < 0) {
      throw new SluiceError(`--output given but ${opts.config} has no files sink`, {
        code: 'BAD_OPTION',
        stage: 'config',
        hint: 'add a sink of type files, or drop --output',
      });
    }
    config.sinks[index] = { ...config.sinks[index]!, path: local(opts.output) } as PipelineConfig['sinks'][number];
  }
  if (opts.state) config.runtime = { ...config.runtime, state: isLedgerReference(opts.state) ? opts.state : local(opts.state) };
  if (opts.concurrency !== undefined) config.runtime = { ...config.runtime, concurrency: opts.concurrency };
  if (opts.workers !== undefined) config.runtime = { ...config.runtime, workers: opts.workers };
  return config;
}
