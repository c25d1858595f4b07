/**
 * Throughput of the cloudtrail format on generated CloudTrail management events (~1.3 KB each):
 * a `{"Records":[...]}` delivery file and the same events as NDJSON. Run after a build:
 *   node dist/src/formats/cloudtrail/decode.bench.js [megabytes=100] [rounds=3]
 * Prints MB/s and records/s per round, from wall time and from this process's CPU time (the
 * CPU figure is the one to compare on a busy machine). For reference it also times bare
 * `JSON.parse` of the same records, the floor under any streaming parser here.
 */
import type { Format } from '../../src/core/component.js';
import { cloudtrailFormat } from '../../src/formats/cloudtrail/index.js';

const megabytes = Number(process.argv[2] ?? 100);
const rounds = Number(process.argv[3] ?? 3);
const CHUNK_BYTES = 256 * 1024;

function eventText(n: number): string {
  const second = n % 86_400;
  return JSON.stringify({
    eventVersion: '1.08',
    userIdentity: {
      type: 'AssumedRole',
      principalId: `AROAEXAMPLE:session-${n}`,
      arn: `arn:aws:sts::123456789012:assumed-role/Admin/session-${n}`,
      accountId: '123456789012',
      accessKeyId: `ASIAEXAMPLE${n}`,
      sessionContext: {
        sessionIssuer: { type: 'Role', principalId: 'AROAEXAMPLE', arn: 'arn:aws:iam::123456789012:role/Admin', accountId: '123456789012', userName: 'Admin' },
        webIdFederationData: {},
        attributes: { creationDate: '2024-03-01T00:00:00Z', mfaAuthenticated: 'false' },
      },
    },
    eventTime: new Date(Date.UTC(2024, 2, 1) + second * 1000).toISOString().replace('.000Z', 'Z'),
    eventSource: 'ec2.amazonaws.com',
    eventName: 'DescribeInstances',
    awsRegion: 'us-east-1',
    sourceIPAddress: `192.0.2.${n % 256}`,
    userAgent: 'aws-cli/2.13.5 Python/3.11.4 Linux/4.14.255 exec-env/CloudShell',
    requestParameters: { instancesSet: { items: [{ instanceId: `i-0abc${n.toString(16)}` }] }, filterSet: {} },
    responseElements: null,
    requestID: `req-${n}`,
    eventID: `evt-${n}`,
    readOnly: true,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: '123456789012',
    eventCategory: 'Management',
    tlsDetails: { tlsVersion: 'TLSv1.2', cipherSuite: 'ECDHE-RSA-AES128-GCM-SHA256', clientProvidedHostHeader: 'ec2.us-east-1.amazonaws.com' },
  });
}

const events: string[] = [];
let total = 0;
while (total < megabytes * 1e6) {
  const text = eventText(events.length + 1);
  events.push(text);
  total += text.length + 1;
}
const deliveryFile = Buffer.from(`{"Records":[${events.join(',')}]}`, 'utf8');
const ndjson = Buffer.from(`${events.join('\n')}\n`, 'utf8');

async function* chunks(bytes: Buffer): AsyncIterable<Uint8Array> {
  for (let i = 0; i < bytes.length; i += CHUNK_BYTES) yield bytes.subarray(i, i + CHUNK_BYTES);
}

function report(name: string, bytes: number, count: number, wallMs: number, cpuMs: number): void {
  const mb = bytes / 1e6;
  console.log(
    `${name.padEnd(24)} ${(mb / (wallMs / 1000)).toFixed(0).padStart(5)} MB/s wall ${(mb / (cpuMs / 1000)).toFixed(0).padStart(5)} MB/s cpu ` +
      `${Math.round(count / (cpuMs / 1000)).toLocaleString('en-US').padStart(9)} records/s cpu`,
  );
}

async function measure(name: string, format: Format, bytes: Buffer): Promise<void> {
  const startCpu = process.cpuUsage();
  const start = performance.now();
  let count = 0;
  for await (const batch of format.decode(chunks(bytes), { object: { uri: 'mem://bench', key: 'bench' }, idPrefix: 'p' })) count += batch.records.length;
  const cpu = process.cpuUsage(startCpu);
  if (count !== events.length) throw new Error(`${name}: decoded ${count} of ${events.length} records`);
  report(name, bytes.length, count, performance.now() - start, (cpu.user + cpu.system) / 1000);
}

console.log(`${events.length} events, ${(deliveryFile.length / 1e6).toFixed(1)} MB`);
for (let round = 0; round < rounds; round++) {
  await measure('records (delivery file)', cloudtrailFormat(), deliveryFile);
  await measure('ndjson', cloudtrailFormat(), ndjson);
  const startCpu = process.cpuUsage();
  const start = performance.now();
  let keys = 0;
  for (const text of events) keys += Object.keys(JSON.parse(text) as object).length;
  const cpu = process.cpuUsage(startCpu);
  report('JSON.parse alone', deliveryFile.length, keys > 0 ? events.length : 0, performance.now() - start, (cpu.user + cpu.system) / 1000);
}
