import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SluiceError } from '../../core/errors.js';
import { loadSqlTable, maskUrl } from './sql-table.js';
import { describeSqlTableSuite } from '../../testing/sql-table-suite.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-enrich-sql-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const dbFile = path.join(tmp, 'inventory.db');

describeSqlTableSuite('SQLite', async () => {
  const db = new Database(dbFile);
  return {
    label: 'SQLite',
    url: `sqlite:${dbFile}`,
    exec: async (sql) => void db.exec(sql),
    close: async () => void db.close(),
  };
});

async function assertLoadFails(request: Parameters<typeof loadSqlTable>[0], code: string, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(loadSqlTable(request), (err: unknown) => {
    assert.ok(err instanceof SluiceError, String(err));
    assert.equal(err.code, code);
    for (const pattern of patterns) assert.match(err.message, pattern);
    return true;
  });
}

describe('loadSqlTable', () => {
  const names = path.join(tmp, 'names.db');
  const setup = new Database(names);
  setup.exec("create table names (id text, name text, big integer); insert into names values ('a', 'alpha', 9007199254740993), ('b', null, 2)");
  setup.close();

  it('reads SQLite from a bare file path and from an env: reference, columns in query order', async () => {
    // Prepare
    process.env.SLUICE_TEST_NAMES_DB = `sqlite:${names}`;
    try {
      // Act
      const bare = await loadSqlTable({ table: 'names', sql: 'select name, id from names order by id', url: names });
      const viaEnv = await loadSqlTable({ table: 'names', sql: 'select name, id from names order by id', url: 'env:SLUICE_TEST_NAMES_DB' });
      // Assess
      assert.deepEqual(bare.columns, ['name', 'id']);
      assert.deepEqual(bare.rows, [
        ['alpha', 'a'],
        [null, 'b'],
      ]);
      assert.deepEqual(viaEnv.rows, bare.rows);
      assert.match(viaEnv.describeRow(0), /names\.db \(from env:SLUICE_TEST_NAMES_DB\) query row 1$/);
    } finally {
      delete process.env.SLUICE_TEST_NAMES_DB;
    }
  });

  it('keeps integers beyond 2^53 exact, as text', async () => {
    // Act
    const table = await loadSqlTable({ table: 'names', sql: 'select id, big from names order by id', url: `sqlite:${names}` });
    // Assess
    assert.equal(table.rows[0]![1], '9007199254740993');
    assert.equal(table.rows[1]![1], 2, 'safe integers stay numbers');
  });

  it('a missing database file fails to connect, naming it', async () => {
    await assertLoadFails({ table: 't', sql: 'select 1', url: path.join(tmp, 'missing.db') }, 'ENRICH_SQL_CONNECT', /enrich table "t": cannot connect to .*missing\.db/);
  });

  it('a statement that returns no rows is refused', async () => {
    await assertLoadFails({ table: 't', sql: 'delete from names', url: names }, 'ENRICH_SQL_QUERY', /returns no rows/);
  });

  it('an unknown database kind is refused without showing the password', async () => {
    await assert.rejects(loadSqlTable({ table: 't', sql: 'select 1', url: 'oracle://scott:tiger-secret@db.example/orcl' }), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'ENRICH_SQL_URL');
      assert.match(err.message, /oracle:\/\/scott:\*\*\*@db\.example\/orcl/);
      assert.ok(!err.message.includes('tiger-secret'));
      return true;
    });
  });

  it('a secret reference that is not set says which variable', async () => {
    await assert.rejects(loadSqlTable({ table: 't', sql: 'select 1', url: 'env:SLUICE_TEST_NOT_SET_ANYWHERE' }), /SLUICE_TEST_NOT_SET_ANYWHERE is not set/);
  });
});

describe('maskUrl', () => {
  it('replaces the password of a url and leaves the rest', () => {
    // Act / Assess
    assert.equal(maskUrl('postgres://app:s3cr%40t@db:5432/inv?sslmode=require'), 'postgres://app:***@db:5432/inv?sslmode=require');
    assert.equal(maskUrl('mysql://root@127.0.0.1:3306/test'), 'mysql://root@127.0.0.1:3306/test');
    assert.equal(maskUrl('sqlite:/var/lib/inv.db'), 'sqlite:/var/lib/inv.db');
  });
});
