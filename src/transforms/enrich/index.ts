/**
 * The `enrich` transform: adds columns of lookup tables (friendly names, descriptions, tags…) to
 * records, by exact key (interface/subnet/VPC/instance ids) and by longest-prefix CIDR match of
 * IP addresses (IPv4 and IPv6).
 *
 * ```yaml
 * - type: enrich
 *   tables:
 *     interfaces: { file: ./tables/interfaces.csv, key: interface_id }
 *     subnets:    { file: ./tables/subnets.csv, key: subnet_id, cidr: [cidr, ipv6_cidr] }
 *     vpcs:       { sql: "select vpc_id, vpc_name from vpcs", url: "env:INVENTORY_DB", key: vpc_id }
 * ```
 *
 * How tables apply to a record (see enrich-plan.ts for the code):
 * - Tables apply in the order written, so a table can look up a field an earlier one added
 *   (interfaces add subnet_id/vpc_id to v2 flow logs that lack them; subnets and vpcs then name them).
 * - Default lookups, made for flow logs: a table with `key: K` looks up the field K and writes
 *   its columns under their own names (`interface_name`); a table with `cidr` looks up srcaddr,
 *   dstaddr, pkt_srcaddr and pkt_dstaddr by longest prefix and writes `src_<column>`,
 *   `dst_<column>`, `pkt_src_<column>`, `pkt_dst_<column>` (the pkt_ ones only when the packet
 *   address differs from srcaddr/dstaddr, else null); a keyed table without `cidr` also looks up
 *   `src_K`, `dst_K`, `pkt_src_K`, `pkt_dst_K` (`src_vpc_id` -> `src_vpc_name`).
 * - Explicit lookups replace the defaults: `on: interface_id` (exact, outputs unprefixed) and
 *   `match: { srcaddr: src, dstaddr: dst }` (field -> output prefix; by CIDR when the table has
 *   `cidr`, by key otherwise, CIDR then key when it has both). `prefix: net` adds `net_` after
 *   the side prefix; `fields` picks the columns (a list, or { column: output_name }).
 * - Default columns: all but the `cidr` columns, and but the key column for lookups by key.
 * - Outputs only fill: a non-null field is never overwritten. On a miss (or a null input) the
 *   outputs are null; when the record lacks the input field altogether nothing is added.
 * - Misses are not errors: `stats()` counts lookups and misses, per table.
 *
 * Output fields with the demo tables (src/demo/inventory.ts, inventoryTablesCsv) and the config
 * of `demoEnrichConfig` (demo-config.ts), which the `ocsf` mapping can rely on:
 *
 * ```yaml
 * interfaces: { file: interfaces.csv, key: interface_id }
 * hosts:      { file: interfaces.csv, cidr: [private_ip, ipv6_address], fields: { interface_id: interface_id, interface_name: name, instance_id: instance_id } }
 * subnets:    { file: subnets.csv, key: subnet_id, cidr: [cidr, ipv6_cidr] }
 * vpcs:       { file: vpcs.csv, key: vpc_id, fields: [vpc_name] }
 * instances:  { file: instances.csv, key: instance_id, fields: [instance_name, instance_type] }
 * networks:   { file: networks.csv, cidr: cidr, fields: [network_name] }
 * ```
 *   the observing interface: interface_name, description, private_ip, ipv6_address, and (filled
 *     when the log lacks them, as v2 logs do) instance_id, subnet_id, vpc_id, account_id;
 *     subnet_name, availability_zone, az_id, vpc_name, instance_name, instance_type
 *   each end, for E in src, dst (and pkt_src, pkt_dst: null unless the packet address differs):
 *     E_interface_id, E_name (the interface's name), E_instance_id (hosts);
 *     E_subnet_id, E_subnet_name, E_vpc_id, E_availability_zone, E_az_id (subnets);
 *     E_vpc_name (vpcs, through E_vpc_id); E_instance_name, E_instance_type (instances, through
 *     E_instance_id); E_network_name (networks: a subnet "prod/app-tier-1", an AWS range
 *     "AWS S3 eu-west-1", a named external peer, or a documentation range)
 *   Fields already in the log are never replaced (v5 logs carry instance_id, subnet_id, vpc_id, az_id).
 *
 * Loading: every table is loaded in `open()` (once per process or worker thread; the runtime
 * also opens the transform in the main thread first, so a bad table or an unreachable database
 * fails the run before any work). With `refreshSeconds` a table is reloaded on that interval
 * while the transform stays open; a failed reload keeps the previous table and is logged and
 * counted. Each batch sees one consistent set of tables.
 */
