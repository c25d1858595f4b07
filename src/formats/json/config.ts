import { z } from 'zod';

const timestampSchema = z
  .strictObject({
    field: z.string().min(1).describe('Field (dotted path) holding the event time.'),
    format: z.string().min(1).describe('dd/MMM/yyyy:HH:mm:ss Z, yyyy-MM-dd HH:mm:ss, iso8601, epoch (seconds or ms), epoch_s, epoch_ms.'),
  })
  .optional()
  .describe("Sets each record's event time (used for partitioning); a record whose time does not match is rejected.");

export const jsonFormatSchema = z
  .strictObject({
    type: z.literal('json'),
    recordPath: z
      .string()
      .optional()
      .describe('Dotted path to the array of records in each document ("Records", "data.items"); default: the document is an array of records, or one record.'),
    timestamp: timestampSchema,
    maxObjectMb: z.number().positive().max(4096).default(256).describe('Largest document read, in MiB (a JSON document is parsed whole).'),
  })
  .describe('JSON documents: an array of records, one record, or records at a path.');

export const ndjsonFormatSchema = z
  .strictObject({
    type: z.literal('ndjson'),
    recordPath: z.string().optional().describe('Dotted path to an array of records inside each line; default: each line is one record.'),
    timestamp: timestampSchema,
  })
  .describe('Newline-delimited JSON: one JSON value per line.');

export type JsonFormatConfig = z.output<typeof jsonFormatSchema>;
export type NdjsonFormatConfig = z.output<typeof ndjsonFormatSchema>;
