/**
 * CloudTrail to OCSF in Amazon Security Lake's layout, end to end: a generated organization trail
 * (plus Security Lake's three sample events and a few IAM user/role changes) in CloudTrail's
 * folder layout, compacted by day through `ocsf builtin:cloudtrail` into Parquet with
 * `layout: security-lake`, run from a pipeline file as a user writes it, then read back with
 * DuckDB: every event once, one OCSF class per file, and the count of each class equal to what
 * the input holds (sign-ins -> 3002, IAM user/role changes -> 3001, the rest -> 6003).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadPipelineFile } from '../src/pipeline/config.js';
import { generateCloudTrailOrg, writeCloudTrailOrg, type GeneratedTrail } from '../src/demo/cloudtrail-generator.js';
import { parseWindow } from '../src/core/key-dates.js';
import { runPipeline, type RunReport } from '../src/runtime/run-pipeline.js';
import { useDuckDb } from '../src/testing/duckdb.js';
import { fixturePath } from '../src/testing/repo-root.js';

const ORG = 'o-x7q8b22ufe';
const ACCOUNTS = ['111122223333', '444455556666'];
const REGIONS = ['eu-west-1', 'us-east-1'];
const DAYS = ['2024-03-01', '2024-03-02'];

const PIPELINE = `name: cloudtrail-to-lake
source: { uri: ./trail/AWSLogs/ }
format: cloudtrail
transforms:
  - type: ocsf
    mapping: builtin:cloudtrail
    datetime: true
sinks:
  - { type: files, path: ./out/lake, format: parquet, layout: security-lake }
runtime: { state: ./state.db, workers: 1, backoffMs: 5 }
`;

/** Account folders are numeric (Security Lake's API Activity sample has a 13-digit account). */
const LAKE_FILE = /^region=[a-z0-9-]+\/accountId=\d+\/eventDay=\d{8}\/[^/]+-class(6003|3002|3001)-\d{4}\.parquet$/;

const scratch = mkdtempSync(path.join(os.tmpdir(), 'sluice-ct-lake-'));
const { query } = useDuckDb();
after(() => rmSync(scratch, { recursive: true, force: true }));

type Json = Record<string, unknown>;

/** An IAM call by an assumed role in account 111122223333, on 2024-03-01. */
function iamEvent(eventName: string, minute: number, requestParameters: Json, responseElements: Json | null = null): Json {
  return {
    eventVersion: '1.09',
    userIdentity: {
      type: 'AssumedRole', principalId: 'AROAEXAMPLE:admin', arn: 'arn:aws:sts::111122223333:assumed-role/Admin/admin',
      accountId: '111122223333', accessKeyId: 'ASIAEXAMPLE',
      sessionContext: { sessionIssuer: { type: 'Role', arn: 'arn:aws:iam::111122223333:role/Admin', accountId: '111122223333', userName: 'Admin' }, attributes: { creationDate: '2024-03-01T09:00:00Z', mfaAuthenticated: 'true' } },
    },
    eventTime: `2024-03-01T10:${String(minute).padStart(2, '0')}:00Z`,
    eventSource: 'iam.amazonaws.com', eventName, awsRegion: 'us-east-1', sourceIPAddress: '203.0.113.10', userAgent: 'aws-cli/2.15.30',
    requestParameters, responseElements, requestID: `req-${eventName}`, eventID: `evt-${eventName}`, readOnly: false,
    eventType: 'AwsApiCall', managementEvent: true, recipientAccountId: '111122223333', eventCategory: 'Management',
  };
}

