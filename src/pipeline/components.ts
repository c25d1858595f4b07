/**
 * The static list of every format, transform and sink Sluice knows. The pipeline schema
 * (config.ts) and the factories (catalog.ts) are derived from it, so adding a component is one
 * folder exporting a descriptor (core/component.ts) and one line here. Nothing registers itself
 * as an import side effect, and a bundle (a Lambda) carries exactly what this list names.
 * Sources are chosen by the URI's scheme instead (open-source.ts).
 */
import { albFormatComponent } from '../formats/alb/index.js';
import { cloudtrailFormatComponent } from '../formats/cloudtrail/index.js';
import { cwlFormatComponent } from '../formats/cwl/index.js';
import { delimitedFormatComponent } from '../formats/delimited/index.js';
import { jsonFormatComponent, ndjsonFormatComponent } from '../formats/json/index.js';
import { parquetFormatComponent } from '../formats/parquet/index.js';
import { s3accessFormatComponent } from '../formats/s3access/index.js';
import { vpcflowFormatComponent } from '../formats/vpcflow/index.js';
import { filesSinkComponent } from '../sinks/files/index.js';
import { httpSinkComponent } from '../sinks/http/index.js';
import { elasticsearchSinkComponent, opensearchSinkComponent } from '../sinks/opensearch/index.js';
import { stdoutSinkComponent } from '../sinks/stdout/index.js';
import { aggregateTransformComponent } from '../transforms/aggregate/index.js';
import { enrichTransformComponent } from '../transforms/enrich/index.js';
import { ocsfTransformComponent } from '../transforms/ocsf/index.js';

export const FORMATS = [
  vpcflowFormatComponent,
  cloudtrailFormatComponent,
  s3accessFormatComponent,
  albFormatComponent,
  cwlFormatComponent,
  delimitedFormatComponent,
  jsonFormatComponent,
  ndjsonFormatComponent,
  parquetFormatComponent,
] as const;

export const TRANSFORMS = [enrichTransformComponent, ocsfTransformComponent, aggregateTransformComponent] as const;

export const SINKS = [filesSinkComponent, stdoutSinkComponent, opensearchSinkComponent, elasticsearchSinkComponent, httpSinkComponent] as const;
