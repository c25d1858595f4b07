/**
 * The opensearch and elasticsearch sinks against the sink conformance suite, indexing into the
 * bulk test server, which throws in transient faults and refuses the planted ids item by item
 * (400 mapper_parsing_exception), as a cluster refuses a document its mapping cannot take. The
 * elasticsearch case uses `create`, so what a crashed attempt delivered comes back 409 on the re-run.
 */
import { bulkServerTarget, runSinkConformance, SINK_RETRY_FOR_FAULTS } from '../../testing/sink-conformance.js';
import { elasticsearchSinkSchema, opensearchSinkSchema } from './config.js';
import { createBulkSink } from './index.js';

function bulkAdapter(settings: { type: 'opensearch' | 'elasticsearch' } & Record<string, unknown>) {
  return {
    delivery: 'requests' as const,
    open: ({ refusedIds }: { refusedIds: ReadonlySet<string> }) =>
      bulkServerTarget({
        refusedIds,
        reason: 'failed to parse field [n] of type [long] in document (planted refusal)',
        createSink: (url) => {
          const fields = { url, index: 'conformance', batchMaxRecords: 7, maxInFlight: 2, retry: SINK_RETRY_FOR_FAULTS, ...settings };
          return createBulkSink(settings.type === 'opensearch' ? opensearchSinkSchema.parse(fields) : elasticsearchSinkSchema.parse(fields));
        },
      }),
  };
}

runSinkConformance('opensearch', bulkAdapter({ type: 'opensearch' }));
runSinkConformance('elasticsearch (create, gzip)', bulkAdapter({ type: 'elasticsearch', action: 'create', compression: 'gzip' }));
