import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRunReport, reconcileRunReport, type SluiceRunReport } from './sluice-run.js';

const goodReport: SluiceRunReport = {
  units: { total: 8, done: 8, failed: 0, dead: 0, skipped: 0 },
  records: { in: 3_000_000, out: 3_000_000, rejected: 0 },
  outputs: ['a', 'b'],
  elapsedMs: 12_000,
};

describe('parseRunReport', () => {
  it('reads a report that is all of stdout', () => {
    // Act
    const { report, reportError } = parseRunReport(JSON.stringify(goodReport, null, 2));

    // Assess
    assert.equal(reportError, undefined);
    assert.deepEqual(report, goodReport);
  });

  it('reads a report printed after other lines', () => {
    // Act
    const { report } = parseRunReport(`planned 8 units\n${JSON.stringify(goodReport, null, 2)}\n`);

    // Assess
    assert.equal(report?.records.in, 3_000_000);
  });

  it('names the missing field of an incomplete report', () => {
    // Prepare
    const incomplete = { ...goodReport, records: { in: 1, out: 1 } };

    // Act
    const { report, reportError } = parseRunReport(JSON.stringify(incomplete));

    // Assess
    assert.equal(report, undefined);
    assert.match(reportError ?? '', /records\.rejected/);
  });

  it('says so when stdout is empty or not JSON', () => {
    assert.match(parseRunReport('').reportError ?? '', /no output/);
    assert.match(parseRunReport('Error: boom').reportError ?? '', /not a JSON run report: Error: boom/);
  });
});

describe('reconcileRunReport', () => {
  it('accepts a run where every generated record came out', () => {
    assert.deepEqual(reconcileRunReport(goodReport, { units: 8, records: 3_000_000 }), []);
  });

  it('lists every mismatch: lost records, rejects, dead units, skipped units', () => {
    // Prepare
    const bad: SluiceRunReport = {
      ...goodReport,
      units: { total: 8, done: 6, failed: 0, dead: 1, skipped: 1 },
      records: { in: 3_000_000, out: 2_999_990, rejected: 10 },
    };

    // Act
    const problems = reconcileRunReport(bad, { units: 8, records: 3_000_000 });

    // Assess
    assert.ok(problems.some((p) => p.includes('records.out is 2999990, expected 3000000')), problems.join('\n'));
    assert.ok(problems.some((p) => p.includes('records.rejected is 10')));
    assert.ok(problems.some((p) => p.includes('1 dead')));
    assert.ok(problems.some((p) => p.includes('1 units skipped')));
  });
});
