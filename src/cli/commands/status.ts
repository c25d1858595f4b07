import { finalizePipelineName } from '../../runtime/finalize.js';
import { loadPipelineFile, type PipelineConfig } from '../../pipeline/config.js';
import { deadLetterPlaceFor } from '../../pipeline/places.js';
import { SluiceError } from '../../core/errors.js';
import { describeLedger } from '../../runtime/ledger/open-ledger.js';
import { UNIT_STATES, type Ledger, type UnitRow, type WorkerRow } from '../../runtime/ledger/types.js';
import { locateLedger } from '../default-paths.js';
import { openExistingLedger } from './open-ledger.js';

export interface StatusFlags {
  config?: string;
  state?: string;
  pipeline?: string;
  json?: boolean;
}

export interface PipelineStatus {
  pipeline: string;
  units: Record<string, number>;
  dead: Array<{ key: string; attempts: number; code: string; error: string }>;
  failed: Array<{ key: string; attempts: number; nextAttemptAt: string | null; error: string }>;
  /** Older versions replaced by a newer version of their key (up to 100): history, not work. */
  superseded: SupersededStatus[];
  runs: Array<{ id: string; startedAt: string; finishedAt: string | null; summary: unknown }>;
  /** The most recently heard-from workers (the fleet's `sluice worker` processes, and `sluice run`). */
  workers: WorkerStatus[];
  /** Partition units (CloudTrail day/month compaction), up to 500: key, state and counts. */
  partitions: Array<{ key: string; state: string; objects: number; recordsIn: number; recordsOut: number; recordsFiltered: number; recordsRejected: number }>;
}

export interface SupersededStatus {
  key: string;
  unit: string;
  /** What version of the key the unit was (etag, size, modification time, or its objects). */
  version: string;
  supersededBy: string;
  newVersion: string | null;
  /** The state of the unit that replaced it, null if it is no longer in the ledger. */
  newState: string | null;
  attempts: number;
  code: string;
  error: string;
  updatedAt: string;
}

/**
 * A unit's version as a person compares two of them: its id and, for one object, the object's
 * etag (for a folder source: size-mtime), size and modification time; for many, how many.
 *
 * @example
 * describeUnitVersion(unit) // 'unit 3f2a9c1b07de (etag 1532-1711454400000 · 1532 bytes · modified 2024-03-26T12:00:00.000Z)'
 */
export function describeUnitVersion(unit: Pick<UnitRow, 'id' | 'payload' | 'size'>): string {
  const objects = (unit.payload as { objects?: Array<{ etag?: string; versionId?: string; size?: number; lastModified?: string }> } | null)?.objects ?? [];
  const facts: string[] = [];
  if (objects.length === 1) {
    const o = objects[0]!;
    if (o.versionId) facts.push(`version ${o.versionId}`);
    if (o.etag) facts.push(`etag ${o.etag}`);
    if (o.size !== undefined) facts.push(`${o.size} bytes`);
    if (o.lastModified) facts.push(`modified ${o.lastModified}`);
  } else if (objects.length > 1) {
    facts.push(`${objects.length} objects`);
    if (unit.size !== undefined) facts.push(`${unit.size} bytes`);
  }
  return `unit ${unit.id.slice(0, 12)}${facts.length ? ` (${facts.join(' · ')})` : ''}`;
}

export interface WorkerStatus {
  id: string;
  host: string;
  pid: number;
  unitsInFlight: number;
  startedAt: string;
  lastHeartbeat: string;
  /** running: beating; stopped: said goodbye; silent: no beat for a minute (killed, frozen, cut off). */
  state: 'running' | 'stopped' | 'silent';
}

/** Workers beat at least every 10 s: a minute without a beat means the worker is gone or stuck. */
const SILENT_AFTER_MS = 60_000;

function workerStatus(w: WorkerRow, now: number): WorkerStatus {
  return {
    id: w.id,
    host: w.host,
    pid: w.pid,
    unitsInFlight: w.stoppedAt === null ? w.unitsInFlight : 0,
    startedAt: new Date(w.startedAt).toISOString(),
    lastHeartbeat: new Date(w.lastHeartbeatAt).toISOString(),
    state: w.stoppedAt !== null ? 'stopped' : now - w.lastHeartbeatAt > SILENT_AFTER_MS ? 'silent' : 'running',
  };
}

