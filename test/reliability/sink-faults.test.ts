/** Quick tier: chaos sink and outage over ~60k records. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertExactlyOnce, recordScenario } from '../../src/testing/reliability.js';
import { CHAOS, concurrencyBound, runSinkFaults } from './sink-faults.js';

describe('delivery under faults', () => {
  it('chaos sink: dead letters are exactly the refused set, everything else indexed once by _id', { timeout: 240_000 }, async () => {
    const outcome = await runSinkFaults({ scenario: 'chaos-sink-quick', tier: 'quick', objects: 12, lines: 5_000, seed: 9, faults: CHAOS });
    recordScenario(outcome.result);

    assertExactlyOnce(outcome.reconciliation);
    assert.ok(outcome.refused > 50, `the refused set is too small to mean anything (${outcome.refused})`);
    assert.equal(outcome.report.units.dead, 0);
    // The faults really happened, in the proportions asked for.
    const requests = outcome.server.requests.length;
    assert.ok((outcome.outcomes['throttle'] ?? 0) >= requests * 0.12, `throttles: ${JSON.stringify(outcome.outcomes)}`);
    for (const kind of ['unavailable', 'slow']) assert.ok((outcome.outcomes[kind] ?? 0) > 0, `no ${kind} fault: ${JSON.stringify(outcome.outcomes)}`);
    assert.ok((outcome.outcomes['drop-before'] ?? 0) + (outcome.outcomes['drop-after'] ?? 0) > 0, `no dropped connection: ${JSON.stringify(outcome.outcomes)}`);
    assert.ok(outcome.server.peakConcurrentRequests <= concurrencyBound(outcome.outcomes), `requests in flight ${outcome.server.peakConcurrentRequests}`);
  });

  it('outage longer than the sink retries: units fail, back off in the ledger and are retried; nothing lost', { timeout: 240_000 }, async () => {
    const outcome = await runSinkFaults({ scenario: 'outage-quick', tier: 'quick', objects: 8, lines: 5_000, seed: 10, outageMs: 3_000, sinkRetryMs: 500 });
    recordScenario(outcome.result);

    assertExactlyOnce(outcome.reconciliation);
    assert.equal(outcome.report.units.dead, 0);
    assert.ok(outcome.report.units.retried > 0, 'the outage never made a unit back off');
  });

  it('outage shorter than the sink retries: records wait in the sink, no unit fails', { timeout: 240_000 }, async () => {
    const outcome = await runSinkFaults({ scenario: 'outage-short-quick', tier: 'quick', objects: 8, lines: 5_000, seed: 11, outageMs: 2_000 });
    recordScenario(outcome.result);

    assertExactlyOnce(outcome.reconciliation);
    assert.equal(outcome.report.units.dead, 0);
    assert.equal(outcome.report.units.retried, 0);
  });
});
