import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { SluiceRecord } from '../../core/record.js';
import { generateCloudTrailOrg } from '../../demo/cloudtrail-generator.js';
import { cloudtrailFormat } from '../../formats/cloudtrail/index.js';
import { fixturePath } from '../../testing/repo-root.js';
import { createCloudtrailMapping } from './cloudtrail-mapping.js';
import { ocsfTransformSchema } from './config.js';
import { createOcsfTransform } from './index.js';
import { MappingFailure, OCSF_REJECT_CODES, type OcsfEvent, type OcsfMapping, type OcsfMappingOptions } from './mapping.js';
import { loadOcsfSchema } from './schema.js';
import { validateOcsfEvent } from './validate.js';

const schema = loadOcsfSchema('1.1.0');
/** What Security Lake emits: observables and the datetime profile. */
const AS_SECURITY_LAKE: OcsfMappingOptions = { version: '1.1.0', observables: true, datetime: true };
const KEY = 'AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01/111122223333_CloudTrail_us-east-1_20240301T0000Z_x.json.gz';

type Json = Record<string, unknown>;

/** Decodes one CloudTrail object with the `cloudtrail` format (as a pipeline does). */
async function decode(bytes: Uint8Array | string, key = KEY): Promise<SluiceRecord[]> {
  const records: SluiceRecord[] = [];
  const input = (async function* () {
    yield typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  })();
  for await (const batch of cloudtrailFormat().decode(input, { object: { uri: key, key }, idPrefix: 'c7' })) {
    assert.deepEqual(batch.rejects, [], `${key} decodes without rejects`);
    records.push(...batch.records);
  }
  return records;
}

function mapAll(records: SluiceRecord[], mapping: OcsfMapping): OcsfEvent[] {
  return records.map((record) => {
    const result = mapping.map(record);
    assert.ok(!(result instanceof MappingFailure), `${record.origin.object}:${record.origin.line}: ${(result as MappingFailure).reason}`);
    return result;
  });
}

/** Every event conforms; the only accepted gaps are API Activity's actor/src_endpoint, and only when absent. */
function assertValid(events: OcsfEvent[], mapping: OcsfMapping, label: string): void {
  for (const event of events) {
    const gaps = mapping.acceptedGaps?.(event) ?? [];
    for (const gap of gaps) {
      assert.equal(event.class_uid, 6003, `${label}: gaps only in API Activity`);
      assert.ok(['actor', 'src_endpoint'].includes(gap) && event[gap] === undefined, `${label}: gap ${gap}`);
    }
    assert.deepEqual(validateOcsfEvent(event, schema, { allowMissing: gaps }), [], `${label}: ${JSON.stringify(event)}`);
  }
}

function asJson(value: unknown): Json {
  return JSON.parse(JSON.stringify(value)) as Json;
}

function recordOf(fields: Json, key = KEY): SluiceRecord {
  const time = typeof fields.eventTime === 'string' ? Date.parse(fields.eventTime) : undefined;
  return { id: 'c7-1', origin: { object: key, line: 1 }, ...(Number.isFinite(time) ? { time } : {}), fields };
}

function mapOne(fields: Json, options: OcsfMappingOptions = AS_SECURITY_LAKE): Json {
  const mapping = createCloudtrailMapping(options);
  const result = mapping.map(recordOf(fields));
  assert.ok(!(result instanceof MappingFailure), (result as MappingFailure).reason);
  assertValid([result], mapping, String(fields.eventName));
  return asJson(result);
}

/**
 * Security Lake's sample output with this mapping's documented differences applied (see the
 * header of cloudtrail-mapping.ts); everything else must be equal field for field.
 */