function ago(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
}

export async function collectStatus(ledger: Ledger, pipeline: string, now = Date.now()): Promise<PipelineStatus> {
  const brief = (u: UnitRow) => ({ key: u.key, attempts: u.attempts, code: u.lastError?.code ?? '', error: u.lastError?.message ?? '' });
  const runs = await ledger.listRuns(pipeline, 5);
  const superseded: SupersededStatus[] = [];
  for (const u of await ledger.listUnits(pipeline, { states: ['superseded'], limit: 100 })) {
    const newer = u.supersededBy === null ? null : await ledger.getUnit(u.supersededBy);
    superseded.push({
      key: u.key,
      unit: u.id,
      version: describeUnitVersion(u),
      supersededBy: u.supersededBy ?? '',
      newVersion: newer ? describeUnitVersion(newer) : null,
      newState: newer?.state ?? null,
      attempts: u.attempts,
      code: u.lastError?.code ?? '',
      error: u.lastError?.message ?? '',
      updatedAt: new Date(u.updatedAt).toISOString(),
    });
  }
  return {
    pipeline,
    units: await ledger.counts(pipeline),
    dead: (await ledger.listUnits(pipeline, { states: ['dead'], limit: 100 })).map(brief),
    failed: (await ledger.listUnits(pipeline, { states: ['failed'], limit: 100 })).map((u) => ({
      key: u.key,
      attempts: u.attempts,
      nextAttemptAt: u.nextAttemptAt === null ? null : new Date(u.nextAttemptAt).toISOString(),
      error: u.lastError?.message ?? '',
    })),
    superseded,
    runs: runs.map((r) => {
      const report = r.report as { units?: unknown; records?: unknown; elapsedMs?: number; interrupted?: boolean } | null;
      return {
        id: r.id,
        startedAt: new Date(r.startedAt).toISOString(),
        finishedAt: r.finishedAt === null ? null : new Date(r.finishedAt).toISOString(),
        summary: report ? { units: report.units, records: report.records, elapsedMs: report.elapsedMs, interrupted: report.interrupted } : null,
      };
    }),
    workers: (await ledger.listWorkers(pipeline, 20)).map((w) => workerStatus(w, now)),
    partitions: (await ledger.listUnits(pipeline, { limit: 5000 }))
      .filter((u) => u.kind === 'partition')
      .slice(0, 500)
      .map((u) => ({
        key: u.key,
        state: u.state,
        objects: ((u.payload as { objects?: unknown[] } | null)?.objects ?? []).length,
        recordsIn: u.recordsIn,
        recordsOut: u.recordsOut,
        recordsFiltered: u.recordsFiltered,
        recordsRejected: u.recordsRejected,
      })),
  };
}

/** Exit status: 0 no unit is dead, 2 some are (a script or CI step can tell), 1 the ledger cannot be read. */
/** The dead letters of a pipeline, wherever its place is (a folder, an S3 prefix): up to `limit` files, newest names last. */
export interface DeadLetterListing {
  location: string;
  files: Array<{ uri: string; size: number }>;
  /** True when there were more than `limit`. */
  more: boolean;
}

export async function listDeadLetters(config: PipelineConfig, limit = 1000): Promise<DeadLetterListing> {
  const place = deadLetterPlaceFor(config);
  const files: DeadLetterListing['files'] = [];
  let more = false;
  try {
    for await (const entry of place.listTree()) {
      if (!entry.key.endsWith('.rejected.ndjson')) continue;
      if (files.length >= limit) {
        more = true;
        break;
      }
      files.push({ uri: place.uri(entry.key), size: entry.size });
    }
  } finally {
    await place.close();
  }
  return { location: place.root, files, more };
}

