import { z } from 'zod';

export const albFormatSchema = z.strictObject({ type: z.literal('alb') });

export type AlbFormatConfig = z.output<typeof albFormatSchema>;
