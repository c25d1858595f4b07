/**
 * A 100 MB delivery file (generated on the fly, never held whole) streams through the cloudtrail
 * format with bounded memory: the heap in use never grows by more than a fraction of the file,
 * and every record comes out once, in order. Reports the measured peak and throughput.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cloudtrailFormat } from './index.js';

const FILE_BYTES = 100 * 1000 * 1000;
const CHUNK_BYTES = 256 * 1024;
/** Heap growth allowed over the baseline: well under the file size (which a non-streaming parser would need twice over). */
const MAX_HEAP_GROWTH_BYTES = 96 * 1024 * 1024;

/** One realistic management event (~1.3 KB), varied by its ordinal. */
function eventText(n: number): string {
  const second = n % 86_400;
  const time = `2024-03-01T${String(Math.floor(second / 3600)).padStart(2, '0')}:${String(Math.floor(second / 60) % 60).padStart(2, '0')}:${String(second % 60).padStart(2, '0')}Z`;
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
    eventTime: time,
    eventSource: 'ec2.amazonaws.com',
    eventName: 'DescribeInstances',
    awsRegion: 'us-east-1',
    sourceIPAddress: `192.0.2.${n % 256}`,
    userAgent: 'aws-cli/2.13.5 Python/3.11.4 Linux/4.14.255 exec-env/CloudShell "quoted" back\\slash é',
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

/** Streams `{"Records":[...]}` of about `totalBytes`, in chunks; `counter.records` says how many it wrote. */
async function* generatedDeliveryFile(totalBytes: number, counter: { records: number; bytes: number }): AsyncIterable<Uint8Array> {
  let pending = '{"Records":[';
  while (counter.bytes + pending.length < totalBytes) {
    pending += (counter.records === 0 ? '' : ',') + eventText(counter.records + 1);
    counter.records++;
    if (pending.length >= CHUNK_BYTES) {
      const chunk = Buffer.from(pending, 'utf8');
      counter.bytes += chunk.length;
      pending = '';
      yield chunk;
    }
  }
  const last = Buffer.from(`${pending}]}`, 'utf8');
  counter.bytes += last.length;
  yield last;
}

describe('cloudtrail format: a 100 MB delivery file', () => {
  it('streams with bounded heap and loses no record', async (t) => {
    // Prepare
    const counter = { records: 0, bytes: 0 };
    const baseline = process.memoryUsage().heapUsed;
    let peak = baseline;
    let decoded = 0;
    let lastId = '';
    let outOfOrder = 0;
    const started = performance.now();
    const cpuStarted = process.cpuUsage();

    // Act
    for await (const batch of cloudtrailFormat().decode(generatedDeliveryFile(FILE_BYTES, counter), { object: { uri: 'mem://big.json', key: 'big.json' }, idPrefix: 'p' })) {
      assert.deepEqual(batch.rejects, []);
      for (const record of batch.records) {
        decoded++;
        if (record.id !== `p-${decoded}`) outOfOrder++;
      }
      lastId = batch.records.at(-1)?.id ?? lastId;
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuStarted);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;

    // Assess
    assert.ok(counter.bytes >= FILE_BYTES * 0.99, `generated ${counter.bytes} bytes`);
    assert.equal(decoded, counter.records);
    assert.equal(lastId, `p-${counter.records}`);
    assert.equal(outOfOrder, 0);
    const growth = peak - baseline;
    t.diagnostic(
      `${(counter.bytes / 1e6).toFixed(1)} MB, ${counter.records} records; peak heap growth ${(growth / 1048576).toFixed(1)} MiB; ` +
        `${seconds.toFixed(2)} s wall (${(counter.bytes / 1e6 / seconds).toFixed(0)} MB/s incl. generation), ${cpuSeconds.toFixed(2)} s CPU`,
    );
    assert.ok(growth < MAX_HEAP_GROWTH_BYTES, `heap grew by ${(growth / 1048576).toFixed(1)} MiB`);
  });
});
