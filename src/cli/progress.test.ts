import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatCount, formatDuration, renderProgress } from './progress.js';

describe('progress line', () => {
  it('shows units, records, rate, and an ETA that follows bytes when known', () => {
    const line = renderProgress({ unitsDone: 1, unitsTotal: 4, unitsDead: 0, records: 500_000, inFlight: 3, bytesDone: 25, bytesTotal: 100 }, 10_000);
    assert.match(line, /1\/4 units/);
    assert.match(line, /3 in flight/);
    assert.match(line, /500\.0k records/);
    assert.match(line, /50\.0k\/s/);
    assert.match(line, /ETA 30s/, 'a quarter of the bytes in 10 s leaves 30 s');
  });

  it('falls back to units for the ETA, counts dead units, and has no ETA when finished', () => {
    assert.match(renderProgress({ unitsDone: 2, unitsTotal: 4, unitsDead: 1, records: 0, inFlight: 1, bytesDone: 0, bytesTotal: 0 }, 9_000), /3\/4 units · 1 dead.*ETA 3s/);
    assert.match(renderProgress({ unitsDone: 4, unitsTotal: 4, unitsDead: 0, records: 10, inFlight: 0, bytesDone: 9, bytesTotal: 9 }, 1_000), /ETA --/);
  });

  it('formats counts and durations for people', () => {
    assert.deepEqual([formatCount(999), formatCount(12_345), formatCount(3_400_000), formatCount(2e9)], ['999', '12.3k', '3.40M', '2.00G']);
    assert.deepEqual([formatDuration(4_400), formatDuration(125_000), formatDuration(7_260_000)], ['4s', '2m05s', '2h01m']);
  });
});
