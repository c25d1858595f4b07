/**
 * `SluicePipeline`: the AWS architecture the seeds describe, with the pitfalls their authors hit
 * already handled.
 *
 *   bucket (prefix) --ObjectCreated--> SQS --(batch, partial failures, maxConcurrency)--> Lambda sqsHandler --> sinks
 *                                       └─ after maxReceiveCount (>= 5) --> DLQ --> alarm --> SNS
 *   Step Functions: Distributed Map over the prefix (MaxConcurrency 20) --> Lambda mapItemHandler (one object each)
 *
 * The invariants it keeps (seed 003's list of clashes):
 * - visibility timeout = 6 x the function timeout (AWS's guidance for SQS event sources: a
 *   message must not reappear while a retried batch is still being worked on);
 * - maxReceiveCount >= 5, so a throttled or briefly failing message is not dead-lettered on its
 *   first bad luck, and a dead-letter queue with an alarm at depth > 0 ("the DLQ must remain empty");
 * - partial batch responses (`reportBatchItemFailures`), so one bad object does not send nine
 *   good ones back; `maxConcurrency` caps how many functions hit the sink at once;
 * - least privilege: GetObject on the prefix only, ListBucket of the source for the state machine
 *   only, read on the one sink secret, no wildcard resource anywhere it can be avoided;
 * - rejected records are never lost: a Lambda's disk does not survive it, so a pipeline whose
 *   dead letters would land there fails synthesis, and the functions may write (and clean up
 *   after a failed attempt) exactly the S3 prefixes of the dead letters and of the files sinks.
 *
 * The handlers (from the `sluice` package) are bundled with esbuild at synth time (no Docker, no
 * network); pass `code` to use a bundle built beforehand (scripts/bundle-lambda.mjs in the
 * repository).
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import * as esbuild from 'esbuild';
import { bundleLambdaHandlersSync, lambdaDeadLetterLocation, loadPipelineFile, SluiceError, type PipelineConfig } from 'sluice/lambda/bundle';

export interface SluicePipelineProps {
  /** The bucket the logs land in. */
  readonly sourceBucket: s3.IBucket;
  /** Key prefix of the logs (e.g. `AWSLogs/123456789012/vpcflowlogs/`); default: the whole bucket. */
  readonly prefix?: string;
  /**
   * The pipeline YAML: a local file (validated at synth and shipped in the bundle as
   * pipeline.yaml), or an `s3://bucket/key` URI read by the functions at start-up. Its dead
   * letters must go to S3 (`runtime.deadLetters: s3://bucket/prefix/`, or a files sink on s3://);
   * the functions are granted write access to that prefix and to every s3:// files sink. A
   * pipeline in S3 is not known at synth: it is checked when a function starts, and its output
   * prefixes must be granted to `notificationFunction` and `mapItemFunction` by the app.
   */
  readonly pipeline: string;
  /** Sink credentials: the pipeline refers to them as `aws-secretsmanager:<secret name>#<key>`. */
  readonly sink?: { readonly secret?: secretsmanager.ISecret };
  /** Most functions processing notifications at once (SQS event source maxConcurrency, 2-1000); default 10. */
  readonly concurrency?: number;
  /** Objects processed at once by a backfill (Distributed Map MaxConcurrency); default 20 (seed 000). */
  readonly backfillConcurrency?: number;
  /** Messages per invocation; default 10. */
  readonly batchSize?: number;
  /** Receives before a message goes to the dead-letter queue; default 5, at least 5. */
  readonly maxReceiveCount?: number;
  /** Function timeout; default 5 minutes. The queue's visibility timeout is 6 times this. */
  readonly timeout?: Duration;
  /** Function memory in MB; default 1024. */
  readonly memorySize?: number;
  /** Failed backfill items tolerated, in percent; default 0 (fail loudly). */
  readonly toleratedFailurePercentage?: number;
  /** E-mail address subscribed to the alarm topic. */
  readonly alarmEmail?: string;
  /** Extra environment for the functions (e.g. SLUICE_LOG_LEVEL). */
  readonly environment?: Record<string, string>;
  /**
   * Lambda runtime; default Node.js 22 (the bundle targets Node 20, so 20, 22 and 24 all run it;
   * nodejs20.x is deprecated by AWS since 2026-04-30).
   */
  readonly runtime?: lambda.Runtime;
  /** A prebuilt handler bundle (a folder with sqs.mjs and map-item.mjs); default: bundled at synth. */
  readonly code?: lambda.Code;
}

