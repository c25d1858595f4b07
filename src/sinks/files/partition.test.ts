import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PartitionNamer, UNKNOWN_TIME_FOLDER } from './partition.js';

test('day and hour folders are the UTC date of the record time', () => {
  // Prepare
  const time = Date.UTC(2024, 4, 18, 23, 59, 59, 999);
  const day = new PartitionNamer('day');
  const hour = new PartitionNamer('hour');

  // Act
  const folders = [day.folderOf(time), hour.folderOf(time), day.folderOf(time + 1), hour.folderOf(time + 1)];

  // Assess
  assert.deepEqual(folders, ['2024/05/18', '2024/05/18/23', '2024/05/19', '2024/05/19/00']);
});

test('records without a usable time go to unknown-time, except with partition none', () => {
  // Prepare
  const day = new PartitionNamer('day');
  const none = new PartitionNamer('none');
  const unusable = [undefined, Number.NaN, Infinity, -Infinity, Date.UTC(10000, 0, 1), 8.64e15 + 1];

  // Act
  const dayFolders = unusable.map((t) => day.folderOf(t));
  const noneFolders = unusable.map((t) => none.folderOf(t));

  // Assess
  assert.deepEqual(dayFolders, unusable.map(() => UNKNOWN_TIME_FOLDER));
  assert.deepEqual(noneFolders, unusable.map(() => ''));
  assert.equal(none.folderOf(Date.UTC(2024, 0, 1)), '');
});

test('times before 1970 and small years are bucketed and zero-padded correctly', () => {
  // Prepare
  const hour = new PartitionNamer('hour');

  // Act
  const before1970 = hour.folderOf(Date.UTC(1969, 11, 31, 23, 30));
  const year99 = hour.folderOf(new Date('0099-03-04T05:06:07Z').getTime());

  // Assess
  assert.equal(before1970, '1969/12/31/23');
  assert.equal(year99, '0099/03/04/05');
});

test('the cached bucket always agrees with formatting the date from scratch (property)', () => {
  // Prepare
  const reference = (t: number, scheme: 'day' | 'hour') => {
    const iso = new Date(t).toISOString(); // yyyy-mm-ddTHH:...
    const day = `${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}`;
    return scheme === 'hour' ? `${day}/${iso.slice(11, 13)}` : day;
  };
  const times = fc.array(fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2100, 0, 1) }), { maxLength: 50 });

  // Act + Assess: runs of nearby and far-apart times through one namer exercise the cache.
  fc.assert(
    fc.property(times, fc.constantFrom('day' as const, 'hour' as const), (list, scheme) => {
      const namer = new PartitionNamer(scheme);
      for (const t of list.flatMap((t) => [t, t + 1, t + 3_599_999])) {
        assert.equal(namer.folderOf(t), reference(t, scheme));
      }
    }),
  );
});

test('month folders are the UTC calendar month, whatever the month length', () => {
  // Prepare
  const month = new PartitionNamer('month');
  const times = [Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2024, 2, 1), Date.UTC(2024, 2, 31, 12), Date.UTC(2023, 11, 31, 23), Date.UTC(1969, 11, 31)];

  // Act
  const folders = times.map((t) => month.folderOf(t));

  // Assess
  assert.deepEqual(folders, ['2024/02', '2024/03', '2024/03', '2023/12', '1969/12']);
  assert.equal(month.folderOf(undefined), UNKNOWN_TIME_FOLDER);
});
