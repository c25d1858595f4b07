/**
 * Configuration of the `http` sink (the TLS and retry options every network sink shares are in core/delivery/config.ts). How
 * batches are built and retried is described in index.ts.
 */
import { z } from 'zod';
import { retrySchema, tlsSchema } from '../../core/delivery/config.js';

export { retrySchema, tlsSchema, type RetryConfig, type TlsConfig } from '../../core/delivery/config.js';

const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'a valid HTTP header name');

export const httpSinkSchema = z
  .strictObject({
    type: z.literal('http'),
    url: z
      .string()
      .min(1)
      .describe('Where batches are sent. May hold {field} placeholders filled from the records (URL-encoded); records are batched per resulting URL, e.g. https://example.com/connection_sets/{bucket_start}.'),
    method: z.enum(['POST', 'PUT']).default('POST').describe('HTTP method.'),
    encoding: z.enum(['json', 'ndjson']).default('json').describe('json: one JSON array (or object, see asObject) per request; ndjson: one JSON object per line.'),
    asObject: z
      .strictObject({
        key: z.string().min(1).describe('Field whose value becomes the property name.'),
        value: z.string().min(1).describe('Field whose value becomes the property value.'),
      })
      .optional()
      .describe(
        'Send each batch as one JSON object {<key field>: <value field>, ...} (e.g. {ip: peers}) instead of an array of records; needs encoding json. A URL whose records exceed batchMaxRecords/batchMaxBytes gets several requests: raise them to send one object per URL.',
      ),
    idField: z.union([z.string().min(1), z.literal(false)]).default('_id').describe('Field carrying the record id in each sent record, or false.'),
    compression: z.enum(['none', 'gzip']).default('none').describe('Compress request bodies (Content-Encoding: gzip).'),
    headers: z
      .record(headerName, z.string())
      .default({})
      .describe('Extra request headers; values may be secret references (env:, file:, aws-secretsmanager:, aws-ssm:), and must be for credentials (Authorization, *token*, *key*...).'),
    idempotencyHeader: z
      .union([headerName, z.literal(false)])
      .default('Idempotency-Key')
      .describe('Header carrying a key derived from the batch\'s record ids (the same batch always gets the same key), or false.'),
    batchMaxRecords: z.number().int().min(1).max(1_000_000).default(1000).describe('Records per request at most.'),
    batchMaxBytes: z.number().int().min(1024).max(100 * 1024 * 1024).default(1_000_000).describe('Uncompressed body bytes per request at most (a single larger record is sent alone).'),
    maxInFlight: z.number().int().min(1).max(256).default(4).describe('Requests in flight (or waiting to be retried) per sink instance; a full window makes the reader wait.'),
    timeoutMs: z.number().int().min(100).default(30_000).describe('Time allowed for a whole request (sending, the answer and its body); a request past it is retried.'),
    retry: retrySchema({ maxAttempts: 5 }).prefault({}),
    tls: tlsSchema.optional(),
  })
  .superRefine((sink, ctx) => {
    if (sink.asObject && sink.encoding !== 'json') ctx.addIssue({ code: 'custom', path: ['asObject'], message: 'asObject needs encoding: json' });
  })
  .describe('POST batches of records as JSON or NDJSON to an HTTP endpoint.');

export type HttpSinkConfig = z.output<typeof httpSinkSchema>;
