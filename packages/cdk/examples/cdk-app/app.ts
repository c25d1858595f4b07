/**
 * A complete CDK app deploying Sluice: S3 notifications -> SQS (+ DLQ) -> Lambda -> OpenSearch, a
 * Step Functions backfill over the prefix, alarms to SNS, the OpenSearch password from Secrets
 * Manager, rejected records kept with their reason in a dead-letter bucket. Synthesize it offline
 * from the repository root with `npm run synth` (cdk.out lands in packages/cdk/examples/cdk-app/cdk.out),
 * or with the CDK CLI from this folder (`cdk synth`, see cdk.json).
 *
 * In your own app: `import { SluicePipeline } from '@sluice/cdk'`.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { SluicePipeline } from '../../src/index.js';

/** This folder in the source tree (app.js runs from packages/cdk/dist/examples/cdk-app/). */
const exampleDir = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return path.join(dir, 'examples', 'cdk-app');
})();

/** The bucket pipeline.yaml's runtime.deadLetters names. */
export const DEAD_LETTER_BUCKET = 'example-sluice-dead-letters-123456789012';

export class FlowLogsStack extends Stack {
  readonly pipeline: SluicePipeline;
  readonly deadLetters: s3.Bucket;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    // The bucket VPC Flow Logs already deliver to, and the secret holding the OpenSearch password.
    const logs = s3.Bucket.fromBucketName(this, 'FlowLogsBucket', 'example-flow-logs-123456789012');
    const openSearchSecret = secretsmanager.Secret.fromSecretNameV2(this, 'OpenSearchSecret', 'sluice/opensearch');
    // Where rejected lines go (pipeline.yaml names it in runtime.deadLetters): a function's own
    // disk does not outlive it. Kept on stack deletion: it is the record of what was rejected and why.
    this.deadLetters = new s3.Bucket(this, 'DeadLetters', {
      bucketName: DEAD_LETTER_BUCKET,
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      // A function stopped mid-upload leaves an incomplete multipart upload; the next attempt
      // aborts its own, this rule the rest.
      lifecycleRules: [{ abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.pipeline = new SluicePipeline(this, 'FlowLogs', {
      sourceBucket: logs,
      prefix: 'AWSLogs/',
      pipeline: path.join(exampleDir, 'pipeline.yaml'),
      sink: { secret: openSearchSecret },
      // At most 10 functions write to the cluster at once; a backfill runs 20 objects at a time.
      concurrency: 10,
      backfillConcurrency: 20,
      timeout: Duration.minutes(5),
      memorySize: 1024,
      alarmEmail: 'security-oncall@example.com',
    });
  }
}

export function synthesizeExample(outdir = process.env.CDK_OUTDIR ?? path.join(exampleDir, 'cdk.out')) {
  const app = new App({ outdir });
  const stack = new FlowLogsStack(app, 'SluiceFlowLogs', { env: { account: '123456789012', region: 'eu-west-1' } });
  return { assembly: app.synth(), stack };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { assembly } = synthesizeExample();
  console.log(`synthesized ${assembly.stacks.map((s) => s.stackName).join(', ')} into ${assembly.directory}`);
}
