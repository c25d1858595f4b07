/**
 * The construct as CloudFormation sees it: the example app (examples/cdk-app) synthesized once,
 * offline, with the handlers bundled by esbuild, and its template checked with
 * aws-cdk-lib/assertions. Misconfigurations are checked without synthesizing.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { DEAD_LETTER_BUCKET, synthesizeExample } from '../examples/cdk-app/app.js';
import { SluicePipeline } from './index.js';

type Resource = { Type: string; Properties: Record<string, unknown> };

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-cdk-test-'));
let template: Template;
let resources: Record<string, Resource>;
let assemblyDir: string;

before(() => {
  const { assembly, stack } = synthesizeExample(path.join(tmp, 'cdk.out'));
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources as Record<string, Resource>;
  assemblyDir = assembly.directory;
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const sluiceFunctions = () => ofType('AWS::Lambda::Function').filter(([id]) => /NotificationFunction|MapItemFunction/.test(id));

describe('SluicePipeline template (example app)', () => {
  it('gives the queue a visibility timeout of at least 6x the function timeout and a DLQ after >= 5 receives', () => {
    const [[, notification]] = sluiceFunctions().filter(([id]) => id.includes('Notification')) as [[string, Resource]];
    const queues = ofType('AWS::SQS::Queue');
    const main = queues.find(([, q]) => q.Properties.RedrivePolicy !== undefined)![1];
    const dlqId = queues.find(([, q]) => q.Properties.RedrivePolicy === undefined)![0];
    assert.ok((main.Properties.VisibilityTimeout as number) >= 6 * (notification.Properties.Timeout as number));
    const redrive = main.Properties.RedrivePolicy as { maxReceiveCount: number; deadLetterTargetArn: unknown };
    assert.ok(redrive.maxReceiveCount >= 5);
    assert.deepEqual(redrive.deadLetterTargetArn, { 'Fn::GetAtt': [dlqId, 'Arn'] });
  });

  it('runs both handlers on ARM64 Node 20+ with the pipeline bundled beside them', () => {
    for (const [, fn] of sluiceFunctions()) {
      assert.match(String(fn.Properties.Runtime), /^nodejs(2\d)\.x$/);
      assert.deepEqual(fn.Properties.Architectures, ['arm64']);
      assert.equal((fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables.SLUICE_PIPELINE, 'pipeline.yaml');
    }
    assert.deepEqual(sluiceFunctions().map(([, f]) => f.Properties.Handler).sort(), ['map-item.mapItemHandler', 'sqs.sqsHandler']);
    // Both functions use one asset: the folder esbuild wrote, copied into cdk.out.
    const codes = sluiceFunctions().map(([, f]) => JSON.stringify(f.Properties.Code));
    assert.equal(new Set(codes).size, 1);
    const manifest = JSON.parse(readFileSync(path.join(assemblyDir, 'SluiceFlowLogs.assets.json'), 'utf8')) as { files: Record<string, { source: { path: string } }> };
    const [hash] = /[0-9a-f]{64}/.exec(codes[0]!)!;
    const dir = path.join(assemblyDir, manifest.files[hash]!.source.path);
    for (const file of ['sqs.mjs', 'map-item.mjs', 'pipeline.yaml', 'package.json', path.join('data', 'ocsf', 'ocsf-1.1.0.json')]) {
      assert.ok(existsSync(path.join(dir, file)), `${file} in the asset`);
    }
  });

  it('reads SQS with partial batch responses and capped concurrency', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 10 },
      BatchSize: 10,
    });
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: {
        QueueConfigurations: [Match.objectLike({ Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'AWSLogs/' }] } } })],
      },
    });
  });

  it('backfills with a Distributed Map over the prefix, MaxConcurrency 20, retrying retryable items', () => {
    const [[, machine]] = ofType('AWS::StepFunctions::StateMachine') as [[string, Resource]];
    const json = JSON.stringify(machine.Properties.DefinitionString);
    assert.match(json, /\\"MaxConcurrency\\":20/);
    assert.match(json, /\\"Mode\\":\\"DISTRIBUTED\\"/);
    assert.match(json, /s3:listObjectsV2/);
    assert.match(json, /\\"Prefix.\$\\":\\"\$.prefix\\"/);
    assert.match(json, /\\"ErrorEquals\\":\[\\"SluiceRetryableError\\"\]/);
  });

  it('alarms on DLQ depth > 0 and on function errors, into an SNS topic', () => {
    const topic = ofType('AWS::SNS::Topic')[0]![0];
    const dlqName = { 'Fn::GetAtt': [ofType('AWS::SQS::Queue').find(([, q]) => q.Properties.RedrivePolicy === undefined)![0], 'QueueName'] };
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Dimensions: [{ Name: 'QueueName', Value: dlqName }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [{ Ref: topic }],
    });
    for (const [id] of sluiceFunctions()) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'Errors',
        Namespace: 'AWS/Lambda',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: id } }],
        AlarmActions: [{ Ref: topic }],
      });
    }
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'security-oncall@example.com' });
  });

  it('grants least privilege: objects under the prefix, listing under the prefix, the one secret, no s3:* and no * resource', () => {
    const statements = policyStatements(resources);
    for (const st of statements) {
      const actions = ([] as unknown[]).concat(st.Action);
      assert.ok(!actions.some((a) => a === '*' || a === 's3:*'), `${st.id}: ${JSON.stringify(actions)}`);
      if (!String(st.id).startsWith('BucketNotificationsHandler')) assert.notEqual(st.Resource, '*', `${st.id}: ${JSON.stringify(actions)} on *`);
    }
    const sluice = statements.filter((st) => /FlowLogs(NotificationFunction|MapItemFunction|BackfillStateMachine)/.test(st.id));
    const gets = sluice.filter((st) => ([] as unknown[]).concat(st.Action).includes('s3:GetObject'));
    assert.equal(gets.length, 2);
    for (const st of gets) assert.match(JSON.stringify(st.Resource), /:s3:::example-flow-logs-123456789012\/AWSLogs\/\*"\]\]\}$/);
    const lists = sluice.filter((st) => ([] as unknown[]).concat(st.Action).includes('s3:ListBucket') && /:s3:::example-flow-logs-123456789012"\]\]\}$/.test(JSON.stringify(st.Resource)));
    assert.equal(lists.length, 1, 'only the state machine lists the source bucket, and only once');
    assert.match(lists[0]!.id, /BackfillStateMachine/);
    assert.deepEqual(lists[0]!.Condition, { StringLike: { 's3:prefix': ['AWSLogs/*'] } });
    const secretReads = sluice.filter((st) => ([] as unknown[]).concat(st.Action).includes('secretsmanager:GetSecretValue'));
    assert.equal(secretReads.length, 2, 'both functions read the sink secret');
    for (const st of secretReads) assert.match(JSON.stringify(st.Resource), /secret:sluice\/opensearch-\?\?\?\?\?\?/);
  });

  it('lets both functions write, clean up and list their dead letters in the bucket the app creates, and nothing else of it', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: DEAD_LETTER_BUCKET,
      LifecycleConfiguration: { Rules: [Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' })] },
    });
    const statements = policyStatements(resources);
    for (const fn of ['NotificationFunction', 'MapItemFunction']) {
      const own = statements.filter((st) => st.id.includes(`FlowLogs${fn}`));
      const onDeadLetters = own.filter((st) => JSON.stringify(st.Resource).includes(DEAD_LETTER_BUCKET));
      assert.deepEqual(
        onDeadLetters.map((st) => [st.Action, arnTail(st.Resource), st.Condition ?? null]).sort(),
        [
          [['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'], [`${DEAD_LETTER_BUCKET}/dead-letters/*`], null],
          ['s3:ListBucket', [DEAD_LETTER_BUCKET], { StringLike: { 's3:prefix': ['dead-letters/*'] } }],
          ['s3:ListBucketMultipartUploads', [DEAD_LETTER_BUCKET], null],
        ].sort(),
        fn,
      );
    }
  });
});

type Statement = { id: string; Action: unknown; Resource: unknown; Condition?: unknown };

function policyStatements(of: Record<string, Resource>): Statement[] {
  return Object.entries(of)
    .filter(([, r]) => r.Type === 'AWS::IAM::Policy')
    .flatMap(([id, p]) => ((p.Properties.PolicyDocument as { Statement: Array<Omit<Statement, 'id'>> }).Statement).map((st) => ({ id, ...st })));
}

/** `arn:${Partition}:s3:::<tail>` of each resource (formatArn renders a Fn::Join), for comparison. */
function arnTail(resource: unknown): string[] {
  return ([] as unknown[]).concat(resource).map((r) => {
    const text = JSON.stringify(r);
    const m = /:s3:::([^"]*)"\]\]\}$/.exec(text);
    assert.ok(m, `an s3 ARN: ${text}`);
    return m[1]!;
  });
}

