/**
 * zod schemas for the messages that announce a new object: S3 event notifications, the same
 * wrapped in an SNS envelope (SNS → SQS with raw delivery off), EventBridge "Object Created"
 * events, and S3's `s3:TestEvent`. Each schema checks only the fields Sluice reads, so extra or
 * future fields never make a real notification fail; a field we do read with the wrong type (a
 * template's `"size": "object-size in bytes"`) does, with its path in the message.
 */
import { z } from 'zod';

/** One record of an S3 event notification (`Records[]`), as S3 sends it to SQS, SNS or Lambda. */
export const s3EventRecordSchema = z.object({
  eventSource: z.literal('aws:s3'),
  eventName: z.string().min(1).describe('e.g. ObjectCreated:Put, ObjectRemoved:Delete (no "s3:" prefix).'),
  eventTime: z.string().optional(),
  awsRegion: z.string().optional(),
  s3: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({
      key: z.string().min(1).describe('URL-encoded, form style: "+" is a space, "%2B" a plus.'),
      size: z.number().int().nonnegative().optional().describe('Absent on ObjectRemoved events.'),
      eTag: z.string().optional(),
      // Unversioned buckets send no versionId; some renderings send "" or null.
      versionId: z.string().nullish(),
      sequencer: z.string().optional(),
    }),
  }),
});

export const s3EventSchema = z.object({ Records: z.array(s3EventRecordSchema).min(1) });

/** What S3 sends once when a notification destination is configured. Acknowledge and ignore. */
export const s3TestEventSchema = z.object({
  Service: z.literal('Amazon S3'),
  Event: z.literal('s3:TestEvent'),
  Bucket: z.string().optional(),
  Time: z.string().optional(),
});

/**
 * The SNS envelope an SQS subscription receives when raw message delivery is off (the default).
 * With raw delivery on, the body is the published message itself and needs no schema of its own.
 * Note the SQS body says `SigningCertURL`, the Lambda SNS event `SigningCertUrl`: neither is read.
 */
export const snsEnvelopeSchema = z.object({
  Type: z.literal('Notification'),
  Message: z.string(),
  MessageId: z.string().optional(),
  TopicArn: z.string().optional(),
});

/** An S3 event delivered by EventBridge (directly to SQS or Lambda via a rule). */
export const eventBridgeS3EventSchema = z.object({
  source: z.literal('aws.s3'),
  'detail-type': z.string().min(1).describe('Object Created, Object Deleted, Object Restore Completed, ...'),
  id: z.string().optional(),
  time: z.string().optional(),
  region: z.string().optional(),
  detail: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({
      key: z.string().min(1),
      size: z.number().int().nonnegative().optional(),
      etag: z.string().optional(),
      'version-id': z.string().nullish(),
      sequencer: z.string().optional(),
    }),
    reason: z.string().optional(),
  }),
});

/** One record of a Lambda SQS event. */
export const sqsRecordSchema = z.object({
  messageId: z.string().min(1),
  body: z.string(),
  eventSource: z.literal('aws:sqs'),
  eventSourceARN: z.string().optional(),
  attributes: z
    .object({
      ApproximateReceiveCount: z.string().optional(),
      MessageGroupId: z.string().optional(),
    })
    .optional(),
});

export const sqsEventSchema = z.object({ Records: z.array(sqsRecordSchema).min(1) });

/** One record of a Lambda SNS event (SNS → Lambda directly). */
export const snsLambdaRecordSchema = z.object({
  EventSource: z.literal('aws:sns'),
  Sns: z.object({ Message: z.string(), MessageId: z.string().optional(), TopicArn: z.string().optional() }),
});

export const snsLambdaEventSchema = z.object({ Records: z.array(snsLambdaRecordSchema).min(1) });

export type S3EventRecord = z.output<typeof s3EventRecordSchema>;
export type EventBridgeS3Event = z.output<typeof eventBridgeS3EventSchema>;
export type SqsRecord = z.output<typeof sqsRecordSchema>;
