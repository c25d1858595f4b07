import { z } from 'zod';
import { checkS3OutputOptions, s3OutputOptionsShape } from '../../core/s3/output-options.js';

export const filesSinkSchema = z.strictObject({
  type: z.literal('files'),
  path: z.string().min(1).describe('Output folder, or s3://bucket/prefix (parts appear only when their unit commits; see docs/outputs.md).'),
  format: z.enum(['ndjson', 'parquet']).default('ndjson').describe('File format of the parts.'),
  layout: z.enum(['date', 'security-lake']).default('date').describe('Folders: date = event-time partitions (see partition); security-lake = region=<r>/accountId=<a>/eventDay=<yyyymmdd>/, one OCSF class per file.'),
  partition: z.enum(['day', 'hour', 'month', 'none']).default('day').describe('Partition folders by event time (layout: date): yyyy/mm/dd, yyyy/mm/dd/HH, yyyy/mm, or none. With a cloudtrail-layout source, month sinks are written by month units and the others by day units.'),
  targetSizeMb: z.number().positive().default(64).describe('Target size of one part in MB: uncompressed bytes for NDJSON, file bytes for Parquet.'),
  compression: z.enum(['gzip', 'none']).default('gzip').describe('Compression of NDJSON parts.'),
  gzipLevel: z.number().int().min(1).max(9).default(3).describe('gzip level (1 = fastest, 9 = smallest); 3 costs ~2/3 of the CPU of 6 for files ~19% larger.'),
  parquetCompression: z.enum(['snappy', 'zstd', 'gzip', 'none']).default('snappy').describe('Compression of Parquet column chunks (zstd needs Node 22.15 or later).'),
  rowGroupRows: z.number().int().min(1).max(10_000_000).default(65_536).describe('Rows per Parquet row group, at most (a row group is also cut at ~64 MB of buffered data).'),
  schema: z.enum(['inferred', 'cloudtrail']).default('inferred').describe("Parquet schema: inferred from each part's first records, or cloudtrail (the fixed CloudTrail columns, nested parts as JSON strings); values that do not fit go to the _overflow JSON column)."),
  idField: z.union([z.string().min(1), z.literal(false)]).default('_id').describe('Field carrying the record id, or false.'),
  ...s3OutputOptionsShape,
}).refine((s) => s.layout !== 'security-lake' || s.partition === 'day', {
  message: 'layout security-lake always partitions by eventDay: remove `partition` or set it to day',
  path: ['partition'],
}).superRefine((s, ctx) => checkS3OutputOptions(s.path, s, ctx));

export type FilesSinkConfig = z.output<typeof filesSinkSchema>;
