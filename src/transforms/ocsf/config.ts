import { z } from 'zod';

/** Mappings shipped with Sluice, by the name a pipeline uses. */
export const BUILTIN_OCSF_MAPPINGS = ['builtin:vpcflow'] as const;

export const ocsfTransformSchema = z
  .strictObject({
    type: z.literal('ocsf'),
    mapping: z
      .string()
      .min(1)
      .superRefine((value, ctx) => {
        if ((BUILTIN_OCSF_MAPPINGS as readonly string[]).includes(value)) return;
        ctx.addIssue({
          code: 'custom',
          message: value.startsWith('builtin:')
            ? `unknown built-in mapping "${value}" (known: ${BUILTIN_OCSF_MAPPINGS.join(', ')})`
            : `mapping files ("${value}") are not supported yet; use one of ${BUILTIN_OCSF_MAPPINGS.join(', ')}`,
        });
      })
      .describe('The mapping: builtin:vpcflow (VPC/Transit Gateway flow logs -> Network Activity 4001).'),
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
