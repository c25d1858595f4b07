/**
 * Writes the demo estate's lookup tables where a pipeline can load them: the CSV files of
 * `inventoryTablesCsv` and a SQLite database holding the same VPCs, so that the demo, the tests
 * and the benchmark can show an enrich table loaded by SQL (`url: sqlite:...` or
 * `env:INVENTORY_DB`) next to file tables, without a database server.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { inventoryTablesCsv, type DemoInventory } from './inventory.js';

export interface DemoTables {
  /** Folder holding interfaces.csv, subnets.csv, vpcs.csv, instances.csv, networks.csv. */
  dir: string;
  /** SQLite file with table `vpcs (vpc_id primary key, vpc_name, account_id, region)`. */
  database: string;
}

/** The query that reads the VPC table back, as the example pipeline writes it. */
export const DEMO_VPCS_SQL = 'select vpc_id, vpc_name from vpcs';

/**
 * Writes the tables into `dir` (created if needed; the database is replaced).
 *
 * @example
 * const tables = writeDemoTables('/tmp/demo/tables', buildDemoInventory(1));
 * // /tmp/demo/tables/interfaces.csv ... and /tmp/demo/tables/inventory.db
 */
export function writeDemoTables(dir: string, inventory: DemoInventory): DemoTables {
  mkdirSync(dir, { recursive: true });
  for (const [name, csv] of Object.entries(inventoryTablesCsv(inventory))) writeFileSync(path.join(dir, name), csv);
  const database = path.join(dir, 'inventory.db');
  rmSync(database, { force: true });
  const db = new Database(database);
  try {
    db.exec('create table vpcs (vpc_id text primary key, vpc_name text not null, account_id text not null, region text not null)');
    const insert = db.prepare('insert into vpcs (vpc_id, vpc_name, account_id, region) values (?, ?, ?, ?)');
    db.transaction(() => {
      for (const vpc of inventory.vpcs) insert.run(vpc.id, vpc.name, vpc.accountId, vpc.region);
    })();
  } finally {
    db.close();
  }
  return { dir, database };
}
