import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { outputStemFor, unitIdFor } from './unit-id.js';

const VPC_KEY = 'AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/01/15/x.log.gz';
const ETAG = '"9b2cf535f27731c974343645a3985328"';

describe('unitIdFor', () => {
  it('is 24 hex chars and pinned: existing ledgers depend on it never changing', () => {
    // Prepare / Act
    const id = unitIdFor('flows', 'object', VPC_KEY, ETAG);

    // Assess
    assert.equal(id, '831a6d076b2b1d1f610cc2a6');
    assert.equal(unitIdFor('flows', 'object', VPC_KEY, ETAG), id);
  });

  it('tells apart every part of the description, even when the parts could run together', () => {
    // Prepare
    const ids = [
      unitIdFor('flows', 'object', VPC_KEY, ETAG),
      unitIdFor('flows-2', 'object', VPC_KEY, ETAG),
      unitIdFor('flows', 'partition', VPC_KEY, ETAG),
      unitIdFor('flows', 'object', `${VPC_KEY}.1`, ETAG),
      unitIdFor('flows', 'object', VPC_KEY, '"another-etag"'),
      unitIdFor('flows', 'object', VPC_KEY),
      unitIdFor('flows', 'object', VPC_KEY, ''),
      unitIdFor('a', 'object', 'b/c'),
      unitIdFor('a/b', 'object', 'c'),
    ];

    // Act
    const distinct = new Set(ids);

    // Assess
    assert.equal(distinct.size, ids.length);
    for (const id of ids) assert.match(id, /^[0-9a-f]{24}$/);
  });
});

describe('outputStemFor', () => {
  const id = 'a1b2c3d4e5f60718293a4b5c';

  it('keeps a VPC Flow Logs object name recognisable, without its storage extensions', () => {
    // Prepare
    const key =
      'AWSLogs/123456789012/vpcflowlogs/ap-southeast-2/2024/01/15/123456789012_vpcflowlogs_ap-southeast-2_fl-1234567890abcdef0_20240115T0000Z_a1b2c3d4.log.gz';

    // Act
    const stem = outputStemFor(key, id);

    // Assess
    assert.equal(stem, '123456789012_vpcflowlogs_ap-southeast-2_fl-1234567890abcdef0_20240115T0000Z_a1b2c3d4-a1b2c3d4');
    assert.ok(stem.length <= 100);
  });

  it('joins short segments to their parents, so a partition reads as its date', () => {
    // Prepare / Act
    const day = outputStemFor('2024/01/15', id);
    const hive = outputStemFor('logs/year=2024/month=01/day=15', id);
    const cloudtrail = outputStemFor('x/123456789012_CloudTrail_us-east-1_20240115T0000Z_AbCdEfGhIjKlMnOp.json.gz', id);

    // Assess
    assert.equal(day, '2024_01_15-a1b2c3d4');
    assert.equal(hive, 'logs_year_2024_month_01_day_15-a1b2c3d4');
    assert.equal(cloudtrail, '123456789012_CloudTrail_us-east-1_20240115T0000Z_AbCdEfGhIjKlMnOp-a1b2c3d4');
  });

  it('replaces unsafe characters and falls back to "unit" when nothing readable is left', () => {
    // Prepare / Act
    const spaced = outputStemFor('in box/report (final) #2.csv.gz', id);
    const hidden = outputStemFor('.secret.log', id);
    const nothing = outputStemFor('', id);
    const folder = outputStemFor('prefix/', id);
    const onlyUnicode = outputStemFor('日本語.log', id);
    const onlyExtension = outputStemFor('dir/.gz', id);

    // Assess
    assert.equal(spaced, 'in_box_report_final_2-a1b2c3d4');
    assert.equal(hidden, 'secret-a1b2c3d4');
    assert.equal(nothing, 'unit-a1b2c3d4');
    assert.equal(folder, 'prefix-a1b2c3d4');
    assert.equal(onlyUnicode, 'unit-a1b2c3d4');
    assert.equal(onlyExtension, 'dir_.gz-a1b2c3d4', 'an extension is never stripped down to nothing');
  });

  it('is always safe, bounded and deterministic, whatever the key (property)', () => {
    // Keys built from the characters that matter here (separators, dots, dashes, spaces, non-ASCII),
    // plus arbitrary code points.
    const pathChar = fc.constantFrom('a', 'Z', '0', '.', '_', '-', '/', '\\', ' ', '=', '日', '\u0000', '%', '😀');
    // (A mapped integer rather than fast-check's 'binary' unit, whose set-up maps all 1.1M code points.)
    const anyChar = fc.integer({ min: 0, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff).map((c) => String.fromCodePoint(c));
    const keys = fc.string({ unit: fc.oneof(pathChar, anyChar), maxLength: 300 });
    const unitIds = fc.stringMatching(/^[0-9a-f]{24}$/);
    fc.assert(
      fc.property(keys, unitIds, (key, unitId) => {
        // Act
        const stem = outputStemFor(key, unitId);

        // Assess
        assert.match(stem, /^[A-Za-z0-9][A-Za-z0-9._-]*-[0-9a-f]{8}$/);
        assert.ok(stem.length <= 100, stem);
        assert.ok(stem.endsWith(`-${unitId.slice(0, 8)}`));
        assert.equal(outputStemFor(key, unitId), stem);
      }),
      { numRuns: 400 },
    );
  });
});