function expectedFromSample(sample: Json): Json {
  const expected = structuredClone(sample);
  const unmapped = expected.unmapped as Record<string, string>;
  // 1. recipientAccountId has a home: cloud.account.uid (the security-lake layout partitions by it).
  (expected.cloud as Json).account = { uid: unmapped.recipientAccountId };
  delete unmapped.recipientAccountId;
  if (Object.keys(unmapped).length === 0) delete expected.unmapped;
  // 2. status_id accompanies status (OCSF recommends it; the samples give the caption only).
  expected.status_id = expected.status === 'Success' ? 1 : 2;
  // 3. _dt values are written in UTC: same instants as the samples' local-offset strings.
  expected.time_dt = new Date(Date.parse(String(sample.time_dt))).toISOString();
  const session = (expected.actor as Json).session as Json | undefined;
  if (session?.created_time_dt !== undefined) {
    // 4. the session's created_time (the attribute the _dt twin belongs to) is set too.
    const created = Date.parse(String(session.created_time_dt));
    session.created_time = created;
    session.created_time_dt = new Date(created).toISOString();
  }
  // 5. no api.request without a requestID (the sample writes the placeholder '' for its uid).
  const request = (expected.api as Json).request as Json;
  if (request.uid === "''") delete (expected.api as Json).request;
  return expected;
}

/** Observables are a set: the samples list them in different orders. */
function sortObservables(event: Json): Json {
  const observables = event.observables as Array<{ name: string }> | undefined;
  return observables ? { ...event, observables: [...observables].sort((a, b) => a.name.localeCompare(b.name)) } : event;
}

const SAMPLES = [
  { name: 'API Activity (DescribeDirectConnectGateways)', stem: 'markdown_AWS_v1.1.0_CloudTrail_API_Activity_samples_generic_api_activity' },
  { name: 'Authentication (ConsoleLogin)', stem: 'markdown_AWS_v1.1.0_CloudTrail_Authentication_samples_authentication' },
  { name: 'Account Change (CreateUser)', stem: 'markdown_AWS_v1.1.0_CloudTrail_Account_Change_samples_account_change' },
];

describe('builtin:cloudtrail: Security Lake samples (ocsf/examples), field for field', () => {
  for (const sample of SAMPLES) {
    it(sample.name, async () => {
      // Prepare: the raw event as CloudTrail delivers it, read by the cloudtrail format.
      const raw = JSON.parse(readFileSync(fixturePath('ocsf-examples', `${sample.stem}.raw`), 'utf8')) as Json;
      const ocsf = JSON.parse(readFileSync(fixturePath('ocsf-examples', `${sample.stem}.ocsf`), 'utf8')) as Json;
      const records = await decode(JSON.stringify({ Records: [raw] }));
      const mapping = createCloudtrailMapping(AS_SECURITY_LAKE);

      // Act
      const events = mapAll(records, mapping);

      // Assess
      assertValid(events, mapping, sample.stem);
      assert.deepEqual(sortObservables(asJson(events[0])), sortObservables(expectedFromSample(ocsf)));
    });
  }
});