const MIN_RECEIVE_COUNT = 5;
const VISIBILITY_FACTOR = 6;

export class SluicePipeline extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly notificationFunction: lambda.Function;
  readonly mapItemFunction: lambda.Function;
  readonly backfill: sfn.StateMachine;
  readonly alarmTopic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: SluicePipelineProps) {
    super(scope, id);
    const prefix = props.prefix ?? '';
    const timeout = props.timeout ?? Duration.minutes(5);
    const maxReceiveCount = props.maxReceiveCount ?? MIN_RECEIVE_COUNT;
    if (maxReceiveCount < MIN_RECEIVE_COUNT) {
      throw new Error(`SluicePipeline ${id}: maxReceiveCount ${maxReceiveCount} is below ${MIN_RECEIVE_COUNT}: a message would be dead-lettered after a few throttles or timeouts`);
    }
    const concurrency = props.concurrency ?? 10;
    if (concurrency < 2 || concurrency > 1000) throw new Error(`SluicePipeline ${id}: concurrency must be 2..1000 (SQS event source maxConcurrency), got ${concurrency}`);
    if (timeout.toSeconds() * VISIBILITY_FACTOR > Duration.hours(12).toSeconds()) {
      throw new Error(`SluicePipeline ${id}: a ${timeout.toHumanString()} timeout needs a visibility timeout of 6x that, above SQS's 12 hours`);
    }

    const bundled = !props.pipeline.startsWith('s3://');
    // A pipeline shipped in the bundle is validated now: a bad YAML fails `cdk synth`, not the first invocation.
    const config = bundled ? loadPipelineFile(props.pipeline) : undefined;
    if (config) {
      checkPipelineScope(id, config, props.sourceBucket, prefix);
      checkDeadLetters(id, config);
      checkOutputsNotNotified(id, config, prefix);
    }
    const pipelineRef = bundled ? 'pipeline.yaml' : props.pipeline;
    const code = props.code ?? bundledCode(props.pipeline);

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * VISIBILITY_FACTOR),
      retentionPeriod: Duration.days(14),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount },
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    props.sourceBucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SqsDestination(this.queue), ...(prefix ? [{ prefix }] : []));

    const environment = {
      SLUICE_PIPELINE: pipelineRef,
      SLUICE_LOG_LEVEL: 'info',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...(props.sink?.secret ? { SLUICE_SINK_SECRET_ARN: props.sink.secret.secretArn } : {}),
      ...props.environment,
    };
    const functionProps = (handler: string, logGroup: logs.LogGroup): lambda.FunctionProps => ({
      runtime: props.runtime ?? lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      code,
      handler,
      memorySize: props.memorySize ?? 1024,
      timeout,
      environment,
      logGroup,
    });
    this.notificationFunction = new lambda.Function(this, 'NotificationFunction', {
      ...functionProps('sqs.sqsHandler', new logs.LogGroup(this, 'NotificationLogs', { retention: logs.RetentionDays.ONE_MONTH })),
      description: 'Sluice: S3 notifications from SQS -> pipeline (partial batch responses)',
    });
    this.notificationFunction.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: props.batchSize ?? 10,
        reportBatchItemFailures: true,
        maxConcurrency: concurrency,
      }),
    );
    this.mapItemFunction = new lambda.Function(this, 'MapItemFunction', {
      ...functionProps('map-item.mapItemHandler', new logs.LogGroup(this, 'MapItemLogs', { retention: logs.RetentionDays.ONE_MONTH })),
      description: 'Sluice: one object per invocation for Step Functions backfills',
    });

    // Read access: objects under the prefix, nothing else of the bucket.
    const objectsArn = props.sourceBucket.arnForObjects(`${prefix}*`);
    for (const fn of [this.notificationFunction, this.mapItemFunction]) {
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:GetObjectVersion'], resources: [objectsArn] }));
      props.sourceBucket.encryptionKey?.grantDecrypt(fn);
      props.sink?.secret?.grantRead(fn);
      if (props.pipeline.startsWith('s3://')) {
        const { bucket, key } = splitS3Uri(props.pipeline);
        fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [Stack.of(this).formatArn({ service: 's3', region: '', account: '', resource: bucket, resourceName: key })] }));
      }
      if (config) for (const statement of this.outputStatements(outputPrefixes(config))) fn.addToRolePolicy(statement);
    }

    this.backfill = this.buildBackfill(props, prefix);
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', { displayName: 'Sluice pipeline alarms' });
    if (props.alarmEmail) this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    this.alarms = this.buildAlarms();
  }

  /**
   * What writing an S3 place takes (core/place/s3.ts): PutObject (also the multipart calls),
   * DeleteObject (an earlier attempt's leftovers), AbortMultipartUpload, listing under the prefix,
   * and listing incomplete uploads — for which S3 offers no prefix condition, so that one is on
   * the bucket (it shows upload keys and ids, no contents).
   */
  private outputStatements(places: Array<{ bucket: string; prefix: string }>): iam.PolicyStatement[] {
    if (places.length === 0) return [];
    const stack = Stack.of(this);
    const bucketArn = (bucket: string) => stack.formatArn({ service: 's3', region: '', account: '', resource: bucket });
    const buckets = [...new Set(places.map((p) => p.bucket))];
    return [
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
        resources: places.map((p) => stack.formatArn({ service: 's3', region: '', account: '', resource: p.bucket, resourceName: `${p.prefix}*` })),
      }),
      ...buckets.map((bucket) => {
        const prefixes = places.filter((p) => p.bucket === bucket).map((p) => `${p.prefix}*`);
        return new iam.PolicyStatement({
          actions: ['s3:ListBucket'],
          resources: [bucketArn(bucket)],
          ...(prefixes.includes('*') ? {} : { conditions: { StringLike: { 's3:prefix': prefixes } } }),
        });
      }),
      new iam.PolicyStatement({ actions: ['s3:ListBucketMultipartUploads'], resources: buckets.map(bucketArn) }),
    ];
  }

  /** Distributed Map over the prefix: one object per child, MaxConcurrency capping the sink's load (seed 000). */
  private buildBackfill(props: SluicePipelineProps, prefix: string): sfn.StateMachine {
    const processObject = new tasks.LambdaInvoke(this, 'ProcessObject', {
      lambdaFunction: this.mapItemFunction,
      payloadResponseOnly: true,
      retryOnServiceExceptions: true,
    });
    processObject.addRetry({ errors: ['SluiceRetryableError'], interval: Duration.seconds(10), maxAttempts: 3, backoffRate: 2 });
    const map = new sfn.DistributedMap(this, 'Backfill', {
      maxConcurrency: props.backfillConcurrency ?? 20,
      // The execution input names the part of the prefix to backfill: {"prefix": "AWSLogs/.../2024/05/01/"}.
      // IAM limits listing to the pipeline prefix whatever the input says.
      itemReader: new PrefixScopedObjectsReader(props.sourceBucket, prefix),
      itemSelector: {
        Bucket: props.sourceBucket.bucketName,
        Key: sfn.JsonPath.stringAt('$$.Map.Item.Value.Key'),
        Size: sfn.JsonPath.numberAt('$$.Map.Item.Value.Size'),
        Etag: sfn.JsonPath.stringAt('$$.Map.Item.Value.Etag'),
      },
      toleratedFailurePercentage: props.toleratedFailurePercentage ?? 0,
      // Each child returns its counts; collected for thousands of objects they would pass the
      // 256 KiB state limit and fail the run, so they stay in the map run's child executions.
      resultPath: sfn.JsonPath.DISCARD,
    });
    map.itemProcessor(processObject);
    return new sfn.StateMachine(this, 'BackfillStateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(map),
      timeout: Duration.hours(24),
    });
  }

  private buildAlarms(): cloudwatch.Alarm[] {
    const action = new cwActions.SnsAction(this.alarmTopic);
    /** An alarm on any occurrence of `metric` (at least `threshold`) in one period; no data is fine. */
    const onAny = (id: string, alarmDescription: string, metric: cloudwatch.IMetric, threshold: number, comparisonOperator: cloudwatch.ComparisonOperator) =>
      new cloudwatch.Alarm(this, id, { alarmDescription, metric, threshold, comparisonOperator, evaluationPeriods: 1, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING });
    const failures = (id: string, alarmDescription: string, metric: cloudwatch.IMetric) =>
      onAny(id, alarmDescription, metric, 1, cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD);
    const fiveMinuteSum = { period: Duration.minutes(5), statistic: 'Sum' };
    const alarms = [
      onAny(
        'DeadLetterQueueNotEmpty',
        'Messages reached the Sluice dead-letter queue: objects were not processed after every retry. Read the messages, fix the cause, redrive.',
        this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
        0,
        cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      ),
      failures('NotificationFunctionErrors', 'The Sluice notification function failed whole invocations (configuration, timeout, crash).', this.notificationFunction.metricErrors(fiveMinuteSum)),
      failures('MapItemFunctionErrors', 'The Sluice backfill function failed objects.', this.mapItemFunction.metricErrors(fiveMinuteSum)),
      failures('BackfillFailed', 'A Sluice backfill execution failed.', this.backfill.metricFailed(fiveMinuteSum)),
    ];
    for (const alarm of alarms) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
    return alarms;
  }
}

