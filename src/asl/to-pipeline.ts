/**
 * Turns the Security Lake ETL framework's metadata + mapping files into Sluice pipelines, one
 * per `source_log_type`: the reviewable YAML `sluice import-asl` writes, and the in-memory config
 * `sluice run --asl` runs. Everything the files say is checked here first (rows, types, that every
 * target attribute exists in the OCSF class), so a pipeline that comes out is one that validates.
 *
 * What each setting becomes:
 * - source_log_s3_bucket/prefix -> `source.uri` s3://bucket/prefix (key dates of yyyy/mm/dd[/HH]
 *   and hive year=/month=/day=[/hour=] layouts are read from the keys whatever
 *   is_source_partitioned / hive_style_partition / hour_level_partition say; an unpartitioned
 *   source is placed in periods by LastModified).
 * - source_format csv/txt -> `delimited` (delimiter, header, columns named by the mapping rows
 *   when there is no header, brackets for source_log_ts_and_delimiter_as_whitespaces, the event
 *   time from the first timestamp-typed column, multiline records starting at a line that does
 *   not begin with whitespace); json -> `ndjson` (Spark's JSON Lines), or `json` documents when
 *   is_multiline; parquet -> `parquet`.
 * - load_type, batch_load_type, historical_*, daily_load_number_of_days -> `load`.
 * - is_enrichment_required + enrichment_* -> an `enrich` SQL table (`select * from <table>` on
 *   the database the enrichment_identifier secret points to), turned into OCSF `enrichments`.
 * - mapping rows + ocsf_class_id + source_log_timestamp_format -> the `ocsf` transform.
 * - target_s3_bucket/prefix -> a `files` sink writing Parquet under ./<bucket>/<prefix>, by day
 *   (the files sink writes local folders; `--output` puts them elsewhere).
 * - mapping_file_s3_* are not used: the mapping file is the one given on the command line.
 */
import path from 'node:path';
import { stringify } from 'yaml';
import { SluiceError } from '../core/errors.js';
import { aslMappingSpec, createAslCsvMapping, readAslMappingFile, type AslMappingRow } from '../transforms/ocsf/asl-mapping.js';
import { loadOcsfSchema } from '../transforms/ocsf/schema.js';
import type { AslSource } from './metadata.js';
import { readAslMetadataFile } from './metadata.js';

export interface AslImportOptions {
  metadataFile: string;
  /** Mapping files; each source_log_type must have its rows in exactly one of them. */
  mappingFiles: string[];
  /** Folder the pipeline file will be in: relative paths in it are relative to this folder. */
  pipelineDir: string;
  /** S3-compatible endpoint for the source (tests, MinIO); path-style requests. */
  s3Endpoint?: string;
  /** Files sink folder (default ./<target_s3_bucket>/<target_s3_prefix> next to the pipeline). */
  output?: string;
  /** Only this source_log_type. */
  logType?: string;
  /** OCSF version (default 1.1.0). */
  version?: string;
}

export interface AslPipeline {
  logType: string;
  /** The pipeline as plain data (what `parsePipeline` takes). */
  config: Record<string, unknown>;
  /** The YAML text with a header comment. */
  yaml: string;
}

/**
 * @example
 * const [pipeline] = importAsl({ metadataFile: 'metadata.csv', mappingFiles: ['mapping.csv'], pipelineDir: '.' });
 * writeFileSync('s3-access-log.yaml', pipeline.yaml);
 */
export function importAsl(options: AslImportOptions): AslPipeline[] {
  const sources = readAslMetadataFile(options.metadataFile);
  const mappings = options.mappingFiles.map((file) => ({ file, rows: readAslMappingFile(file) }));
  const chosen = options.logType ? sources.filter((s) => s.logType === options.logType) : sources;
  if (chosen.length === 0) {
    throw new SluiceError(`metadata ${options.metadataFile}: no row for source_log_type "${options.logType}" (found: ${sources.map((s) => s.logType).join(', ')})`, {
      code: 'ASL_METADATA_INVALID',
      stage: 'config',
      hint: 'pass one of the source_log_type values listed',
    });
  }
  return chosen.map((source) => {
    const holding = mappings.filter((m) => m.rows.some((r) => r.logType === source.logType));
    if (holding.length !== 1) {
      throw new SluiceError(
        holding.length === 0
          ? `${options.metadataFile} line ${source.line}: no mapping rows for source_log_type "${source.logType}" in ${options.mappingFiles.join(', ')}`
          : `source_log_type "${source.logType}" has mapping rows in several files (${holding.map((m) => m.file).join(', ')})`,
        { code: 'ASL_MAPPING_INVALID', stage: 'config', hint: 'src_log_type in the mapping file must equal source_log_type in the metadata file; keep one file per log type' },
      );
    }
    return pipelineFor(source, holding[0]!.rows, holding[0]!.file, options);
  });
}

