/**
 * Metadata files of the Security Lake ETL framework (seed 004): one row per source log type,
 * with a header naming the columns (any order). Every value is checked here, once, with a
 * message naming the file, the row (its line) and the column, and the form expected; every
 * problem of the file is reported at once.
 *
 * Choices where the seed is ambiguous (documented in README, tested in test/asl-metadata.test.ts):
 * - Booleans are true/false in any case; an empty cell is false.
 * - `batch_load_type` is described twice in the seed (target partitioning, and how historical
 *   data is loaded): here it is the period of one unit of a historical load (daily -> day units,
 *   monthly -> month units, yearly -> year units; default monthly). Outputs are always
 *   partitioned by event day.
 * - `daily_load_number_of_days` defaults to 1 (yesterday) for a daily load.
 * - `delimiter`: `" "` (a quoted space), `space`, `whitespace` or `\s` mean runs of whitespace;
 *   `\t` or `tab` a tab; empty means "," for csv and whitespace for txt.
 * - Contradictions are errors, not warnings: settings that only make sense together
 *   (`source_log_ts_and_delimiter_as_whitespaces` with a non-whitespace delimiter, hive or hour
 *   partitions on a source that is not partitioned, `header` on json/parquet, enrichment columns
 *   without `is_enrichment_required`, a start date after the end date, ...).
 */
import { SluiceError } from '../core/errors.js';
import { readCsvFile, type CsvRow } from '../transforms/ocsf/asl-csv.js';
import { parseIsoDate } from '../core/key-dates.js';

export const ASL_METADATA_COLUMNS = [
  'source_log_type',
  'load_type',
  'batch_load_type',
  'daily_load_number_of_days',
  'default_values',
  'delimiter',
  'source_format',
  'header',
  'historical_days_to_process',
  'historical_load_start_date',
  'historical_load_end_date',
  'is_source_partitioned',
  'source_log_s3_bucket',
  'source_log_s3_prefix',
  'source_log_timestamp_format',
  'source_log_ts_and_delimiter_as_whitespaces',
  'target_s3_bucket',
  'target_s3_prefix',
  'mapping_file_s3_bucket',
  'mapping_file_s3_prefix',
  'hive_style_partition',
  'hour_level_partition',
  'is_multiline',
  'is_enrichment_required',
  'enrichment_column',
  'enrichment_col_db',
  'enrichment_db',
  'enrichment_table',
  'enrichment_identifier',
  'ocsf_class_id',
  'ocsf_class_name',
] as const;

/** Columns a metadata file must have; the others may be left out (empty). */
const REQUIRED_COLUMNS = ['source_log_type', 'load_type', 'source_format', 'source_log_s3_bucket', 'ocsf_class_id'] as const;

export interface AslEnrichment {
  column: string;
  dbColumn: string;
  database: string;
  table: string;
  /** Secret reference (env:, file:, aws-secretsmanager:, aws-ssm:) holding the database URL. */
  identifier: string;
}

export interface AslSource {
  /** Line of the row in the metadata file. */
  line: number;
  logType: string;
  loadType: 'historical' | 'daily';
  unit: 'day' | 'month' | 'year';
  dailyDays: number;
  defaultValues: boolean;
  /** null = runs of whitespace. */
  delimiter: string | null;
  sourceFormat: 'json' | 'parquet' | 'csv' | 'txt';
  header: boolean;
  daysToProcess?: number;
  startDate?: string;
  endDate?: string;
  partitioned: boolean;
  sourceBucket: string;
  sourcePrefix: string;
  timestampFormat?: string;
  timestampWithWhitespace: boolean;
  targetBucket: string;
  targetPrefix: string;
  mappingBucket: string;
  mappingPrefix: string;
  hiveStyle: boolean;
  hourLevel: boolean;
  multiline: boolean;
  enrichment?: AslEnrichment;
  classUid: number;
  className: string;
}

