/**
 * Configuration of the `aggregate` transform: distinct peers per IP per time bucket.
 */
import { z } from 'zod';

export const aggregateTransformSchema = z
  .strictObject({
    type: z.literal('aggregate'),
    kind: z.literal('distinct-peers').default('distinct-peers').describe('What is aggregated: distinct-peers = for each address, how many distinct addresses it talked to (either direction) per bucket.'),
    bucketSeconds: z.number().int().min(1).max(31 * 86_400).default(600).describe('Bucket length in seconds (buckets start at multiples of it since the epoch).'),
    src: z.string().min(1).default('srcaddr').describe('Field holding one end of a flow.'),
    dst: z.string().min(1).default('dstaddr').describe('Field holding the other end.'),
    timeField: z
      .string()
      .min(1)
      .optional()
      .describe("Field holding the flow's time in epoch seconds (e.g. start); default: the record's event time."),
    names: z
      .array(z.string().min(1))
      .default(['name', 'instance_name'])
      .describe('Enrichment columns copied to each output record: for an address seen as the source, `src_<name>`, as the destination, `dst_<name>` (first non-null wins).'),
    maxExactPairs: z
      .number()
      .int()
      .min(1000)
      .default(1_000_000)
      .describe('Memory bound: (address, peer) pairs kept exactly per bucket. Past it, the largest peer sets of the bucket become HyperLogLog sketches (output exact: false).'),
    hllPrecision: z
      .number()
      .int()
      .min(8)
      .max(16)
      .default(12)
      .describe('HyperLogLog precision p (2^p bytes per sketch); relative standard error 1.04/sqrt(2^p): 1.63 % at 12.'),
    partials: z
      .string()
      .optional()
      .describe("Folder of the per-unit partial results merged at the end of a run (default: beside the ledger, partials/<pipeline>)."),
  })
  .describe('Distinct peers per address per time bucket, merged across all objects of a run; records {bucket_start, ip, peers, exact, names}.');

export type AggregateTransformConfig = z.output<typeof aggregateTransformSchema>;
