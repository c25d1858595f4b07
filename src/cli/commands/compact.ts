/**
 * `sluice compact`: rewrites each Security Lake partition's Parquet files of an OCSF class into
 * one file sorted by endpoint pair and time (see src/lake/compact.ts), so per-host questions over
 * the lake skip most row groups; a local folder or an s3:// lake. Safe to re-run and to
 * interrupt: rows are never doubled, and the next run finishes an interrupted one.
 */
import { compactLake } from '../../lake/compact.js';
import { locateLake } from '../default-paths.js';
import { formatTable } from './query.js';

export interface CompactFlags {
  config?: string;
  lake?: string;
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  day?: string[];
  rowGroupRows?: number;
  memoryLimit?: string;
  json?: boolean;
}

export async function compactCommand(flags: CompactFlags): Promise<void> {
  const lake = locateLake(flags);
  const report = await compactLake(lake.value, {
    s3: lake.s3,
    days: flags.day,
    rowGroupRows: flags.rowGroupRows,
    memoryLimit: flags.memoryLimit,
  });
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  if (report.partitions.length === 0) {
    process.stdout.write(`no Security Lake partition folders (eventDay=…) with Parquet files under ${report.root}\n`);
    return;
  }
  process.stdout.write(
    formatTable(
      ['partition', 'class', 'outcome', 'files in', 'rows', 'MB in', 'MB out', 's'],
      report.partitions.map((p) => [p.folder, p.classTag, p.outcome, p.inputFiles, p.rows, (p.inputBytes / 1e6).toFixed(1), (p.bytes / 1e6).toFixed(1), p.seconds.toFixed(1)]),
    ),
  );
  const resumed = report.resumed > 0 ? `, ${report.resumed} interrupted compaction(s) finished first` : '';
  process.stderr.write(`${report.filesBefore} file(s) → ${report.filesAfter}, ${report.rows} rows, ${report.seconds.toFixed(1)} s${resumed}\n`);
  const skipped = report.partitions.filter((p) => p.outcome === 'no-record-ids');
  if (skipped.length > 0) {
    process.stderr.write(`${skipped.length} partition(s) left as they are: their files have no _id column, so a later re-run could not take their rows back out (set the files sink's idField: _id)\n`);
  }
}
