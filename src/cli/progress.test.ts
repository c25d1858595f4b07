import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatCount, formatDuration, ProgressBar, renderProgress, type ProgressState } from './progress.js';

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

  it('a resume shows the units already done apart, and nothing left as a full bar, not "0/0"', () => {
    const resumeOnly = renderProgress({ unitsDone: 0, unitsTotal: 0, unitsDead: 0, records: 0, inFlight: 0, bytesDone: 0, bytesTotal: 0, unitsAlreadyDone: 13 }, 1_000, 4);
    assert.equal(resumeOnly, '████ 13 units already done · nothing left to do');
    assert.match(renderProgress({ unitsDone: 1, unitsTotal: 3, unitsDead: 0, records: 0, inFlight: 1, bytesDone: 0, bytesTotal: 0, unitsAlreadyDone: 10 }, 1_000), /1\/3 units \(\+10 already done\)/);
  });

  it('say() prints a line of its own: the bar line is cleared first, and the bar drawn again after it', () => {
    let written = '';
    const out = { columns: 200, write: (text: string) => ((written += text), true) } as unknown as NodeJS.WriteStream;
    const state: ProgressState = { unitsDone: 1, unitsTotal: 4, unitsDead: 0, records: 10, inFlight: 1, bytesDone: 0, bytesTotal: 0 };
    const bar = new ProgressBar(out, state);
    bar.start();
    bar.draw();
    bar.say(() => out.write('12:00:00 warn  stopping\n'));
    bar.stop();
    const lines = written.split('\n');
    assert.ok(lines[0]!.endsWith('\r\x1b[2K12:00:00 warn  stopping'), JSON.stringify(lines[0]));
    assert.match(lines[1]!, /^\r\x1b\[2K.*1\/4 units/);
  });
});
