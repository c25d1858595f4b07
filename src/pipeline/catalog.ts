/**
 * The explicit component registry: every source, format, transform and sink Sluice knows is
 * listed here by static import, so nothing registers itself as an import side effect and a
 * bundle (e.g. a Lambda) carries only what the registry it imports names.
 */
import type { FormatConfig, SinkConfig, SourceConfig, TransformConfig } from './config.js';
import type { Format, Sink, Source, Transform } from '../core/component.js';
import { SluiceError } from '../core/errors.js';
import { vpcflowFormat } from '../formats/vpcflow/index.js';
import { cloudtrailFormat } from '../formats/cloudtrail/index.js';
import { s3accessFormat } from '../formats/s3access/index.js';
import { albFormat } from '../formats/alb/index.js';
import { cwlFormat, type CwlInner } from '../formats/cwl/index.js';
import type { CwlInnerFormatConfig } from '../formats/cwl/config.js';
import { delimitedFormat } from '../formats/delimited/index.js';
import { jsonFormat, ndjsonFormat } from '../formats/json/index.js';
import { parquetFormat } from '../formats/parquet/index.js';
import { createFilesSink } from '../sinks/files/index.js';
import { createStdoutSink } from '../sinks/stdout/index.js';
import { createHttpSink } from '../sinks/http/index.js';
import { createBulkSink } from '../sinks/opensearch/index.js';
import { openSource } from './open-source.js';
import { createEnrichTransform } from '../transforms/enrich/index.js';
import { createOcsfTransform } from '../transforms/ocsf/index.js';
import { createAggregateTransform } from '../transforms/aggregate/index.js';

export function createFormat(config: FormatConfig): Format {
  switch (config.type) {
    case 'vpcflow':
      return vpcflowFormat('fields' in config ? { fields: config.fields } : {});
    case 'cloudtrail':
      return cloudtrailFormat({
        mode: 'mode' in config ? config.mode : undefined,
        maxRecordBytes: 'maxRecordMb' in config && config.maxRecordMb !== undefined ? Math.round(config.maxRecordMb * 1024 * 1024) : undefined,
      });
    case 's3access':
      return s3accessFormat();
    case 'alb':
      return albFormat();
    case 'cwl':
      return cwlFormat({
        inner: cwlInnerFormat(config.inner),
        metadata: config.metadata,
        maxPayloadBytes: config.maxPayloadMb === undefined ? undefined : Math.round(config.maxPayloadMb * 1024 * 1024),
      });
    case 'delimited':
      return delimitedFormat('delimiter' in config ? config : {});
    case 'json':
      return jsonFormat('recordPath' in config || 'timestamp' in config || 'maxObjectMb' in config ? config : {});
    case 'ndjson':
      return ndjsonFormat('recordPath' in config || 'timestamp' in config ? config : {});
    case 'parquet':
      return parquetFormat('maxObjectMb' in config ? config : {});
    default:
      throw new SluiceError(`unknown format "${(config as { type: string }).type}"`, { code: 'UNKNOWN_FORMAT', stage: 'config' });
  }
}

/** The format reading the messages inside CloudWatch Logs payloads (no header line there). */
function cwlInnerFormat(inner: CwlInnerFormatConfig): CwlInner {
  if (inner.type === 'json' || inner.type === 'text') return inner.type;
  if (inner.type === 'cloudtrail') return cloudtrailFormat({ mode: 'ndjson' });
  if (inner.type === 's3access') return s3accessFormat();
  if (inner.type === 'alb') return albFormat();
  return vpcflowFormat('fields' in inner ? { fields: inner.fields } : {});
}

export function createSink(config: SinkConfig): Sink {
  switch (config.type) {
    case 'files':
      return createFilesSink(config);
    case 'stdout':
      return createStdoutSink(config);
    case 'opensearch':
    case 'elasticsearch':
      return createBulkSink(config);
    case 'http':
      return createHttpSink(config);
    default:
      throw new SluiceError(`unknown sink "${(config as { type: string }).type}"`, { code: 'UNKNOWN_SINK', stage: 'config' });
  }
}

export function createTransform(config: TransformConfig): Transform {
  switch (config.type) {
    case 'enrich':
      return createEnrichTransform(config);
    case 'ocsf':
      return createOcsfTransform(config);
    case 'aggregate':
      return createAggregateTransform(config);
    default:
      throw new SluiceError(`unknown transform "${(config as { type: string }).type}"`, { code: 'UNKNOWN_TRANSFORM', stage: 'config' });
  }
}

export function createTransforms(configs: readonly TransformConfig[]): Transform[] {
  return configs.map(createTransform);
}

export function createSource(config: SourceConfig): Source {
  return openSource(config);
}
