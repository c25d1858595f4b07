/**
 * The files sink with `format: parquet`: every file read back with DuckDB and with hyparquet
 * (two independent readers), byte-identical re-runs, rolling, abort, the Security Lake layout,
 * schema drift into `_overflow`, and rejects.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { useDuckDb } from '../../../testing/duckdb.js';
import fc from 'fast-check';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import type { UnitContext } from '../../../core/component.js';
import { parsePipeline, type FilesSinkConfig } from '../../../pipeline/config.js';
import { SluiceError } from '../../../core/errors.js';
import type { SluiceRecord } from '../../../core/record.js';
import { fixturePath } from '../../../testing/repo-root.js';
import { createFilesSink } from '../index.js';

const scratch = await mkdtemp(path.join(tmpdir(), 'sluice-parquet-sink-'));
const { query } = useDuckDb();
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});
let folderCount = 0;

async function freshFolder(): Promise<string> {
  folderCount += 1;
  const dir = path.join(scratch, String(folderCount));
  await mkdir(dir);
  return dir;
}

function config(dir: string, overrides: Partial<FilesSinkConfig> = {}): FilesSinkConfig {
  return {
    type: 'files', path: dir, format: 'parquet', layout: 'date', partition: 'day', targetSizeMb: 64,
    compression: 'gzip', gzipLevel: 3, parquetCompression: 'snappy', rowGroupRows: 65_536, schema: 'inferred',
    idField: '_id', ...overrides,
  };
}

const unit: UnitContext = { id: 'vpc/2024-05-18/a.log.gz', outputStem: 'a1b2c3d4e5f60718', objects: [] };
const DAY = 86_400_000;
const MAY_18 = Date.UTC(2024, 4, 18, 10);

/** Flat VPC-flow-like records (as the vpcflow format emits them). */
function flowRecords(count: number, timeOf: (i: number) => number | undefined = (i) => MAY_18 + i * 1000): SluiceRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const time = timeOf(i);
    return {
      id: `a1b2c3d4e5f60718-${i + 2}`,
      origin: { object: 's3://logs/a.log.gz', line: i + 2 },
      ...(time === undefined ? {} : { time }),
      fields: {
        version: 2, account_id: '123456789012', interface_id: `eni-0b48${String(i % 97).padStart(13, '0')}`,
        srcaddr: `10.0.${i % 256}.${(i * 7) % 256}`, dstaddr: `172.21.${(i * 3) % 256}.101`,
        srcport: (i * 131) % 65536, dstport: i % 5 ? 443 : 22, protocol: 6, packets: 1 + (i % 50), bytes: 40 + i * 13,
        start: Math.floor((time ?? 0) / 1000), end: Math.floor((time ?? 0) / 1000) + 30, action: i % 9 ? 'ACCEPT' : 'REJECT',
        log_status: 'OK', region: 'eu-west-1', vpc_id: i % 11 === 0 ? null : 'vpc-0c031cfb8dbfdcec2',
      },
    };
  });
}

/** OCSF Network Activity-like nested records. */
function ocsfRecords(count: number, overrides: (i: number) => Record<string, unknown> = () => ({})): SluiceRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const time = MAY_18 + i * 1000;
    return {
      id: `feedfacecafe0001-${i + 1}`,
      origin: { object: 's3://logs/b.log.gz', line: i + 1 },
      time,
      fields: {
        class_uid: 4001, activity_id: i % 9 ? 6 : 5, type_uid: i % 9 ? 400106 : 400105, time, severity_id: 1,
        cloud: { account: { uid: i % 2 ? '111122223333' : '444455556666' }, region: 'eu-west-1', provider: 'AWS' },
        src_endpoint: { ip: `10.0.${i % 256}.${(i * 7) % 256}`, port: (i * 131) % 65536, interface_uid: `eni-${i % 13}`, name: i % 4 ? `web-${i % 7}` : undefined },
        dst_endpoint: { ip: `172.21.${(i * 3) % 256}.101`, port: 443 },
        connection_info: { protocol_num: 6, direction_id: 1 + (i % 2), tcp_flags: i % 3 ? 19 : null },
        traffic: { bytes: 40 + i * 13, packets: 1 + (i % 50) },
        metadata: { product: { name: 'Amazon VPC', vendor_name: 'AWS', feature: { name: 'Flowlogs' } }, profiles: ['cloud', 'datetime'], version: '1.1.0' },
        observables: i % 3 === 0 ? [] : [{ name: 'src_endpoint.ip', type: 'IP Address', type_id: 2, value: `10.0.${i % 256}.${(i * 7) % 256}` }],
        unmapped: { sublocation_type: '-', seen: i % 5 === 0 },
        ratio: i / 4,
        ...overrides(i),
      },
    };
  });
}

