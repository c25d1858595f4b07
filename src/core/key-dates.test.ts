import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SluiceError } from './errors.js';
import { dateFromKey, keyInWindow, parseWindow, prefixDateRange, prefixInWindow } from './key-dates.js';

const HOUR = 3_600_000;
const day = (y: number, m: number, d: number) => ({ start: Date.UTC(y, m - 1, d), end: Date.UTC(y, m - 1, d + 1) });
const hour = (y: number, m: number, d: number, h: number) => ({ start: Date.UTC(y, m - 1, d, h), end: Date.UTC(y, m - 1, d, h) + HOUR });
const month = (y: number, m: number) => ({ start: Date.UTC(y, m - 1, 1), end: Date.UTC(y, m, 1) });
const year = (y: number) => ({ start: Date.UTC(y, 0, 1), end: Date.UTC(y + 1, 0, 1) });

describe('dateFromKey', () => {
  const cases: Array<[string, string, { start: number; end: number } | null]> = [
    ['AWS day folders', 'AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/01/02/flow.log.gz', day(2024, 1, 2)],
    ['AWS hour folders (Firehose)', 'firehose/2024/01/02/03/stream-1-2024-01-02-03-04-05-uuid.gz', hour(2024, 1, 2, 3)],
    ['AWS month folders only', 'exports/2024/02/file.json', month(2024, 2)],
    ['hive day', 'lake/year=2024/month=03/day=04/part-0.parquet', day(2024, 3, 4)],
    ['hive hour', 'lake/year=2024/month=3/day=4/hour=05/part-0.parquet', hour(2024, 3, 4, 5)],
    ['hive month', 'lake/year=2024/month=03/part-0.parquet', month(2024, 3)],
    ['hive year', 'lake/year=2024/part-0.parquet', year(2024)],
    ['hive, upper-case names', 'lake/YEAR=2024/MONTH=03/DAY=04/x', day(2024, 3, 4)],
    ['URL-encoded hive', 'lake/year%3D2024/month%3D03/day%3D04/hour%3D05/x.gz', hour(2024, 3, 4, 5)],
    ['URL-encoded slashes too', 'lake%2Fyear%3D2024%2Fmonth%3D03%2Fday%3D04%2Fx.gz', day(2024, 3, 4)],
    ['dt= folder', 'tables/flows/dt=2024-05-06/x.json', day(2024, 5, 6)],
    ['dt= folder with hour=', 'tables/flows/dt=2024-05-06/hour=07/x.json', hour(2024, 5, 6, 7)],
    ['plain yyyy-mm-dd folder', 'logs/2024-05-06/x.json', day(2024, 5, 6)],
    ['Security Lake eventDay', 'ext/vpc/region=us-east-1/accountId=1/eventDay=20240506/x.parquet', day(2024, 5, 6)],
    [
      'VPC Flow Logs file name refines the day to its hour',
      'AWSLogs/123456789010/vpcflowlogs/us-east-1/2018/06/20/123456789010_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz',
      hour(2018, 6, 20, 16),
    ],
    [
      'file-name timestamp alone',
      '123456789012_CloudTrail_us-east-1_20230719T2120Z_AbCdEfGhIjKlMnOp.json.gz',
      hour(2023, 7, 19, 21),
    ],
    ['CloudTrail digest timestamp with seconds', 'd/111122223333_CloudTrail-Digest_us-east-2_t_us-east-2_20160825T194305Z.json.gz', hour(2016, 8, 25, 19)],
    ['S3 server access log name', 'access-logs/2024-01-02-03-04-05-0123456789ABCDEF', hour(2024, 1, 2, 3)],
    ['S3 access log name glued to a prefix', 'access-logs/mybucket2024-01-02-03-04-05-0123456789ABCDEF', hour(2024, 1, 2, 3)],
    [
      'file timestamp outside the folder day keeps the folder day',
      'AWSLogs/1/vpcflowlogs/us-east-1/2018/06/21/1_vpcflowlogs_us-east-1_fl-1_20180620T2355Z_a.log.gz',
      day(2018, 6, 21),
    ],
    ['first date wins', 'backup/2020/01/02/AWSLogs/2024/05/06/x.gz', day(2020, 1, 2)],
    ['no date', 'some/folder/file.log', null],
    ['twelve-digit account id is not a year', 'AWSLogs/123456789012/x.log', null],
    ['bare year folder is not a date', 'reports/2024/summary.csv', null],
    ['date as the file name is not a folder date', 'x/2024/01/02', month(2024, 1)],
    ['impossible day falls back to the month', 'x/2023/02/30/file', month(2023, 2)],
    ['impossible month is no date', 'x/2023/13/01/file', null],
    ['hour 24 is not an hour', 'x/2024/01/02/24/file', day(2024, 1, 2)],
    ['leap day', 'x/2024/02/29/file', day(2024, 2, 29)],
    ['year outside 1970..2200', 'x/1066/10/14/file', null],
    ['malformed percent-encoding is taken literally', 'x/%E0%A4%A/2024/01/02/f', day(2024, 1, 2)],
  ];
  for (const [name, key, expected] of cases) {
    it(name, () => {
      // Act
      const range = dateFromKey(key);
      // Assess
      assert.deepEqual(range, expected, key);
    });
  }
});

