/**
 * A generated CloudTrail organization trail, laid out as CloudTrail delivers it to S3:
 *
 *   AWSLogs/<org>/<account>/CloudTrail/<region>/yyyy/mm/dd/<account>_CloudTrail_<region>_<yyyymmddTHHMMZ>_<16 chars>.json.gz
 *   AWSLogs/<org>/<account>/CloudTrail-Digest/<region>/yyyy/mm/dd/..._CloudTrail-Digest_...json.gz   (one per day)
 *   AWSLogs/<org>/<account>/CloudTrail-Insight/<region>/yyyy/mm/dd/...                              (optional)
 *
 * Sizes follow seed 002: 44 % of files hold 1–4 events, half hold 5–7 and the rest 8–12, about
 * 4.7 events per file (the seed's day: 4,002 files, 18,698 records). Events look like real
 * management events (assumed-role identities, nested request parameters, some errors, console
 * sign-ins, resources lists). A fraction of files repeat one event of the previous file of the
 * same account and region, as CloudTrail's at-least-once delivery does: the same eventID twice.
 *
 * Deterministic: the same options give the same keys and bytes (seeded PRNG, fixed gzip level).
 * Event times stay inside the day of the folder, so day counts are exact.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Prng } from './prng.js';

export interface CloudTrailOrgOptions {
  seed: number;
  /** Organization id folder (`o-…`), or undefined for a single-account trail. */
  organization?: string;
  accounts: readonly string[];
  regions: readonly string[];
  /** UTC days, `yyyy-mm-dd`. */
  days: readonly string[];
  /** Files delivered per day over all accounts and regions (spread evenly over them and over the day). */
  filesPerDay: number;
  /** Fraction of files that repeat one event of the previous file (default 0.02). */
  duplicateRate?: number;
  /** Write one digest file per account, region and day (default true). */
  digests?: boolean;
  /** Insights files per account, region and day (default 0). */
  insightFilesPerDay?: number;
  gzipLevel?: number;
}

export interface GeneratedObject {
  key: string;
  body: Buffer;
  /** Events in the file (0 for digests). */
  events: number;
  /** Of those, events repeating an earlier eventID. */
  duplicates: number;
  kind: 'trail' | 'digest' | 'insight';
}

export interface GeneratedTrail {
  /** In key order. */
  objects: GeneratedObject[];
  /** Trail (not digest/insight) files. */
  trailFiles: number;
  /** Events in trail files, duplicates included. */
  trailEvents: number;
  duplicates: number;
  insightEvents: number;
  insightFiles: number;
  digestFiles: number;
  compressedBytes: number;
  uncompressedBytes: number;
}

const SERVICES: ReadonlyArray<{ source: string; names: readonly string[]; readOnly: boolean }> = [
  { source: 'ec2.amazonaws.com', names: ['DescribeInstances', 'DescribeVolumes', 'DescribeSecurityGroups', 'DescribeNetworkInterfaces'], readOnly: true },
  { source: 's3.amazonaws.com', names: ['ListBuckets', 'GetBucketAcl', 'GetBucketPolicy', 'GetBucketLocation'], readOnly: true },
  { source: 'sts.amazonaws.com', names: ['AssumeRole', 'GetCallerIdentity'], readOnly: true },
  { source: 'kms.amazonaws.com', names: ['Decrypt', 'GenerateDataKey'], readOnly: true },
  { source: 'lambda.amazonaws.com', names: ['ListFunctions20150331', 'GetFunction20150331v2'], readOnly: true },
  { source: 'iam.amazonaws.com', names: ['CreateUser', 'AttachRolePolicy', 'PutRolePolicy', 'DeleteAccessKey'], readOnly: false },
  { source: 'ec2.amazonaws.com', names: ['RunInstances', 'CreateTags', 'AuthorizeSecurityGroupIngress', 'TerminateInstances'], readOnly: false },
  { source: 'logs.amazonaws.com', names: ['CreateLogStream', 'PutRetentionPolicy'], readOnly: false },
];
const USER_AGENTS = [
  'aws-cli/2.15.30 Python/3.11.8 Linux/5.10.213 exe/x86_64.amzn.2 prompt/off command/ec2.describe-instances',
  'Boto3/1.34.51 md/Botocore#1.34.51 ua/2.0 os/linux#5.10 md/arch#x86_64 lang/python#3.12.2 cfg/retry-mode#legacy Botocore/1.34.51',
  'aws-sdk-js/3.529.1 ua/2.0 os/linux#5.10 lang/js md/nodejs#20.11.1 api/s3#3.529.1',
  'console.amazonaws.com',
  'AWS Internal',
  'terraform-provider-aws/5.40.0 (+https://registry.terraform.io) aws-sdk-go-v2/1.25.2',
];
const ROLES = ['OrganizationAccountAccessRole', 'AWSReservedSSO_AdministratorAccess_2b1f', 'ci-deployer', 'lambda-exec-etl', 'ReadOnlyAuditor'];