async function runUnit(cfg: FilesSinkConfig, records: SluiceRecord[], batchSize = 100, unitContext = unit) {
  const writer = createFilesSink(cfg).openUnit(unitContext);
  for (let i = 0; i < records.length; i += batchSize) await writer.write(records.slice(i, i + batchSize));
  return writer.commit();
}

async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath ?? e.path, e.name)).split(path.sep).join('/'))
    .sort();
}

async function readRows(file: string): Promise<Record<string, unknown>[]> {
  const bytes = await readFile(file);
  return parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) });
}

function sqlList(files: string[]): string {
  return `[${files.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ')}]`;
}

/** Drops null/undefined object keys (a null column reads back like an absent field) and makes readers' values plain. */
function normalize(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Date) return value.getTime();
  // (Readers differ on a null list element: hyparquet gives undefined for a null struct.)
  if (Array.isArray(value)) return value.map((item) => (item === undefined ? null : normalize(item)));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) if (v !== null && v !== undefined) out[key] = normalize(v);
    return out;
  }
  return value;
}

/** A row read back (hyparquet) as the record's fields: typed columns plus `_overflow` put back by path. */
function reconstruct(row: Record<string, unknown>): unknown {
  const { _id: _ignored, _overflow, ...columns } = row;
  const out = normalize(columns) as Record<string, unknown>;
  const overflow = typeof _overflow === 'string' ? (JSON.parse(_overflow) as Record<string, unknown>) : (_overflow as Record<string, unknown> | null);
  for (const [dotted, value] of Object.entries(overflow ?? {})) {
    if (value === null) continue; // as normalize drops null fields
    const keys = dotted.split('.');
    let target = out;
    for (const key of keys.slice(0, -1)) target = (target[key] ??= {}) as Record<string, unknown>;
    target[keys.at(-1)!] = normalize(value);
  }
  return out;
}

function expectedFields(record: SluiceRecord): unknown {
  return normalize(JSON.parse(JSON.stringify(record.fields)));
}

test('flat flow records read back in DuckDB and hyparquet with the same counts, sums and values', async () => {
  // Prepare: 2,500 records, row groups of 1,000.
  const dir = await freshFolder();
  const records = flowRecords(2500);

  // Act
  const commit = await runUnit(config(dir, { rowGroupRows: 1000 }), records, 333);

  // Assess
  assert.deepEqual(commit.outputs, [path.join(dir, '2024/05/18/a1b2c3d4e5f60718-0000.parquet')]);
  assert.equal(commit.delivered, 2500);
  const [duck] = await query(
    `select count(*) as n, sum(bytes) as bytes, sum(packets) as packets, count(vpc_id) as vpcs, count(distinct _id) as ids
     from read_parquet(${sqlList(commit.outputs)})`,
  );
  assert.deepEqual(duck, {
    n: '2500',
    bytes: String(records.reduce((a, r) => a + (r.fields.bytes as number), 0)),
    packets: String(records.reduce((a, r) => a + (r.fields.packets as number), 0)),
    vpcs: String(records.filter((r) => r.fields.vpc_id !== null).length),
    ids: '2500',
  });
  const rows = await readRows(commit.outputs[0]!);
  assert.deepEqual(rows.map((row) => row._id), records.map((r) => r.id));
  assert.deepEqual(rows.map(reconstruct), records.map(expectedFields));
  const metadata = await query(`select count(distinct row_group_id) as groups from parquet_metadata('${commit.outputs[0]}')`);
  assert.deepEqual(metadata, [{ groups: '3' }]);
});

