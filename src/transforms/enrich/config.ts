import { z } from 'zod';

/** Placeholder schema: the enrich transform's author replaces it with the full one. */
export const enrichTransformSchema = z.strictObject({
  type: z.literal('enrich'),
});
export type EnrichTransformConfig = z.output<typeof enrichTransformSchema>;
