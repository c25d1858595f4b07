import type { RunReport } from '../runtime/run-pipeline.js';
import { formatCount, formatDuration } from './progress.js';

/** The human summary printed at the end of a run. */
export function printReport(report: RunReport, out: NodeJS.WritableStream): void {
  const u = report.units;
  const r = report.records;
  const lines = [
    `pipeline ${report.pipeline} — ${report.interrupted ? 'INTERRUPTED (re-run to resume)' : u.dead > 0 ? 'finished with dead units' : 'done'}`,
    `  units    ${u.total} total · ${u.done} done · ${u.skipped} skipped (already done) · ${u.dead} dead · ${u.failed} waiting to retry · ${u.retried} retries`,
    `  records  ${r.in} in · ${r.out} out · ${r.rejected} rejected · ${r.filtered} filtered`,
    `  time     ${formatDuration(report.elapsedMs)} · ${formatCount(report.recordsPerSecond)} records/s · peak RSS ${Math.round(report.peakRssBytes / 1048576)} MB`,
    `  outputs  ${report.outputs.length} files`,
  ];
  if (r.rejected > 0) lines.push(`  rejected lines are in ${report.deadLetters}`);
  for (const dead of report.deadUnits.slice(0, 10)) {
    lines.push(`  dead: ${dead.key} after ${dead.attempts} attempts — ${dead.error}`);
  }
  if (report.deadUnits.length > 10) lines.push(`  … and ${report.deadUnits.length - 10} more dead units (sluice status)`);
  if (u.dead > 0) lines.push('  fix the cause, then `sluice retry -c <pipeline> --run` redrives the dead units');
  out.write(lines.join('\n') + '\n');
}
