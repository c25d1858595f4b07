/** Long tier: the chaos sink and a longer outage over ~600k records (npm run test:reliability). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertExactlyOnce, recordScenario } from '../../src/testing/reliability.js';
import { CHAOS, concurrencyBound, runSinkFaults } from './sink-faults.js';

describe('delivery under faults, long', () => {
  it('chaos sink over 600k records', { timeout: 1_200_000 }, async () => {
    const outcome = await runSinkFaults({ scenario: 'chaos-sink-long', tier: 'long', objects: 60, lines: 10_000, seed: 19, faults: CHAOS });
    recordScenario(outcome.result);
    assertExactlyOnce(outcome.reconciliation);
    assert.equal(outcome.report.units.dead, 0);
    assert.ok(outcome.server.peakConcurrentRequests <= concurrencyBound(outcome.outcomes));
    assert.ok((outcome.result.peakRssBytes ?? 0) < 1024 * 1024 * 1024, `peak RSS ${outcome.result.peakRssBytes}`);
  });

  it('a 20 s outage in the middle of 300k records', { timeout: 1_200_000 }, async () => {
    const outcome = await runSinkFaults({ scenario: 'outage-long', tier: 'long', objects: 30, lines: 10_000, seed: 20, outageMs: 20_000, sinkRetryMs: 2_000 });
    recordScenario(outcome.result);
    assertExactlyOnce(outcome.reconciliation);
    assert.equal(outcome.report.units.dead, 0);
    assert.ok(outcome.report.units.retried > 0);
  });
});
