import { z } from 'zod';
import { aslCsvOptionsSchema } from './asl-config.js';

/** Mappings shipped with Sluice, by the name a pipeline uses. */
export const BUILTIN_OCSF_MAPPINGS = ['builtin:vpcflow', 'builtin:cloudtrail'] as const;

export const ocsfTransformSchema = z
  .strictObject({
    type: z.literal('ocsf'),
    mapping: z
      .string()
      .min(1)
      .superRefine((value, ctx) => {
        if ((BUILTIN_OCSF_MAPPINGS as readonly string[]).includes(value)) return;
        // A Security Lake ETL framework mapping CSV (see asl-mapping.ts), resolved against the pipeline file.
        if (/\.csv$/i.test(value)) return;
        ctx.addIssue({
          code: 'custom',
          message: value.startsWith('builtin:')
            ? `unknown built-in mapping "${value}" (known: ${BUILTIN_OCSF_MAPPINGS.join(', ')})`
            : `"${value}" is neither a built-in mapping (${BUILTIN_OCSF_MAPPINGS.join(', ')}) nor a mapping CSV (a .csv file in the Security Lake ETL framework's format)`,
        });
      })
      .describe('The mapping: builtin:vpcflow (VPC/Transit Gateway flow logs -> Network Activity 4001), builtin:cloudtrail (CloudTrail events -> API Activity 6003, Authentication 3002, Account Change 3001), or the path of a Security Lake ETL framework mapping CSV (with `csv`).'),
    csv: aslCsvOptionsSchema.optional(),
    version: z
      .string()
      .regex(/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?$/, 'an OCSF version such as 1.1.0')
      .default('1.1.0')
      .describe('OCSF version to emit (metadata.version); the mapping must support it.'),
    observables: z.boolean().default(true).describe('Add observables (IP addresses, instance ids) to each event, as Security Lake does.'),
    datetime: z.boolean().default(false).describe('Add the datetime profile (time_dt, start_time_dt, end_time_dt as RFC 3339 UTC strings).'),
  })
  .describe('Normalize records to OCSF events.');
export type OcsfTransformConfig = z.output<typeof ocsfTransformSchema>;