describe('builtin:cloudtrail: class and activity per event', () => {
  const base = {
    eventVersion: '1.08', eventTime: '2024-03-01T10:00:00Z', awsRegion: 'eu-west-1', sourceIPAddress: '198.51.100.7',
    requestID: 'r-1', eventID: 'e-1', eventType: 'AwsApiCall', recipientAccountId: '111122223333',
    userIdentity: { type: 'IAMUser', principalId: 'AIDAEXAMPLE', arn: 'arn:aws:iam::111122223333:user/ana', accountId: '111122223333', userName: 'ana' },
  };
  const cases: Array<[string, Json, number, number, string]> = [
    ['Describe* is a read', { eventSource: 'ec2.amazonaws.com', eventName: 'DescribeInstances' }, 6003, 2, 'Read'],
    ['List...2015 (versioned name) is a read', { eventSource: 'lambda.amazonaws.com', eventName: 'ListFunctions20150331' }, 6003, 2, 'Read'],
    ['RunInstances creates', { eventSource: 'ec2.amazonaws.com', eventName: 'RunInstances' }, 6003, 1, 'Create'],
    ['PutBucketPolicy updates', { eventSource: 's3.amazonaws.com', eventName: 'PutBucketPolicy' }, 6003, 3, 'Update'],
    ['TerminateInstances deletes', { eventSource: 'ec2.amazonaws.com', eventName: 'TerminateInstances' }, 6003, 4, 'Delete'],
    ['an unknown verb marked readOnly is a read', { eventSource: 'kms.amazonaws.com', eventName: 'Decrypt', readOnly: true }, 6003, 2, 'Read'],
    ['an unknown verb otherwise is Other', { eventSource: 'kms.amazonaws.com', eventName: 'Decrypt', readOnly: false }, 6003, 99, 'Other'],
    ['plain AssumeRole stays API Activity', { eventSource: 'sts.amazonaws.com', eventName: 'AssumeRole', requestParameters: { roleArn: 'arn:aws:iam::1:role/x', roleSessionName: 's' } }, 6003, 99, 'Other'],
    ['AssumeRoleWithSAML is a logon', { eventSource: 'sts.amazonaws.com', eventName: 'AssumeRoleWithSAML', requestParameters: { roleArn: 'arn:aws:iam::111122223333:role/sso', principalArn: 'arn:aws:iam::111122223333:saml-provider/idp' } }, 3002, 1, 'Logon'],
    ['CheckMfa is another authentication activity', { eventSource: 'signin.amazonaws.com', eventName: 'CheckMfa', eventType: 'AwsConsoleSignIn' }, 3002, 99, 'Other'],
    ['AttachRolePolicy attaches a policy', { eventSource: 'iam.amazonaws.com', eventName: 'AttachRolePolicy', requestParameters: { roleName: 'ci', policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' } }, 3001, 7, 'Attach Policy'],
    ['DeleteUserPolicy detaches one', { eventSource: 'iam.amazonaws.com', eventName: 'DeleteUserPolicy', requestParameters: { userName: 'bob', policyName: 'inline' } }, 3001, 8, 'Detach Policy'],
    ['DeleteRole deletes', { eventSource: 'iam.amazonaws.com', eventName: 'DeleteRole', requestParameters: { roleName: 'old' } }, 3001, 6, 'Delete'],
    ['ChangePassword changes the caller\'s password', { eventSource: 'iam.amazonaws.com', eventName: 'ChangePassword', requestParameters: null }, 3001, 3, 'Password Change'],
    ['an IAM change naming no user stays API Activity', { eventSource: 'iam.amazonaws.com', eventName: 'CreateUser', errorCode: 'AccessDenied', requestParameters: null }, 6003, 1, 'Create'],
  ];
  for (const [name, event, classUid, activityId, activityName] of cases) {
    it(name, () => {
      // Act
      const out = mapOne({ ...base, ...event });

      // Assess
      assert.deepEqual([out.class_uid, out.activity_id, out.activity_name, out.type_uid], [classUid, activityId, activityName, classUid * 100 + activityId]);
    });
  }

  it('Account Change: the changed user and the policy', () => {
    // Act
    const out = mapOne({ ...base, eventSource: 'iam.amazonaws.com', eventName: 'AttachRolePolicy', requestParameters: { roleName: 'ci', policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' } });

    // Assess
    assert.deepEqual(out.user, { name: 'ci' });
    assert.deepEqual(out.policy, { name: 'ReadOnlyAccess', uid: 'arn:aws:iam::aws:policy/ReadOnlyAccess' });
    assert.deepEqual(out.api, { operation: 'AttachRolePolicy', request: { uid: 'r-1', data: '{"roleName":"ci","policyArn":"arn:aws:iam::aws:policy/ReadOnlyAccess"}' }, service: { name: 'iam.amazonaws.com' } });
  });

  it('Authentication through SAML: the role is the user, SAML the protocol, the service the destination', () => {
    // Act
    const out = mapOne({
      ...base, eventSource: 'sts.amazonaws.com', eventName: 'AssumeRoleWithSAML',
      userIdentity: { type: 'SAMLUser', principalId: 'idp:ana', userName: 'ana', identityProvider: 'arn:aws:iam::111122223333:saml-provider/idp' },
      requestParameters: { roleArn: 'arn:aws:iam::111122223333:role/sso', roleSessionName: 'ana@example.com' },
    });

    // Assess
    assert.deepEqual(out.user, { name: 'ana@example.com', uid: 'arn:aws:iam::111122223333:role/sso' });
    assert.deepEqual([out.auth_protocol_id, out.auth_protocol], [5, 'SAML']);
    assert.deepEqual(out.service, { name: 'sts.amazonaws.com' });
    assert.deepEqual(out.actor, { idp: { name: 'arn:aws:iam::111122223333:saml-provider/idp' }, user: { name: 'ana', type: 'SAMLUser', uid_alt: 'idp:ana' } });
  });

  it('a failed sign-in is a Failure with the reason; an errorCode fails any call', () => {
    // Act
    const login = mapOne({
      ...base, eventSource: 'signin.amazonaws.com', eventName: 'ConsoleLogin', eventType: 'AwsConsoleSignIn', requestID: undefined,
      errorMessage: 'Failed authentication', responseElements: { ConsoleLogin: 'Failure' }, additionalEventData: { MFAUsed: 'No', LoginTo: 'https://console.aws.amazon.com/' },
    });
    const denied = mapOne({ ...base, eventSource: 'ec2.amazonaws.com', eventName: 'RunInstances', errorCode: 'Client.UnauthorizedOperation', errorMessage: 'not authorized' });

    // Assess
    assert.deepEqual([login.status, login.status_id, login.status_detail, login.is_mfa], ['Failure', 2, 'Failed authentication', false]);
    assert.equal(login.api !== undefined && (login.api as Json).request, undefined, 'no requestID, no api.request');
    assert.deepEqual([denied.status, denied.status_id, denied.status_code, denied.status_detail], ['Failure', 2, 'Client.UnauthorizedOperation', 'not authorized']);
    assert.deepEqual((denied.api as Json).response, { error: 'Client.UnauthorizedOperation', message: 'not authorized' });
  });

  it('source: an address is src_endpoint.ip, a service name its domain and svc_name; resources keep ARN, type and account', () => {
    // Act
    const out = mapOne({
      ...base, eventSource: 'kms.amazonaws.com', eventName: 'GenerateDataKey', sourceIPAddress: 'ec2.amazonaws.com', userAgent: 'ec2.amazonaws.com',
      resources: [{ ARN: 'arn:aws:kms:eu-west-1:111122223333:key/k', accountId: '111122223333', type: 'AWS::KMS::Key' }, { type: 'AWS::S3::Object' }],
      tlsDetails: { tlsVersion: 'TLSv1.3', clientProvidedHostHeader: 'kms.eu-west-1.amazonaws.com' }, readOnly: true, managementEvent: true,
    });

    // Assess
    assert.deepEqual(out.src_endpoint, { domain: 'ec2.amazonaws.com', svc_name: 'ec2.amazonaws.com' });
    assert.deepEqual(out.resources, [{ owner: { account: { uid: '111122223333' } }, type: 'AWS::KMS::Key', uid: 'arn:aws:kms:eu-west-1:111122223333:key/k' }]);
    assert.deepEqual(out.unmapped, {
      'tlsDetails.tlsVersion': 'TLSv1.3',
      'tlsDetails.clientProvidedHostHeader': 'kms.eu-west-1.amazonaws.com',
      readOnly: 'true',
      managementEvent: 'true',
      resources: '[{"ARN":"arn:aws:kms:eu-west-1:111122223333:key/k","accountId":"111122223333","type":"AWS::KMS::Key"},{"type":"AWS::S3::Object"}]',
    }, 'what has no home is kept, flat, as text');
  });

  it('without the datetime option: no _dt attributes and no datetime profile', () => {
    // Act
    const out = mapOne({ ...base, eventSource: 'ec2.amazonaws.com', eventName: 'DescribeInstances' }, { version: '1.1.0', observables: false, datetime: false });

    // Assess
    assert.deepEqual((out.metadata as Json).profiles, ['cloud']);
    assert.equal(out.time_dt, undefined);
    assert.equal(out.observables, undefined);
    assert.equal(out.time, Date.UTC(2024, 2, 1, 10));
  });

  it('cloud.account and region come from the object key when the event lacks them (eventVersion 1.0)', () => {
    // Prepare
    const mapping = createCloudtrailMapping(AS_SECURITY_LAKE);
    const { recipientAccountId: _a, awsRegion: _r, ...old } = { ...base, eventSource: 'ec2.amazonaws.com', eventName: 'StopInstances' };

    // Act
    const out = asJson(mapping.map(recordOf(old, `s3://trail/AWSLogs/o-abc123/444455556666/CloudTrail/ap-south-1/2014/03/06/x.json.gz`)));

    // Assess
    assert.deepEqual(out.cloud, { account: { uid: '444455556666' }, provider: 'AWS', region: 'ap-south-1' });
  });

  it('rejects what cannot be an OCSF event: no valid eventTime, no eventName', () => {
    // Prepare
    const mapping = createCloudtrailMapping(AS_SECURITY_LAKE);

    // Act
    const noTime = mapping.map(recordOf({ ...base, eventTime: 'yesterday', eventName: 'ListBuckets' }));
    const noName = mapping.map(recordOf({ ...base, eventSource: 's3.amazonaws.com' }));

    // Assess
    assert.ok(noTime instanceof MappingFailure && noTime.code === OCSF_REJECT_CODES.missingRequired && /eventTime/.test(noTime.reason));
    assert.ok(noName instanceof MappingFailure && noName.code === OCSF_REJECT_CODES.missingRequired && /eventName/.test(noName.reason));
  });

  it('any JSON in the event\'s fields gives a valid event or a stated failure, never an exception', () => {
    const mapping = createCloudtrailMapping(AS_SECURITY_LAKE);
    const keys = ['userIdentity', 'sourceIPAddress', 'requestParameters', 'responseElements', 'resources', 'additionalEventData', 'errorCode', 'eventName', 'eventSource', 'recipientAccountId', 'awsRegion', 'userAgent', 'readOnly', 'requestID'];
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...keys), fc.jsonValue({ maxDepth: 3 })), fc.constantFrom('ConsoleLogin', 'CreateUser', 'AssumeRoleWithSAML', 'GetObject'), (noise, eventName) => {
        const fields = { ...base, eventSource: eventName === 'ConsoleLogin' ? 'signin.amazonaws.com' : 'iam.amazonaws.com', eventName, ...noise };
        const result = mapping.map(recordOf(fields));
        if (result instanceof MappingFailure) return;
        assert.deepEqual(validateOcsfEvent(result, schema, { allowMissing: mapping.acceptedGaps?.(result) ?? [] }), []);
      }),
      { numRuns: 300 },
    );
  });
});

/** CloudTrail fixtures (not digests), and the events of each class they hold. */
const FIXTURES: Array<{ parts: string[]; classes: Record<string, number> }> = [
  { parts: ['aws-docs', 'cloudtrail', 'console-signin-events.wrapped.json'], classes: { 3002: 8, 3001: 2 } }, // EnableMFADevice, PasswordUpdated
  { parts: ['aws-docs', 'cloudtrail', 'ec2-CreateKeyPair.json'], classes: { 6003: 1 } },
  { parts: ['aws-docs', 'cloudtrail', 'ec2-StartInstances.json'], classes: { 6003: 1 } },
  { parts: ['aws-docs', 'cloudtrail', 'ec2-StopInstances.json'], classes: { 6003: 1 } },
  { parts: ['aws-docs', 'cloudtrail', 'error-UpdateTrail-TrailNotFound.json'], classes: { 6003: 1 } },
  { parts: ['aws-docs', 'cloudtrail', 'iam-AddUserToGroup.json'], classes: { 3001: 1 } },
  { parts: ['aws-docs', 'cloudtrail', 'iam-CreateRole-urlencoded-policy.json'], classes: { 3001: 1 } },
  { parts: ['aws-docs', 'cloudtrail', 'iam-CreateUser.json'], classes: { 3001: 1 } },
  { parts: ['aws-docs', 'cloudtrail', 'insights-ApiCallRateInsight-start-end.json'], classes: { 6003: 2 } },
  { parts: ['elastic-beats', 'cloudtrail', 'assume-role-json.log'], classes: { 6003: 1 } },
  { parts: ['elastic-beats', 'cloudtrail', 'console-login-json.log'], classes: { 3002: 2 } },
  { parts: ['elastic-beats', 'cloudtrail', 'insight-json.log'], classes: { 6003: 1 } },
  { parts: ['opentelemetry-collector-contrib', 'cloudtraillog', 'cloudtrail_log.json'], classes: { 6003: 5, 3002: 1, 3001: 1 } },
  { parts: ['splunk-aws-gdi-toolkit', 'sample-cloudtrail.json.gz'], classes: { 6003: 14 } },
  { parts: ['constructed', '123456789012_CloudTrail_us-east-1_20230719T2120Z_AbCdEfGhIjKlMnOp.json.gz'], classes: { 6003: 5, 3002: 1, 3001: 1 } },
];

function classCounts(events: OcsfEvent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const event of events) counts[String(event.class_uid)] = (counts[String(event.class_uid)] ?? 0) + 1;
  return counts;
}

describe('builtin:cloudtrail: every CloudTrail fixture maps to valid OCSF 1.1.0', () => {
  for (const fixture of FIXTURES) {
    it(fixture.parts.join('/'), async () => {
      // Prepare
      const raw = readFileSync(fixturePath(...fixture.parts));
      const records = await decode(fixture.parts.at(-1)!.endsWith('.gz') ? gunzipSync(raw) : raw);
      const mapping = createCloudtrailMapping(AS_SECURITY_LAKE);

      // Act
      const events = mapAll(records, mapping);

      // Assess
      assertValid(events, mapping, fixture.parts.join('/'));
      assert.deepEqual(classCounts(events), fixture.classes);
      for (const [i, event] of events.entries()) assert.equal((event.metadata as Json).uid, records[i]!.fields.eventID ?? records[i]!.id, 'metadata.uid: the eventID, else the record id');
    });
  }
});

describe('builtin:cloudtrail: the generated org trail of the compaction tests', () => {
  it('maps every event (trail and Insights files) to a valid event; sign-ins are Authentication', async () => {
    // Prepare: the generator and options of test/cloudtrail-compaction.test.ts.
    const trail = generateCloudTrailOrg({
      seed: 7, organization: 'o-x7q8b22ufe', accounts: ['111122223333', '444455556666'], regions: ['eu-west-1', 'us-east-1'],
      days: ['2024-03-01', '2024-03-02', '2024-03-03'], filesPerDay: 80, insightFilesPerDay: 1,
    });
    for (const options of [AS_SECURITY_LAKE, { version: '1.1.0', observables: false, datetime: false }]) {
      const mapping = createCloudtrailMapping(options);
      const events: OcsfEvent[] = [];
      let signIns = 0;
      let insights = 0;

      // Act
      for (const object of trail.objects.filter((o) => o.kind !== 'digest')) {
        const records = await decode(gunzipSync(object.body), object.key);
        for (const r of records) {
          if (r.fields.eventName === 'ConsoleLogin') signIns++;
          if (r.fields.eventType === 'AwsCloudTrailInsight') insights++;
        }
        events.push(...mapAll(records, mapping));
      }

      // Assess
      assert.equal(events.length, trail.trailEvents + trail.insightEvents);
      assertValid(events, mapping, 'generated');
      const counts = classCounts(events);
      assert.ok(signIns > 0 && insights > 0);
      assert.equal(counts['3002'], signIns, 'every ConsoleLogin is an Authentication');
      assert.equal(events.filter((e) => mapping.acceptedGaps?.(e) !== undefined).length, insights, 'only Insights events lack an actor');
      for (const e of events) assert.match(String(((e.cloud as Json).account as Json | undefined)?.uid), /^(111122223333|444455556666)$/);
    }
  });
});

describe('ocsf transform config', () => {
  it('accepts builtin:cloudtrail and maps a batch; a record without eventTime becomes a rejection', async () => {
    // Prepare
    const config = ocsfTransformSchema.parse({ type: 'ocsf', mapping: 'builtin:cloudtrail', datetime: true });
    const transform = createOcsfTransform(config);
    const good = recordOf({ eventVersion: '1.08', eventTime: '2024-03-01T10:00:00Z', eventSource: 's3.amazonaws.com', eventName: 'ListBuckets', eventID: 'e-9', sourceIPAddress: '192.0.2.1', userIdentity: { type: 'Root', accountId: '111122223333' } });
    const bad: SluiceRecord = { id: 'c7-2', origin: { object: KEY, line: 2 }, fields: { eventVersion: '1.08', eventName: 'ListBuckets' } };

    // Act
    const out = await transform.apply({ records: [good, bad], rejects: [] });

    // Assess
    assert.equal(out.records.length, 1);
    assert.equal(out.records[0]!.fields.class_uid, 6003);
    assert.equal((out.records[0]!.fields.metadata as Json).uid, 'e-9');
    assert.deepEqual(out.rejects.map((r) => [r.code, r.origin.line]), [[OCSF_REJECT_CODES.missingRequired, 2]]);
    assert.match(out.rejects[0]!.reason, /builtin:cloudtrail/);
  });
});
