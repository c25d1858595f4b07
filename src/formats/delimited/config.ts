import { z } from 'zod';

export const delimitedFormatSchema = z
  .strictObject({
    type: z.literal('delimited'),
    delimiter: z
      .string()
      .min(1)
      .default(',')
      .describe('Field delimiter: any string ("," "|" "\\t" "::"); " " or "whitespace" means runs of spaces and tabs.'),
    header: z.boolean().default(false).describe('The first line of each object names the columns.'),
    columns: z.array(z.string().min(1)).min(1).optional().describe('Column names in order (for objects without a header; with a header they replace its names).'),
    quote: z.union([z.string().length(1), z.literal(false)]).default('"').describe('Quote character of quoted fields, or false.'),
    brackets: z.boolean().default(false).describe('A field in [brackets] is one field even with delimiters inside (S3 access log times: [06/Feb/2019:00:00:38 +0000]).'),
    nulls: z.array(z.string()).default([]).describe('Field texts read as null (e.g. ["-", ""]).'),
    comment: z.string().min(1).optional().describe('Lines starting with this are skipped (e.g. "#").'),
    timestamp: z
      .strictObject({
        field: z.string().min(1).describe('Column holding the event time.'),
        format: z.string().min(1).describe('dd/MMM/yyyy:HH:mm:ss Z, yyyy-MM-dd HH:mm:ss, iso8601, epoch (seconds or ms), epoch_s, epoch_ms.'),
      })
      .optional()
      .describe("Sets each record's event time (used for partitioning); a record whose time does not match is rejected."),
    multiline: z
      .strictObject({ start: z.string().min(1).describe('Regular expression a line matching which starts a new record.') })
      .optional()
      .describe('Records spanning several lines: lines not matching `start` continue the record before them.'),
    maxRecordKb: z.number().positive().max(65536).default(1024).describe('Largest record (all its lines) kept, in KiB; larger ones are rejected.'),
  })
  .describe('Delimited text: CSV, TSV, pipe- or whitespace-separated, with or without a header.');

export type DelimitedFormatConfig = z.output<typeof delimitedFormatSchema>;
