/**
 * Seed 001's aggregate (distinct peers per IP per 10-minute bucket) over generated flow-log
 * objects: Sluice (vpcflow → aggregate → NDJSON, one unit per object on worker threads, partials
 * merged by the finalize unit) against the seed's approach measured in the same run, a Python
 * dict-of-sets loop over the same gzip files (python3 from PATH). The two answers are compared
 * bucket by bucket: the figures count only if they agree exactly.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parsePipeline } from '../../src/pipeline/config.js';
import { defaultWorkerCount, runPipeline } from '../../src/runtime/run-pipeline.js';
import { listFiles } from '../../src/testing/output-oracle.js';
import { round, timed, type Scenario, type ScenarioOutcome, type Step } from '../harness/scenario.js';
import { generateScenarioFlowLogs } from './vpcflow-ndjson.js';

const MAX_LINES_PER_OBJECT = 200_000;

/** The seed's loop (collections.defaultdict of sets), reading gzip files, printing {bucket: {ip: n}}. */
const PYTHON_BASELINE = `
import gzip, json, sys, time
from collections import defaultdict
BUCKET_SECONDS = 600
connection_data = defaultdict(lambda: defaultdict(set))
records = 0
for name in sys.argv[2:]:
    with gzip.open(name, 'rt') as f:
        for line in f:
            message = line.split()
            if len(message) < 11 or message[0] == 'version' or message[3] == '-':
                continue
            records += 1
            srcaddr = message[3]
            dstaddr = message[4]
            start_time = int(message[10])
            bucket_time = (start_time // BUCKET_SECONDS) * BUCKET_SECONDS
            connection_data[bucket_time][srcaddr].add(dstaddr)
            connection_data[bucket_time][dstaddr].add(srcaddr)
out = {str(b): {k: len(v) for k, v in ips.items()} for b, ips in connection_data.items()}
with open(sys.argv[1], 'w') as f:
    json.dump({'records': records, 'buckets': out, 'cpuS': time.process_time()}, f)
`;

function runPython(script: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [script, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

export const aggregatePeers: Scenario = {
  name: 'aggregate-peers',
  description: 'distinct peers per IP per 10 min over flow logs: Sluice aggregate vs the seed\'s Python dict-of-sets loop (same run, answers compared)',
  async run(ctx): Promise<ScenarioOutcome> {
    const o = ctx.options;
    const steps: Step[] = [];
    const failures: string[] = [];
    const notes: string[] = [];
    const { logs, linesPerObject, written } = await generateScenarioFlowLogs(ctx, 'v2', MAX_LINES_PER_OBJECT);

    ctx.log('baseline: python3 dict-of-sets');
    const script = path.join(ctx.workDir, 'peers.py');
    const pyOut = path.join(ctx.workDir, 'python.json');
    writeFileSync(script, PYTHON_BASELINE);
    const py = await timed(() => runPython(script, [pyOut, ...written.files]));
    let python: { records: number; buckets: Record<string, Record<string, number>>; cpuS: number } | undefined;
    if (py.result.code !== 0) failures.push(`python3 baseline failed: ${py.result.stderr.slice(0, 500)}`);
    else python = JSON.parse(readFileSync(pyOut, 'utf8')) as typeof python;
    steps.push({ step: 'baseline: python3 dict-of-sets (1 process)', wallS: py.wallS, bytes: written.uncompressedBytes, lines: written.records, ok: py.result.code === 0, note: python ? `${Math.round(written.records / python.cpuS).toLocaleString('en')} records per CPU-s` : undefined });

    ctx.log('Sluice: vpcflow → aggregate → NDJSON');
    const out = path.join(ctx.workDir, 'out');
    const config = parsePipeline({
      name: 'bench-aggregate-peers',
      source: { uri: logs },
      format: 'vpcflow',
      transforms: [{ type: 'aggregate', bucketSeconds: 600 }],
      sinks: [{ type: 'files', path: out, compression: 'none', partition: 'none' }],
      runtime: { state: path.join(ctx.workDir, 'state.db'), concurrency: o.concurrency, ...(o.workers === undefined ? {} : { workers: o.workers }) },
    });
    const sluice = await timed(() => runPipeline(config));
    const report = sluice.result;
    if (report.aggregate?.state !== 'done') failures.push(`finalize: ${JSON.stringify(report.aggregate)}`);
    steps.push({ step: `Sluice aggregate (${o.workers ?? defaultWorkerCount()} worker threads + finalize)`, wallS: sluice.wallS, bytes: written.uncompressedBytes, lines: written.records, ok: report.aggregate?.state === 'done', peakRssBytes: report.peakRssBytes, note: `${Math.round(written.records / sluice.cpuS).toLocaleString('en')} records per CPU-s (all threads)` });

    // Compare the answers.
    let results = 0;
    let mismatches = 0;
    if (python) {
      const sluiceAnswer = new Map<string, number>();
      for (const file of listFiles(out).sort().filter((f) => f.endsWith('.ndjson') && !f.includes('_rejected'))) {
        for (const line of readFileSync(file, 'utf8').split('\n')) {
          if (!line) continue;
          const r = JSON.parse(line) as { bucket_start: number; ip: string; peers: number; exact: boolean };
          sluiceAnswer.set(`${r.bucket_start} ${r.ip}`, r.peers);
        }
      }
      for (const [bucket, ips] of Object.entries(python.buckets)) {
        for (const [ip, n] of Object.entries(ips)) {
          results++;
          if (sluiceAnswer.get(`${bucket} ${ip}`) !== n) mismatches++;
        }
      }
      if (sluiceAnswer.size !== results) failures.push(`Sluice gave ${sluiceAnswer.size} (bucket, ip) results, Python ${results}`);
      if (mismatches > 0) failures.push(`${mismatches} of ${results} counts differ between Sluice and Python`);
    }
    const pyRate = Math.round(written.records / py.wallS);
    const sluiceRate = Math.round(written.records / sluice.wallS);
    notes.push(`Sluice runs one unit per object on worker threads, writes per-unit partials and merges them in a finalize unit; Python runs one process over all files`);
    return {
      parameters: { objects: o.objects, linesPerObject, records: written.records, uncompressedBytes: written.uncompressedBytes, bucketSeconds: 600, workers: o.workers ?? defaultWorkerCount() },
      figures: {
        python: { recordsPerS: pyRate, wallS: round(py.wallS, 2), cpuS: python ? round(python.cpuS, 2) : null, recordsPerCpuS: python ? Math.round(written.records / python.cpuS) : null },
        sluice: { recordsPerS: sluiceRate, wallS: round(sluice.wallS, 2), cpuS: round(sluice.cpuS, 2), recordsPerCpuS: Math.round(written.records / sluice.cpuS), peakRssBytes: report.peakRssBytes, finalize: report.aggregate },
        speedup: round(sluiceRate / pyRate, 2),
        results,
        mismatches,
      },
      steps,
      failures,
      notes,
    };
  },
};
