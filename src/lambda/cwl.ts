/**
 * The CloudWatch Logs subscription handler, for the three ways a subscription reaches Lambda:
 *
 * - direct (`{"awslogs":{"data": base64(gzip(payload))}}`): one unit; a failure throws, and
 *   Lambda's asynchronous retries take over;
 * - Kinesis (`{"Records":[{"kinesis":{"data":…}}]}`): one unit per record, in order, with a
 *   partial batch response naming the sequence numbers that failed (Lambda resumes the shard
 *   from the lowest one);
 * - Firehose transformation (`{"records":[{"recordId","data"}]}`): each record comes back `Ok`
 *   with its records as NDJSON, `Dropped` (a CONTROL_MESSAGE, or nothing left to deliver) or
 *   `ProcessingFailed` (a payload that cannot be read: Firehose keeps it in its error output).
 *   Firehose delivers the result itself, so the pipeline's sinks are not used in this mode.
 *
 * Payloads are decoded by the `cwl` format (src/sources/cwl): the pipeline's format is used as
 * is when it is `cwl`, and otherwise wrapped as the format of the log messages inside
 * (`format: {type: vpcflow, fields: …}` works unchanged). A payload that cannot be read is a
 * dead letter with its reason, not a retry: retrying the same bytes cannot help. Only failures
 * that may pass on a retry (a sink that did not accept the records, a dead letter S3 did not
 * take) fail the record.
 *
 * A pipeline that cannot be loaded (one whose dead letters would not survive the container, say)
 * fails the invocation in every mode rather than answering per record: Kinesis then retries the
 * whole batch, and Firehose retries the invocation and finally puts the records in its error
 * output with the error's message, which `ProcessingFailed` would not carry.
 */
