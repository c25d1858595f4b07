import { z } from 'zod';

export const s3accessFormatSchema = z.strictObject({ type: z.literal('s3access') });

export type S3accessFormatConfig = z.output<typeof s3accessFormatSchema>;
