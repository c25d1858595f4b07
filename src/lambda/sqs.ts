/**
 * The SQS handler: S3 object notifications (direct, via SNS with raw delivery on or off, via
 * EventBridge; `s3:TestEvent` acknowledged) → one unit per object → the pipeline's sinks, with a
 * partial batch response so only the messages that failed come back.
 *
 * Per message the rule is simple: it succeeds when every object it names is done or skipped for
 * a stated reason; otherwise (a body that is not JSON or not a known shape, an object that failed
 * to read, decode or deliver, an object the time budget did not allow) its id is in
 * `batchItemFailures` and a log line names it and why. Nothing is acknowledged without a log
 * line saying what happened to it. A pipeline that cannot be loaded (one whose dead letters would
 * not survive the container, say) fails the whole invocation, after a log line naming every message.
 *
 * The same handler also accepts the notification delivered straight to Lambda (S3 → Lambda,
 * SNS → Lambda, EventBridge → Lambda); there is no batch response then, so any failure throws
 * and Lambda's asynchronous retries (and on-failure destination) take over.
 */
import type { Context } from 'aws-lambda';
import { SluiceError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/logger.js';
import type { ObjectRef } from '../core/record.js';
import {
  NotificationShapeError,
  readNotification,
  readNotificationValue,
  snsLambdaEventSchema,
  sqsEventSchema,
  type Notification,
  type SqsRecord,
} from './notifications/index.js';
import { mapBounded } from './bounded-map.js';
import { pipelineForInvocation, pipelineFromEnvironment, type LambdaPipeline } from './lambda-pipeline.js';
import { objectRefFor, processObject, type ObjectOutcome } from './object-unit.js';
import { ThroughputEstimate, TimeBudget, type RemainingTime, type TimeBudgetOptions } from './time-budget.js';

export interface SqsBatchResponse {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

/** What a direct (non-SQS) invocation returns when every object succeeded. */
export interface NotificationSummary {
  objects: number;
  done: number;
  skipped: number;
}

export interface SqsHandlerOptions {
  /** The pipeline to run (default: loaded once per container from SLUICE_PIPELINE). */
  pipeline?: () => Promise<LambdaPipeline>;
  logger?: Logger;
  /** Objects processed at once within one invocation (default: SLUICE_OBJECT_CONCURRENCY, else 4). */
  objectConcurrency?: number;
  budget?: TimeBudgetOptions;
}

export type SqsHandler = (event: unknown, context: RemainingTime & Partial<Context>) => Promise<SqsBatchResponse | NotificationSummary>;

/** One message's plan: the objects it names, or why it cannot be read. */
interface MessagePlan {
  messageId: string;
  receiveCount?: string;
  notification?: Notification;
  error?: SluiceError;
}

/**
 * Builds an SQS handler; `sqsHandler` is this with the defaults.
 *
 * @example
 * export const handler = createSqsHandler({ objectConcurrency: 2 });
 */
export function createSqsHandler(options: SqsHandlerOptions = {}): SqsHandler {
  const loadPipeline = options.pipeline ?? pipelineFromEnvironment;
  const concurrency = options.objectConcurrency ?? envInt('SLUICE_OBJECT_CONCURRENCY') ?? 4;
  // Lives as long as the container: later invocations know how fast objects go.
  const throughput = new ThroughputEstimate();
  let logger = options.logger;

  return async (event, context) => {
    logger ??= createLogger();
    const log = logger;
    const shape = classifyEvent(event);
    const lambda =
      shape.kind === 'sqs'
        ? await pipelineForInvocation(loadPipeline, log, { messageIds: shape.records.map((r) => r.messageId) }, `all ${shape.records.length} SQS messages`)
        : await pipelineForInvocation(loadPipeline, log, { objects: shape.notifications.flatMap((n) => n.objects.map((o) => `s3://${o.bucket}/${o.key}`)) }, 'the notified objects');
    const budget = new TimeBudget(context, options.budget);
    try {
      if (shape.kind === 'sqs') return await handleSqsBatch(shape.records, { lambda, budget, throughput, concurrency, log });
      return await handleDirect(shape.notifications, { lambda, budget, throughput, concurrency, log });
    } finally {
      budget.dispose();
    }
  };
}

type EventShape = { kind: 'sqs'; records: SqsRecord[] } | { kind: 'direct'; notifications: Notification[] };

/** Tells the event kinds apart by shape; anything else is a clear error (the invocation fails). */
function classifyEvent(event: unknown): EventShape {
  const records = (event as { Records?: unknown })?.Records;
  // SQS and S3 records say `eventSource`, SNS records `EventSource`.
  const first = Array.isArray(records) ? (records[0] as { eventSource?: unknown; EventSource?: unknown } | undefined) : undefined;
  const firstSource = first?.eventSource ?? first?.EventSource;
  if (firstSource === 'aws:sqs') {
    const parsed = sqsEventSchema.safeParse(event);
    if (!parsed.success) throw invalidEvent(`an SQS event with an invalid record: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`);
    return { kind: 'sqs', records: parsed.data.Records };
  }
  if (firstSource === 'aws:s3') return { kind: 'direct', notifications: [readNotificationValue(event, [])] };
  if (firstSource === 'aws:sns') {
    const parsed = snsLambdaEventSchema.safeParse(event);
    if (!parsed.success) throw invalidEvent(`an SNS event with an invalid record: ${parsed.error.issues[0]?.message}`);
    return {
      kind: 'direct',
      notifications: parsed.data.Records.map((r) => {
        try {
          return withRoute(readNotification(r.Sns.Message), 'sns');
        } catch (err) {
          const e = err as SluiceError;
          throw new NotificationShapeError(`SNS message ${r.Sns.MessageId ?? ''} from ${r.Sns.TopicArn ?? 'an unknown topic'}: ${e.message}`, e.hint);
        }
      }),
    };
  }
  if ((event as { source?: unknown })?.source === 'aws.s3') return { kind: 'direct', notifications: [readNotificationValue(event, [])] };
  const keys = event && typeof event === 'object' ? Object.keys(event).slice(0, 8).join(', ') : typeof event;
  throw invalidEvent(`an event of unknown shape (${Array.isArray(records) ? `Records[0].eventSource ${JSON.stringify(firstSource)}` : `keys: ${keys || 'none'}`})`);
}

function invalidEvent(what: string): SluiceError {
  return new NotificationShapeError(
    `sqsHandler was invoked with ${what}`,
    'sqsHandler takes SQS events carrying S3 notifications (or S3, SNS or EventBridge events sent to Lambda directly); CloudWatch Logs, Kinesis and Firehose events go to cwlHandler, Step Functions items to mapItemHandler',
  );
}

function withRoute(n: Notification, outer: 'sns'): Notification {
  return { ...n, route: [outer, ...n.route] };
}

interface Run {
  lambda: LambdaPipeline;
  budget: TimeBudget;
  throughput: ThroughputEstimate;
  concurrency: number;
  log: Logger;
}

async function handleSqsBatch(records: SqsRecord[], run: Run): Promise<SqsBatchResponse> {
  const { log } = run;
  const plans: MessagePlan[] = records.map((record) => {
    const plan: MessagePlan = { messageId: record.messageId, receiveCount: record.attributes?.ApproximateReceiveCount };
    try {
      plan.notification = readNotification(record.body);
    } catch (err) {
      plan.error = err instanceof SluiceError ? err : new NotificationShapeError(String(err));
    }
    return plan;
  });
  for (const plan of plans) {
    if (plan.error) {
      log.error({ messageId: plan.messageId, receiveCount: plan.receiveCount, code: plan.error.code, hint: plan.error.hint }, `SQS message ${plan.messageId} failed: ${plan.error.message}`);
    } else {
      logAcknowledged(log, plan.messageId, plan.notification!);
    }
  }

  // FIFO queues deliver a group in order: once one message fails, the ones after it must come
  // back too, unprocessed, or a later message would overtake an earlier one.
  const fifo = records.some((r) => r.eventSourceARN?.endsWith('.fifo'));
  const outcomes = fifo ? await processInOrder(plans, run) : await processTogether(plans, run);

  const failures: Array<{ itemIdentifier: string }> = [];
  for (const plan of plans) {
    const failed = plan.error !== undefined || (outcomes.get(plan.messageId) ?? []).some((o) => o.status === 'failed');
    if (failed) failures.push({ itemIdentifier: plan.messageId });
  }
  log.info({ messages: records.length, failed: failures.length, fifo }, `SQS batch: ${records.length - failures.length} of ${records.length} messages done`);
  return { batchItemFailures: failures };
}

/** Processes the objects of all messages together (deduplicated: S3 may notify an object twice). */
async function processTogether(plans: MessagePlan[], run: Run): Promise<Map<string, ObjectOutcome[]>> {
  const unique = new Map<string, ObjectRef>();
  const refsByMessage = new Map<string, string[]>();
  for (const plan of plans) {
    if (!plan.notification) continue;
    const ids = plan.notification.objects.map((o) => {
      const ref = objectRefFor(o);
      const id = `${ref.uri}\0${ref.versionId ?? ref.etag ?? ''}`;
      if (!unique.has(id)) unique.set(id, ref);
      return id;
    });
    refsByMessage.set(plan.messageId, ids);
  }
  const ids = [...unique.keys()];
  const results = await mapBounded(ids, run.concurrency, (id) => processLogged(unique.get(id)!, plans, run));
  const byId = new Map(ids.map((id, i) => [id, results[i]!]));
  return new Map([...refsByMessage].map(([messageId, refIds]) => [messageId, refIds.map((id) => byId.get(id)!)]));
}

async function processInOrder(plans: MessagePlan[], run: Run): Promise<Map<string, ObjectOutcome[]>> {
  const out = new Map<string, ObjectOutcome[]>();
  let blocked: string | undefined;
  for (const plan of plans) {
    if (blocked !== undefined) {
      // Report it as failed without touching it; SQS redelivers it after the one that failed.
      if (!plan.error) plan.error = new SluiceError(`not processed: message ${blocked} before it in this FIFO batch failed`, { code: 'FIFO_BLOCKED', stage: 'plan', retryable: true });
      run.log.warn({ messageId: plan.messageId }, `SQS message ${plan.messageId} returned unprocessed: an earlier message (${blocked}) of this FIFO batch failed`);
      continue;
    }
    if (plan.notification) {
      const refs = plan.notification.objects.map(objectRefFor);
      const outcomes = await mapBounded(refs, run.concurrency, (ref) => processLogged(ref, [plan], run));
      out.set(plan.messageId, outcomes);
      if (outcomes.some((o) => o.status === 'failed')) blocked = plan.messageId;
    } else {
      blocked = plan.messageId;
    }
  }
  return out;
}

async function processLogged(ref: ObjectRef, plans: MessagePlan[], run: Run): Promise<ObjectOutcome> {
  const outcome = await processObject(run.lambda, ref, { budget: run.budget, throughput: run.throughput });
  const messages = plans.filter((p) => p.notification?.objects.some((o) => `s3://${o.bucket}/${o.key}` === ref.uri)).map((p) => p.messageId);
  logOutcome(run.log, outcome, messages);
  return outcome;
}

function logOutcome(log: Logger, outcome: ObjectOutcome, messageIds: string[]): void {
  const object = outcome.object.uri;
  if (outcome.status === 'done') {
    const r = outcome.result;
    log.info({ object, messageIds, recordsIn: r.recordsIn, recordsOut: r.recordsOut, recordsRejected: r.recordsRejected, recordsFiltered: r.recordsFiltered, outputs: r.outputs.length, durationMs: r.durationMs }, `done ${object}`);
  } else if (outcome.status === 'skipped') {
    log.info({ object, messageIds, reason: outcome.reason }, `skipped ${object}: ${outcome.reason}`);
  } else {
    const e = outcome.error;
    log.error({ object, messageIds, code: e.code, stage: e.stage, retryable: e.retryable, hint: e.hint }, `failed ${object}: ${e.message}`);
  }
}

function logAcknowledged(log: Logger, messageId: string, n: Notification): void {
  if (n.testEvent) log.info({ messageId, route: n.route }, `SQS message ${messageId}: s3:TestEvent, acknowledged`);
  for (const ignored of n.ignored) {
    log.info({ messageId, route: n.route, event: ignored.event, object: `s3://${ignored.bucket}/${ignored.key}` }, `SQS message ${messageId}: ${ignored.event} needs no processing, acknowledged`);
  }
}

async function handleDirect(notifications: Notification[], run: Run): Promise<NotificationSummary> {
  for (const n of notifications) logAcknowledged(run.log, 'direct', n);
  const refs = notifications.flatMap((n) => n.objects.map(objectRefFor));
  const outcomes = await mapBounded(refs, run.concurrency, async (ref) => {
    const outcome = await processObject(run.lambda, ref, { budget: run.budget, throughput: run.throughput });
    logOutcome(run.log, outcome, []);
    return outcome;
  });
  const failed = outcomes.filter((o): o is Extract<ObjectOutcome, { status: 'failed' }> => o.status === 'failed');
  if (failed.length > 0) {
    const first = failed[0]!.error;
    throw new SluiceError(`${failed.length} of ${refs.length} objects failed; first: ${first.message}`, {
      code: first.code,
      stage: first.stage,
      retryable: failed.every((f) => f.error.retryable),
      hint: first.hint,
      cause: first,
    });
  }
  return { objects: refs.length, done: outcomes.filter((o) => o.status === 'done').length, skipped: outcomes.filter((o) => o.status === 'skipped').length };
}

function envInt(name: string): number | undefined {
  const raw = process.env[name];
  if (!raw) return undefined;
  const n = Number(raw);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** The SQS handler configured from the environment (SLUICE_PIPELINE, SLUICE_OBJECT_CONCURRENCY, SLUICE_TIME_MARGIN_MS). */
export const sqsHandler: SqsHandler = createSqsHandler();