/** IAM user/role changes: each is an Account Change. */
const ACCOUNT_CHANGES: Json[] = [
  iamEvent('CreateRole', 1, { roleName: 'etl' }, { role: { roleName: 'etl', roleId: 'AROAETL', arn: 'arn:aws:iam::111122223333:role/etl' } }),
  iamEvent('AttachRolePolicy', 2, { roleName: 'etl', policyArn: 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess' }),
  iamEvent('PutUserPolicy', 3, { userName: 'bob', policyName: 'inline', policyDocument: '{}' }),
  iamEvent('DeleteUser', 4, { userName: 'mallory' }),
];

/** Security Lake's sample events (one per class), as CloudTrail delivered them. */
function sampleEvents(): Json[] {
  return ['API_Activity_samples_generic_api_activity', 'Authentication_samples_authentication', 'Account_Change_samples_account_change'].map(
    (stem) => JSON.parse(readFileSync(fixturePath('ocsf-examples', `markdown_AWS_v1.1.0_CloudTrail_${stem}.raw`), 'utf8')) as Json,
  );
}

/** What the input holds: distinct events (by eventID) and the class each must become. */
function expectedClasses(trail: GeneratedTrail, extra: Json[]): { total: number; byClass: Map<number, number> } {
  const events = new Map<string, Json>();
  for (const object of trail.objects) {
    if (object.kind === 'digest') continue;
    const records = (JSON.parse(gunzipText(object.body)) as { Records: Json[] }).Records;
    for (const r of records) events.set(String(r.eventID), r);
  }
  for (const r of extra) events.set(String(r.eventID), r);
  const changes = new Set([...ACCOUNT_CHANGES, sampleEvents()[2]!].map((e) => e.eventID));
  const byClass = new Map<number, number>();
  for (const [id, r] of events) {
    // The generator's only sign-in is ConsoleLogin; its IAM calls name no user (API Activity).
    const cls = r.eventName === 'ConsoleLogin' ? 3002 : changes.has(id) ? 3001 : 6003;
    byClass.set(cls, (byClass.get(cls) ?? 0) + 1);
  }
  return { total: events.size, byClass };
}

function gunzipText(body: Uint8Array): string {
  return gunzipSync(body).toString('utf8');
}

function lakeFiles(lake: string): string[] {
  return readdirSync(lake, { recursive: true })
    .map((name) => String(name).split(path.sep).join('/'))
    .filter((name) => name.endsWith('.parquet'))
    .sort();
}

describe('CloudTrail -> ocsf builtin:cloudtrail -> Parquet in the Security Lake layout', () => {
  const dir = path.join(scratch, 'run');
  const lake = path.join(dir, 'out', 'lake');
  let trail: GeneratedTrail;
  let extra: Json[];
  let report: RunReport;

  before(async () => {
    trail = generateCloudTrailOrg({ seed: 11, organization: ORG, accounts: ACCOUNTS, regions: REGIONS, days: DAYS, filesPerDay: 40, insightFilesPerDay: 1 });
    await writeCloudTrailOrg(path.join(dir, 'trail'), trail);
    // One more delivery file in the first account's us-east-1 folder of 2024-03-01: the samples,
    // the IAM changes, and an event without eventTime (which OCSF cannot hold: rejected).
    extra = [...sampleEvents(), ...ACCOUNT_CHANGES];
    const timeless = { eventVersion: '1.09', eventSource: 's3.amazonaws.com', eventName: 'ListBuckets', eventID: 'evt-timeless', recipientAccountId: '111122223333' };
    const folder = path.join(dir, 'trail', 'AWSLogs', ORG, '111122223333', 'CloudTrail', 'us-east-1', '2024', '03', '01');
    mkdirSync(folder, { recursive: true });
    writeFileSync(
      path.join(folder, '111122223333_CloudTrail_us-east-1_20240301T1010Z_EXTRAsamples0001.json.gz'),
      gzipSync(JSON.stringify({ Records: [...extra, timeless] })),
    );
    writeFileSync(path.join(dir, 'pipeline.yaml'), PIPELINE);
    report = await runPipeline(loadPipelineFile(path.join(dir, 'pipeline.yaml')), { window: parseWindow('2024-03-01', '2024-03-02') });
  });

  it('runs every partition; in = out + duplicates + the one timeless event', () => {
    // Prepare
    const { total } = expectedClasses(trail, extra);

    // Assess
    assert.equal(report.units.dead, 0);
    assert.equal(report.units.done, report.units.total);
    assert.equal(report.records.out, total);
    assert.equal(report.records.rejected, 1, 'the event without eventTime');
    assert.equal(report.records.filtered, trail.duplicates);
    assert.equal(report.records.in, trail.trailEvents + trail.insightEvents + extra.length + 1);
  });

  it('lays out region=/accountId=/eventDay=/ with one OCSF class per file', async () => {
    // Act
    const files = lakeFiles(lake);
    const mixed = await query(
      `select filename, count(distinct class_uid) as classes, min(class_uid) as class_uid
       from read_parquet('${lake}/**/*.parquet', filename = true, union_by_name = true) group by filename`,
    );

    // Assess
    assert.ok(files.length > 0);
    for (const file of files) assert.match(file, LAKE_FILE);
    assert.equal(mixed.length, files.length);
    for (const row of mixed) {
      assert.equal(row.classes, '1', String(row.filename));
      assert.ok(String(row.filename).includes(`-class${String(row.class_uid)}-`), `${String(row.filename)} holds class ${String(row.class_uid)}`);
    }
    const folders = new Set(files.map((f) => f.split('/').slice(0, 2).join('/')));
    for (const account of ACCOUNTS) for (const region of REGIONS) assert.ok(folders.has(`region=${region}/accountId=${account}`), `${region}/${account}`);
  });

  it('DuckDB counts each class as the input holds it, every event once', async () => {
    // Prepare
    const expected = expectedClasses(trail, extra);

    // Act
    const perClass = await query(
      `select class_uid, count(*) as n, count(distinct metadata.uid) as uids
       from read_parquet('${lake}/**/*.parquet', union_by_name = true) group by class_uid order by class_uid`,
    );

    // Assess
    assert.deepEqual(
      perClass,
      [3001, 3002, 6003].map((cls) => ({ class_uid: String(cls), n: String(expected.byClass.get(cls)), uids: String(expected.byClass.get(cls)) })),
    );
    assert.ok(expected.byClass.get(3002)! > 1 && expected.byClass.get(3001) === ACCOUNT_CHANGES.length + 1);
  });

  it('the Parquet holds the OCSF attributes queries use', async () => {
    // Act
    const [change] = await query(
      `select activity_name, "user".name as user_name, api.operation as operation, actor."user".uid as actor_uid, cloud.account.uid as account
       from read_parquet('${lake}/**/*class3001*.parquet', union_by_name = true) where metadata.uid = 'evt-CreateRole'`,
    );
    const [login] = await query(
      `select status, is_mfa, src_endpoint.ip as ip, epoch_ms(time) as ms
       from read_parquet('${lake}/**/*class3002*.parquet', union_by_name = true) where metadata.uid = 'fed06f42-cb12-4764-8c69-example'`,
    );

    // Assess
    assert.deepEqual(change, { activity_name: 'Create', user_name: 'etl', operation: 'CreateRole', actor_uid: 'arn:aws:sts::111122223333:assumed-role/Admin/admin', account: '111122223333' });
    assert.deepEqual(login, { status: 'Success', is_mfa: true, ip: '192.0.2.0', ms: String(Date.parse('2023-11-10T16:24:34Z')) });
  });
});
