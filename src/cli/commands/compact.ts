/**
 * `sluice compact`: rewrites each Security Lake partition's Parquet files of an OCSF class into
 * one file sorted by endpoint pair and time (see src/lake/compact.ts), so per-host questions over
 * the lake skip most row groups. Safe to re-run and to interrupt: rows are never lost or doubled.
 */
import { compactLake } from '../../lake/compact.js';
import { locateLake } from '../default-paths.js';
import { formatTable } from './query.js';

export interface CompactFlags {
  config?: string;
  lake?: string;
  day?: string[];
  rowGroupRows?: number;
  memoryLimit?: string;
  json?: boolean;
}

export async function compactCommand(flags: CompactFlags): Promise<void> {
  const report = await compactLake(locateLake(flags).value, {
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
  process.stderr.write(`${report.filesBefore} file(s) → ${report.filesAfter}, ${report.rows} rows, ${report.seconds.toFixed(1)} s\n`);
}