import type { RecordBatch, Transform } from '../../core/component.js';
import { SluiceError } from '../../core/errors.js';
import { createLogger, type Logger } from '../../core/logger.js';
import type { EnrichTableConfig, EnrichTransformConfig } from './config.js';
import { compileEnricher, planLookupSteps, stepOutputs, type EnrichBatchFunction, type LookupStep } from './enrich-plan.js';
import { loadTable } from './load-table.js';
import { buildLookupIndex, type LookupIndex } from './lookup-index.js';
import { defineTransform } from '../../core/component.js';
import { enrichTransformSchema, resolveEnrichPaths } from './config.js';

export interface EnrichTableStats {
  /** Rows in the table as last loaded. */
  rows: number;
  /** Rows whose key or CIDR block repeated an earlier row's (the first row wins). */
  duplicates: number;
  /** Lookups made (input field present and non-null). */
  lookups: number;
  /** Lookups that found no row. */
  misses: number;
  /** Successful loads (the first one in open(), then refreshes). */
  loads: number;
  /** Reloads that failed (the previous table stayed in use). */
  refreshErrors: number;
}

export interface EnrichStats {
  lookups: number;
  misses: number;
  tables: Record<string, EnrichTableStats>;
}

export interface EnrichTransform extends Transform {
  open(): Promise<void>;
  close(): Promise<void>;
  /** Lookup and miss counters since the transform was created (this thread only). */
  stats(): EnrichStats;
  /** Reloads every table now (what the refresh timer does for one table). */
  refresh(): Promise<void>;
}

/** Starts a repeating timer; returns a function that stops it. */
export type IntervalScheduler = (run: () => void, intervalMs: number) => () => void;

export interface EnrichDependencies {
  /** Default: setInterval, unref'd so a refresh timer never keeps the process alive. */
  scheduleInterval?: IntervalScheduler;
  logger?: Logger;
}

/** The tables and the generated code in use; replaced as a whole on refresh. */
interface Snapshot {
  indexes: LookupIndex[];
  run: EnrichBatchFunction;
}

const defaultScheduler: IntervalScheduler = (run, intervalMs) => {
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
};

/**
 * Creates the enrich transform. Nothing is read until `open()`.
 *
 * @example
 * const enrich = createEnrichTransform({ type: 'enrich', tables: { subnets: { file: '/data/subnets.csv', key: 'subnet_id', cidr: 'cidr' } } });
 * await enrich.open();
 * enrich.apply(batch); // records gain subnet_name, src_subnet_name, dst_subnet_name, …
 * enrich.stats(); // { lookups, misses, tables: { subnets: { … } } }
 */
