import { z } from 'zod';

export const cloudtrailFormatSchema = z.strictObject({
  type: z.literal('cloudtrail'),
  mode: z
    .enum(['auto', 'records', 'ndjson'])
    .optional()
    .describe('records: {"Records":[...]} delivery files; ndjson: one event per line; auto (default): told apart by the first bytes.'),
  maxRecordMb: z.number().positive().max(1024).optional().describe('Largest single record kept, in MiB (default 32); larger ones are rejected.'),
});

export type CloudtrailFormatConfig = z.output<typeof cloudtrailFormatSchema>;
