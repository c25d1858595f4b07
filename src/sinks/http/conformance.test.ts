/**
 * The http sink against the sink conformance suite, posting to the bulk test server's plain
 * receiver (`/ingest/<collection>`, documents stored by `_id`), which throws in transient faults.
 *
 * A plain endpoint answers for a request as a whole, so a refused document makes the sink reject
 * every record of its request: with refusals planted, the adapter sends one record per request,
 * so that what the receiver refuses is exactly the planted records.
 */
import { bulkServerTarget, runSinkConformance, SINK_RETRY_FOR_FAULTS } from '../../testing/sink-conformance.js';
import { httpSinkSchema, type HttpSinkConfig } from './config.js';
import { createHttpSink } from './index.js';

function httpAdapter(settings: Partial<HttpSinkConfig>) {
  return {
    delivery: 'requests' as const,
    open: ({ refusedIds }: { refusedIds: ReadonlySet<string> }) =>
      bulkServerTarget({
        refusedIds,
        reason: 'field [n] of type [long] cannot hold this value (planted refusal)',
        createSink: (url) =>
          createHttpSink(
            httpSinkSchema.parse({
              type: 'http',
              url: `${url}/ingest/conformance`,
              batchMaxRecords: refusedIds.size > 0 ? 1 : 7,
              maxInFlight: 2,
              retry: SINK_RETRY_FOR_FAULTS,
              ...settings,
            }),
          ),
      }),
  };
}

runSinkConformance('http json', httpAdapter({ encoding: 'json' }));
runSinkConformance('http ndjson gzip', httpAdapter({ encoding: 'ndjson', compression: 'gzip' }));
