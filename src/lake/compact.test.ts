import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { SluiceError } from '../core/errors.js';
import { openLake } from './catalog.js';
import { COMPACTED_STEM, compactLake } from './compact.js';
import { hostFlowsSql } from './host-flows.js';
import { repoRoot } from '../testing/repo-root.js';
import { lakeIdCounts } from '../testing/lake-oracle.js';

/**
 * Generated OCSF-shaped flows (nested endpoint structs, a list, a record id) in Security Lake
 * folders, several input files per partition as the files sink writes them.
 */
const FOLDER_A = 'region=eu-west-1/accountId=012345678901/eventDay=20240501';
const FOLDER_B = 'region=eu-west-1/accountId=012345678901/eventDay=20240502';

function flowsSql(seed: number, rows: number, idPrefix: string, day: string): string {
  // 40 addresses, some flows without a source address (NULL), times spread over the day.
  const ip = (expr: string) => `'10.0.' || ((${expr}) % 4)::VARCHAR || '.' || ((${expr}) % 10)::VARCHAR`;
  return `SELECT '${idPrefix}-' || i::VARCHAR AS _id, 4001 AS class_uid,
      TIMESTAMPTZ '${day} 00:00:00+00' + to_seconds((i * 37 + ${seed}) % 86400) AS time,
      {'ip': CASE WHEN i % 97 = 0 THEN NULL ELSE ${ip(`i * 7 + ${seed}`)} END, 'port': (i * 13 % 65536)::BIGINT, 'name': 'h' || (i % 5)::VARCHAR} AS src_endpoint,
      {'ip': ${ip(`i * 11 + ${seed} + 3`)}, 'port': 443::BIGINT, 'name': NULL::VARCHAR} AS dst_endpoint,
      {'bytes': (i * 31 % 5000)::BIGINT, 'packets': 1::BIGINT} AS traffic,
      CASE WHEN i % 9 = 0 THEN 'Denied' ELSE 'Allowed' END AS action,
      [{'name': 'src_endpoint.ip', 'value': 'x'}] AS observables
    FROM range(${rows}) t(i)`;
}

async function writeInput(c: DuckDBConnection, root: string, folder: string, name: string, sql: string): Promise<string> {
  const file = path.join(root, folder, name);
  mkdirSync(path.dirname(file), { recursive: true });
  await c.run(`COPY (${sql}) TO '${file}' (FORMAT parquet, ROW_GROUP_SIZE 2048)`);
  return file;
}

async function one(c: DuckDBConnection, sql: string): Promise<Record<string, unknown>> {
  return (await c.runAndReadAll(sql)).getRowObjectsJson()[0] as Record<string, unknown>;
}

/** Count, sums and distinct ids of a set of files: what compaction must keep. */
function totalsSql(glob: string): string {
  return `SELECT count(*)::BIGINT AS n, sum(traffic.bytes)::BIGINT AS bytes, count(DISTINCT _id)::BIGINT AS ids,
      count(src_endpoint.ip)::BIGINT AS with_src, sum(epoch(time))::BIGINT AS t
    FROM read_parquet('${glob}', union_by_name = true, hive_partitioning = false)`;
}

const list = (dir: string) => readdirSync(dir).sort();