test('nested OCSF records are structs and lists: DuckDB reads fields by path, values round-trip', async () => {
  // Prepare
  const dir = await freshFolder();
  const records = ocsfRecords(1200);

  // Act
  const commit = await runUnit(config(dir, { rowGroupRows: 500 }), records);

  // Assess
  const files = sqlList(commit.outputs);
  const types = Object.fromEntries(
    (await query(`describe select * from read_parquet(${files})`)).map((r) => [r.column_name, r.column_type]),
  );
  assert.equal(types.time, 'TIMESTAMP WITH TIME ZONE');
  assert.equal(types.src_endpoint, 'STRUCT(ip VARCHAR, port BIGINT, interface_uid VARCHAR, "name" VARCHAR)');
  assert.equal(types.observables, 'STRUCT("name" VARCHAR, "type" VARCHAR, type_id BIGINT, "value" VARCHAR)[]');
  assert.equal(types.ratio, 'DOUBLE');
  assert.equal(types._overflow, 'JSON');
  const [sums] = await query(
    `select count(*) as n, sum(traffic.bytes) as bytes, sum(traffic.packets) as packets,
       count(src_endpoint."name") as named, sum(len(observables)) as observables, count(connection_info.tcp_flags) as flags,
       min(time) as first, max(metadata.product.feature."name") as feature, sum(ratio) as ratio,
       count(*) filter (where unmapped.seen) as seen, count(_overflow) as overflow
     from read_parquet(${files})`,
  );
  assert.deepEqual(sums, {
    n: '1200',
    bytes: String(records.reduce((a, r) => a + ((r.fields.traffic as { bytes: number }).bytes), 0)),
    packets: String(records.reduce((a, r) => a + ((r.fields.traffic as { packets: number }).packets), 0)),
    named: String(records.filter((_, i) => i % 4 !== 0).length),
    observables: String(records.filter((_, i) => i % 3 !== 0).length),
    flags: String(records.filter((_, i) => i % 3 !== 0).length),
    first: '2024-05-18 10:00:00+00',
    feature: 'Flowlogs',
    ratio: records.reduce((a, r) => a + (r.fields.ratio as number), 0),
    seen: String(records.filter((_, i) => i % 5 === 0).length),
    overflow: '0',
  });
  const rows = (await Promise.all(commit.outputs.map(readRows))).flat();
  assert.deepEqual(rows.map(reconstruct), records.map(expectedFields));
});

test('real OCSF events (Security Lake samples of four classes) round-trip field by field', async () => {
  // Prepare
  const folder = fixturePath('ocsf-examples');
  const names = (await readdir(folder)).filter((n) => n.endsWith('.ocsf')).sort();
  const records: SluiceRecord[] = [];
  for (const [i, name] of names.entries()) {
    const fields = JSON.parse(await readFile(path.join(folder, name), 'utf8')) as Record<string, unknown>;
    records.push({ id: `ocsf-${i}`, origin: { object: name, line: 1 }, time: fields.time as number, fields });
  }
  const dir = await freshFolder();

  // Act
  const commit = await runUnit(config(dir, { layout: 'security-lake' }), records);

  // Assess: one class per file, every event back as it was.
  const back = new Map<string, unknown>();
  for (const file of commit.outputs) {
    const rows = await readRows(file);
    const classes = new Set(rows.map((row) => Number(row.class_uid)));
    assert.equal(classes.size, 1, `${file} holds one class`);
    assert.match(path.basename(file), new RegExp(`-class${[...classes][0]}-\\d{4}\\.parquet$`));
    for (const row of rows) back.set(row._id as string, reconstruct(row));
  }
  assert.equal(back.size, records.length);
  for (const record of records) assert.deepEqual(back.get(record.id), expectedFields(record), record.origin.object);
  const [duck] = await query(`select count(*) as n, count(distinct class_uid) as classes from read_parquet(${sqlList(commit.outputs)}, union_by_name = true)`);
  assert.deepEqual(duck, { n: String(records.length), classes: '4' });
});

test('statistics (min, max, nulls) match the values, per row group, as DuckDB reads them', async () => {
  // Prepare: values where UTF-16 and UTF-8 orders differ, negatives, large integers, -0.
  const dir = await freshFolder();
  const records = flowRecords(3000).map((r, i) => ({
    ...r,
    fields: {
      ...r.fields,
      label: i === 1700 ? '\u{1F600}' : i === 1800 ? '\uFFFD' : `v${i % 97}`,
      delta: i === 2100 ? -(2 ** 60) : i - 1500,
      score: i === 2200 ? -0.5 : i / 3,
      time: r.time,
    } as Record<string, unknown>,
  }));

  // Act
  const commit = await runUnit(config(dir, { rowGroupRows: 1000 }), records);

  // Assess
  const stats = await query(
    `select row_group_id as g, path_in_schema as col, stats_min_value as min, stats_max_value as max, stats_null_count as nulls
     from parquet_metadata('${commit.outputs[0]}') where path_in_schema in ('label', 'delta', 'score', 'srcaddr', '_id', 'vpc_id', 'time')
     order by g, col`,
  );
  const actual = stats.map((s) => (s.col === 'score' ? { ...s, min: Number(s.min), max: Number(s.max) } : s));
  const expected: unknown[] = [];
  const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  const timeText = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace(/\.000Z$/, '+00').replace(/Z$/, '+00');
  for (let g = 0; g < 3; g++) {
    const group = records.slice(g * 1000, g * 1000 + 1000);
    const strings = (key: string) => group.map((r) => (key === '_id' ? r.id : r.fields[key])).filter((v): v is string => typeof v === 'string').sort(byteOrder);
    const numbers = (key: string) => group.map((r) => r.fields[key] as number);
    const row = (col: string, min: unknown, max: unknown, nulls = 0) => ({ g: String(g), col, min, max, nulls: String(nulls) });
    const range = (key: string) => [strings(key)[0], strings(key).at(-1)] as const;
    const delta = numbers('delta');
    expected.push(
      row('_id', ...range('_id')),
      row('delta', BigInt(Math.min(...delta)).toString(), BigInt(Math.max(...delta)).toString()),
      row('label', ...range('label')),
      // The format writes a zero minimum as -0 (and a zero maximum as +0).
      row('score', Math.min(...numbers('score')) || -0, Math.max(...numbers('score'))),
      row('srcaddr', ...range('srcaddr')),
      row('time', timeText(group[0]!.time!), timeText(group.at(-1)!.time!)),
      row('vpc_id', ...range('vpc_id'), group.filter((r) => r.fields.vpc_id === null).length),
    );
  }
  assert.deepEqual(actual, expected);
  const [hits] = await query(`select count(*) as n from read_parquet('${commit.outputs[0]}') where label = '\u{1F600}' or _id = 'a1b2c3d4e5f60718-2002'`);
  assert.deepEqual(hits, { n: '2' });
});

