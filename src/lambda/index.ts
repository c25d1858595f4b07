/**
 * Sluice's AWS Lambda handlers (`sluice/lambda`), each a thin adapter over the engine:
 *
 * - `sqsHandler`: S3 object notifications from SQS (direct, via SNS, via EventBridge) with a
 *   partial batch response;
 * - `cwlHandler`: CloudWatch Logs subscriptions (direct, Kinesis, Firehose transformation);
 * - `mapItemHandler`: one object per invocation for a Step Functions Distributed Map backfill.
 *
 * All read their pipeline from `SLUICE_PIPELINE` (a path in the bundle or an `s3://` URI), once
 * per container. The `create…Handler` factories take the pipeline and limits explicitly.
 *
 * @example
 * // handler: index.sqsHandler, environment: SLUICE_PIPELINE=pipeline.yaml
 * export { sqsHandler } from 'sluice/lambda';
 */
export { sqsHandler, createSqsHandler, type SqsBatchResponse, type SqsHandlerOptions, type NotificationSummary } from './sqs.js';
export { cwlHandler, createCwlHandler, type CwlHandlerOptions, type FirehoseTransformationResponse, type KinesisBatchResponse } from './cwl.js';
export { mapItemHandler, createMapItemHandler, type MapItem, type MapItemResult } from './map-item.js';
export { loadPipelineConfig, openLambdaPipeline, closeLambdaPipeline, type LambdaPipeline } from './lambda-pipeline.js';
export { TimeBudget, type RemainingTime } from './time-budget.js';
