/**
 * SQL lookup tables against the real servers of the services tier: PostgreSQL at 127.0.0.1:5432
 * (user postgres, database test) and MariaDB at 127.0.0.1:3306 (root, empty password, database
 * test). A server that is down makes these tests fail, never skip.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { SluiceError } from '../../core/errors.js';
import { createEnrichTransform } from './index.js';
import { describeSqlTableSuite } from '../../testing/sql-table-suite.js';

const POSTGRES_URL = 'postgres://postgres:pg-test-password@127.0.0.1:5432/test';
const MARIADB_URL = 'mysql://root@127.0.0.1:3306/test';

describeSqlTableSuite('PostgreSQL', async () => {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  return {
    label: 'PostgreSQL',
    url: POSTGRES_URL,
    password: 'pg-test-password',
    exec: async (sql) => void (await client.query(sql)),
    close: () => client.end(),
  };
});

describeSqlTableSuite('MariaDB', async () => {
  const connection = await mysql.createConnection({ uri: MARIADB_URL, connectTimeout: 5000 });
  return {
    label: 'MariaDB',
    url: MARIADB_URL,
    exec: async (sql) => void (await connection.query(sql)),
    close: () => connection.end(),
  };
});

describe('enrich: unreachable or refused databases fail open() with the password masked', () => {
  async function assertConnectFails(url: string, password: string, ...patterns: RegExp[]): Promise<void> {
    const enrich = createEnrichTransform({ type: 'enrich', tables: { vpcs: { sql: 'select 1 as vpc_id', url, key: 'vpc_id' } } });
    await assert.rejects(enrich.open(), (err: unknown) => {
      assert.ok(err instanceof SluiceError, String(err));
      assert.equal(err.code, 'ENRICH_SQL_CONNECT');
      assert.match(err.message, /^enrich table "vpcs": cannot connect to /);
      for (const pattern of patterns) assert.match(err.message, pattern);
      assert.ok(!err.message.includes(password), err.message);
      assert.ok(err.hint && !err.hint.includes(password));
      return true;
    });
  }

  it('PostgreSQL on a closed port', async () => {
    await assertConnectFails('postgres://postgres:very-secret-pw@127.0.0.1:1/test', 'very-secret-pw', /postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/test/, /ECONNREFUSED/);
  });

  it('MariaDB with a wrong password', async () => {
    await assertConnectFails('mysql://root:wrong-secret-pw@127.0.0.1:3306/test', 'wrong-secret-pw', /mysql:\/\/root:\*\*\*@127\.0\.0\.1:3306\/test/, /Access denied/);
  });

  it('a url from an env: reference is named by its reference', async () => {
    process.env.SLUICE_TEST_INVENTORY_DB = 'postgres://postgres:env-secret-pw@127.0.0.1:1/test';
    try {
      const enrich = createEnrichTransform({ type: 'enrich', tables: { vpcs: { sql: 'select 1 as vpc_id', url: 'env:SLUICE_TEST_INVENTORY_DB', key: 'vpc_id' } } });
      await assert.rejects(enrich.open(), (err: unknown) => {
        assert.ok(err instanceof SluiceError);
        assert.match(err.message, /postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/test \(from env:SLUICE_TEST_INVENTORY_DB\)/);
        assert.ok(!err.message.includes('env-secret-pw'));
        return true;
      });
    } finally {
      delete process.env.SLUICE_TEST_INVENTORY_DB;
    }
  });
});
