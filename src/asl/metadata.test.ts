import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../core/errors.js';
import { parseCsv } from '../transforms/ocsf/asl-csv.js';
import { ASL_METADATA_COLUMNS, parseAslMetadata } from './metadata.js';

const HEADER = ASL_METADATA_COLUMNS.join(',');
const BASE: Record<string, string> = {
  source_log_type: 's3-access-log', load_type: 'historical', batch_load_type: 'monthly', default_values: 'true', delimiter: '" "',
  source_format: 'txt', header: 'false', historical_load_start_date: '2023-05-22', historical_load_end_date: '2023-06-22',
  is_source_partitioned: 'true', source_log_s3_bucket: 'access-logs', source_log_s3_prefix: 'logs/', source_log_timestamp_format: 'dd/MMM/yyyy:HH:mm:ssZZZZ',
  source_log_ts_and_delimiter_as_whitespaces: 'true', target_s3_bucket: 'lake', target_s3_prefix: 'ocsf/', ocsf_class_id: '4002', ocsf_class_name: 'http_activity',
};

function row(overrides: Record<string, string> = {}): string {
  const values = { ...BASE, ...overrides };
  return ASL_METADATA_COLUMNS.map((c) => values[c] ?? '').join(',');
}

function parse(...rows: string[]) {
  return parseAslMetadata(parseCsv([HEADER, ...rows].join('\n'), 'metadata.csv'), 'metadata.csv');
}

function problems(...rows: string[]): string {
  try {
    parse(...rows);
  } catch (err) {
    assert.ok(err instanceof SluiceError);
    assert.equal(err.code, 'ASL_METADATA_INVALID');
    return err.message;
  }
  assert.fail('expected problems');
}

describe('ASL metadata CSV', () => {
  it('reads every column of a row (a quoted " " delimiter is whitespace)', () => {
    const [s3] = parse(row());
    assert.equal(s3!.logType, 's3-access-log');
    assert.equal(s3!.delimiter, null);
    assert.equal(s3!.unit, 'month');
    assert.equal(s3!.timestampWithWhitespace, true);
    assert.equal(s3!.startDate, '2023-05-22');
    assert.equal(s3!.classUid, 4002);
    const [daily] = parse(row({ load_type: 'daily', historical_load_start_date: '', historical_load_end_date: '', daily_load_number_of_days: '3', batch_load_type: 'daily', delimiter: '|', source_log_ts_and_delimiter_as_whitespaces: 'false' }));
    assert.equal(daily!.dailyDays, 3);
    assert.equal(daily!.delimiter, '|');
  });

  it('names the line, the column and the expected form of each bad value', () => {
    const text = problems(row({ load_type: 'sometimes', header: 'yes', historical_load_start_date: '2023-02-30', ocsf_class_id: 'net' }));
    assert.match(text, /line 2, load_type: "sometimes" is not one of historical, daily/);
    assert.match(text, /line 2, header: "yes" is not true or false/);
    assert.match(text, /line 2, historical_load_start_date: "2023-02-30" is not a date written yyyy-MM-dd/);
    assert.match(text, /line 2, ocsf_class_id: "net" is not an OCSF class id/);
  });

  it('refuses dates in the wrong order and contradictory settings', () => {
    assert.match(problems(row({ historical_load_start_date: '2023-07-01', historical_load_end_date: '2023-06-01' })), /line 2, historical_load_end_date: 2023-06-01 is before historical_load_start_date 2023-07-01/);
    assert.match(problems(row({ historical_load_end_date: '' })), /historical_load_end_date: missing/);
    assert.match(problems(row({ historical_load_start_date: '', historical_load_end_date: '' })), /needs historical_days_to_process, or historical_load_start_date and historical_load_end_date/);
    assert.match(problems(row({ delimiter: '","' })), /source_log_ts_and_delimiter_as_whitespaces: true, but the delimiter is ","/);
    assert.match(problems(row({ source_format: 'parquet', header: 'true', source_log_ts_and_delimiter_as_whitespaces: 'false' })), /header: true, but source_format parquet has no header line/);
    assert.match(problems(row({ is_source_partitioned: 'false', hive_style_partition: 'true' })), /hive_style_partition: true, but is_source_partitioned is false/);
    assert.match(problems(row({ load_type: 'daily' })), /load_type is daily but historical_\* columns are set/);
    assert.match(problems(row({ enrichment_column: 'srcaddr' })), /enrichment_\* columns are set but is_enrichment_required is not true/);
    assert.match(problems(row({ is_enrichment_required: 'true', enrichment_column: 'srcaddr' })), /enrichment_col_db: empty, but is_enrichment_required is true/);
    assert.match(problems(row(), row()), /line 3, source_log_type: "s3-access-log" is already described on line 2/);
  });

  it('refuses unknown columns and a header without the required ones', () => {
    assert.throws(() => parseAslMetadata(parseCsv('source_log_type,colour\nx,y', 'm.csv'), 'm.csv'), /unknown column "colour"[\s\S]*the header has no column load_type/);
  });

  it('days to process wins over dates when both are given (scenario 5): both are kept, the planner decides', () => {
    const [s] = parse(row({ historical_days_to_process: '35' }));
    assert.equal(s!.daysToProcess, 35);
    assert.equal(s!.startDate, '2023-05-22');
  });
});
