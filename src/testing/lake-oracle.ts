/**
 * What a reader of a lake prefix sees, read the way users read it: DuckDB over
 * `read_parquet('<lake>/**\/*.parquet', union_by_name)` — the whole local folder, or every object
 * of an S3 prefix downloaded as it is (no listing tricks, no manifest). The lake invariant
 * (docs/lake.md) is stated over exactly this: each row once.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { openPlace, type S3PlaceOptions } from '../core/place/index.js';

/** Record id → copies, over every Parquet file under the lake (`_id` column). */
export async function lakeIdCounts(location: string, s3?: Omit<S3PlaceOptions, 'uri'>): Promise<Map<string, number>> {
  let folder = location;
  let download: string | undefined;
  if (location.startsWith('s3://')) {
    download = await mkdtemp(path.join(os.tmpdir(), 'sluice-lake-oracle-'));
    const place = openPlace(location, s3);
    try {
      for await (const entry of place.listTree()) {
        if (!entry.key.endsWith('.parquet')) continue;
        const file = path.join(download, ...entry.key.split('/'));
        await mkdir(path.dirname(file), { recursive: true });
        await place.download(entry.key, file);
      }
    } finally {
      await place.close();
    }
    folder = download;
  }
  const instance = await DuckDBInstance.create();
  const connection = await instance.connect();
  try {
    const glob = path.join(folder, '**', '*.parquet').replaceAll("'", "''");
    const [any] = (await connection.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM glob('${glob}')`)).getRowObjectsJson();
    const counts = new Map<string, number>();
    if (Number(any?.n ?? 0) === 0) return counts;
    const rows = (await connection.runAndReadAll(`SELECT _id AS id, count(*)::BIGINT AS n FROM read_parquet('${glob}', union_by_name = true, hive_partitioning = false) GROUP BY 1`)).getRowObjectsJson();
    for (const row of rows) counts.set(String(row.id), Number(row.n));
    return counts;
  } finally {
    connection.closeSync();
    instance.closeSync();
    if (download) await rm(download, { recursive: true, force: true });
  }
}

/** Ids seen more than once, ids missing, and ids that should not be there. */
export function compareLakeIds(expected: ReadonlySet<string>, seen: ReadonlyMap<string, number>): { doubled: string[]; missing: string[]; unexpected: string[] } {
  const doubled = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
  const missing = [...expected].filter((id) => !seen.has(id));
  const unexpected = [...seen.keys()].filter((id) => !expected.has(id));
  return { doubled, missing, unexpected };
}