test('edge values come back exactly: int64 extremes, doubles, booleans, unicode, Dates and ISO times', async () => {
  // Prepare
  const dir = await freshFolder();
  const values = [
    { n: 0, d: -0, b: true, s: 'plain', t: new Date(Date.UTC(2024, 0, 1)) },
    { n: -1, d: Number.NaN, b: false, s: 'ünïcødé → ✓', t: new Date(Date.UTC(1969, 11, 31, 23, 59, 59, 999)) },
    { n: 2 ** 53 + 2, d: Number.POSITIVE_INFINITY, b: true, s: '\u{1F600} astral', t: new Date(0) },
    { n: -(2 ** 62), d: 1e-300, b: false, s: '', t: new Date(8.64e15) },
    { n: 9007199254740991, d: -1.5, b: true, s: 'x'.repeat(5000), t: new Date(Date.UTC(9999, 11, 31)) },
  ];
  const records = values.map((fields, i) => ({ id: `edge-${i}`, origin: { object: 'edge', line: i + 1 }, time: MAY_18, fields }));

  // Act
  const commit = await runUnit(config(dir), records);

  // Assess
  const rows = await readRows(commit.outputs[0]!);
  assert.deepEqual(rows.map((r) => r.n), values.map((v) => BigInt(v.n)));
  assert.deepEqual(rows.map((r) => r.d), values.map((v) => v.d));
  assert.ok(Object.is(rows[0]!.d, -0));
  assert.deepEqual(rows.map((r) => r.b), values.map((v) => v.b));
  assert.deepEqual(rows.map((r) => r.s), values.map((v) => v.s));
  assert.deepEqual(rows.map((r) => (r.t as Date).getTime()), values.map((v) => v.t.getTime()));
  const duck = await query(`select n::varchar as n, s from read_parquet('${commit.outputs[0]}') order by _id`);
  assert.deepEqual(duck, values.map((v) => ({ n: BigInt(v.n).toString(), s: v.s })));
});

test('re-running a unit writes byte-identical Parquet under the same names, whatever the batch sizes', async () => {
  // Prepare: two days, records without time, several parts and row groups.
  const dir = await freshFolder();
  const records = ocsfRecords(3000).map((r, i) => (i % 10 === 9 ? { ...r, time: undefined } : { ...r, time: MAY_18 + (i % 2) * DAY + i }));
  const cfg = config(dir, { targetSizeMb: 0.05, rowGroupRows: 400 });

  // Act
  const first = await runUnit(cfg, records, 100);
  const firstBytes = await Promise.all(first.outputs.map((f) => readFile(f)));
  const second = await runUnit(cfg, records, 77);
  const secondBytes = await Promise.all(second.outputs.map((f) => readFile(f)));

  // Assess
  assert.deepEqual(second.outputs, first.outputs);
  assert.ok(first.outputs.length >= 4, `several parts, got ${first.outputs.length}`);
  assert.deepEqual(secondBytes, firstBytes);
  assert.deepEqual(await listTree(dir), first.outputs.map((f) => path.relative(dir, f).split(path.sep).join('/')));
  assert.ok(first.outputs.some((f) => f.includes('unknown-time')));
});