/** Events in one file: 44 % 1–4, 50 % 5–7, 6 % 8–12 (mean ≈ 4.7). */
export function eventsPerFile(rng: Prng): number {
  const roll = rng.next();
  if (roll < 0.44) return rng.between(1, 4);
  if (roll < 0.94) return rng.between(5, 7);
  return rng.between(8, 12);
}

function uuid(rng: Prng): string {
  const h = rng.hex(32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function alnum(rng: Prng, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALNUM[rng.int(ALNUM.length)];
  return out;
}

function compactTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').slice(0, 13) + 'Z';
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function makeEvent(rng: Prng, account: string, region: string, time: number): Record<string, unknown> {
  const signIn = rng.chance(0.02);
  const service = rng.pick(SERVICES);
  const role = rng.pick(ROLES);
  const session = `session-${rng.hex(6)}`;
  const identity = {
    type: 'AssumedRole',
    principalId: `AROA${alnum(rng, 17).toUpperCase()}:${session}`,
    arn: `arn:aws:sts::${account}:assumed-role/${role}/${session}`,
    accountId: account,
    accessKeyId: `ASIA${alnum(rng, 16).toUpperCase()}`,
    sessionContext: {
      sessionIssuer: { type: 'Role', principalId: `AROA${alnum(rng, 17).toUpperCase()}`, arn: `arn:aws:iam::${account}:role/${role}`, accountId: account, userName: role },
      attributes: { creationDate: isoSeconds(time - rng.int(3_600_000)), mfaAuthenticated: String(rng.chance(0.3)) },
    },
  };
  const ip = `${rng.pick([198, 203, 192, 100])}.${rng.int(256)}.${rng.int(256)}.${1 + rng.int(254)}`;
  const event: Record<string, unknown> = {
    eventVersion: '1.09',
    userIdentity: identity,
    eventTime: isoSeconds(time),
    eventSource: signIn ? 'signin.amazonaws.com' : service.source,
    eventName: signIn ? 'ConsoleLogin' : rng.pick(service.names),
    awsRegion: signIn ? 'us-east-1' : region,
    sourceIPAddress: rng.chance(0.2) ? `${service.source}` : ip,
    userAgent: rng.pick(USER_AGENTS),
    requestParameters: signIn || service.readOnly && rng.chance(0.3)
      ? null
      : { instancesSet: { items: [{ instanceId: `i-${rng.hex(17)}` }] }, filterSet: {}, maxResults: 1000, tagSpecificationSet: { items: [{ resourceType: 'instance', tags: [{ key: 'team', value: rng.pick(['data', 'web', 'sec']) }] }] } },
    responseElements: signIn ? { ConsoleLogin: rng.chance(0.9) ? 'Success' : 'Failure' } : null,
    requestID: uuid(rng),
    eventID: uuid(rng),
    readOnly: signIn ? false : service.readOnly,
    eventType: signIn ? 'AwsConsoleSignIn' : 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: account,
    eventCategory: 'Management',
  };
  if (signIn) event.additionalEventData = { LoginTo: 'https://console.aws.amazon.com/console/home', MobileVersion: 'No', MFAUsed: 'Yes' };
  if (!service.readOnly && !signIn && rng.chance(0.5)) {
    event.resources = [{ accountId: account, type: 'AWS::IAM::Role', ARN: `arn:aws:iam::${account}:role/${role}` }];
  }
  if (rng.chance(0.05)) {
    event.errorCode = rng.pick(['AccessDenied', 'Client.UnauthorizedOperation', 'ThrottlingException']);
    event.errorMessage = `User: ${identity.arn} is not authorized to perform this operation`;
  }
  if (rng.chance(0.3)) event.tlsDetails = { tlsVersion: 'TLSv1.3', cipherSuite: 'TLS_AES_128_GCM_SHA256', clientProvidedHostHeader: `${service.source.split('.')[0]}.${region}.amazonaws.com` };
  return event;
}

const DAY_MS = 86_400_000;

/**
 * Generates the trail in memory (meant for a few thousand files: tests and the benchmark).
 *
 * @example
 * const trail = generateCloudTrailOrg({ seed: 1, organization: 'o-x7q8b22ufe', accounts: ['111122223333'], regions: ['us-east-1'], days: ['2024-03-01'], filesPerDay: 96 });
 */
export function generateCloudTrailOrg(options: CloudTrailOrgOptions): GeneratedTrail {
  const level = options.gzipLevel ?? 6;
  const duplicateRate = options.duplicateRate ?? 0.02;
  const base = options.organization ? `AWSLogs/${options.organization}/` : 'AWSLogs/';
  const pairs = options.accounts.flatMap((account) => options.regions.map((region) => ({ account, region })));
  const out: GeneratedTrail = {
    objects: [],
    trailFiles: 0,
    trailEvents: 0,
    duplicates: 0,
    insightEvents: 0,
    insightFiles: 0,
    digestFiles: 0,
    compressedBytes: 0,
    uncompressedBytes: 0,
  };
  const push = (key: string, json: string, events: number, duplicates: number, kind: GeneratedObject['kind']) => {
    const raw = Buffer.from(json);
    const body = gzipSync(raw, { level });
    out.objects.push({ key, body, events, duplicates, kind });
    out.compressedBytes += body.length;
    out.uncompressedBytes += raw.length;
  };
  for (const day of options.days) {
    const dayStart = Date.parse(`${day}T00:00:00Z`);
    const folder = day.replace(/-/g, '/');
    pairs.forEach(({ account, region }, p) => {
      const rng = new Prng(`${options.seed}/${day}/${account}/${region}`);
      const files = Math.floor(options.filesPerDay / pairs.length) + (p < options.filesPerDay % pairs.length ? 1 : 0);
      const prefix = `${base}${account}/CloudTrail/${region}/${folder}/`;
      let previous: Record<string, unknown>[] = [];
      for (let f = 0; f < files; f++) {
        // Deliveries spread over the day; events from the few minutes before, inside the day.
        const delivered = dayStart + Math.floor(((f + 0.5) * DAY_MS) / files);
        const count = eventsPerFile(rng);
        const events: Record<string, unknown>[] = [];
        for (let e = 0; e < count; e++) events.push(makeEvent(rng, account, region, Math.max(dayStart, delivered - rng.int(300_000))));
        events.sort((a, b) => String(a.eventTime).localeCompare(String(b.eventTime)));
        let duplicates = 0;
        if (previous.length > 0 && rng.chance(duplicateRate)) {
          events.push(previous[rng.int(previous.length)]!);
          duplicates = 1;
        }
        previous = events;
        const key = `${prefix}${account}_CloudTrail_${region}_${compactTime(delivered)}_${alnum(rng, 16)}.json.gz`;
        push(key, JSON.stringify({ Records: events }), events.length, duplicates, 'trail');
        out.trailFiles++;
        out.trailEvents += events.length;
        out.duplicates += duplicates;
      }
      for (let i = 0; i < (options.insightFilesPerDay ?? 0); i++) {
        const time = dayStart + Math.floor(((i + 0.5) * DAY_MS) / (options.insightFilesPerDay ?? 1));
        const insight = {
          eventVersion: '1.08',
          eventTime: isoSeconds(time),
          awsRegion: region,
          eventID: uuid(rng),
          eventType: 'AwsCloudTrailInsight',
          recipientAccountId: account,
          sharedEventID: uuid(rng),
          insightDetails: { state: 'Start', eventSource: 'ec2.amazonaws.com', eventName: 'RunInstances', insightType: 'ApiCallRateInsight' },
          eventCategory: 'Insight',
        };
        const key = `${base}${account}/CloudTrail-Insight/${region}/${folder}/${account}_CloudTrail-Insight_${region}_${compactTime(time)}_${alnum(rng, 16)}.json.gz`;
        push(key, JSON.stringify({ Records: [insight] }), 1, 0, 'insight');
        out.insightFiles++;
        out.insightEvents++;
      }
      if (options.digests ?? true) {
        const digest = {
          awsAccountId: account,
          digestStartTime: isoSeconds(dayStart),
          digestEndTime: isoSeconds(dayStart + DAY_MS),
          digestS3Bucket: 'org-trail',
          digestSignatureAlgorithm: 'SHA256withRSA',
          logFiles: [],
        };
        const key = `${base}${account}/CloudTrail-Digest/${region}/${folder}/${account}_CloudTrail-Digest_${region}_org-trail_${region}_${compactTime(dayStart)}.json.gz`;
        push(key, JSON.stringify(digest), 0, 0, 'digest');
        out.digestFiles++;
      }
    });
  }
  out.objects.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
  return out;
}

/** Writes the trail's objects under `dir` (keys become relative paths). */
export async function writeCloudTrailOrg(dir: string, trail: GeneratedTrail): Promise<void> {
  const folders = new Set(trail.objects.map((o) => path.dirname(path.join(dir, o.key))));
  for (const folder of folders) await mkdir(folder, { recursive: true });
  for (const object of trail.objects) await writeFile(path.join(dir, object.key), object.body);
}
