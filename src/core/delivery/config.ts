/** The options every sink that sends requests shares: TLS and retry. */
import { z } from 'zod';
import { DEFAULT_BACKOFF } from '../retry.js';

export const tlsSchema = z
  .strictObject({
    ca: z.string().min(1).optional().describe('PEM file of the certificate authority to trust (relative paths are relative to the pipeline file).'),
    insecureSkipVerify: z.boolean().default(false).describe('Accept any server certificate (self-signed test clusters only).'),
  })
  .describe('TLS options for https URLs.');

/** Retry settings; `attempts` defaults differ per sink, so the schema is built per sink. */
export function retrySchema(defaults: { maxAttempts: number }) {
  return z
    .strictObject({
      initialDelayMs: z.number().int().min(0).default(DEFAULT_BACKOFF.initialDelayMs).describe('Upper bound of the first retry wait (full jitter); doubles each retry.'),
      maxDelayMs: z.number().int().min(0).default(DEFAULT_BACKOFF.maxDelayMs).describe('Cap on one retry wait.'),
      maxAttempts: z.number().int().min(1).max(1000).default(defaults.maxAttempts).describe('Attempts in all (the first included) before giving up.'),
      maxElapsedMs: z.number().int().min(0).default(DEFAULT_BACKOFF.maxElapsedMs).describe('Give up when retrying would go on longer than this after the first attempt.'),
    })
    .describe('Retry with exponential backoff and full jitter; a Retry-After from the server is honoured.');
}

export type TlsConfig = z.output<typeof tlsSchema>;
export type RetryConfig = z.output<ReturnType<typeof retrySchema>>;