// Column buffers pass from finished parts to the next ones on the same thread, and which units a
// worker thread ran before is a matter of scheduling: a part's bytes must not depend on it. (A list
// leaf given a repetition-level buffer shorter than its definition-level one dropped the levels
// past its end, so a re-run wrote other bytes, and levels hyparquet could not read.)
test('property: a part is the same bytes whatever parts this thread wrote before it, and whatever the batch sizes', async () => {
  // Prepare: OCSF records with `observables` first, so that the list's leaves take the buffers the
  // previous part's last columns gave back. Earlier units of other shapes, sizes (up to 3,000
  // records) and null densities leave buffers of all sizes up to 4,096 entries behind; the list
  // has 4,500 levels in the one row group, more than any of them holds.
  const observable = (i: number, k: number) => ({ name: `o${k}`, type: k % 2 ? 'Hostname' : 'IP Address', type_id: 1 + (k % 2), value: i % 5 ? null : `10.1.${k}.${i % 256}` });
  const records = ocsfRecords(1500, (i) => (i % 3 === 0 ? {} : { observables: [0, 1, 2, 3].map((k) => observable(i, k)) }))
    .map((r) => ({ ...r, fields: { observables: r.fields.observables, ...r.fields } }));
  const cfg = (dir: string) => config(dir, { rowGroupRows: 2000 });
  const referenceDir = await freshFolder();
  const reference = await runUnit(cfg(referenceDir), records, 100);
  const referenceBytes = await Promise.all(reference.outputs.map((f) => readFile(f)));
  const rows = (await Promise.all(reference.outputs.map(readRows))).flat();
  assert.deepEqual(rows.map(reconstruct), records.map(expectedFields));
  const earlier = fc.record({ count: fc.integer({ min: 1, max: 3000 }), kind: fc.constantFrom('flow', 'ocsf', 'sparse'), every: fc.integer({ min: 1, max: 400 }) });
  const recordsOf = ({ count, kind, every }: { count: number; kind: string; every: number }): SluiceRecord[] =>
    kind === 'flow' ? flowRecords(count)
    : kind === 'ocsf' ? ocsfRecords(count, (i) => ({ observables: i % every === 0 ? [] : [{ name: 'x', type: 'Other', type_id: 99, value: `v${i}` }] }))
    // Mostly null: the value buffers stay far shorter than the level buffers.
    : flowRecords(count).map((r, i) => ({ ...r, fields: { seen: i % every === 0 ? i % 2 === 0 : null, note: i % every === 0 ? `n${i}` : null } }));

  // Act + Assess
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(earlier, { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 700 }), async (history, batchSize) => {
      run += 1;
      for (const [i, shape] of history.entries()) {
        const dir = await freshFolder();
        await runUnit(config(dir), recordsOf(shape), 500, { ...unit, outputStem: `earlier${run}x${i}` });
        await rm(dir, { recursive: true, force: true });
      }
      const dir = await freshFolder();
      const again = await runUnit(cfg(dir), records, batchSize);
      assert.deepEqual(again.outputs.map((f) => path.relative(dir, f)), reference.outputs.map((f) => path.relative(referenceDir, f)));
      assert.deepEqual(await Promise.all(again.outputs.map((f) => readFile(f))), referenceBytes);
      await rm(dir, { recursive: true, force: true });
    }),
    { numRuns: 20 },
  );
});

test('parts roll over at the target file size, each above it but by less than a row group', async () => {
  // Prepare
  const dir = await freshFolder();
  const records = flowRecords(4000);
  const target = 20_000;

  // Act
  const commit = await runUnit(config(dir, { targetSizeMb: target / 1e6 }), records, 250);

  // Assess
  const names = commit.outputs.map((f) => path.basename(f));
  assert.ok(names.length >= 3, `rolled into ${names.length} parts`);
  assert.deepEqual(names, names.map((_, i) => `a1b2c3d4e5f60718-${String(i).padStart(4, '0')}.parquet`));
  let total = 0;
  for (const [i, file] of commit.outputs.entries()) {
    const bytes = await readFile(file);
    const metadata = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    total += Number(metadata.num_rows);
    const lastGroup = metadata.row_groups.at(-1)!;
    const dataBytes = bytes.length - 8 - metadata.metadata_length; // without footer
    if (i < commit.outputs.length - 1) {
      assert.ok(dataBytes >= target, `part ${i}: ${dataBytes} bytes of row groups reach the target`);
      assert.ok(dataBytes - Number(lastGroup.total_compressed_size) < target, `part ${i} was below the target before its last row group`);
    }
  }
  assert.equal(total, 4000);
  const rows = (await Promise.all(commit.outputs.map(readRows))).flat();
  assert.deepEqual(rows.map((r) => r._id), records.map((r) => r.id));
});

test('abort leaves no part and no temp file, also after parts rolled over', async () => {
  // Prepare
  const dir = await freshFolder();
  const writer = createFilesSink(config(dir, { targetSizeMb: 0.01, rowGroupRows: 100 })).openUnit(unit);
  await writer.write(ocsfRecords(1500));
  const before = await listTree(dir);

  // Act
  await writer.abort();

  // Assess
  assert.ok(before.length > 1 && before.every((f) => path.basename(f).startsWith('.') && f.includes('.sluice-tmp-')), before.join());
  assert.deepEqual(await listTree(dir), []);
  await assert.rejects(writer.write(ocsfRecords(1)), (err: unknown) => err instanceof SluiceError && err.code === 'SINK_WRITER_CLOSED');
});

