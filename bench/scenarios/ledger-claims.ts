/**
 * The PostgreSQL ledger under a fleet's load, without any object processing:
 * - planning: a synthetic source of 1M keys (pages of 1,000, like S3 ListObjectsV2) planned into
 *   the ledger by `planPipeline`'s planner in a child process, so its peak RSS is the planner's
 *   alone; the scenario fails if it exceeds PLAN_RSS_BOUND (memory must not grow with the keys);
 * - claiming: 1, 4 and 16 concurrent workers (each its own connection, as separate processes
 *   would have), each looping lease → complete on that million-unit pipeline for a fixed time.
 *   Units/s is what the ledger can hand out; latency is one lease plus one commit.
 *
 * PostgreSQL: SLUICE_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test); the
 * scenario works in a schema of its own and drops it. SLUICE_BENCH_PLAN_KEYS and
 * SLUICE_BENCH_CLAIM_S change the sizes.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Source } from '../../src/core/component.js';
import type { ObjectRef } from '../../src/core/record.js';
import { maskConnectionUrl, openPostgresLedger } from '../../src/runtime/ledger/postgres.js';
import type { Ledger, UnitResult } from '../../src/runtime/ledger/types.js';
import { planObjectUnits } from '../../src/runtime/plan/planner.js';
import { runMeasured } from '../harness/measured-process.js';
import { MiB, round, type Scenario, type ScenarioOutcome, type Step } from '../harness/scenario.js';

const PLAN_RSS_BOUND = 256 * MiB;
const CLAIM_TARGET_PER_S = 1_000;
const PIPELINE = 'bench-1m';
const RESULT: UnitResult = { recordsIn: 375_000, recordsOut: 375_000, recordsRejected: 0, recordsFiltered: 0, outputs: ['out/part-0001.ndjson.gz'], durationMs: 30_000 };

/** A source listing `count` synthetic flow-log keys in pages of `pageSize`, generated as it goes. */
export function syntheticKeySource(count: number, pageSize = 1_000): Source {
  return {
    root: 's3://bench-synthetic/AWSLogs/',
    async *list() {
      for (let start = 0; start < count; start += pageSize) {
        const page: ObjectRef[] = [];
        for (let i = start; i < Math.min(count, start + pageSize); i++) {
          const hour = String(Math.floor(i / 60_000) % 24).padStart(2, '0');
          const key = `AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/01/15/123456789012_vpcflowlogs_us-east-1_fl-0a1b2c3d_20240115T${hour}00Z_${i.toString(16).padStart(8, '0')}.log.gz`;
          page.push({ uri: `s3://bench-synthetic/${key}`, key, size: 4_000_000, etag: `"${i.toString(16).padStart(32, '0')}"` } as ObjectRef);
        }
        yield page;
      }
    },
    async open() {
      throw new Error('the synthetic source has keys, not contents');
    },
  };
}

/** Child process: plans the synthetic keys and prints the plan summary with its own timing. */
async function planChild(url: string, schema: string, keys: number): Promise<void> {
  const ledger = await openPostgresLedger(url, { schema });
  const started = performance.now();
  const plan = await planObjectUnits({ ledger, source: syntheticKeySource(keys), pipeline: PIPELINE });
  const planMs = performance.now() - started;
  await ledger.close();
  process.stdout.write(`${JSON.stringify({ plan, planMs })}\n`);
}

interface ClaimFigures {
  workers: number;
  units: number;
  wallS: number;
  unitsPerS: number;
  p50Ms: number;
  p99Ms: number;
}

async function measureClaims(url: string, schema: string, workers: number, seconds: number): Promise<ClaimFigures> {
  const ledgers: Ledger[] = await Promise.all(Array.from({ length: workers }, () => openPostgresLedger(url, { schema, poolSize: 1 })));
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  try {
    await Promise.all(
      ledgers.map(async (ledger, i) => {
        while (performance.now() < deadline) {
          const t0 = performance.now();
          const lease = await ledger.leaseNextUnit(PIPELINE, `bench-worker-${workers}-${i}`, 60_000);
          if (!lease) return;
          if (!(await ledger.completeUnit(lease, RESULT))) throw new Error(`unit ${lease.unit.key} fenced in a benchmark without competition`);
          latencies.push(performance.now() - t0);
        }
      }),
    );
  } finally {
    await Promise.all(ledgers.map((l) => l.close()));
  }
  const wallS = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0, 2);
  return { workers, units: latencies.length, wallS: round(wallS, 2), unitsPerS: Math.round(latencies.length / wallS), p50Ms: at(0.5), p99Ms: at(0.99) };
}

/**
 * What this database does at all, for scale: one connection committing single-row UPDATEs one
 * after the other. Each claim + commit is two such commits, so one looping worker cannot beat half
 * of it; concurrency is what lets PostgreSQL group commits.
 */
async function durableCommitsPerSecond(admin: pg.Pool, schema: string, seconds: number): Promise<number> {
  await admin.query(`CREATE TABLE "${schema}".commit_probe (id integer PRIMARY KEY, n bigint NOT NULL)`);
  await admin.query(`INSERT INTO "${schema}".commit_probe VALUES (1, 0)`);
  let commits = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    await admin.query({ name: 'commit_probe', text: `UPDATE "${schema}".commit_probe SET n = n + 1 WHERE id = 1` });
    commits++;
  }
  await admin.query(`DROP TABLE "${schema}".commit_probe`);
  return Math.round((commits * 1000) / (performance.now() - started));
}

