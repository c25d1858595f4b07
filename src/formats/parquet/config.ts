import { z } from 'zod';

export const parquetFormatSchema = z
  .strictObject({
    type: z.literal('parquet'),
    columns: z.array(z.string().min(1)).min(1).optional().describe('Columns to read (default: all).'),
    timestamp: z
      .strictObject({
        field: z.string().min(1).describe('Column holding the event time (a Parquet timestamp, or text/number read with `format`).'),
        format: z.string().min(1).default('iso8601').describe('For text or number columns: dd/MMM/yyyy:HH:mm:ss Z, iso8601, epoch, epoch_s, epoch_ms.'),
      })
      .optional()
      .describe("Sets each record's event time (used for partitioning)."),
    maxObjectMb: z.number().positive().max(8192).default(1024).describe('Largest object read, in MiB (the footer is at the end, so an object is held whole).'),
  })
  .describe('Apache Parquet files, read one row group at a time.');

export type ParquetFormatConfig = z.output<typeof parquetFormatSchema>;
