/**
 * Throughput of the generic `delimited` format (and of the framework mapping CSV on top of it)
 * against the hand-written `s3access` format on the same S3 access log lines, measured in the
 * same run. Run after a build:
 *   node dist/src/formats/delimited/decode.bench.js [megabytes=50] [rounds=3]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Format, RecordBatch } from '../../src/core/component.js';
import { fixturePath, repoRoot } from '../../src/testing/repo-root.js';
import { createAslCsvMapping } from '../../src/transforms/ocsf/asl-mapping.js';
import { s3accessFormat } from '../../src/formats/s3access/index.js';
import { delimitedFormat } from '../../src/formats/delimited/index.js';

const megabytes = Number(process.argv[2] ?? 50);
const rounds = Number(process.argv[3] ?? 3);
const CHUNK_BYTES = 256 * 1024;
const COLUMNS = ['bucket_owner', 'bucket', 'time', 'remote_ip', 'requester', 'request_id', 'operation', 'key', 'request_uri', 'http_status', 'error_code', 'bytes_sent', 'object_size', 'total_time', 'turn_around_time', 'referrer', 'user_agent', 'version_id', 'host_id', 'signature_version', 'cipher_suite', 'authentication_type', 'host_header', 'tls_version', 'access_point_arn', 'acl_required'];

const sample = readFileSync(fixturePath('aws-docs', 's3access', 'logformat-5-records.log'), 'utf8').split('\n').filter((l) => l.trim() !== '');
const lines: string[] = [];
let size = 0;
for (let n = 0; size < megabytes * 1e6; n++) {
  const line = sample[n % sample.length]!.replace('EXAMPLE', String(n));
  lines.push(line);
  size += line.length + 1;
}
const bytes = Buffer.from(`${lines.join('\n')}\n`);

async function* chunks(): AsyncIterable<Uint8Array> {
  for (let i = 0; i < bytes.length; i += CHUNK_BYTES) yield bytes.subarray(i, i + CHUNK_BYTES);
}

async function measure(name: string, format: Format, each?: (batch: RecordBatch) => void): Promise<void> {
  let best = Infinity;
  let records = 0;
  for (let r = 0; r < rounds; r++) {
    const cpu = process.cpuUsage();
    records = 0;
    for await (const batch of format.decode(chunks(), { object: { uri: 'bench', key: 'bench' }, idPrefix: 'b' })) {
      records += batch.records.length;
      each?.(batch);
    }
    const used = process.cpuUsage(cpu);
    best = Math.min(best, (used.user + used.system) / 1e6);
  }
  console.log(`${name.padEnd(34)} ${(bytes.length / 1e6 / best).toFixed(0).padStart(5)} MB/s  ${Math.round(records / best).toLocaleString('en-US').padStart(11)} records/s (CPU time, best of ${rounds})`);
}

const mapping = createAslCsvMapping(path.join(repoRoot(), 'examples', 'asl', 's3access-mapping.csv'), { classUid: 4002, timestampFormat: 'dd/MMM/yyyy:HH:mm:ssZZZZ' }, '1.1.0');
const delimited = () => delimitedFormat({ delimiter: ' ', brackets: true, columns: COLUMNS, timestamp: { field: 'time', format: 'dd/MMM/yyyy:HH:mm:ssZZZZ' } });
console.log(`${lines.length.toLocaleString('en-US')} S3 access log lines, ${(bytes.length / 1e6).toFixed(0)} MB`);
await measure('s3access (baseline, hand-written)', s3accessFormat());
await measure('delimited (whitespace + brackets)', delimited());
await measure('delimited + ASL mapping to 4002', delimited(), (batch) => {
  for (const record of batch.records) mapping.map(record);
});
