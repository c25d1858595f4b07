/**
 * An in-memory DuckDB for one test file, to read back what Sluice wrote (Parquet, NDJSON) the way
 * users will: opened before the file's tests, closed after them.
 */
import { after, before } from 'node:test';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

export interface TestDuckDb {
  /** Runs SQL and returns the rows as JSON-friendly objects (BIGINT as text). */
  query(sql: string): Promise<Array<Record<string, unknown>>>;
}

/**
 * @example
 * const { query } = useDuckDb();
 * it('reads back', async () => assert.equal((await query('SELECT 1 AS n'))[0]!.n, 1));
 */
export function useDuckDb(): TestDuckDb {
  let duckdb: DuckDBInstance | undefined;
  let connection: DuckDBConnection | undefined;
  before(async () => {
    duckdb = await DuckDBInstance.create();
    connection = await duckdb.connect();
  });
  after(() => {
    connection?.closeSync();
    duckdb?.closeSync();
  });
  return {
    async query(sql) {
      if (!connection) throw new Error('useDuckDb: query called outside the tests of the file that set it up');
      return (await connection.runAndReadAll(sql)).getRowObjectsJson() as Array<Record<string, unknown>>;
    },
  };
}