export const ledgerClaims: Scenario = {
  name: 'ledger-claims',
  description: 'PostgreSQL ledger: claim+commit units/s with 1, 4 and 16 concurrent workers; planning 1M keys (time, peak RSS)',
  async run(ctx): Promise<ScenarioOutcome> {
    const url = process.env['SLUICE_BENCH_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
    const keys = Number(process.env['SLUICE_BENCH_PLAN_KEYS'] ?? 1_000_000);
    const claimS = Number(process.env['SLUICE_BENCH_CLAIM_S'] ?? 10);
    const schema = `sluice_bench_${randomBytes(4).toString('hex')}`;
    const steps: Step[] = [];
    const failures: string[] = [];
    const notes: string[] = [];
    const figures: Record<string, unknown> = {};
    const admin = new pg.Pool({ connectionString: url, max: 1 });
    admin.on('error', () => undefined);
    try {
      ctx.log(`planning ${keys.toLocaleString('en')} synthetic keys into schema ${schema} (child process)`);
      const child = await runMeasured(process.execPath, [fileURLToPath(import.meta.url), '--plan-child', url, schema, String(keys)], {
        timeoutMs: ctx.options.timeoutS * 1000,
      });
      const peak = child.gnuTimeMaxRssBytes ?? child.polledPeakRssBytes;
      let planned: { plan: { total: number; inserted: number }; planMs: number } | undefined;
      try {
        planned = JSON.parse(child.stdout.trim().split('\n').pop() ?? '');
      } catch {
        failures.push(`planning child failed (exit ${child.exitCode}${child.signal ? `, ${child.signal}` : ''}): ${child.stderrTail.slice(-2000)}`);
      }
      if (planned) {
        if (planned.plan.inserted !== keys) failures.push(`planning inserted ${planned.plan.inserted} units, expected ${keys}`);
        if (peak !== undefined && peak > PLAN_RSS_BOUND) failures.push(`planning peak RSS ${round(peak / MiB, 0)} MiB exceeds the ${PLAN_RSS_BOUND / MiB} MiB bound`);
        figures.planning = {
          keys,
          wallS: round(planned.planMs / 1000, 2),
          unitsPerS: Math.round((keys * 1000) / planned.planMs),
          peakRssMiB: peak === undefined ? null : round(peak / MiB, 0),
          rssBoundMiB: PLAN_RSS_BOUND / MiB,
          processWallS: round(child.wallMs / 1000, 2),
        };
        steps.push({ step: `plan ${keys.toLocaleString('en')} keys (pages of 1000)`, wallS: planned.planMs / 1000, peakRssBytes: peak, ok: true, note: `${Math.round((keys * 1000) / planned.planMs)} units/s` });
      }
      if (child.memoryNote) notes.push(child.memoryNote);

      if (planned) {
        const baseline = await durableCommitsPerSecond(admin, schema, 3);
        figures.baselineDurableCommitsPerS = baseline;
        steps.push({ step: 'baseline: 1 connection, single-row durable UPDATEs', wallS: 3, ok: true, note: `${baseline} commits/s` });
        const claims: ClaimFigures[] = [];
        for (const workers of [1, 4, 16]) {
          ctx.log(`claim + commit: ${workers} concurrent worker(s) for ${claimS} s on the ${keys.toLocaleString('en')}-unit pipeline`);
          const result = await measureClaims(url, schema, workers, claimS);
          claims.push(result);
          steps.push({
            step: `claim+commit, ${workers} worker${workers > 1 ? 's' : ''}`,
            wallS: result.wallS,
            ok: true,
            note: `${result.unitsPerS} units/s · p50 ${result.p50Ms} ms · p99 ${result.p99Ms} ms`,
          });
        }
        figures.claims = claims;
        const best = Math.max(...claims.map((c) => c.unitsPerS));
        figures.claimTargetPerS = CLAIM_TARGET_PER_S;
        if (best < CLAIM_TARGET_PER_S) notes.push(`best claim+commit rate ${best} units/s is below the ${CLAIM_TARGET_PER_S} units/s target`);
        const one = claims.find((c) => c.workers === 1)!;
        if (one.unitsPerS < CLAIM_TARGET_PER_S) {
          notes.push(
            `one worker looping one unit at a time is bound by two durable commits per unit (p50 ${one.p50Ms} ms); a real worker keeps runtime.concurrency units in flight`,
          );
        }
        const counts = await admin.query(`SELECT state, count(*)::int AS n FROM "${schema}".units GROUP BY state ORDER BY state`);
        figures.ledgerAfter = Object.fromEntries(counts.rows.map((r: { state: string; n: number }) => [r.state, r.n]));
      }
      notes.push(`1-minute load average at the end: ${round(os.loadavg()[0]!, 2)} on ${os.availableParallelism()} CPUs`);
    } catch (err) {
      failures.push(`ledger-claims: ${(err as Error).message}`);
    } finally {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      await admin.end();
    }
    return {
      parameters: { postgres: maskConnectionUrl(url), keys, claimSeconds: claimS, claimWorkers: [1, 4, 16], pageSize: 1_000, schema },
      figures,
      steps,
      failures,
      notes,
    };
  },
};

if (process.argv[2] === '--plan-child' && process.argv[1] === fileURLToPath(import.meta.url)) {
  const [url, schema, keys] = process.argv.slice(3);
  await planChild(url!, schema!, Number(keys));
}