/** Reads and checks a metadata file. */
export function readAslMetadataFile(file: string): AslSource[] {
  return parseAslMetadata(readCsvFile(file, 'metadata CSV'), file);
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*$/;

export function parseAslMetadata(rows: CsvRow[], file: string): AslSource[] {
  if (rows.length === 0) throw metadataError(file, ['the file is empty; the first row must name the columns']);
  const header = rows[0]!.cells.map((c) => c.toLowerCase());
  const problems: string[] = [];
  const known = new Set<string>(ASL_METADATA_COLUMNS);
  header.forEach((name, i) => {
    if (!known.has(name)) problems.push(`line 1, column ${i + 1}: unknown column "${rows[0]!.cells[i]}" (known: ${ASL_METADATA_COLUMNS.join(', ')})`);
  });
  for (const name of REQUIRED_COLUMNS) if (!header.includes(name)) problems.push(`line 1: the header has no column ${name}`);
  if (problems.length > 0) throw metadataError(file, problems);

  const out: AslSource[] = [];
  const seen = new Map<string, number>();
  for (const row of rows.slice(1)) {
    const rowProblems: string[] = [];
    if (row.cells.length !== header.length) {
      problems.push(`line ${row.line}: ${row.cells.length} cells, the header names ${header.length} columns`);
      continue;
    }
    const cell = (name: (typeof ASL_METADATA_COLUMNS)[number]): string => {
      const i = header.indexOf(name);
      return i === -1 ? '' : row.cells[i]!;
    };
    const bad = (name: string, value: string, expected: string) => rowProblems.push(`line ${row.line}, ${name}: "${value}" is not ${expected}`);
    const bool = (name: (typeof ASL_METADATA_COLUMNS)[number]): boolean => {
      const v = cell(name).trim().toLowerCase();
      if (v === '' || v === 'false') return false;
      if (v === 'true') return true;
      bad(name, cell(name), 'true or false');
      return false;
    };
    const positiveInt = (name: (typeof ASL_METADATA_COLUMNS)[number]): number | undefined => {
      const v = cell(name).trim();
      if (v === '') return undefined;
      if (!/^\d+$/.test(v) || Number(v) < 1) {
        bad(name, v, 'a whole number of days >= 1');
        return undefined;
      }
      return Number(v);
    };
    const date = (name: (typeof ASL_METADATA_COLUMNS)[number]): string | undefined => {
      const v = cell(name).trim().replace(/^"+|"+$/g, '');
      if (v === '') return undefined;
      if (parseIsoDate(v) === undefined) {
        bad(name, v, 'a date written yyyy-MM-dd (e.g. 2023-05-22)');
        return undefined;
      }
      return v;
    };
    const oneOf = <T extends string>(name: (typeof ASL_METADATA_COLUMNS)[number], values: readonly T[], fallback?: T): T => {
      const v = cell(name).trim().toLowerCase();
      if (v === '' && fallback !== undefined) return fallback;
      if ((values as readonly string[]).includes(v)) return v as T;
      bad(name, cell(name), `one of ${values.join(', ')}`);
      return values[0]!;
    };

    const logType = cell('source_log_type').trim();
    if (!NAME.test(logType)) bad('source_log_type', logType, 'a name of letters, digits, . _ - (it names the pipeline)');
    const previous = seen.get(logType);
    if (previous !== undefined) rowProblems.push(`line ${row.line}, source_log_type: "${logType}" is already described on line ${previous}; one row per source log type`);
    seen.set(logType, row.line);

    const loadType = oneOf('load_type', ['historical', 'daily'] as const);
    const batch = oneOf('batch_load_type', ['daily', 'monthly', 'yearly'] as const, 'monthly');
    const dailyDays = positiveInt('daily_load_number_of_days');
    const daysToProcess = positiveInt('historical_days_to_process');
    const startDate = date('historical_load_start_date');
    const endDate = date('historical_load_end_date');
    const sourceFormat = oneOf('source_format', ['json', 'parquet', 'csv', 'txt'] as const);
    const header_ = bool('header');
    const partitioned = bool('is_source_partitioned');
    const hiveStyle = bool('hive_style_partition');
    const hourLevel = bool('hour_level_partition');
    const multiline = bool('is_multiline');
    const tsWhitespace = bool('source_log_ts_and_delimiter_as_whitespaces');
    const enrichmentRequired = bool('is_enrichment_required');
    const defaultValues = bool('default_values');

    const delimiter = parseDelimiter(cell('delimiter'), sourceFormat);
    if (delimiter === undefined) bad('delimiter', cell('delimiter'), 'a delimiter (",", "|", "\\t", " " for whitespace)');

    if (loadType === 'historical' && daysToProcess === undefined) {
      if (startDate === undefined && endDate === undefined && !rowProblems.some((p) => p.includes('historical_'))) {
        rowProblems.push(`line ${row.line}: a historical load needs historical_days_to_process, or historical_load_start_date and historical_load_end_date`);
      } else if ((startDate === undefined) !== (endDate === undefined) && !rowProblems.some((p) => p.includes('historical_load_'))) {
        rowProblems.push(`line ${row.line}, ${startDate === undefined ? 'historical_load_start_date' : 'historical_load_end_date'}: missing; give both dates (yyyy-MM-dd), or historical_days_to_process`);
      } else if (startDate !== undefined && endDate !== undefined && startDate > endDate) {
        rowProblems.push(`line ${row.line}, historical_load_end_date: ${endDate} is before historical_load_start_date ${startDate}; the range must go forward (start <= end)`);
      }
    }
    if (loadType === 'daily' && (daysToProcess !== undefined || startDate !== undefined || endDate !== undefined)) {
      rowProblems.push(`line ${row.line}: load_type is daily but historical_* columns are set; a daily load uses daily_load_number_of_days (clear the historical_* cells or set load_type historical)`);
    }
    if (loadType === 'historical' && dailyDays !== undefined) {
      rowProblems.push(`line ${row.line}, daily_load_number_of_days: set on a historical load; it only applies to load_type daily`);
    }
    if (tsWhitespace && delimiter !== null && delimiter !== undefined) {
      rowProblems.push(`line ${row.line}, source_log_ts_and_delimiter_as_whitespaces: true, but the delimiter is "${delimiter}", not whitespace`);
    }
    if (header_ && (sourceFormat === 'json' || sourceFormat === 'parquet')) {
      rowProblems.push(`line ${row.line}, header: true, but source_format ${sourceFormat} has no header line (header applies to csv and txt)`);
    }
    if (multiline && sourceFormat === 'parquet') rowProblems.push(`line ${row.line}, is_multiline: true, but parquet has no lines`);
    if ((hiveStyle || hourLevel) && !partitioned) {
      rowProblems.push(`line ${row.line}, ${hiveStyle ? 'hive_style_partition' : 'hour_level_partition'}: true, but is_source_partitioned is false`);
    }
    const bucket = cell('source_log_s3_bucket').trim();
    if (!BUCKET.test(bucket)) bad('source_log_s3_bucket', bucket, 'an S3 bucket name (3-63 lowercase letters, digits, . -)');
    const targetBucket = cell('target_s3_bucket').trim();
    if (targetBucket !== '' && !BUCKET.test(targetBucket)) bad('target_s3_bucket', targetBucket, 'an S3 bucket name');

    const timestampFormat = cell('source_log_timestamp_format').trim() || undefined;

    const enrichmentCells = {
      column: cell('enrichment_column').trim(),
      dbColumn: cell('enrichment_col_db').trim(),
      database: cell('enrichment_db').trim(),
      table: cell('enrichment_table').trim(),
      identifier: cell('enrichment_identifier').trim(),
    };
    let enrichment: AslEnrichment | undefined;
    if (enrichmentRequired) {
      const names: Record<keyof typeof enrichmentCells, string> = { column: 'enrichment_column', dbColumn: 'enrichment_col_db', database: 'enrichment_db', table: 'enrichment_table', identifier: 'enrichment_identifier' };
      for (const key of Object.keys(names) as Array<keyof typeof enrichmentCells>) {
        if (enrichmentCells[key] === '') rowProblems.push(`line ${row.line}, ${names[key]}: empty, but is_enrichment_required is true`);
      }
      for (const key of ['dbColumn', 'database', 'table'] as const) {
        if (enrichmentCells[key] !== '' && !IDENTIFIER.test(enrichmentCells[key])) bad(names[key], enrichmentCells[key], 'a SQL identifier (letters, digits, _)');
      }
      enrichment = { ...enrichmentCells, identifier: secretReference(enrichmentCells.identifier) };
    } else if (Object.values(enrichmentCells).some((v) => v !== '')) {
      rowProblems.push(`line ${row.line}: enrichment_* columns are set but is_enrichment_required is not true (set it to true, or clear them)`);
    }

    const classText = cell('ocsf_class_id').trim();
    const classUid = /^\d+$/.test(classText) ? Number(classText) : Number.NaN;
    if (Number.isNaN(classUid)) bad('ocsf_class_id', classText, 'an OCSF class id such as 4001');

    problems.push(...rowProblems);
    if (rowProblems.length > 0) continue;
    out.push({
      line: row.line,
      logType,
      loadType,
      unit: batch === 'daily' ? 'day' : batch === 'yearly' ? 'year' : 'month',
      dailyDays: dailyDays ?? 1,
      defaultValues,
      delimiter: delimiter === undefined ? ',' : delimiter,
      sourceFormat,
      header: header_,
      ...(daysToProcess !== undefined ? { daysToProcess } : {}),
      ...(startDate !== undefined ? { startDate } : {}),
      ...(endDate !== undefined ? { endDate } : {}),
      partitioned,
      sourceBucket: bucket,
      sourcePrefix: cell('source_log_s3_prefix').trim().replace(/^\/+/, ''),
      ...(timestampFormat !== undefined ? { timestampFormat } : {}),
      timestampWithWhitespace: tsWhitespace,
      targetBucket,
      targetPrefix: cell('target_s3_prefix').trim().replace(/^\/+/, ''),
      mappingBucket: cell('mapping_file_s3_bucket').trim(),
      mappingPrefix: cell('mapping_file_s3_prefix').trim(),
      hiveStyle,
      hourLevel,
      multiline,
      ...(enrichment ? { enrichment } : {}),
      classUid,
      className: cell('ocsf_class_name').trim(),
    });
  }
  if (problems.length > 0) throw metadataError(file, problems);
  if (out.length === 0) throw metadataError(file, ['no source rows after the header']);
  return out;
}

/** The delimiter as the format takes it: null = runs of whitespace; undefined = not understood. */
function parseDelimiter(raw: string, format: string): string | null | undefined {
  // A quoted single space survives the CSV reader as " "; written with its quotes it reads '" "'.
  const text = raw === ' ' ? ' ' : raw.trim().replace(/^"(.*)"$/, '$1');
  if (text === '') return raw.length > 0 && raw.trim() === '' ? null : format === 'txt' ? null : ',';
  const lower = text.toLowerCase();
  if (text === ' ' || lower === 'space' || lower === 'whitespace' || lower === '\\s') return null;
  if (lower === '\\t' || lower === 'tab') return '\t';
  if (lower === 'comma') return ',';
  if (lower === 'pipe') return '|';
  return text;
}

/** The framework stores a Secrets Manager id; a Sluice reference (env:, file:, ...) is kept as is. */
function secretReference(identifier: string): string {
  if (/^(env|file|aws-secretsmanager|aws-ssm):/.test(identifier)) return identifier;
  return `aws-secretsmanager:${identifier}`;
}

function metadataError(file: string, problems: string[]): SluiceError {
  return new SluiceError(`metadata ${file} has problems:\n  - ${problems.join('\n  - ')}`, {
    code: 'ASL_METADATA_INVALID',
    stage: 'config',
    hint: 'fix the cells listed; the columns are those of the Security Lake ETL framework metadata file',
  });
}