function pipelineFor(source: AslSource, rows: readonly AslMappingRow[], mappingFile: string, options: AslImportOptions): AslPipeline {
  const where = `${options.metadataFile} line ${source.line}`;
  const version = options.version ?? '1.1.0';
  const schema = loadOcsfSchema(version);
  const cls = schema.classByUid(source.classUid);
  if (!cls) {
    throw new SluiceError(`${where}, ocsf_class_id: ${source.classUid} is not an OCSF ${version} class (known: ${schema.classUids().join(', ')})`, {
      code: 'ASL_METADATA_INVALID',
      stage: 'config',
      hint: 'use the class id from https://schema.ocsf.io, e.g. 4001 network_activity',
    });
  }
  const normalize = (text: string) => text.trim().toLowerCase().replace(/[\s-]+/g, '_');
  if (source.className !== '' && normalize(source.className) !== cls.name && normalize(source.className) !== normalize(cls.caption)) {
    throw new SluiceError(`${where}, ocsf_class_name: "${source.className}" is not the name of class ${source.classUid} (${cls.name}, "${cls.caption}")`, {
      code: 'ASL_METADATA_INVALID',
      stage: 'config',
      hint: `set ocsf_class_name to ${cls.name}, or fix ocsf_class_id`,
    });
  }
  const compiled = aslMappingSpec(rows, mappingFile, { logType: source.logType, classUid: source.classUid });
  if (!source.defaultValues && compiled.constantRows.size > 0) {
    const lines = [...compiled.constantRows.values()].join(', ');
    throw new SluiceError(`${where}, default_values: false, but mapping ${mappingFile} rows ${lines} set default values for ${source.logType}`, {
      code: 'ASL_METADATA_INVALID',
      stage: 'config',
      hint: 'set default_values to true, or remove the default-value rows from the mapping',
    });
  }
  const timestampColumn = compiled.timestampColumns[0];
  const enrichment = source.enrichment
    ? { field: source.enrichment.column, prefix: '_enrichment_', type: source.enrichment.table, provider: source.enrichment.database }
    : undefined;
  const csv = {
    logType: source.logType,
    classUid: source.classUid,
    ...(source.timestampFormat ? { timestampFormat: source.timestampFormat } : {}),
    ...(enrichment ? { enrichment } : {}),
  };
  // Compiling the mapping checks every row against the class: a missing attribute fails here, with its row.
  createAslCsvMapping(path.resolve(mappingFile), csv, version);

  const relative = (p: string) => {
    // Relative when the file is beside or under the pipeline (a repo keeps them together), else absolute.
    const r = path.relative(path.resolve(options.pipelineDir), path.resolve(p));
    return r.startsWith('..') || path.isAbsolute(r) ? path.resolve(p) : `./${r}`;
  };
  const transforms: unknown[] = [];
  if (source.enrichment) {
    transforms.push({
      type: 'enrich',
      tables: {
        [source.enrichment.table]: {
          sql: `select * from ${source.enrichment.table}`,
          url: source.enrichment.identifier,
          key: source.enrichment.dbColumn,
          on: source.enrichment.column,
          prefix: '_enrichment',
        },
      },
    });
  }
  transforms.push({ type: 'ocsf', mapping: relative(mappingFile), version, csv });

  const prefix = source.sourcePrefix;
  const target = options.output ?? path.join(options.pipelineDir, source.targetBucket || 'ocsf-output', source.targetPrefix);
  const config: Record<string, unknown> = {
    name: source.logType,
    source: {
      uri: `s3://${source.sourceBucket}/${prefix}`,
      ...(options.s3Endpoint ? { endpoint: options.s3Endpoint, forcePathStyle: true } : {}),
    },
    format: formatFor(source, compiled.columns, timestampColumn),
    transforms,
    sinks: [{ type: 'files', path: relative(target), format: 'parquet', partition: 'day' }],
    load:
      source.loadType === 'daily'
        ? { type: 'daily', dailyDays: source.dailyDays }
        : {
            type: 'historical',
            unit: source.unit,
            ...(source.daysToProcess !== undefined ? { daysToProcess: source.daysToProcess } : {}),
            ...(source.startDate !== undefined ? { startDate: source.startDate } : {}),
            ...(source.endDate !== undefined ? { endDate: source.endDate } : {}),
          },
  };
  const header = [
    `Sluice pipeline for source_log_type ${source.logType}, generated by \`sluice import-asl\``,
    `from ${path.basename(options.metadataFile)} line ${source.line} and ${path.basename(mappingFile)} (${compiled.spec.fields.length} mapped columns, ${compiled.constantRows.size} default values).`,
    `OCSF class ${source.classUid} ${cls.name}; ${source.loadType} load${source.loadType === 'historical' ? ` in ${source.unit} units` : ` of the last ${source.dailyDays} day(s)`}.`,
    ...(source.enrichment ? [`Enrichment: ${source.enrichment.column} = ${source.enrichment.table}.${source.enrichment.dbColumn} in database ${source.enrichment.database} (the database of the URL held by ${source.enrichment.identifier}).`] : []),
    'Review it, commit it, then: sluice validate -c <this file> && sluice run -c <this file>',
  ];
  const yaml = `${header.map((l) => `# ${l}`).join('\n')}\n${stringify(config, { lineWidth: 0 })}`;
  return { logType: source.logType, config, yaml };
}

function formatFor(source: AslSource, columns: string[], timestampColumn: string | undefined): Record<string, unknown> {
  const timestamp = timestampColumn && source.timestampFormat ? { field: timestampColumn, format: source.timestampFormat } : undefined;
  if (source.sourceFormat === 'parquet') return { type: 'parquet', ...(timestamp ? { timestamp } : {}) };
  if (source.sourceFormat === 'json') return { type: source.multiline ? 'json' : 'ndjson', ...(timestamp ? { timestamp } : {}) };
  return {
    type: 'delimited',
    delimiter: source.delimiter === null ? ' ' : source.delimiter,
    header: source.header,
    ...(source.header ? {} : { columns }),
    ...(source.timestampWithWhitespace ? { brackets: true } : {}),
    ...(timestamp ? { timestamp } : {}),
    // The framework has no start-of-record setting: a continuation line starts with whitespace.
    ...(source.multiline ? { multiline: { start: '^\\S' } } : {}),
  };
}