describe('SluicePipeline refuses risky settings before synthesis', () => {
  const pipelineFile = path.join(tmp, 'pipeline.yaml');
  const SOURCE = 'name: p\nsource:\n  uri: s3://logs-bucket/AWSLogs/\nformat: vpcflow\n';
  writeFileSync(pipelineFile, `${SOURCE}sinks:\n  - type: stdout\nruntime:\n  deadLetters: s3://sluice-dead-letters/p/\n`);
  const pipelineWith = (name: string, yaml: string) => {
    const file = path.join(tmp, name);
    writeFileSync(file, yaml);
    return file;
  };
  const build = (props: Partial<ConstructorParameters<typeof SluicePipeline>[2]>) => {
    const stack = new Stack(new App(), 'S');
    const sourceBucket = s3.Bucket.fromBucketName(stack, 'B', 'logs-bucket');
    return new SluicePipeline(stack, 'P', { sourceBucket, prefix: 'AWSLogs/', pipeline: pipelineFile, code: lambda.Code.fromInline('export const x = 1'), ...props });
  };

  it('accepts a sound configuration without bundling when code is given', () => {
    assert.ok(build({}).queue);
  });

  it('rejects maxReceiveCount < 5, an out-of-range concurrency and a prefix outside the pipeline source', () => {
    assert.throws(() => build({ maxReceiveCount: 3 }), /maxReceiveCount 3 is below 5/);
    assert.throws(() => build({ concurrency: 1 }), /concurrency must be 2\.\.1000/);
    assert.throws(() => build({ prefix: 'other/' }), /prefix "other\/" is not inside the pipeline's source/);
  });

  it('fails on an invalid pipeline YAML, naming the file', () => {
    const bad = path.join(tmp, 'bad.yaml');
    writeFileSync(bad, 'name: p\nsource:\n  uri: s3://logs-bucket/\nformat: vpcflow\nsinks: []\n');
    assert.throws(() => build({ pipeline: bad }), (err: unknown) => err instanceof Error && err.message.includes(bad) && /sinks/.test(err.message));
  });

  it('fails synthesis, saying what to set, for a pipeline whose dead letters would stay on the function\'s disk', () => {
    const byDefault = pipelineWith('default-dead-letters.yaml', `${SOURCE}sinks:\n  - type: files\n    path: /tmp/out\n`);
    const inTmp = pipelineWith('tmp-dead-letters.yaml', `${SOURCE}sinks:\n  - type: stdout\nruntime:\n  deadLetters: /tmp/dead-letters\n`);
    const onEfs = pipelineWith('efs-dead-letters.yaml', `${SOURCE}sinks:\n  - type: stdout\nruntime:\n  deadLetters: /mnt/efs/dead-letters\n`);

    assert.throws(() => build({ pipeline: byDefault }), {
      message: 'SluicePipeline P: pipeline p: in Lambda, dead letters would go to /tmp/out/_rejected (the default: runtime.deadLetters is not set), which does not survive the container: set runtime.deadLetters to an s3://bucket/prefix/',
    });
    assert.throws(() => build({ pipeline: inTmp }), /dead letters would go to \/tmp\/dead-letters, which does not survive the container: set runtime\.deadLetters to an s3:\/\/bucket\/prefix\//);
    assert.throws(() => build({ pipeline: onEfs }), /puts dead letters in \/mnt\/efs\/dead-letters, but this construct mounts no EFS file system there: set runtime\.deadLetters to an s3:\/\/bucket\/prefix\//);
  });

  it('fails synthesis for outputs inside the notified prefix, which would notify the function of its own objects', () => {
    const inside = pipelineWith('inside.yaml', `${SOURCE}sinks:\n  - type: stdout\nruntime:\n  deadLetters: s3://logs-bucket/AWSLogs/rejected/\n`);
    assert.throws(() => build({ pipeline: inside }), /writes to s3:\/\/logs-bucket\/AWSLogs\/rejected\/, inside the notified prefix "AWSLogs\/"/);
    const beside = pipelineWith('beside.yaml', `${SOURCE}sinks:\n  - type: stdout\nruntime:\n  deadLetters: s3://logs-bucket/sluice/rejected/\n`);
    assert.ok(build({ pipeline: beside }).queue, 'the same bucket outside the prefix is fine');
  });

  it('grants both functions write access to the dead-letter prefix and to every s3:// files sink, one ListBucket per bucket', () => {
    const file = pipelineWith(
      'outputs.yaml',
      `${SOURCE}sinks:\n  - type: files\n    path: s3://lake-bucket/flows\n  - type: files\n    path: s3://lake-bucket/ocsf/\n    format: parquet\n  - type: stdout\nruntime:\n  deadLetters: s3://sluice-dead-letters/p/\n`,
    );
    const pipeline = build({ pipeline: file });
    const stack = Stack.of(pipeline);

    const statements = policyStatements(Template.fromStack(stack).toJSON().Resources as Record<string, Resource>);
    for (const fn of ['NotificationFunction', 'MapItemFunction']) {
      const own = statements.filter((st) => st.id.startsWith(`P${fn}`));
      const writes = own.filter((st) => JSON.stringify(st.Action).includes('s3:PutObject'));
      assert.equal(writes.length, 1, fn);
      assert.deepEqual(writes[0]!.Action, ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload']);
      assert.deepEqual(arnTail(writes[0]!.Resource).sort(), ['lake-bucket/flows/*', 'lake-bucket/ocsf/*', 'sluice-dead-letters/p/*']);
      const lists = own.filter((st) => st.Action === 's3:ListBucket').map((st) => [arnTail(st.Resource), st.Condition]);
      assert.deepEqual(lists.sort(), [
        [['lake-bucket'], { StringLike: { 's3:prefix': ['flows/*', 'ocsf/*'] } }],
        [['sluice-dead-letters'], { StringLike: { 's3:prefix': ['p/*'] } }],
      ]);
      const uploads = own.filter((st) => st.Action === 's3:ListBucketMultipartUploads');
      assert.deepEqual(uploads.flatMap((st) => arnTail(st.Resource)).sort(), ['lake-bucket', 'sluice-dead-letters']);
    }
  });
});