test('security-lake layout: region=/accountId=/eventDay= folders from OCSF or flat fields, one class per file', async () => {
  // Prepare: OCSF records of two accounts over two days and two classes, flat flow records, and
  // records without region, account, class or time.
  const dir = await freshFolder();
  const ocsf = ocsfRecords(40, (i) => (i % 8 === 3 ? { class_uid: 4002 } : {})).map((r, i) => ({ ...r, time: MAY_18 + (Math.floor(i / 2) % 2) * DAY }));
  const flat = flowRecords(5).map((r) => ({ ...r, fields: { ...r.fields, account_id: '777788889999' } }));
  const odd: SluiceRecord[] = [
    { id: 'odd-1', origin: { object: 'odd', line: 1 }, fields: { note: 'no time, no cloud' } },
    { id: 'odd-2', origin: { object: 'odd', line: 2 }, time: MAY_18, fields: { cloud: { region: 'eu/../west' }, class_uid: 'x' } },
  ];

  // Act
  const commit = await runUnit(config(dir, { layout: 'security-lake' }), [...ocsf, ...flat, ...odd]);

  // Assess
  assert.deepEqual(await listTree(dir), [
    'region=eu-west-1/accountId=111122223333/eventDay=20240518/a1b2c3d4e5f60718-class4001-0000.parquet',
    'region=eu-west-1/accountId=111122223333/eventDay=20240519/a1b2c3d4e5f60718-class4001-0000.parquet',
    'region=eu-west-1/accountId=111122223333/eventDay=20240519/a1b2c3d4e5f60718-class4002-0000.parquet',
    'region=eu-west-1/accountId=444455556666/eventDay=20240518/a1b2c3d4e5f60718-class4001-0000.parquet',
    'region=eu-west-1/accountId=444455556666/eventDay=20240519/a1b2c3d4e5f60718-class4001-0000.parquet',
    'region=eu-west-1/accountId=777788889999/eventDay=20240518/a1b2c3d4e5f60718-classunknown-0000.parquet',
    'region=eu_.._west/accountId=unknown/eventDay=20240518/a1b2c3d4e5f60718-classunknown-0000.parquet',
    'region=unknown/accountId=unknown/eventDay=unknown/a1b2c3d4e5f60718-classunknown-0000.parquet',
  ]);
  const [hive] = await query(
    `select count(*) as n, count(distinct accountId) as accounts, count(distinct eventDay) as days
     from read_parquet('${dir}/region=eu-west-1/*/*/*.parquet', hive_partitioning = true, union_by_name = true)`,
  );
  assert.deepEqual(hive, { n: '45', accounts: '3', days: '2' });
  assert.equal(commit.delivered, 47);
});

test('the security-lake layout also works for NDJSON, and it refuses partition: hour', async () => {
  // Prepare
  const dir = await freshFolder();

  // Act
  const commit = await runUnit(config(dir, { format: 'ndjson', layout: 'security-lake' }), ocsfRecords(3));
  const parse = () =>
    parsePipeline({ name: 'p', source: { uri: dir }, format: 'vpcflow', sinks: [{ type: 'files', path: dir, format: 'parquet', layout: 'security-lake', partition: 'hour' }] });

  // Assess
  assert.deepEqual(
    commit.outputs.map((f) => path.relative(dir, f).split(path.sep).join('/')),
    [
      'region=eu-west-1/accountId=111122223333/eventDay=20240518/a1b2c3d4e5f60718-class4001-0000.ndjson.gz',
      'region=eu-west-1/accountId=444455556666/eventDay=20240518/a1b2c3d4e5f60718-class4001-0000.ndjson.gz',
    ],
  );
  assert.throws(parse, (err: unknown) => err instanceof SluiceError && /partition.*security-lake always partitions by eventDay/s.test(err.message));
});

