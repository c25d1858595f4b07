/**
 * One integration suite for SQL lookup tables, written once and run against every database:
 * SQLite in the normal tier (sql-table.test.ts), PostgreSQL and MariaDB in the services tier
 * (sql-table.services.test.ts). Each run creates its own table, queries it through the enrich
 * transform and drops it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SluiceError } from '../core/errors.js';
import { buildDemoInventory } from '../demo/inventory.js';
import { createEnrichTransform } from '../transforms/enrich/index.js';

export interface SqlSuiteDatabase {
  /** Shown in test names. */
  label: string;
  /** The url the transform gets (literal). */
  url: string;
  /** Password inside `url`, which no error message may show (undefined when there is none). */
  password?: string;
  /** Runs a statement on a separate connection (setup and teardown). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

const quote = (value: string | null) => (value === null ? 'NULL' : `'${value.replace(/'/g, "''")}'`);

/**
 * Registers the suite. `connect` is called once before the tests; when it fails (server down),
 * every test fails: the suite never skips.
 */
export function describeSqlTableSuite(label: string, connect: () => Promise<SqlSuiteDatabase>): void {
  describe(`enrich: SQL tables on ${label}`, () => {
    const inventory = buildDemoInventory(1);
    const suffix = `${process.pid}_${Date.now() % 100_000}`;
    const vpcs = `sluice_vpcs_${suffix}`;
    const subnets = `sluice_subnets_${suffix}`;
    let db: SqlSuiteDatabase;

    before(async () => {
      db = await connect();
      await db.exec(`create table ${vpcs} (vpc_id varchar(64) primary key, vpc_name varchar(64), owner varchar(64), tier integer)`);
      const rows = inventory.vpcs.map((v, i) => `(${quote(v.id)}, ${quote(v.name)}, ${quote(i === 0 ? null : `team-${i}`)}, ${i + 1})`);
      await db.exec(`insert into ${vpcs} (vpc_id, vpc_name, owner, tier) values ${rows.join(', ')}`);
      await db.exec(`create table ${subnets} (subnet_id varchar(64) primary key, subnet_name varchar(64), cidr varchar(64))`);
      const subnetRows = inventory.subnets.map((s) => `(${quote(s.id)}, ${quote(s.name)}, ${quote(s.cidr)})`);
      await db.exec(`insert into ${subnets} (subnet_id, subnet_name, cidr) values ${subnetRows.join(', ')}`);
    });

    after(async () => {
      if (!db) return;
      try {
        await db.exec(`drop table if exists ${vpcs}`);
        await db.exec(`drop table if exists ${subnets}`);
      } finally {
        await db.close();
      }
    });

    it('loads a query result as a table: keys, names, numbers and NULLs', async () => {
      // Prepare
      const enrich = createEnrichTransform({
        type: 'enrich',
        tables: { vpcs: { sql: `select vpc_id, vpc_name, owner, tier from ${vpcs} order by vpc_id`, url: db.url, key: 'vpc_id' } },
      });
      await enrich.open();
      const [first, second] = inventory.vpcs;
      // Act
      const batch = await enrich.apply({ records: [first!, second!, { id: 'vpc-unknown' }].map((v, i) => ({ id: `r${i}`, origin: { object: 'o', line: i + 1 }, fields: { vpc_id: v.id } })), rejects: [] });
      // Assess
      const [a, b, c] = batch.records.map((r) => r.fields);
      assert.deepEqual(a, { vpc_id: first!.id, vpc_name: first!.name, owner: null, tier: 1 });
      assert.deepEqual(b, { vpc_id: second!.id, vpc_name: second!.name, owner: 'team-1', tier: 2 });
      assert.deepEqual(c, { vpc_id: 'vpc-unknown', vpc_name: null, owner: null, tier: null });
      assert.equal(enrich.stats().tables.vpcs!.rows, inventory.vpcs.length);
      await enrich.close();
    });

    it('matches addresses against CIDR blocks read from a query', async () => {
      // Prepare
      const enrich = createEnrichTransform({
        type: 'enrich',
        tables: { subnets: { sql: `select subnet_id, subnet_name, cidr from ${subnets}`, url: db.url, key: 'subnet_id', cidr: 'cidr' } },
      });
      await enrich.open();
      const eni = inventory.interfaces.find((e) => e.name === 'db-primary')!;
      const subnet = inventory.subnets.find((s) => s.id === eni.subnetId)!;
      // Act
      const batch = await enrich.apply({ records: [{ id: 'r', origin: { object: 'o', line: 1 }, fields: { srcaddr: eni.privateIp, dstaddr: '192.0.2.10' } }], rejects: [] });
      // Assess
      const f = batch.records[0]!.fields;
      assert.equal(f.src_subnet_id, subnet.id);
      assert.equal(f.src_subnet_name, subnet.name);
      assert.equal(f.dst_subnet_name, null);
      await enrich.close();
    });

    it('a failing query fails open() naming the table and the database, never the password', async () => {
      // Prepare
      const enrich = createEnrichTransform({ type: 'enrich', tables: { vpcs: { sql: `select no_such_column from ${vpcs}`, url: db.url, key: 'vpc_id' } } });
      // Act / Assess
      await assert.rejects(enrich.open(), (err: unknown) => {
        assert.ok(err instanceof SluiceError, String(err));
        assert.equal(err.code, 'ENRICH_SQL_QUERY');
        assert.match(err.message, /enrich table "vpcs": query failed on /);
        assert.match(err.message, /no_such_column/);
        if (db.password) assert.ok(!err.message.includes(db.password) && !String(err.hint).includes(db.password), err.message);
        return true;
      });
    });
  });
}
