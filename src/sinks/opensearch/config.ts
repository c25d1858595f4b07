/**
 * Configuration of the `opensearch` and `elasticsearch` sinks (one implementation, two names).
 * How requests are built, sent and retried is described in index.ts.
 */
import { z } from 'zod';
import { retrySchema, tlsSchema } from '../../core/delivery/config.js';

/** AWS OpenSearch Service rejects bulk bodies above 10 MiB on its smaller instance types. */
export const BULK_MAX_BYTES_CAP = 10 * 1024 * 1024;

const secretRef = (what: string) =>
  z.string().min(1).describe(`${what}: a secret reference (env:NAME, file:PATH, aws-secretsmanager:ID[#key], aws-ssm:/name).`);

const basicAuthSchema = z.strictObject({
  username: z.string().min(1).describe('User name (not a secret; a reference is accepted too).'),
  password: secretRef('Password'),
});

const apiKeyAuthSchema = z.strictObject({
  apiKey: secretRef('API key, base64 "id:key" as Elasticsearch/OpenSearch issue it (sent as Authorization: ApiKey ...)'),
});

const awsAuthSchema = z.strictObject({
  aws: z
    .strictObject({
      region: z.string().min(1).optional().describe('Region of the domain (default: read from the URL, else AWS_REGION).'),
      service: z.enum(['es', 'aoss']).default('es').describe('es = Amazon OpenSearch Service domains, aoss = OpenSearch Serverless.'),
    })
    .describe('Sign requests with AWS SigV4, using the default AWS credentials (environment, profile, role).'),
});

const authSchema = z
  .union([basicAuthSchema, apiKeyAuthSchema, awsAuthSchema])
  .describe('{ username, password } (basic), { apiKey } or { aws: { region, service } } (SigV4).');

function bulkSinkSchema<T extends 'opensearch' | 'elasticsearch'>(type: T) {
  return z
    .strictObject({
      type: z.literal(type),
      url: z.string().url().describe('Cluster URL, e.g. https://search-logs-abc.eu-west-1.es.amazonaws.com or http://127.0.0.1:9200 (a path prefix is kept).'),
      index: z
        .string()
        .min(1)
        .describe('Index (or data stream) name; %Y %m %d %H %j are replaced from each record\'s event time in UTC, e.g. flows-%Y.%m.%d. %% is a literal %.'),
      dataStream: z.boolean().default(false).describe('The index is a data stream: documents are sent with op_type create and an @timestamp.'),
      action: z
        .enum(['index', 'create'])
        .optional()
        .describe('Bulk action: index (create or overwrite by _id; default) or create (write once; a 409 conflict on replay counts as already delivered). Data streams need create.'),
      timestampField: z
        .union([z.string().min(1), z.literal(false)])
        .optional()
        .describe('Field set to the record\'s event time (ISO 8601) in each document; default @timestamp for data streams, none otherwise.'),
      pipeline: z.string().min(1).optional().describe('Ingest pipeline to run the documents through.'),
      auth: authSchema.optional(),
      tls: tlsSchema.optional(),
      batchMaxBytes: z
        .number()
        .int()
        .min(1024)
        .max(BULK_MAX_BYTES_CAP)
        .default(5_000_000)
        .describe('Bytes per bulk request at most (uncompressed; cap 10 MiB). A single larger document is sent alone.'),
      batchMaxRecords: z.number().int().min(1).max(100_000).default(10_000).describe('Documents per bulk request at most.'),
      maxInFlight: z
        .number()
        .int()
        .min(1)
        .max(64)
        .default(4)
        .describe('Bulk requests in flight (or waiting to be retried) per sink instance, i.e. per worker thread; a full window makes the reader wait.'),
      timeoutMs: z.number().int().min(100).default(60_000).describe('Time allowed for a whole bulk request (sending, the answer and its body); a request past it is retried.'),
      compression: z.enum(['none', 'gzip']).default('none').describe('Compress bulk bodies (the cluster must allow http.compression).'),
      retry: retrySchema({ maxAttempts: 10 }).prefault({}),
    })
    .superRefine((sink, ctx) => {
      if (sink.dataStream && sink.action === 'index') {
        ctx.addIssue({ code: 'custom', path: ['action'], message: 'a data stream only accepts create; remove action or set it to create' });
      }
      let url: URL | undefined;
      try {
        url = new URL(sink.url);
      } catch {
        return;
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') ctx.addIssue({ code: 'custom', path: ['url'], message: 'use an http:// or https:// URL' });
      if (url.password !== '' && sink.auth !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['url'], message: 'give credentials either in the URL or in auth, not both' });
      }
    })
    .describe(`Index records into ${type === 'opensearch' ? 'OpenSearch' : 'Elasticsearch'} with the bulk API, _id = record id.`);
}

export const opensearchSinkSchema = bulkSinkSchema('opensearch');
export const elasticsearchSinkSchema = bulkSinkSchema('elasticsearch');

export type BulkSinkConfig = z.output<typeof opensearchSinkSchema> | z.output<typeof elasticsearchSinkSchema>;
export type BulkAuthConfig = z.output<typeof authSchema>;