test('schema drift: fields first seen after the sample and values of another kind land in _overflow, none lost', async () => {
  // Prepare: the schema is inferred from the first 100 records (rowGroupRows caps the sample);
  // later records bring a new top-level field, a new nested key, an int where a string was, a
  // string where an int was, a double in an int64 column, an object where a string was, a list
  // element of another shape, and a whole struct replaced by a string.
  const dir = await freshFolder();
  const drift: Record<number, (f: Record<string, unknown>) => void> = {
    150: (f) => (f.late_field = 'new'),
    160: (f) => ((f.src_endpoint as Record<string, unknown>).hostname = 'web-7.internal'),
    170: (f) => ((f.src_endpoint as Record<string, unknown>).ip = 167772161),
    180: (f) => ((f.traffic as Record<string, unknown>).bytes = 'lots'),
    190: (f) => (f.severity_id = 1.5),
    200: (f) => ((f.metadata as Record<string, unknown>).version = { major: 1 }),
    210: (f) => (f.observables = [{ name: 'x', type_id: 'two' }]),
    220: (f) => (f.cloud = 'aws'),
    230: (f) => (f._overflow = 'a field named like the overflow column'),
  };
  const records = ocsfRecords(300).map((r, i) => {
    const fields = structuredClone(r.fields);
    drift[i]?.(fields);
    return { ...r, fields };
  });

  // Act
  const commit = await runUnit(config(dir, { rowGroupRows: 100 }), records, 64);

  // Assess
  const rows = (await Promise.all(commit.outputs.map(readRows))).flat();
  assert.equal(rows.length, 300);
  assert.deepEqual(rows.map(reconstruct), records.map(expectedFields));
  const overflow = await query(`select _id, _overflow::varchar as o from read_parquet(${sqlList(commit.outputs)}) where _overflow is not null order by _id`);
  assert.deepEqual(
    overflow.map((r) => JSON.parse(r.o as string) as unknown),
    [
      { late_field: 'new' },
      { 'src_endpoint.hostname': 'web-7.internal' },
      { 'src_endpoint.ip': 167772161 },
      { 'traffic.bytes': 'lots' },
      { severity_id: 1.5 },
      { 'metadata.version': { major: 1 } },
      { observables: [{ name: 'x', type_id: 'two' }] },
      { cloud: 'aws' },
      { _overflow: 'a field named like the overflow column' },
    ],
  );
});

test('property: whatever the records and however they drift from the sample, every value reads back', async () => {
  // Prepare: records mixing kinds per field (so the later ones misfit the sampled schema).
  const scalar = fc.oneof(
    fc.integer({ min: -1e6, max: 1e6 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Object.is(d, -0) ? 0 : d)),
    fc.string({ maxLength: 8 }),
    fc.boolean(),
    fc.constant(null),
  );
  const inner = fc.record({ ip: scalar, port: scalar, tags: fc.array(fc.oneof(fc.string({ maxLength: 3 }), fc.constant(null)), { maxLength: 3 }) }, { requiredKeys: [] });
  const fields = fc.record(
    { time: fc.oneof(fc.integer({ min: 0, max: 2 ** 42 }), scalar), src: fc.oneof(inner, scalar), hops: fc.oneof(fc.array(inner, { maxLength: 3 }), scalar), note: scalar },
    { requiredKeys: [] },
  );

  let rowsWithOverflow = 0;

  // Act + Assess
  await fc.assert(
    // Small row groups cap the schema sample, so later records drift from it.
    fc.asyncProperty(fc.array(fields, { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 8 }), async (all, rowGroupRows) => {
      const dir = await freshFolder();
      const records = all.map((f, i) => ({ id: `p-${i}`, origin: { object: 'prop', line: i + 1 }, time: MAY_18, fields: f }));
      const commit = await runUnit(config(dir, { rowGroupRows }), records, 7);
      const rows = (await Promise.all(commit.outputs.map(readRows))).flat();
      assert.deepEqual(rows.map(reconstruct), records.map(expectedFields));
      rowsWithOverflow += rows.filter((row) => row._overflow !== null && row._overflow !== undefined).length;
      await rm(dir, { recursive: true, force: true });
    }),
    // A fixed seed keeps the run (and the drift count below) the same every time.
    { numRuns: 60, seed: 20240518 },
  );
  assert.ok(rowsWithOverflow > 20, `drift was exercised: ${rowsWithOverflow} rows used _overflow`);
});

test('a record JSON cannot hold is rejected with its reason, leaving the rows around it intact', async () => {
  // Prepare: a circular value in a JSON column (after the sample) and in an unknown field.
  const dir = await freshFolder();
  const records = ocsfRecords(60, (i) => ({ extra: i % 2 ? [1, 'mixed'] : ['mixed', 2] }));
  const circular: Record<string, unknown> = { a: 1 };
  circular.self = circular;
  records[30] = { ...records[30]!, fields: { ...records[30]!.fields, extra: circular } };
  records[40] = { ...records[40]!, fields: { ...records[40]!.fields, surprise: circular } };

  // Act
  const commit = await runUnit(config(dir, { rowGroupRows: 20 }), records, 7);

  // Assess
  assert.equal(commit.delivered, 58);
  assert.deepEqual(commit.rejected.map((r) => [r.record.id, r.code]), [
    [records[30]!.id, 'SINK_RECORD_UNSERIALIZABLE'],
    [records[40]!.id, 'SINK_RECORD_UNSERIALIZABLE'],
  ]);
  assert.match(commit.rejected[0]!.reason, /cannot be written to Parquet: .*circular/i);
  const rows = await readRows(commit.outputs[0]!);
  const kept = records.filter((_, i) => i !== 30 && i !== 40);
  assert.deepEqual(rows.map(reconstruct), kept.map(expectedFields));
});

