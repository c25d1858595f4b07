/**
 * Configuration of the `cwl` format (CloudWatch Logs subscription payloads). The inner format
 * reads the log messages; it has no header line to go by, so a custom flow log order must be
 * given as `fields`.
 */
import { z } from 'zod';

const innerVpcflow = z.strictObject({
  type: z.literal('vpcflow'),
  fields: z.string().optional().describe('Field order of the flow log lines (the LogFormat of the flow log); default: the v2 default format.'),
});

export const cwlInnerFormatSchema = z
  .union([
    z.enum(['vpcflow', 'cloudtrail', 's3access', 'alb', 'json', 'text']),
    innerVpcflow,
    z.strictObject({ type: z.literal('cloudtrail') }),
    z.strictObject({ type: z.literal('s3access') }),
    z.strictObject({ type: z.literal('alb') }),
    z.strictObject({ type: z.literal('json') }),
    z.strictObject({ type: z.literal('text') }),
  ])
  .transform((f) => (typeof f === 'string' ? { type: f } : f))
  .describe('How each log message is read: vpcflow (with fields), cloudtrail, s3access, alb, json (one JSON object per message) or text ({message}).');

export const cwlFormatSchema = z
  .strictObject({
    type: z.literal('cwl'),
    inner: cwlInnerFormatSchema.default({ type: 'text' }),
    metadata: z.boolean().default(false).describe('Add cwl_log_group, cwl_log_stream, cwl_owner (and cwl_extracted) to each record.'),
    maxPayloadMb: z.number().positive().max(1024).optional().describe('Largest payload after decompression, in MiB (default 16); larger ones are rejected.'),
  })
  .describe('CloudWatch Logs subscription payloads (bare, or in Lambda / Kinesis / Firehose envelopes, concatenated as Firehose writes them to S3).');

export type CwlFormatConfig = z.output<typeof cwlFormatSchema>;
export type CwlInnerFormatConfig = z.output<typeof cwlInnerFormatSchema>;
