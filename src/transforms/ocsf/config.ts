import { z } from 'zod';

/** Placeholder schema: the ocsf transform's author replaces it with the full one. */
export const ocsfTransformSchema = z.strictObject({
  type: z.literal('ocsf'),
});
export type OcsfTransformConfig = z.output<typeof ocsfTransformSchema>;
