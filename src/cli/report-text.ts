import type { RunReport } from '../runtime/run-pipeline.js';
import { formatCount, formatDuration } from './progress.js';
import { describeFinalize } from '../runtime/finalize.js';

/** The human summary printed at the end of a run. */
export function printReport(report: RunReport, out: NodeJS.WritableStream): void {
  const u = report.units;
  const r = report.records;
  // A resume that finds everything done is a success, and must not read as "0 done".
  const allAlreadyDone = u.total > 0 && u.skipped === u.total && u.dead === 0 && u.failed === 0;
  const outcome = report.interrupted
    ? 'INTERRUPTED (re-run to resume)'
    : u.dead > 0
      ? 'finished with dead units'
      : u.total === 0
        ? 'nothing to do: 0 units planned'
        : allAlreadyDone
          ? `done: all ${u.total} units already done (--full-load redoes them)`
          : 'done';
  const lines = [
    `pipeline ${report.pipeline} — ${outcome}`,
    `  units    ${u.total} total · ${u.skipped} already done · ${u.done} done now · ${u.dead} dead · ${u.failed} waiting to retry · ${u.retried} retries${u.superseded ? ` · ${u.superseded} older versions superseded` : ''}`,
    ...(report.emptyPlan ? [`  why      ${report.emptyPlan}`] : []),
    `  records  ${r.in} in · ${r.out} out · ${r.rejected} rejected · ${r.filtered} filtered`,
    `  time     ${formatDuration(report.elapsedMs)} · ${formatCount(report.recordsPerSecond)} records/s · peak RSS ${Math.round(report.peakRssBytes / 1048576)} MB`,
    `  outputs  ${report.outputs.length} files`,
  ];
  if (r.rejected > 0) lines.push(`  rejected lines are in ${report.deadLetters}`);
  if (report.aggregate) lines.push(`  ${describeFinalize(report.aggregate)}`);
  const parts = report.partitions;
  if (parts) {
    for (const step of ['day', 'month'] as const) {
      const f = parts[step];
      if (f.units === 0) continue;
      lines.push(`  ${step.padEnd(5)}    ${f.units} partitions · ${f.filesRead}/${f.filesListed} files read · ${f.records} records · ${f.duplicates} duplicates dropped · ${Math.round(f.bytes / 1048576)} MB`);
    }
    for (const skipped of parts.skippedFiles.slice(0, 20)) lines.push(`  skipped file: ${skipped.object} — ${skipped.code}: ${skipped.reason}`);
    if (parts.skippedFiles.length > 20) lines.push(`  … and ${parts.skippedFiles.length - 20} more skipped files (see the run report JSON)`);
  }
  for (const dead of report.deadUnits.slice(0, 10)) {
    lines.push(`  dead: ${dead.key} after ${dead.attempts} attempts — ${dead.error}`);
  }
  if (report.deadUnits.length > 10) lines.push(`  … and ${report.deadUnits.length - 10} more dead units (sluice status)`);
  if (u.dead > 0) lines.push('  fix the cause, then `sluice retry -c <pipeline> --run` redrives the dead units');
  out.write(lines.join('\n') + '\n');
}
