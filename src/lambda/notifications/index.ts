/**
 * Reads "an object arrived" messages whatever road they took: an S3 event notification sent to
 * SQS directly, through SNS (raw delivery on: the body is the S3 event; off: an SNS envelope whose
 * `Message` is the S3 event as a string), or through EventBridge; plus S3's `s3:TestEvent`.
 *
 * Shape-shifting messages are the rule, not the exception (seed 003), so every body is told
 * apart by its shape, never by where it is configured to come from. Anything that is not one of
 * these shapes is an error naming what it saw, never an empty result: a message silently read
 * as "no objects" is a lost log file.
 *
 * Keys in S3 notifications are URL-encoded form style: `+` is a space and `%2B` a plus, so
 * `my+flow+logs/c%2B%2B/x` names `my flow logs/c++/x`. EventBridge keys are decoded the same way
 * (a key without `%` or `+` reads the same either way).
 */
import { z } from 'zod';
import { SluiceError } from '../../core/errors.js';
import {
  eventBridgeS3EventSchema,
  s3EventSchema,
  s3TestEventSchema,
  snsEnvelopeSchema,
  type EventBridgeS3Event,
  type S3EventRecord,
} from './schemas.js';

export * from './schemas.js';

/** How the notification reached us, outermost first (e.g. ['sns', 's3']). */
export type NotificationRoute = 's3' | 'sns' | 'eventbridge';

/** An object a notification says was created. */
export interface NotifiedObject {
  bucket: string;
  /** The key as S3 knows it (URL-decoded). */
  key: string;
  /** The key as the notification spelled it. */
  rawKey: string;
  size?: number;
  /** Without quotes. */
  etag?: string;
  versionId?: string;
  /** `ObjectCreated:Put` (S3) or `Object Created` (EventBridge). */
  event: string;
}

/** An event about an object that needs no processing (deletions, restores, tagging, ...). */
export interface IgnoredObjectEvent {
  bucket: string;
  key: string;
  event: string;
}

export interface Notification {
  route: NotificationRoute[];
  /** True for `s3:TestEvent`: acknowledge, nothing to do. */
  testEvent: boolean;
  /** Objects created, to process. */
  objects: NotifiedObject[];
  /** Events that are not object creations, acknowledged without work. */
  ignored: IgnoredObjectEvent[];
}

/** Thrown for a body that is not JSON or not a notification shape Sluice knows. */
export class NotificationShapeError extends SluiceError {
  constructor(message: string, hint?: string) {
    super(message, {
      code: 'NOTIFICATION_UNKNOWN_SHAPE',
      stage: 'plan',
      retryable: false,
      hint:
        hint ??
        'expected an S3 event notification ({"Records":[{"eventSource":"aws:s3",...}]}), an SNS envelope carrying one, an EventBridge aws.s3 event or s3:TestEvent',
    });
    this.name = 'NotificationShapeError';
  }
}

/**
 * Decodes a key from an S3 event notification: form-style URL decoding (`+` → space, then
 * percent escapes, so `%2B` → `+`).
 *
 * @example
 * decodeS3Key('my+flow+logs/c%2B%2B/year%3D2024/x.log.gz') // 'my flow logs/c++/year=2024/x.log.gz'
 */
export function decodeS3Key(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    throw new NotificationShapeError(`object key "${raw}" is not valid URL encoding`, 'S3 notifications URL-encode keys; a bare "%" must appear as %25');
  }
}

/**
 * Reads one message body (an SQS body, an SNS message, or a whole Lambda event given as JSON).
 *
 * @example
 * const n = readNotification(record.body);
 * for (const o of n.objects) console.log(`s3://${o.bucket}/${o.key}`);
 */
export function readNotification(body: string): Notification {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new NotificationShapeError(`body is not JSON (starts with ${JSON.stringify(body.slice(0, 40))})`);
  }
  return readNotificationValue(value, []);
}

/** Same as `readNotification`, for a value already parsed. */
export function readNotificationValue(value: unknown, route: NotificationRoute[]): Notification {
  if (!isPlainObject(value)) {
    throw new NotificationShapeError(`body is JSON ${Array.isArray(value) ? 'array' : typeof value}, not an object`);
  }
  if (value.Type === 'Notification' && 'Message' in value) {
    if (route.includes('sns')) throw new NotificationShapeError('SNS envelope inside an SNS envelope');
    const envelope = parseWith(snsEnvelopeSchema, value, 'SNS envelope');
    let inner: unknown;
    try {
      inner = JSON.parse(envelope.Message);
    } catch {
      throw new NotificationShapeError(
        `SNS message ${envelope.MessageId ?? ''} from ${envelope.TopicArn ?? 'an unknown topic'} is not JSON (starts with ${JSON.stringify(envelope.Message.slice(0, 40))})`.replace('  ', ' '),
      );
    }
    return readNotificationValue(inner, [...route, 'sns']);
  }
  if ('Records' in value) {
    const event = parseWith(s3EventSchema, value, 'S3 event notification');
    return fromS3Records(event.Records, [...route, 's3']);
  }
  if (value.Event === 's3:TestEvent') {
    parseWith(s3TestEventSchema, value, 's3:TestEvent');
    return { route: [...route, 's3'], testEvent: true, objects: [], ignored: [] };
  }
  if (value.source === 'aws.s3' && 'detail' in value) {
    return fromEventBridge(parseWith(eventBridgeS3EventSchema, value, 'EventBridge S3 event'), [...route, 'eventbridge']);
  }
  const keys = Object.keys(value).slice(0, 8).join(', ');
  throw new NotificationShapeError(`unknown message shape (top-level keys: ${keys || 'none'})`);
}

function fromS3Records(records: S3EventRecord[], route: NotificationRoute[]): Notification {
  const objects: NotifiedObject[] = [];
  const ignored: IgnoredObjectEvent[] = [];
  for (const record of records) {
    const { bucket, object } = record.s3;
    const key = decodeS3Key(object.key);
    if (!record.eventName.startsWith('ObjectCreated:')) {
      ignored.push({ bucket: bucket.name, key, event: record.eventName });
      continue;
    }
    objects.push({
      bucket: bucket.name,
      key,
      rawKey: object.key,
      size: object.size,
      etag: unquote(object.eTag),
      versionId: object.versionId || undefined,
      event: record.eventName,
    });
  }
  return { route, testEvent: false, objects, ignored };
}

function fromEventBridge(event: EventBridgeS3Event, route: NotificationRoute[]): Notification {
  const { bucket, object } = event.detail;
  const key = decodeS3Key(object.key);
  if (event['detail-type'] !== 'Object Created') {
    return { route, testEvent: false, objects: [], ignored: [{ bucket: bucket.name, key, event: event['detail-type'] }] };
  }
  return {
    route,
    testEvent: false,
    ignored: [],
    objects: [
      {
        bucket: bucket.name,
        key,
        rawKey: object.key,
        size: object.size,
        etag: unquote(object.etag),
        versionId: object['version-id'] || undefined,
        event: event['detail-type'],
      },
    ],
  };
}

function parseWith<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const first = result.error.issues[0]!;
  const at = first.path.length > 0 ? first.path.join('.') : '(top level)';
  const more = result.error.issues.length > 1 ? ` (+${result.error.issues.length - 1} more)` : '';
  throw new NotificationShapeError(`looks like an ${what} but ${at}: ${first.message}${more}`);
}

function unquote(etag: string | undefined): string | undefined {
  if (etag === undefined) return undefined;
  const bare = etag.replace(/"/g, '');
  return bare.length > 0 ? bare : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
