/** The dashboard's view of a key whose dead version was superseded by a newer one. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openSqliteLedger } from '../runtime/ledger/sqlite.js';
import type { UnitSpec } from '../runtime/ledger/types.js';
import { unitIdFor } from '../runtime/ledger/unit-id.js';
import { renderLive } from './render.js';
import { readPipelineSnapshot } from './snapshot.js';

function version(key: string, etag: string): UnitSpec {
  return { id: unitIdFor('p', 'object', key, etag), pipeline: 'p', kind: 'object', key, payload: { objects: [{ key, etag }] }, size: 10 };
}

describe('dashboard snapshot', () => {
  it('shows a superseded dead version as history: no dead count, no problem card, no redrive, not in the progress bar', async () => {
    // Prepare: logs/x.log.gz died, was replaced, and its new version is done.
    const ledger = openSqliteLedger(':memory:');
    try {
      const [broken, fixed] = [version('logs/x.log.gz', '"1"'), version('logs/x.log.gz', '"2"')];
      await ledger.planUnits([broken]);
      const lease = (await ledger.leaseNextUnit('p', 'test', 60_000))!;
      await ledger.failUnit(lease, { message: 'logs/x.log.gz: corrupt gzip data', code: 'CORRUPT_GZIP', stage: 'read', retryable: false }, { maxAttempts: 1, backoffMs: 1, maxBackoffMs: 1, retryable: false });
      await ledger.planUnits([fixed]);
      const next = (await ledger.leaseNextUnit('p', 'test', 60_000))!;
      await ledger.completeUnit(next, { recordsIn: 5, recordsOut: 5, recordsRejected: 0, recordsFiltered: 0, outputs: [], durationMs: 1 });

      // Act
      const snapshot = await readPipelineSnapshot(ledger, 'p');
      const html = renderLive({ csrf: 'token', ledger: 'memory', lake: 'none' }, { takenAt: 0, pipelines: [snapshot] });

      // Assess
      assert.deepEqual(snapshot.counts, { pending: 0, leased: 0, done: 1, failed: 0, dead: 0, superseded: 1 });
      assert.deepEqual(snapshot.problems, []);
      assert.doesNotMatch(html, /Failures and dead units|Redrive/);
      assert.match(html, /<span class="pill s-superseded" data-count="superseded"><b>1<\/b> superseded<\/span>/);
      assert.match(html, new RegExp(`<tr data-unit="${broken.id}" data-state="superseded">.*badge s-superseded.*CORRUPT_GZIP.*replaced by newer version ${fixed.id.slice(0, 8)}`));
      assert.match(html, /<span class="seg s-done" style="width:100.00%"/, 'the done version fills the bar');
      assert.doesNotMatch(html, /seg s-superseded/);
    } finally {
      await ledger.close();
    }
  });
});
