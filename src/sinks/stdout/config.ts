import { z } from 'zod';

export const stdoutSinkSchema = z.strictObject({
  type: z.literal('stdout'),
  idField: z.union([z.string().min(1), z.literal(false)]).default('_id'),
});

export type StdoutSinkConfig = z.output<typeof stdoutSinkSchema>;