describe('lake compaction', () => {
  let root: string;
  let duck: DuckDBInstance;
  let c: DuckDBConnection;
  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'sluice-compact-'));
    duck = await DuckDBInstance.create();
    c = await duck.connect();
  });
  after(() => {
    c.closeSync();
    duck.closeSync();
    rmSync(root, { recursive: true, force: true });
  });

  it('rewrites each partition and class into one sorted file with the same rows, sums and schema', async () => {
    const lake = path.join(root, 'keeps');
    for (let f = 0; f < 3; f++) await writeInput(c, lake, FOLDER_A, `unit${f}_abc-class4001-0000.parquet`, flowsSql(f, 5000, `a${f}`, '2024-05-01'));
    await writeInput(c, lake, FOLDER_B, 'unit9_abc-class4001-0000.parquet', flowsSql(9, 3000, 'b', '2024-05-02'));
    await writeInput(c, lake, FOLDER_A, 'unit0_abc-class6003-0000.parquet', `SELECT 'api-' || i::VARCHAR AS _id, 6003 AS class_uid, TIMESTAMPTZ '2024-05-01 00:00:00+00' + to_seconds(1000 - i) AS time FROM range(1000) t(i)`);
    const before = await one(c, totalsSql(`${lake}/**/*-class4001-*.parquet`));
    const schemaBefore = (await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${lake}/${FOLDER_A}/*-class4001-*.parquet')`)).getRowObjectsJson();

    const report = await compactLake(lake, { rowGroupRows: 4096 });

    assert.deepEqual(report.partitions.map((p) => [p.folder, p.classTag, p.outcome, p.inputFiles, p.rows]), [
      [FOLDER_A, 'class4001', 'compacted', 3, 15000],
      [FOLDER_A, 'class6003', 'compacted', 1, 1000],
      [FOLDER_B, 'class4001', 'compacted', 1, 3000],
    ]);
    assert.deepEqual(list(path.join(lake, FOLDER_A)), [`${COMPACTED_STEM}-class4001-0000.parquet`, `${COMPACTED_STEM}-class6003-0000.parquet`]);
    assert.deepEqual(await one(c, totalsSql(`${lake}/**/*-class4001-*.parquet`)), before);
    const compacted = path.join(lake, FOLDER_A, `${COMPACTED_STEM}-class4001-0000.parquet`);
    const schemaAfter = (await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${compacted}')`)).getRowObjectsJson();
    assert.deepEqual(schemaAfter, schemaBefore);
    // Sorted by the unordered endpoint pair, then time.
    const unsorted = await one(c, `SELECT count(*)::BIGINT AS n FROM (
        SELECT least(src_endpoint.ip, dst_endpoint.ip) AS lo, greatest(src_endpoint.ip, dst_endpoint.ip) AS hi, time,
               lag(least(src_endpoint.ip, dst_endpoint.ip)) OVER w AS plo, lag(greatest(src_endpoint.ip, dst_endpoint.ip)) OVER w AS phi, lag(time) OVER w AS pt
        FROM (SELECT *, file_row_number FROM read_parquet('${compacted}', file_row_number = true)) WINDOW w AS (ORDER BY file_row_number))
      WHERE plo IS NOT NULL AND (lo < plo OR (lo = plo AND (hi < phi OR (hi = phi AND time < pt))))`);
    assert.equal(unsorted.n, '0');
    const groups = (await c.runAndReadAll(`SELECT row_group_num_rows AS n FROM parquet_metadata('${compacted}') WHERE column_id = 0`)).getRowObjectsJson();
    assert.equal(groups.length, 4);
    assert.ok(groups.every((g) => Number(g.n) <= 4096));
    // The class without endpoints is sorted by time.
    const api = await one(c, `SELECT min(time) = first(time) AS ok FROM read_parquet('${lake}/${FOLDER_A}/${COMPACTED_STEM}-class6003-0000.parquet')`);
    assert.equal(api.ok, true);
  });

  it('leaves a compacted partition alone on a second run, and merges files that arrive later', async () => {
    const lake = path.join(root, 'rerun');
    await writeInput(c, lake, FOLDER_A, 'u1_x-class4001-0000.parquet', flowsSql(1, 4000, 'u1', '2024-05-01'));
    await compactLake(lake);
    const compacted = path.join(lake, FOLDER_A, `${COMPACTED_STEM}-class4001-0000.parquet`);
    const bytes = readFileSync(compacted);

    const again = await compactLake(lake);
    assert.deepEqual(again.partitions.map((p) => [p.outcome, p.rows]), [['already-compacted', 4000]]);
    assert.deepEqual(readFileSync(compacted), bytes);

    await writeInput(c, lake, FOLDER_A, 'u2_x-class4001-0000.parquet', flowsSql(2, 1500, 'u2', '2024-05-01'));
    const merged = await compactLake(lake);
    assert.deepEqual(merged.partitions.map((p) => [p.outcome, p.inputFiles, p.rows]), [['compacted', 2, 5500]]);
    assert.deepEqual(list(path.join(lake, FOLDER_A)), [`${COMPACTED_STEM}-class4001-0000.parquet`]);
    assert.equal((await one(c, `SELECT count(DISTINCT _id)::BIGINT AS n FROM read_parquet('${compacted}')`)).n, '5500');
  });

  it('never loses or doubles rows when interrupted before or after the rename', async () => {
    const lake = path.join(root, 'crash');
    const dir = path.join(lake, FOLDER_A);
    const input = await writeInput(c, lake, FOLDER_A, 'u1_y-class4001-0000.parquet', flowsSql(3, 3000, 'u1', '2024-05-01'));
    const saved = path.join(root, 'saved-input.parquet');
    copyFileSync(input, saved);
    // Before the rename: a half-written temp file of a crashed run; the inputs are intact.
    writeFileSync(path.join(dir, `.${COMPACTED_STEM}-class4001-0000.parquet.sluice-tmp-1234-abcdef-1`), 'PAR1 half a file');
    const first = await compactLake(lake);
    assert.equal(first.rows, 3000);
    assert.deepEqual(list(dir), [`${COMPACTED_STEM}-class4001-0000.parquet`]);
    // After the rename, before the inputs were deleted: the input is back, byte for byte.
    copyFileSync(saved, input);
    const second = await compactLake(lake);
    assert.deepEqual(second.partitions.map((p) => [p.outcome, p.alreadyCompacted, p.rows]), [['already-compacted', 1, 3000]]);
    assert.deepEqual(list(dir), [`${COMPACTED_STEM}-class4001-0000.parquet`]);
    assert.equal((await one(c, totalsSql(`${dir}/*.parquet`))).n, '3000');
  });

  it('a compaction killed at any of its crash points never shows a row twice, and the next one finishes it', async () => {
    for (const at of [1, 2, 3, 4]) {
      const lake = path.join(root, `killed-${at}`);
      const dir = path.join(lake, FOLDER_A);
      await writeInput(c, lake, FOLDER_A, 'k1_a-class4001-0000.parquet', flowsSql(20, 1200, 'k1', '2024-05-01'));
      await writeInput(c, lake, FOLDER_A, 'k2_a-class4001-0000.parquet', flowsSql(21, 800, 'k2', '2024-05-01'));
      const killed = spawnSync(process.execPath, [path.join(repoRoot(), 'bin', 'sluice.js'), 'compact', '--lake', lake], {
        encoding: 'utf8',
        env: { ...process.env, SLUICE_LOG_LEVEL: 'warn', SLUICE_CRASH_AT: `mid-compaction@${at}` },
      });
      const visible = await lakeIdCounts(lake);
      assert.deepEqual([...visible.values()].filter((n) => n > 1), [], `killed at mid-compaction@${at}: no row twice`);
      if (at <= 3) {
        assert.equal(killed.signal, 'SIGKILL', `mid-compaction@${at} is reached`);
        assert.ok(list(dir).includes(`.${COMPACTED_STEM}-class4001-0000.parquet.pending`), 'the new file waits under its hidden name');
      } else {
        assert.equal(killed.status, 0, 'a compaction of two inputs passes mid-compaction three times');
      }
      const next = await compactLake(lake);
      assert.equal(next.resumed, at <= 3 ? 1 : 0);
      assert.deepEqual(list(dir), [`${COMPACTED_STEM}-class4001-0000.parquet`]);
      assert.deepEqual(await one(c, `SELECT count(*)::BIGINT AS n, count(DISTINCT _id)::BIGINT AS ids FROM read_parquet('${dir}/*.parquet')`), { n: '2000', ids: '2000' });
    }
  });

  it('the same inputs give a byte-identical compacted file', async () => {
    const files: Buffer[] = [];
    for (const name of ['same-a', 'same-b']) {
      const lake = path.join(root, name);
      for (let f = 0; f < 3; f++) await writeInput(c, lake, FOLDER_A, `s${f}_c-class4001-0000.parquet`, flowsSql(f + 40, 20_000, `s${f}`, '2024-05-01'));
      await compactLake(lake, { rowGroupRows: 4096 });
      files.push(readFileSync(path.join(lake, FOLDER_A, `${COMPACTED_STEM}-class4001-0000.parquet`)));
    }
    assert.ok(files[0]!.equals(files[1]!));
  });

  it('heals a lake an older version doubled: inputs its compacted file lists by name and size are deleted', async () => {
    const lake = path.join(root, 'legacy');
    const dir = path.join(lake, FOLDER_A);
    const input = await writeInput(c, lake, FOLDER_A, 'l1_b-class4001-0000.parquet', flowsSql(30, 900, 'l1', '2024-05-01'));
    // What `sluice compact` wrote before it recorded sha256 and id prefixes, beside the part a later --full-load put back.
    const legacy = JSON.stringify([{ name: 'l1_b-class4001-0000.parquet', bytes: statSync(input).size }]).replaceAll("'", "''");
    await c.run(`COPY (SELECT * FROM read_parquet('${input}')) TO '${path.join(dir, `${COMPACTED_STEM}-class4001-0000.parquet`)}' (FORMAT parquet, KV_METADATA {'sluice.compacted_from': '${legacy}'})`);
    assert.deepEqual(await one(c, `SELECT count(*)::BIGINT AS n, count(DISTINCT _id)::BIGINT AS ids FROM read_parquet('${dir}/*.parquet')`), { n: '1800', ids: '900' });

    const report = await compactLake(lake);

    assert.deepEqual(report.partitions.map((p) => [p.outcome, p.alreadyCompacted, p.rows]), [['already-compacted', 1, 900]]);
    assert.deepEqual(list(dir), [`${COMPACTED_STEM}-class4001-0000.parquet`]);
    assert.deepEqual(await one(c, `SELECT count(*)::BIGINT AS n, count(DISTINCT _id)::BIGINT AS ids FROM read_parquet('${dir}/*.parquet')`), { n: '900', ids: '900' });
  });

  it('replaces every compacted row of a unit whose input is re-written with other bytes, and leaves files without ids alone', async () => {
    const lake = path.join(root, 'rewritten');
    const dir = path.join(lake, FOLDER_A);
    await writeInput(c, lake, FOLDER_A, 'u1_z-class4001-0000.parquet', flowsSql(4, 2000, 'u1', '2024-05-01'));
    await writeInput(c, lake, FOLDER_A, 'u2_z-class4001-0000.parquet', flowsSql(5, 1000, 'u2', '2024-05-01'));
    await compactLake(lake);
    // The unit of u1 runs again with another config: same ids, other bytes values, fewer rows.
    await writeInput(c, lake, FOLDER_A, 'u1_z-class4001-0000.parquet', flowsSql(4, 1500, 'u1', '2024-05-01').replace('(i * 31 % 5000)::BIGINT', '7::BIGINT'));
    const report = await compactLake(lake);
    assert.deepEqual(report.partitions.map((p) => [p.replacedRows, p.rows]), [[2000, 2500]]);
    const t = await one(c, `SELECT count(*)::BIGINT AS n, count(DISTINCT _id)::BIGINT AS ids, count(*) FILTER (WHERE _id LIKE 'u1-%' AND traffic.bytes = 7)::BIGINT AS new_u1 FROM read_parquet('${dir}/*.parquet')`);
    // All of u1's rows now come from its new file: the rows the new run no longer has are gone too.
    assert.deepEqual(t, { n: '2500', ids: '2500', new_u1: '1500' });

    const noIds = path.join(root, 'no-ids');
    const bare = (n: number, bytes: string) => `SELECT * EXCLUDE (_id) REPLACE ({'bytes': ${bytes}, 'packets': 1::BIGINT} AS traffic) FROM (${flowsSql(6, n, 'v', '2024-05-01')})`;
    await writeInput(c, noIds, FOLDER_A, 'v_q-class4001-0000.parquet', bare(500, '1::BIGINT'));
    const input = readFileSync(path.join(noIds, FOLDER_A, 'v_q-class4001-0000.parquet'));
    const skipped = await compactLake(noIds);
    assert.deepEqual(skipped.partitions.map((p) => [p.outcome, p.rows]), [['no-record-ids', 500]]);
    assert.deepEqual(list(path.join(noIds, FOLDER_A)), ['v_q-class4001-0000.parquet']);
    assert.deepEqual(readFileSync(path.join(noIds, FOLDER_A, 'v_q-class4001-0000.parquet')), input);
  });

  it('compacts only the days asked for', async () => {
    const lake = path.join(root, 'days');
    await writeInput(c, lake, FOLDER_A, 'a_d-class4001-0000.parquet', flowsSql(7, 100, 'a', '2024-05-01'));
    await writeInput(c, lake, FOLDER_B, 'b_d-class4001-0000.parquet', flowsSql(8, 100, 'b', '2024-05-02'));
    const report = await compactLake(lake, { days: ['20240502'] });
    assert.deepEqual(report.partitions.map((p) => p.folder), [FOLDER_B]);
    assert.deepEqual(list(path.join(lake, FOLDER_A)), ['a_d-class4001-0000.parquet']);
  });

  it('the catalog reads the compacted lake, and hostFlowsSql answers as the OR query does', async () => {
    const lakeDir = path.join(root, 'query');
    for (let f = 0; f < 2; f++) await writeInput(c, lakeDir, FOLDER_A, `q${f}_w-class4001-0000.parquet`, flowsSql(f + 10, 6000, `q${f}`, '2024-05-01'));
    const cols = ['_id', 'time', 'src_endpoint.ip', 'dst_endpoint.ip', 'traffic.bytes'];
    const orSql = `SELECT ${cols.join(', ')} FROM network_activity WHERE eventDay = '20240501' AND (src_endpoint.ip = $ip OR dst_endpoint.ip = $ip)`;
    const answers = async (): Promise<string[][]> => {
      const lake = await openLake(lakeDir);
      try {
        const out: string[][] = [];
        for (const sql of [orSql, hostFlowsSql({ view: 'network_activity', columns: cols, where: "eventDay = '20240501'" })]) {
          const reader = await lake.connection.runAndReadAll(`SELECT * FROM (${sql}) ORDER BY _id`, { ip: '10.0.1.3' });
          out.push(reader.getRowsJson().map((r) => JSON.stringify(r)));
        }
        return out;
      } finally {
        lake.close();
      }
    };
    const [orBefore, hostBefore] = await answers();
    assert.ok(orBefore!.length > 100);
    assert.deepEqual(hostBefore, orBefore);
    await compactLake(lakeDir, { rowGroupRows: 1024 });
    const [orAfter, hostAfter] = await answers();
    assert.deepEqual(orAfter, orBefore);
    assert.deepEqual(hostAfter, orBefore);
  });

  it('sluice compact runs it from the command line (JSON report, then a table on the second run)', async () => {
    const lake = path.join(root, 'cli');
    await writeInput(c, lake, FOLDER_A, 'c1_v-class4001-0000.parquet', flowsSql(12, 800, 'c1', '2024-05-01'));
    await writeInput(c, lake, FOLDER_A, 'c2_v-class4001-0000.parquet', flowsSql(13, 700, 'c2', '2024-05-01'));
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [path.join(repoRoot(), 'bin', 'sluice.js'), 'compact', '--lake', lake, ...args], { encoding: 'utf8', env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' } });
    const first = run('--json', '--row-group-rows', '2048');
    assert.equal(first.status, 0, first.stderr);
    const report = JSON.parse(first.stdout) as { filesBefore: number; filesAfter: number; rows: number };
    assert.deepEqual([report.filesBefore, report.filesAfter, report.rows], [2, 1, 1500]);
    const second = run();
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stdout, /eventDay=20240501\s+class4001\s+already-compacted\s+1\s+1500/);
    const bad = run('--row-group-rows', '12');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /row group rows must be a whole number ≥ 1024/);
  });

  it('says what is wrong with a missing lake or a bad row group size', async () => {
    await assert.rejects(compactLake(path.join(root, 'nope')), (err: unknown) => err instanceof SluiceError && err.code === 'LAKE_NOT_FOUND');
    await assert.rejects(compactLake(root, { rowGroupRows: 10 }), (err: unknown) => err instanceof SluiceError && err.code === 'BAD_OPTION');
  });
});