export function createEnrichTransform(config: EnrichTransformConfig, deps: EnrichDependencies = {}): EnrichTransform {
  const tableNames = Object.keys(config.tables);
  const specs: EnrichTableConfig[] = tableNames.map((name) => config.tables[name]!);
  const steps = planLookupSteps(config);
  const counters = new Float64Array(steps.length * 2);
  const loads = new Array<number>(specs.length).fill(0);
  const rowCounts = new Array<number>(specs.length).fill(0);
  const duplicateCounts = new Array<number>(specs.length).fill(0);
  const refreshErrors = new Array<number>(specs.length).fill(0);
  const refreshing = new Set<number>();
  const stopTimers: Array<() => void> = [];
  let snapshot: Snapshot | undefined;
  let opening: Promise<void> | undefined;
  /** Bumped by close(), so that a load finishing after it installs nothing. */
  let generation = 0;
  let logger = deps.logger;

  const loadIndex = async (t: number): Promise<LookupIndex> => {
    const loaded = await loadTable(tableNames[t]!, specs[t]!);
    return buildLookupIndex(tableNames[t]!, specs[t]!, loaded);
  };

  const install = (indexes: LookupIndex[]): void => {
    const outputs = steps.map((step) => stepOutputs(step, specs[step.tableIndex]!, indexes[step.tableIndex]!.columns));
    snapshot = { indexes, run: compileEnricher(steps, outputs, indexes, counters) };
    indexes.forEach((index, t) => {
      rowCounts[t] = index.rows.length;
      duplicateCounts[t] = index.duplicates;
    });
  };

  const reloadTable = async (t: number): Promise<void> => {
    if (refreshing.has(t) || !snapshot) return;
    const started = generation;
    refreshing.add(t);
    try {
      const index = await loadIndex(t);
      if (!snapshot || started !== generation) return; // closed meanwhile
      const indexes = snapshot.indexes.slice();
      indexes[t] = index;
      install(indexes);
      loads[t]!++;
    } finally {
      refreshing.delete(t);
    }
  };

  const refreshInBackground = (t: number): void => {
    reloadTable(t).catch((err: unknown) => {
      refreshErrors[t]!++;
      logger ??= createLogger();
      logger.warn(
        { table: tableNames[t], error: err instanceof SluiceError ? err.message : String((err as Error)?.message ?? err) },
        'enrich: table refresh failed; the previous table stays in use',
      );
    });
  };

  const open = async (): Promise<void> => {
    const started = generation;
    const settled = await Promise.allSettled(specs.map((_, t) => loadIndex(t)));
    // Report the first failing table in config order, whatever finished first.
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    if (started !== generation) return; // closed while loading
    install(settled.map((s) => (s as PromiseFulfilledResult<LookupIndex>).value));
    loads.fill(1);
    const schedule = deps.scheduleInterval ?? defaultScheduler;
    specs.forEach((spec, t) => {
      const seconds = spec.refreshSeconds ?? config.refreshSeconds;
      if (seconds !== undefined) stopTimers.push(schedule(() => refreshInBackground(t), seconds * 1000));
    });
  };

  return {
    name: 'enrich',

    open(): Promise<void> {
      opening ??= open().catch((err: unknown) => {
        opening = undefined;
        throw err;
      });
      return opening;
    },

    apply(batch: RecordBatch): RecordBatch {
      const current = snapshot;
      if (!current) {
        throw new SluiceError('enrich: apply() called before open() finished (or after close())', {
          code: 'ENRICH_NOT_OPEN',
          stage: 'transform',
        });
      }
      current.run(batch.records);
      return batch;
    },

    async close(): Promise<void> {
      generation++;
      for (const stop of stopTimers.splice(0)) stop();
      snapshot = undefined;
      opening = undefined;
    },

    async refresh(): Promise<void> {
      if (!snapshot) throw new SluiceError('enrich: refresh() called before open()', { code: 'ENRICH_NOT_OPEN', stage: 'transform' });
      for (let t = 0; t < specs.length; t++) await reloadTable(t);
    },

    stats(): EnrichStats {
      const tables: Record<string, EnrichTableStats> = {};
      tableNames.forEach((name, t) => {
        tables[name] = { rows: rowCounts[t]!, duplicates: duplicateCounts[t]!, lookups: 0, misses: 0, loads: loads[t]!, refreshErrors: refreshErrors[t]! };
      });
      let lookups = 0;
      let misses = 0;
      steps.forEach((step: LookupStep, k) => {
        const table = tables[step.table]!;
        table.lookups += counters[2 * k]!;
        table.misses += counters[2 * k + 1]!;
        lookups += counters[2 * k]!;
        misses += counters[2 * k + 1]!;
      });
      return { lookups, misses, tables };
    },
  };
}

/** The catalog's entry: `{ type: enrich, tables: { ... } }`. */
export const enrichTransformComponent = defineTransform({ type: 'enrich', schema: enrichTransformSchema, create: (config) => createEnrichTransform(config), resolvePaths: resolveEnrichPaths });
