import { z } from 'zod';

export const vpcflowFormatSchema = z.strictObject({
  type: z.literal('vpcflow'),
  fields: z
    .string()
    .optional()
    .describe('Field order for lines without a header (CloudWatch Logs delivery); default: the v2 default format.'),
});

export type VpcflowFormatConfig = z.output<typeof vpcflowFormatSchema>;
