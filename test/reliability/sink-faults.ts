/**
 * Delivery under faults, in process: generated flow logs -> runPipeline (two worker threads) ->
 * the opensearch sink -> the bulk-API test server (src/testing/bulk-server.ts).
 *
 * - chaos: a seeded mix of request faults (≥ 20 % 429 with Retry-After, 5 % 503, 2 % dropped
 *   connections before or after the writes, 1 % answers stalled past the sink's timeout), per-item
 *   429s inside 200 answers, and a known set of documents the server refuses for good. Dead
 *   letters must be exactly that set (plus the planted garbage lines); everything else indexed
 *   once by `_id`.
 * - outage: the server goes away for a stretch mid-run, then comes back: units fail, back off in
 *   the ledger and are retried; nothing is lost or dead-lettered for it.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parsePipeline } from '../../src/pipeline/config.js';
import { runPipeline, type RunReport } from '../../src/runtime/run-pipeline.js';
import { startBulkServer, type FaultSchedule, type RunningBulkServer } from '../../src/testing/bulk-server.js';
import { deadLetterIds, reconcile, writeFlowLogInput, type Reconciliation, type ScenarioResult } from '../../src/testing/reliability.js';

/** The server refuses about 1 document in 400 for good, the same ones every time. */
export function refusedForGood(id: string): boolean {
  return createHash('sha1').update(id).digest().readUInt16BE(0) % 400 === 0;
}

export interface SinkFaultOutcome {
  result: ScenarioResult;
  reconciliation: Reconciliation;
  report: RunReport;
  server: RunningBulkServer;
  refused: number;
  outcomes: Record<string, number>;
  /** Documents indexed more than once (a replay overwrote by _id; not a duplicate). */
  rewrites: number;
}

const MAX_IN_FLIGHT = 4;
const WORKERS = 2;

export const CHAOS: Omit<FaultSchedule, 'seed'> = {
  // Every kind of fault once early on, whatever the draws later give.
  script: [null, { kind: 'slow', delayMs: 1_500 }, null, { kind: 'drop-before' }, { kind: 'unavailable', status: 503 }, { kind: 'drop-after' }, { kind: 'throttle', retryAfterS: 0 }],
  requestFaults: [
    { fault: { kind: 'throttle', retryAfterS: 0 }, probability: 0.2 },
    { fault: { kind: 'unavailable', status: 503 }, probability: 0.05 },
    { fault: { kind: 'drop-before' }, probability: 0.01 },
    { fault: { kind: 'drop-after' }, probability: 0.01 },
    { fault: { kind: 'slow', delayMs: 1_500 }, probability: 0.01 },
  ],
  itemFaults: { 429: 0.03, 503: 0.01 },
};

export async function runSinkFaults(options: {
  scenario: string;
  tier: 'quick' | 'long';
  objects: number;
  lines: number;
  seed: number;
  faults?: Omit<FaultSchedule, 'seed'>;
  /** Take the server down this long after the run has indexed something, then bring it back. */
  outageMs?: number;
  /** How long the sink keeps retrying a request before failing the unit (default 2 min). */
  sinkRetryMs?: number;
}): Promise<SinkFaultOutcome> {
  const started = performance.now();
  const tmp = mkdtempSync(path.join(os.tmpdir(), `sluice-${options.scenario}-`));
  const server = await startBulkServer({
    faults: options.faults ? { seed: options.seed, ...options.faults } : undefined,
    rejectDocument: (doc) => (refusedForGood(doc.id) ? 'failed to parse field [dstport] of type [long]: planted refusal' : undefined),
  });
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  let outage: Promise<void> | undefined;
  try {
    const input = await writeFlowLogInput({ dir: path.join(tmp, 'logs'), objects: options.objects, lines: options.lines, seed: options.seed, garbageEvery: 1499 });
    const dead = path.join(tmp, 'dead');
    const config = parsePipeline({
      name: options.scenario,
      source: { uri: input.dir },
      format: 'vpcflow',
      sinks: [
        {
          type: 'opensearch',
          url: server.url,
          index: 'flows-%Y.%m.%d',
          batchMaxRecords: 500,
          maxInFlight: MAX_IN_FLIGHT,
          timeoutMs: 1_000,
          retry: { initialDelayMs: 20, maxDelayMs: 200, maxAttempts: 1000, maxElapsedMs: options.sinkRetryMs ?? 120_000 },
        },
      ],
      runtime: { state: path.join(tmp, 'state.db'), deadLetters: dead, workers: WORKERS, concurrency: 2, maxAttempts: 100, backoffMs: 100, maxBackoffMs: 1_000 },
    });
    if (options.outageMs) {
      outage = (async () => {
        while (server.indexedCount === 0) await new Promise((r) => setTimeout(r, 10));
        await server.pause();
        await new Promise((r) => setTimeout(r, options.outageMs));
        await server.resume();
      })();
    }
    const report = await runPipeline(config);
    await outage;

    const indexed = new Map<string, number>();
    for (const [id, copies] of server.idCounts()) indexed.set(id, copies);
    const expectedDead = new Set(input.garbageIds);
    for (const id of input.ids) if (!input.garbageIds.has(id) && refusedForGood(id)) expectedDead.add(id);
    const reconciliation = reconcile(input, indexed, await deadLetterIds(dead, input.dir), expectedDead);
    const outcomes: Record<string, number> = {};
    for (const request of server.requests) outcomes[request.outcome] = (outcomes[request.outcome] ?? 0) + 1;
    let rewrites = 0;
    for (const n of server.writes.values()) if (n > 1) rewrites++;
    const faultsInjected = server.requests.filter((r) => r.outcome !== 'ok').length;
    return {
      result: {
        scenario: options.scenario,
        tier: options.tier,
        runs: 1,
        faultsInjected,
        records: { in: reconciliation.in, out: reconciliation.out, dead: reconciliation.dead },
        lost: reconciliation.lost,
        duplicated: reconciliation.duplicated,
        peakRssBytes: peakRss,
        elapsedMs: Math.round(performance.now() - started),
        details: {
          requests: server.requests.length,
          outcomes,
          peakConcurrentRequests: server.peakConcurrentRequests,
          rewritesByIdReplay: rewrites,
          unitsRetried: report.units.retried,
          outageMs: options.outageMs,
          unexpected: reconciliation.unexpected,
          wrongDead: reconciliation.wrongDead,
        },
      },
      reconciliation,
      report,
      server,
      refused: expectedDead.size - input.garbageIds.size,
      outcomes,
      rewrites,
    };
  } finally {
    clearInterval(sampler);
    await outage?.catch(() => undefined);
    await server.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** What the server may hold at once: every sink's window, plus stalled answers the clients gave up on. */
export function concurrencyBound(outcomes: Record<string, number>): number {
  return WORKERS * MAX_IN_FLIGHT + (outcomes['slow'] ?? 0);
}