describe('prefixDateRange', () => {
  const cases: Array<[string, { start: number; end: number } | null]> = [
    ['AWSLogs/1/vpcflowlogs/us-east-1/', null],
    ['AWSLogs/1/vpcflowlogs/us-east-1/2024/', null],
    ['AWSLogs/1/vpcflowlogs/us-east-1/2024/01/', month(2024, 1)],
    ['AWSLogs/1/vpcflowlogs/us-east-1/2024/01/02/', day(2024, 1, 2)],
    ['firehose/2024/01/02/03/', hour(2024, 1, 2, 3)],
    ['lake/year=2024/', year(2024)],
    ['lake/year%3D2024/month%3D01/', month(2024, 1)],
    ['x_20180620T1620Z_folder/', null],
    ['AWSLogs/1/2024/01/0', month(2024, 1)],
  ];
  for (const [prefix, expected] of cases) {
    it(`reads ${prefix}`, () => {
      assert.deepEqual(prefixDateRange(prefix), expected);
    });
  }

  it('always contains the range of every key under the prefix (what makes pruning safe)', () => {
    // Prepare: keys built from date-like and ordinary segments
    const segment = fc.oneof(
      fc.constantFrom('2024', '2023', '01', '02', '12', '13', '29', '31', '00', '23', '24', 'AWSLogs', 'x'),
      fc.constantFrom('year=2024', 'month=02', 'day=29', 'hour=23', 'dt=2024-02-29', 'eventDay=20240229', 'year%3D2024'),
      fc.constantFrom('a_20240229T2300Z_b.gz', '2024-02-29-23-59-59-0123456789ABCDEF', 'f.log'),
    );
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 7 }), fc.nat(), (segments, cut) => {
        // Act: every folder prefix of the key
        const key = segments.join('/');
        const keyRange = dateFromKey(key);
        const folders = segments.length - 1;
        const prefix = segments.slice(0, folders === 0 ? 0 : cut % (folders + 1)).map((s) => `${s}/`).join('');
        const prefixRange = prefixDateRange(prefix);
        // Assess
        if (prefixRange === null) return true;
        return keyRange !== null && keyRange.start >= prefixRange.start && keyRange.end <= prefixRange.end;
      }),
      { numRuns: 3000 },
    );
  });
});