test('a part whose every record was rejected leaves no file', async () => {
  // Prepare: the only record of May 19 is circular in a JSON column.
  const dir = await freshFolder();
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  const records = ocsfRecords(3, (i) => ({ blob: i === 2 ? circular : ['x', 1] })).map((r, i) => (i === 2 ? { ...r, time: MAY_18 + DAY } : r));

  // Act
  const commit = await runUnit(config(dir), records);

  // Assess
  assert.deepEqual(await listTree(dir), ['2024/05/18/a1b2c3d4e5f60718-0000.parquet']);
  assert.equal(commit.delivered, 2);
  assert.equal(commit.rejected.length, 1);
});

test('gzip and uncompressed codecs read back too; zstd fails at sink creation where Node lacks it', async () => {
  // Prepare
  const records = ocsfRecords(300);
  const counts: string[] = [];

  // Act
  for (const parquetCompression of ['gzip', 'none'] as const) {
    const dir = await freshFolder();
    const commit = await runUnit(config(dir, { parquetCompression }), records);
    const [row] = await query(`select count(*) as n, sum(traffic.bytes) as b from read_parquet(${sqlList(commit.outputs)})`);
    counts.push(`${row!.n}/${row!.b}`);
  }

  // Assess
  const sum = records.reduce((a, r) => a + ((r.fields.traffic as { bytes: number }).bytes), 0);
  assert.deepEqual(counts, [`300/${sum}`, `300/${sum}`]);
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  if (nodeMajor < 22) {
    assert.throws(
      () => createFilesSink(config(scratch, { parquetCompression: 'zstd' })),
      (err: unknown) => err instanceof SluiceError && err.code === 'CONFIG_INVALID' && /zstd needs Node 22\.15/.test(err.message),
    );
  }
});

test('changing the format of a unit from NDJSON to Parquet removes its NDJSON parts at commit', async () => {
  // Prepare
  const dir = await freshFolder();
  const records = flowRecords(50);
  await runUnit(config(dir, { format: 'ndjson' }), records);

  // Act
  const commit = await runUnit(config(dir), records);

  // Assess
  assert.deepEqual(await listTree(dir), ['2024/05/18/a1b2c3d4e5f60718-0000.parquet']);
  assert.equal(commit.outputs.length, 1);
});

test('lists keep null elements, empty lists and null lists apart; records without fields still make rows', async () => {
  // Prepare
  const dir = await freshFolder();
  const shapes: Array<Record<string, unknown>> = [
    { tags: ['a', null, 'b'], hops: [{ ip: '10.0.0.1', ttl: 3 }, null, { ip: null, ttl: 1 }] },
    { tags: [], hops: [] },
    { tags: null },
    {},
    { tags: [null], hops: [{}] },
  ];
  const records = shapes.map((fields, i) => ({ id: `list-${i}`, origin: { object: 'lists', line: i + 1 }, time: MAY_18, fields }));

  // Act
  const commit = await runUnit(config(dir), records);

  // Assess
  const rows = await readRows(commit.outputs[0]!);
  assert.deepEqual(rows.map(reconstruct), records.map(expectedFields));
  const duck = await query(
    `select len(tags) as tags, len(hops) as hops, hops[1].ip as ip, hops[2] is null as gap, hops[3].ttl as ttl
     from read_parquet('${commit.outputs[0]}') order by _id`,
  );
  assert.deepEqual(duck, [
    { tags: '3', hops: '3', ip: '10.0.0.1', gap: true, ttl: '1' },
    { tags: '0', hops: '0', ip: null, gap: true, ttl: null },
    { tags: null, hops: null, ip: null, gap: true, ttl: null },
    { tags: null, hops: null, ip: null, gap: true, ttl: null },
    { tags: '1', hops: '1', ip: null, gap: true, ttl: null },
  ]);
});

test('without an id field there is no id column; the overflow column is always there', async () => {
  // Prepare
  const dir = await freshFolder();

  // Act
  const commit = await runUnit(config(dir, { idField: false }), flowRecords(10));

  // Assess
  const columns = (await query(`describe select * from read_parquet('${commit.outputs[0]}')`)).map((r) => r.column_name);
  assert.equal(columns[0], 'version');
  assert.equal(columns.at(-1), '_overflow');
  assert.ok(!columns.includes('_id'));
});
