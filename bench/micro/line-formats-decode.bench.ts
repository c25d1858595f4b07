/**
 * Throughput of the line formats on ~100 MB of realistic lines, with vpcflow on its own sample
 * as the reference: s3access (the fixture lines, varied), alb (the fixture lines, varied) and
 * vpcflow (the real Splunk sample object, repeated). Run after a build:
 *   node dist/src/formats/s3access/decode.bench.js [megabytes=100] [rounds=3]
 * Prints MB/s and lines/s from wall time and from this process's CPU time (compare the CPU
 * figures on a busy machine).
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { Format } from '../../src/core/component.js';
import { fixturePath } from '../../src/testing/repo-root.js';
import { albFormat } from '../../src/formats/alb/index.js';
import { vpcflowFormat } from '../../src/formats/vpcflow/index.js';
import { s3accessFormat } from '../../src/formats/s3access/index.js';

const megabytes = Number(process.argv[2] ?? 100);
const rounds = Number(process.argv[3] ?? 3);
const CHUNK_BYTES = 256 * 1024;

/** Repeats `lines`, varying digits so that no two lines are the same, up to ~`megabytes`. */
function corpus(lines: string[]): { bytes: Buffer; lines: number } {
  const out: string[] = [];
  let size = 0;
  for (let n = 0; size < megabytes * 1e6; n++) {
    const line = lines[n % lines.length].replace(/EXAMPLE|\b1234\b/, String(n));
    out.push(line);
    size += line.length + 1;
  }
  return { bytes: Buffer.from(`${out.join('\n')}\n`, 'utf8'), lines: out.length };
}

const textLines = (...parts: string[]): string[] =>
  readFileSync(fixturePath(...parts), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');

const s3 = corpus([
  ...textLines('aws-docs', 's3access', 'logformat-5-records.log'),
  ...textLines('splunk-aws-gdi-toolkit', 'sample-s3ServerAccess'),
  ...textLines('elastic-beats', 's3access', 's3_server_access.log'),
]);
const alb = corpus([...textLines('aws-docs', 'alb', 'alb-doc-examples.joined.log'), ...textLines('vectordotdev-vrl', 'alb-test-lines.log')]);
const flowLines = gunzipSync(readFileSync(fixturePath('splunk-aws-gdi-toolkit', 'sample-vpcflow.log.gz'))).toString('utf8').split('\n').filter((l) => l.trim() !== '');
const vpc = corpus(flowLines.slice(1));

async function* chunks(bytes: Buffer): AsyncIterable<Uint8Array> {
  for (let i = 0; i < bytes.length; i += CHUNK_BYTES) yield bytes.subarray(i, i + CHUNK_BYTES);
}

async function measure(name: string, format: Format, data: { bytes: Buffer; lines: number }): Promise<void> {
  const startCpu = process.cpuUsage();
  const start = performance.now();
  let records = 0;
  let rejects = 0;
  for await (const batch of format.decode(chunks(data.bytes), { object: { uri: 'mem://bench', key: 'bench' }, idPrefix: 'p' })) {
    records += batch.records.length;
    rejects += batch.rejects.length;
  }
  const cpu = process.cpuUsage(startCpu);
  const wallS = (performance.now() - start) / 1000;
  const cpuS = (cpu.user + cpu.system) / 1e6;
  if (records !== data.lines) throw new Error(`${name}: ${records} records and ${rejects} rejects for ${data.lines} lines`);
  const mb = data.bytes.length / 1e6;
  console.log(
    `${name.padEnd(9)} ${(mb / wallS).toFixed(0).padStart(5)} MB/s wall ${(mb / cpuS).toFixed(0).padStart(5)} MB/s cpu ` +
      `${Math.round(records / cpuS).toLocaleString('en-US').padStart(10)} lines/s cpu (${Math.round(data.bytes.length / data.lines)} B/line)`,
  );
}

for (let round = 0; round < rounds; round++) {
  await measure('s3access', s3accessFormat(), s3);
  await measure('alb', albFormat(), alb);
  await measure('vpcflow', vpcflowFormat(), vpc);
}