import { createHash } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import type { Format, Sink, SinkWriter, Source } from '../core/component.js';
import { SluiceError, toSluiceError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/logger.js';
import type { ObjectRef, SluiceRecord } from '../core/record.js';
import { processUnit, type UnitPipeline } from '../runtime/process-unit.js';
import type { UnitResult } from '../runtime/ledger/types.js';
import { outputStemFor, unitIdFor } from '../runtime/ledger/unit-id.js';
import { createNdjsonLineEncoder } from '../core/ndjson-line.js';
import { cwlFormat } from '../formats/cwl/index.js';
import { mapBounded } from './bounded-map.js';
import { pipelineForInvocation, pipelineFromEnvironment, type LambdaPipeline } from './lambda-pipeline.js';
import { TimeBudget, type RemainingTime, type TimeBudgetOptions } from './time-budget.js';

export const awslogsEventSchema = z.object({ awslogs: z.object({ data: z.string().min(1) }) });

export const kinesisEventSchema = z.object({
  Records: z
    .array(
      z.object({
        eventSource: z.literal('aws:kinesis'),
        eventID: z.string().optional(),
        eventSourceARN: z.string().optional(),
        kinesis: z.object({ data: z.string(), sequenceNumber: z.string().min(1), partitionKey: z.string().optional() }),
      }),
    )
    .min(1),
});

export const firehoseTransformationEventSchema = z.object({
  invocationId: z.string().optional(),
  deliveryStreamArn: z.string().optional(),
  records: z.array(z.object({ recordId: z.string().min(1), data: z.string() })).min(1),
});

export interface KinesisBatchResponse {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

export type FirehoseResult = 'Ok' | 'Dropped' | 'ProcessingFailed';

export interface FirehoseTransformationResponse {
  records: Array<{ recordId: string; result: FirehoseResult; data: string }>;
}

/** What a direct `awslogs` invocation returns: the unit's counts. */
export interface CwlDirectResult {
  recordsIn: number;
  recordsOut: number;
  recordsRejected: number;
  recordsFiltered: number;
}

export interface CwlHandlerOptions {
  pipeline?: () => Promise<LambdaPipeline>;
  logger?: Logger;
  /** Kinesis records / Firehose records processed at once (default 4). */
  concurrency?: number;
  budget?: TimeBudgetOptions;
}

export type CwlHandler = (
  event: unknown,
  context: RemainingTime & Partial<Context>,
) => Promise<CwlDirectResult | KinesisBatchResponse | FirehoseTransformationResponse>;

/** One piece of the event as a unit: an in-memory "object" holding the JSON the cwl format reads. */
interface EventUnit {
  /** Sequence number (Kinesis), record id (Firehose) or 'awslogs'. */
  itemId: string;
  ref: ObjectRef;
  bytes: Uint8Array;
}

export function createCwlHandler(options: CwlHandlerOptions = {}): CwlHandler {
  const loadPipeline = options.pipeline ?? pipelineFromEnvironment;
  const concurrency = options.concurrency ?? 4;
  let logger = options.logger;
  const formats = new WeakMap<Format, Format>();

  return async (event, context) => {
    logger ??= createLogger();
    const log = logger;
    const shape = classifyCwlEvent(event);
    const ids = shape.units.map((u) => u.itemId);
    const [pending, what]: [Record<string, unknown>, string] =
      shape.kind === 'kinesis'
        ? [{ sequenceNumbers: ids }, `all ${ids.length} Kinesis records`]
        : shape.kind === 'firehose'
          ? [{ recordIds: ids }, `all ${ids.length} Firehose records`]
          : [{ object: shape.units[0]!.ref.uri }, 'the CloudWatch Logs event'];
    const lambda = await pipelineForInvocation(loadPipeline, log, pending, what);
    let format = formats.get(lambda.pipeline.format);
    if (!format) {
      format = lambda.pipeline.format.name === 'cwl' ? lambda.pipeline.format : cwlFormat({ inner: lambda.pipeline.format });
      formats.set(lambda.pipeline.format, format);
    }
    const budget = new TimeBudget(context, options.budget);
    const run = async (units: EventUnit[], sinks: Sink[]): Promise<Array<UnitResult | SluiceError>> => {
      const source = memorySource(units);
      const pipeline: UnitPipeline = { ...lambda.pipeline, source, format, sinks };
      return mapBounded(units, shape.kind === 'direct' ? 1 : concurrency, async (unit) => {
        if (!budget.hasTimeFor()) return outOfTime(unit, budget);
        try {
          const result = await processUnit(pipeline, unitContext(lambda.config.name, unit), { signal: budget.signal });
          log.info({ item: unit.itemId, object: unit.ref.uri, recordsIn: result.recordsIn, recordsOut: result.recordsOut, recordsRejected: result.recordsRejected, recordsFiltered: result.recordsFiltered }, `done ${unit.ref.uri}`);
          return result;
        } catch (err) {
          const error = budget.signal.aborted ? outOfTime(unit, budget) : toSluiceError(err, 'sink', unit.ref.uri);
          log.error({ item: unit.itemId, object: unit.ref.uri, code: error.code, stage: error.stage, retryable: error.retryable, hint: error.hint }, `failed ${unit.ref.uri}: ${error.message}`);
          return error;
        }
      });
    };

    try {
      if (shape.kind === 'direct') {
        const [result] = await run(shape.units, lambda.pipeline.sinks);
        if (result instanceof SluiceError) throw result;
        return { recordsIn: result!.recordsIn, recordsOut: result!.recordsOut, recordsRejected: result!.recordsRejected, recordsFiltered: result!.recordsFiltered };
      }
      if (shape.kind === 'kinesis') {
        const results = await run(shape.units, lambda.pipeline.sinks);
        const failedIds = new Set(shape.units.filter((_, i) => results[i] instanceof SluiceError).map((u) => u.itemId));
        const batchItemFailures = [...failedIds].map((itemIdentifier) => ({ itemIdentifier }));
        log.info({ records: shape.units.length, failed: batchItemFailures.length }, `Kinesis batch: ${shape.units.length - batchItemFailures.length} of ${shape.units.length} records done`);
        return { batchItemFailures };
      }
      // Firehose: the records go back in the response, one collector per record.
      const collector = collectingSink();
      const results = await run(shape.units, [collector.sink]);
      const records = shape.units.map((unit, i) => {
        const result = results[i]!;
        if (result instanceof SluiceError) return { recordId: unit.itemId, result: 'ProcessingFailed' as const, data: firehoseOriginal(shape.event, unit.itemId) };
        const lines = collector.take(unit.ref.uri);
        if (result.recordsOut === 0) {
          // Nothing to deliver: a CONTROL_MESSAGE or only filtered events is Dropped; a payload
          // that could not be read at all goes to Firehose's error output with its original bytes.
          const unreadable = result.recordsRejected > 0;
          return { recordId: unit.itemId, result: unreadable ? ('ProcessingFailed' as const) : ('Dropped' as const), data: unreadable ? firehoseOriginal(shape.event, unit.itemId) : '' };
        }
        return { recordId: unit.itemId, result: 'Ok' as const, data: Buffer.from(lines, 'utf8').toString('base64') };
      });
      log.info({ records: records.length, ok: records.filter((r) => r.result === 'Ok').length, dropped: records.filter((r) => r.result === 'Dropped').length, failed: records.filter((r) => r.result === 'ProcessingFailed').length }, 'Firehose transformation done');
      return { records };
    } finally {
      budget.dispose();
    }
  };
}

type CwlEventShape =
  | { kind: 'direct'; units: EventUnit[] }
  | { kind: 'kinesis'; units: EventUnit[] }
  | { kind: 'firehose'; units: EventUnit[]; event: z.output<typeof firehoseTransformationEventSchema> };

/** Tells the three event kinds apart by shape; anything else is a clear error. */
export function classifyCwlEvent(event: unknown): CwlEventShape {
  const e = event as Record<string, unknown> | null;
  if (e && typeof e === 'object' && 'awslogs' in e) {
    const parsed = parseOrThrow(awslogsEventSchema, event, 'a CloudWatch Logs event');
    const hash = createHash('sha256').update(parsed.awslogs.data).digest('hex').slice(0, 24);
    const json = JSON.stringify({ awslogs: { data: parsed.awslogs.data } });
    return { kind: 'direct', units: [{ itemId: 'awslogs', ref: { uri: `cwl://awslogs/${hash}`, key: `awslogs/${hash}`, etag: hash }, bytes: Buffer.from(json) }] };
  }
  const records = e && typeof e === 'object' ? e.Records : undefined;
  if (Array.isArray(records) && (records[0] as { eventSource?: unknown })?.eventSource === 'aws:kinesis') {
    const parsed = parseOrThrow(kinesisEventSchema, event, 'a Kinesis event');
    return {
      kind: 'kinesis',
      units: parsed.Records.map((r, i) => {
        const stream = r.eventSourceARN?.split('/').pop() ?? 'stream';
        // eventID is shard:sequence and unique per record; the sequence number alone is not
        // (records aggregated by the KPL share one).
        const position = r.eventID?.replace(':', '/') ?? `shard/${r.kinesis.sequenceNumber}/${i}`;
        const key = `kinesis/${stream}/${position}`;
        return { itemId: r.kinesis.sequenceNumber, ref: { uri: `kinesis://${stream}/${position}`, key, etag: r.kinesis.sequenceNumber }, bytes: Buffer.from(JSON.stringify({ awslogs: { data: r.kinesis.data } })) };
      }),
    };
  }
  if (e && typeof e === 'object' && Array.isArray(e.records)) {
    const parsed = parseOrThrow(firehoseTransformationEventSchema, event, 'a Firehose transformation event');
    const stream = parsed.deliveryStreamArn?.split('/').pop() ?? 'firehose';
    return {
      kind: 'firehose',
      event: parsed,
      units: parsed.records.map((r) => ({
        itemId: r.recordId,
        ref: { uri: `firehose://${stream}/${r.recordId}`, key: `firehose/${stream}/${r.recordId}`, etag: createHash('sha256').update(r.data).digest('hex').slice(0, 24) },
        bytes: Buffer.from(JSON.stringify({ awslogs: { data: r.data } })),
      })),
    };
  }
  const keys = e && typeof e === 'object' ? Object.keys(e).slice(0, 8).join(', ') : typeof event;
  throw new SluiceError(`cwlHandler was invoked with an event of unknown shape (keys: ${keys || 'none'})`, {
    code: 'CWL_EVENT_UNKNOWN_SHAPE',
    stage: 'plan',
    hint: 'cwlHandler takes CloudWatch Logs subscription events: {"awslogs":{"data":…}}, Kinesis events or Firehose transformation events; S3 notifications go to sqsHandler',
  });
}

function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new SluiceError(`cwlHandler: ${what} with an invalid field ${issue.path.join('.') || '(top level)'}: ${issue.message}`, {
    code: 'CWL_EVENT_UNKNOWN_SHAPE',
    stage: 'plan',
  });
}

function unitContext(pipelineName: string, unit: EventUnit) {
  return {
    id: unitIdFor(pipelineName, 'object', unit.ref.key, unit.ref.etag),
    outputStem: outputStemFor(unit.ref.key, unitIdFor(pipelineName, 'object', unit.ref.key)),
    objects: [unit.ref],
  };
}

/** The event's pieces as objects, so the engine's read → decode → transforms → sinks path runs unchanged. */
function memorySource(units: EventUnit[]): Source {
  const byUri = new Map(units.map((u) => [u.ref.uri, u.bytes]));
  return {
    root: 'lambda-event',
    async *list() {},
    async open(ref) {
      const bytes = byUri.get(ref.uri);
      if (!bytes) throw new SluiceError(`${ref.uri} is not part of this event`, { code: 'OBJECT_NOT_FOUND', stage: 'read' });
      return (async function* () {
        yield bytes;
      })();
    },
  };
}

/** A sink that keeps each unit's records as NDJSON text, for the Firehose response. */
function collectingSink(): { sink: Sink; take(uri: string): string } {
  const encode = createNdjsonLineEncoder('_id');
  const committed = new Map<string, string>();
  const sink: Sink = {
    name: 'firehose-response',
    openUnit(unit): SinkWriter {
      let text = '';
      let delivered = 0;
      return {
        async write(records: SluiceRecord[]) {
          for (const record of records) text += encode(record);
          delivered += records.length;
        },
        async commit() {
          committed.set(unit.objects[0]!.uri, text);
          return { outputs: [], delivered, rejected: [] };
        },
        async abort() {
          text = '';
        },
      };
    },
  };
  return {
    sink,
    take(uri) {
      const text = committed.get(uri) ?? '';
      committed.delete(uri);
      return text;
    },
  };
}

function firehoseOriginal(event: z.output<typeof firehoseTransformationEventSchema>, recordId: string): string {
  return event.records.find((r) => r.recordId === recordId)?.data ?? '';
}

function outOfTime(unit: EventUnit, budget: TimeBudget): SluiceError {
  return new SluiceError(`${unit.ref.uri}: stopped ${budget.marginMs} ms before the function timeout, nothing of it was committed`, {
    code: 'TIME_BUDGET_EXCEEDED',
    stage: 'read',
    retryable: true,
    hint: 'the record is retried; raise the function timeout or lower the batch size if this repeats',
  });
}

/** The CloudWatch Logs handler configured from the environment (SLUICE_PIPELINE). */
export const cwlHandler: CwlHandler = createCwlHandler();
