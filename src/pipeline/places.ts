/**
 * Where the runtime's own outputs live (dead letters, aggregate partials) and how their places
 * are opened. Kept apart from the catalog's factories so that a Lambda handler can check its dead
 * letters' place without loading every component.
 */
import path from 'node:path';
import { isS3Location, openPlace, type Place } from '../core/place/index.js';
import { s3PlaceOptionsOf, type S3OutputOptions } from '../core/s3/output-options.js';
import { parseS3Uri } from '../core/s3/uri.js';
import { isLedgerReference, type PipelineConfig } from './config.js';

/** Where rejected lines and records go: runtime.deadLetters, else `<first files sink>/_rejected`, else beside the ledger. */
export function deadLetterDirFor(config: PipelineConfig): string {
  if (config.runtime.deadLetters) return config.runtime.deadLetters;
  const files = config.sinks.find((s) => s.type === 'files');
  if (files && files.type === 'files') return isS3Location(files.path) ? `${files.path.replace(/\/+$/, '')}/_rejected/` : path.join(files.path, '_rejected');
  // A database ledger has no folder to sit beside: fall back to the working directory.
  const beside = isLedgerReference(config.runtime.state) ? path.resolve('.sluice') : path.dirname(config.runtime.state);
  return path.join(beside, 'dead-letters', config.name);
}

/**
 * How to reach the bucket of an s3:// location the runtime writes (dead letters, partials):
 * `runtime.s3`, else the options of a files sink writing to the same bucket, else those of the
 * source when it reads that bucket, else the AWS defaults (credential chain, AWS_REGION).
 */
export function s3OptionsFor(location: string, config: PipelineConfig): S3OutputOptions {
  if (config.runtime.s3) return config.runtime.s3;
  const { bucket } = parseS3Uri(location);
  const sameBucket = (uri: string) => isS3Location(uri) && parseS3Uri(uri).bucket === bucket;
  const sink = config.sinks.find((s) => s.type === 'files' && sameBucket(s.path));
  if (sink && sink.type === 'files') return sink;
  if (sameBucket(config.source.uri)) return config.source;
  return {};
}

/** The place of a location the runtime writes: a local folder, or an S3 prefix reached as `s3OptionsFor` says. */
export function runtimePlaceFor(location: string, config: PipelineConfig, what: string): Place {
  return openPlace(location, isS3Location(location) ? s3PlaceOptionsOf(s3OptionsFor(location, config), what) : undefined);
}

/** The place of a pipeline's dead letters. */
export function deadLetterPlaceFor(config: PipelineConfig): Place {
  return runtimePlaceFor(deadLetterDirFor(config), config, 'runtime.deadLetters');
}