describe('keyInWindow and prefixInWindow', () => {
  const key = 'AWSLogs/1/vpcflowlogs/us-east-1/2024/01/02/f.log.gz';
  const dayStart = Date.UTC(2024, 0, 2);
  const dayEnd = Date.UTC(2024, 0, 3);

  const cases: Array<[string, { from?: number; to?: number }, boolean]> = [
    ['no bounds', {}, true],
    ['window inside the day', { from: dayStart + HOUR, to: dayStart + 2 * HOUR }, true],
    ['window ends exactly where the day starts (to is exclusive)', { to: dayStart }, false],
    ['window ends one ms into the day', { to: dayStart + 1 }, true],
    ['window starts exactly where the day ends', { from: dayEnd }, false],
    ['window starts one ms before the day ends', { from: dayEnd - 1 }, true],
    ['window the day before', { from: dayStart - 86_400_000, to: dayStart }, false],
  ];
  for (const [name, window, expected] of cases) {
    it(name, () => {
      assert.equal(keyInWindow(key, window), expected);
    });
  }

  it('keeps keys without a date whatever the window', () => {
    assert.equal(keyInWindow('misc/readme.txt', { from: 0, to: 1 }), true);
  });

  it('widens the window by slackMs', () => {
    // Prepare: a window starting 5 minutes after the key's day ends
    const window = { from: dayEnd + 5 * 60_000 };
    // Act + Assess
    assert.equal(keyInWindow(key, window), false);
    assert.equal(keyInWindow(key, window, { slackMs: 10 * 60_000 }), true);
  });

  it('prunes folders by their date and keeps undated folders', () => {
    const window = { from: Date.UTC(2024, 0, 2), to: Date.UTC(2024, 0, 3) };
    assert.equal(prefixInWindow('AWSLogs/1/vpcflowlogs/us-east-1/2024/01/', window), true);
    assert.equal(prefixInWindow('AWSLogs/1/vpcflowlogs/us-east-1/2023/12/', window), false);
    assert.equal(prefixInWindow('AWSLogs/1/vpcflowlogs/us-east-1/2024/01/03/', window), false);
    assert.equal(prefixInWindow('AWSLogs/1/vpcflowlogs/', window), true);
  });
});

describe('parseWindow', () => {
  it('reads whole days: --to includes its day', () => {
    // Act
    const window = parseWindow('2024-01-02', '2024-01-02');
    // Assess
    assert.deepEqual(window, { from: Date.UTC(2024, 0, 2), to: Date.UTC(2024, 0, 3) });
  });

  const instants: Array<[string, number]> = [
    ['2024-01-02T03Z', Date.UTC(2024, 0, 2, 3)],
    ['2024-01-02T03:04Z', Date.UTC(2024, 0, 2, 3, 4)],
    ['2024-01-02T03:04:05Z', Date.UTC(2024, 0, 2, 3, 4, 5)],
    ['2024-01-02T03:04:05.678Z', Date.UTC(2024, 0, 2, 3, 4, 5, 678)],
    ['2024-01-02T03:04:05+02:00', Date.UTC(2024, 0, 2, 1, 4, 5)],
    ['2024-01-02T03:04-0130', Date.UTC(2024, 0, 2, 4, 34)],
  ];
  for (const [text, expected] of instants) {
    it(`reads ${text} exactly, for --from and (exclusive) --to`, () => {
      assert.deepEqual(parseWindow(text), { from: expected });
      assert.deepEqual(parseWindow(undefined, text), { to: expected });
    });
  }

  it('returns an open window without flags', () => {
    assert.deepEqual(parseWindow(), {});
  });

  const bad: Array<[string, RegExp]> = [
    ['yesterday', /not a recognised date/],
    ['2024-13-01', /month 13 does not exist/],
    ['2023-02-29', /day 29 does not exist in 2023-02/],
    ['2024-01-02T25Z', /hour 25 does not exist/],
    ['2024-01-02T03:04', /not a recognised/],
    ['', /not a recognised/],
  ];
  for (const [text, reason] of bad) {
    it(`rejects --from "${text}" naming the flag, the reason and the expected forms`, () => {
      assert.throws(
        () => parseWindow(text),
        (err: unknown) => {
          assert.ok(err instanceof SluiceError);
          assert.equal(err.code, 'BAD_DATE');
          assert.equal(err.stage, 'config');
          assert.match(err.message, /^--from /);
          assert.match(err.message, reason);
          assert.match(err.message, /YYYY-MM-DD/);
          return true;
        },
      );
    });
  }

  it('rejects --to that is not after --from', () => {
    assert.throws(
      () => parseWindow('2024-01-03', '2024-01-02'),
      (err: unknown) => err instanceof SluiceError && err.code === 'BAD_DATE' && /--from 2024-01-03 is not before --to 2024-01-02/.test(err.message),
    );
    assert.throws(() => parseWindow('2024-01-02T03Z', '2024-01-02T03Z'), /is empty/);
  });
});