export async function statusCommand(flags: StatusFlags): Promise<void> {
  const { value: state } = locateLedger(flags);
  const config = flags.config ? loadPipelineFile(flags.config) : undefined;
  const pipeline = flags.pipeline ?? config?.name;
  const ledger = await openExistingLedger(state);
  const shown = describeLedger(state);
  try {
    const now = Date.now();
    // A pipeline with an aggregate has its finalize units under `<name>#aggregate` (runtime/finalize.ts).
    const names = pipeline ? [pipeline, ...(await ledger.pipelines()).filter((n) => n === finalizePipelineName(pipeline!))] : await ledger.pipelines();
    const statuses = await Promise.all(names.map((name) => collectStatus(ledger, name, now)));
    if (statuses.some((s) => (s.units.dead ?? 0) > 0)) process.exitCode = 2;
    // With the pipeline file, its dead letters are listed from their place (local or S3).
    const deadLetters = config ? await listDeadLetters(config) : undefined;
    if (flags.json) {
      process.stdout.write(`${JSON.stringify({ state: shown, pipelines: statuses, ...(deadLetters ? { deadLetters } : {}) }, null, 2)}\n`);
      return;
    }
    const out: string[] = [`ledger ${shown}`];
    if (statuses.length === 0) out.push('  (no pipelines yet)');
    for (const s of statuses) {
      out.push(`pipeline ${s.pipeline}`);
      out.push(`  units   ${UNIT_STATES.map((st) => `${st} ${s.units[st] ?? 0}`).join(' · ')}`);
      for (const d of s.dead) out.push(`  dead    ${d.key} (${d.attempts} attempts, ${d.code}): ${d.error}`);
      for (const f of s.failed) out.push(`  retry   ${f.key} (${f.attempts} attempts, next at ${f.nextAttemptAt}): ${f.error}`);
      for (const v of s.superseded) {
        const newer = v.newVersion ? `${v.newVersion}, ${v.newState}` : `unit ${v.supersededBy.slice(0, 12)}`;
        const why = v.code ? ` · it had failed ${v.attempts}× with ${v.code}: ${v.error}` : '';
        out.push(`  superseded ${v.key}: ${v.version} replaced by ${newer}${why}`);
      }
      const moreSuperseded = (s.units.superseded ?? 0) - s.superseded.length;
      if (moreSuperseded > 0) out.push(`  superseded … and ${moreSuperseded} more older versions`);
      for (const r of s.runs) {
        const sum = r.summary as { records?: { in: number; out: number; rejected: number }; interrupted?: boolean } | null;
        const rec = sum?.records ? ` · records in ${sum.records.in} out ${sum.records.out} rejected ${sum.records.rejected}` : '';
        const how = r.finishedAt === null ? 'running or killed' : sum?.interrupted ? 'interrupted' : 'finished';
        out.push(`  run     ${r.startedAt} ${how}${rec}`);
      }
      for (const p of s.partitions.slice(0, 100)) {
        out.push(`  part    ${p.key} ${p.state} · ${p.objects} files · in ${p.recordsIn} out ${p.recordsOut} filtered ${p.recordsFiltered} rejected ${p.recordsRejected}`);
      }
      if (s.partitions.length > 100) out.push(`  part    … ${s.partitions.length - 100} more partitions (--json lists up to 500)`);
      for (const w of s.workers) {
        const flight = w.state === 'stopped' ? '' : ` · ${w.unitsInFlight} in flight`;
        out.push(`  worker  ${w.id} on ${w.host}${flight} · last heartbeat ${ago(w.lastHeartbeat, now)} (${w.state})`);
      }
    }
    if (deadLetters) {
      const bytes = deadLetters.files.reduce((n, f) => n + f.size, 0);
      out.push(`dead letters ${deadLetters.location} · ${deadLetters.files.length}${deadLetters.more ? '+' : ''} file(s), ${bytes} bytes`);
      for (const f of deadLetters.files.slice(0, 20)) out.push(`  letters ${f.uri} (${f.size} bytes)`);
      if (deadLetters.files.length > 20) out.push(`  letters … ${deadLetters.files.length - 20}${deadLetters.more ? '+' : ''} more (--json lists up to 1000)`);
    }
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    await ledger.close();
  }
}