/**
 * The S3 ListObjectsV2 item reader, with its listing permission limited to the pipeline prefix
 * (CDK's own reader grants s3:ListBucket on the whole bucket). The prefix to list comes from the
 * execution input (`{"prefix": "..."}`); one outside the pipeline prefix is denied by IAM.
 */
class PrefixScopedObjectsReader implements sfn.IItemReader {
  private readonly reader: sfn.S3ObjectsItemReader;
  readonly bucket: s3.IBucket;
  readonly resource: string;

  constructor(
    bucket: s3.IBucket,
    private readonly prefix: string,
  ) {
    this.reader = new sfn.S3ObjectsItemReader({ bucket, prefix: sfn.JsonPath.stringAt('$.prefix') });
    this.bucket = bucket;
    this.resource = this.reader.resource;
  }

  render(queryLanguage?: sfn.QueryLanguage): unknown {
    return this.reader.render(queryLanguage);
  }

  validateItemReader(): string[] {
    return this.reader.validateItemReader();
  }

  providePolicyStatements(): iam.PolicyStatement[] {
    return [
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${this.prefix}*`] } },
      }),
    ];
  }
}

/**
 * The handlers fail (to the DLQ) every notification outside the pipeline's `source.uri`: catch a
 * bucket or prefix that disagrees with the construct's at synth time instead.
 */
function checkPipelineScope(id: string, config: PipelineConfig, bucket: s3.IBucket, prefix: string): void {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(config.source.uri);
  if (!m) throw new Error(`SluicePipeline ${id}: the pipeline's source.uri ${config.source.uri} is not s3://bucket/prefix`);
  const [, sourceBucket, sourcePrefix] = m;
  if (!Token.isUnresolved(bucket.bucketName) && bucket.bucketName !== sourceBucket) {
    throw new Error(`SluicePipeline ${id}: sourceBucket is ${bucket.bucketName} but the pipeline reads s3://${sourceBucket}/`);
  }
  if (!prefix.startsWith(sourcePrefix!)) {
    throw new Error(`SluicePipeline ${id}: prefix "${prefix}" is not inside the pipeline's source ${config.source.uri}: its notifications would all fail`);
  }
}

/**
 * The functions' disk vanishes with them: dead letters written there would be acknowledged and
 * lost. Refused at synth with the handlers' own message (they refuse such a pipeline at start-up).
 * An EFS path passes the handlers' check, but this construct mounts no file system.
 */
function checkDeadLetters(id: string, config: PipelineConfig): void {
  let location: string;
  try {
    location = lambdaDeadLetterLocation(config);
  } catch (err) {
    if (!(err instanceof SluiceError)) throw err;
    throw new Error(`SluicePipeline ${id}: ${err.message}`, { cause: err });
  }
  if (!location.startsWith('s3://')) {
    throw new Error(`SluicePipeline ${id}: pipeline ${config.name} puts dead letters in ${location}, but this construct mounts no EFS file system there: set runtime.deadLetters to an s3://bucket/prefix/`);
  }
}

/**
 * An output under the notified prefix would notify the function of its own objects: dead letters
 * and parts read as logs, rejected into more dead letters, without end.
 */
function checkOutputsNotNotified(id: string, config: PipelineConfig, prefix: string): void {
  const sourceBucket = /^s3:\/\/([^/]+)/.exec(config.source.uri)![1];
  for (const output of outputPrefixes(config)) {
    if (output.bucket === sourceBucket && output.prefix.startsWith(prefix)) {
      throw new Error(`SluicePipeline ${id}: pipeline ${config.name} writes to s3://${output.bucket}/${output.prefix}, inside the notified prefix "${prefix}": the function would be notified of its own outputs; write them outside it (another bucket or prefix)`);
    }
  }
}

/** The S3 prefixes the functions write: the dead letters' and every s3:// files sink's, as their places normalize them. */
function outputPrefixes(config: PipelineConfig): Array<{ bucket: string; prefix: string }> {
  const locations = new Set([lambdaDeadLetterLocation(config), ...config.sinks.flatMap((s) => (s.type === 'files' ? [s.path] : []))]);
  return [...locations]
    .filter((l) => l.startsWith('s3://'))
    .map((l) => {
      const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(l)!;
      const prefix = m[2]!;
      return { bucket: m[1]!, prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/` };
    })
    .filter((p, i, all) => all.findIndex((q) => q.bucket === p.bucket && q.prefix === p.prefix) === i);
}

function splitS3Uri(uri: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!m) throw new Error(`pipeline "${uri}": expected s3://bucket/key`);
  return { bucket: m[1]!, key: m[2]! };
}

const stagingDirs: string[] = [];
let cleanupRegistered = false;

/**
 * Bundles the two handlers and the pipeline file into one asset folder (files the pipeline refers
 * to by relative path, such as enrichment tables, are not copied: keep them in S3 or pass `code`).
 */
function bundledCode(pipeline: string): lambda.Code {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-cdk-asset-'));
  stagingDirs.push(dir);
  if (!cleanupRegistered) {
    cleanupRegistered = true;
    // The asset is copied into cdk.out during synthesis; the temp folder is not needed after.
    process.once('exit', () => stagingDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  }
  bundleLambdaHandlersSync(esbuild, dir, { sqs: 'sqs', 'map-item': 'map-item' });
  if (!pipeline.startsWith('s3://')) copyFileSync(pipeline, path.join(dir, 'pipeline.yaml'));
  return lambda.Code.fromAsset(dir);
}
