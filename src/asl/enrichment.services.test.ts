/**
 * The seed's SQL enrichment (enrichment_column joined against enrichment_col_db of
 * enrichment_db.enrichment_table) through a metadata row, against the real PostgreSQL and
 * MariaDB of the services tier. The database URL comes from enrichment_identifier as an env:
 * reference; events carry the matched row as an OCSF `enrichments` entry and stay valid.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { parsePipeline } from '../pipeline/config.js';
import { createTransforms } from '../pipeline/catalog.js';
import type { SluiceRecord } from '../core/record.js';
import { loadOcsfSchema, validateOcsfEvent } from '../transforms/ocsf/index.js';
import { ASL_METADATA_COLUMNS } from './metadata.js';
import { importAsl } from './to-pipeline.js';

const POSTGRES_URL = 'postgres://postgres:pg-test-password@127.0.0.1:5432/test';
const MARIADB_URL = 'mysql://root@127.0.0.1:3306/test';
const TABLE = 'asl_enrich_hosts';

function writeFiles(): { metadata: string; mapping: string; dir: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-asl-enrich-'));
  const values: Record<string, string> = {
    source_log_type: 'fw', load_type: 'daily', daily_load_number_of_days: '1', default_values: 'true', delimiter: '', source_format: 'csv', header: 'true',
    source_log_s3_bucket: 'fw-logs', source_log_timestamp_format: 'iso8601', target_s3_bucket: 'lake', is_enrichment_required: 'true',
    enrichment_column: 'src', enrichment_col_db: 'ip', enrichment_db: 'test', enrichment_table: TABLE, enrichment_identifier: 'env:SLUICE_TEST_ENRICH_DB',
    ocsf_class_id: '4001', ocsf_class_name: 'Network Activity',
  };
  const metadata = path.join(dir, 'metadata.csv');
  writeFileSync(metadata, `${ASL_METADATA_COLUMNS.join(',')}\n${ASL_METADATA_COLUMNS.map((c) => values[c] ?? '').join(',')}\n`);
  const mapping = path.join(dir, 'mapping.csv');
  writeFileSync(
    mapping,
    [
      'src_log_type,src_column_name,tgt_column,default_values',
      'fw,ts,time:timestamp,',
      'fw,src,src_endpoint:object.ip:string,',
      'fw,dst,dst_endpoint:object.ip:string,',
      'fw,,metadata:object.product:object.name:string,Firewall',
      'fw,,metadata:object.product:object.vendor_name:string,Example',
      'fw,,metadata:object.profiles:string,"cloud,security_control"',
      'fw,,cloud:object.provider:string,AWS',
      'fw,,activity_id:int,6',
      'fw,,action_id:int,0',
      'fw,,severity_id:int,1',
    ].join('\n'),
  );
  return { metadata, mapping, dir };
}

async function enrichThrough(url: string): Promise<Array<Record<string, any>>> {
  const files = writeFiles();
  process.env.SLUICE_TEST_ENRICH_DB = url;
  const [pipeline] = importAsl({ metadataFile: files.metadata, mappingFiles: [files.mapping], pipelineDir: files.dir });
  const config = parsePipeline(pipeline!.config, path.join(files.dir, 'fw.yaml'));
  assert.deepEqual(config.transforms.map((t) => t.type), ['enrich', 'ocsf']);
  const transforms = createTransforms(config.transforms);
  for (const t of transforms) await t.open?.();
  const record = (line: number, src: string): SluiceRecord => ({ id: `p-${line}`, origin: { object: 'x', line }, fields: { ts: '2024-01-02T03:04:05Z', src, dst: '10.0.0.9' } });
  let batch = { records: [record(2, '10.0.0.1'), record(3, '10.0.0.77')], rejects: [] as never[] };
  for (const t of transforms) batch = (await t.apply(batch)) as typeof batch;
  for (const t of transforms) await t.close?.();
  return batch.records.map((r) => r.fields as Record<string, any>);
}

function checkEvents(events: Array<Record<string, any>>): void {
  const schema = loadOcsfSchema('1.1.0');
  for (const e of events) assert.deepEqual(validateOcsfEvent(e, schema), []);
  assert.deepEqual(events[0]!.enrichments, [{ name: 'src', value: '10.0.0.1', data: { hostname: 'web-1', owner: 'team-a' }, type: TABLE, provider: 'test' }]);
  assert.equal(events[1]!.enrichments, undefined, 'no row for 10.0.0.77: nothing added');
  assert.equal(events[0]!.unmapped, undefined, 'the lookup columns do not leak into unmapped');
}

describe('ASL enrichment from SQL (enrichment_* columns)', () => {
  it('PostgreSQL', async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      await client.query(`drop table if exists ${TABLE}`);
      await client.query(`create table ${TABLE} (ip text primary key, hostname text, owner text)`);
      await client.query(`insert into ${TABLE} values ('10.0.0.1', 'web-1', 'team-a'), ('10.0.0.2', 'db-1', 'team-b')`);
      checkEvents(await enrichThrough(POSTGRES_URL));
    } finally {
      await client.query(`drop table if exists ${TABLE}`).catch(() => undefined);
      await client.end();
    }
  });

  it('MariaDB', async () => {
    const connection = await mysql.createConnection({ uri: MARIADB_URL, connectTimeout: 5000 });
    try {
      await connection.query(`drop table if exists ${TABLE}`);
      await connection.query(`create table ${TABLE} (ip varchar(64) primary key, hostname varchar(64), owner varchar(64))`);
      await connection.query(`insert into ${TABLE} values ('10.0.0.1', 'web-1', 'team-a'), ('10.0.0.2', 'db-1', 'team-b')`);
      checkEvents(await enrichThrough(MARIADB_URL));
    } finally {
      await connection.query(`drop table if exists ${TABLE}`).catch(() => undefined);
      await connection.end();
    }
  });
});
