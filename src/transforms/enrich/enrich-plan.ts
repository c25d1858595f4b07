/**
 * Which record fields are looked up in which table, what each lookup writes, and the generated
 * function that does it for a batch.
 *
 * Invariants of the generated code:
 * - A lookup whose input field is absent from the record (undefined) adds nothing. When the field
 *   is present, every output of the lookup ends up present: the row's value on a hit, null on a
 *   miss (or a null input). So records with the same input fields get the same output fields in
 *   the same order, hence one hidden class, which keeps the next stages' property loads fast.
 * - Outputs only fill: a field that already holds a non-null value (from the log, or from an
 *   earlier lookup) is never overwritten. The first table that finds a value wins.
 * - Field names go into the code as JSON string literals (never as code), so V8 sees named
 *   stores with constant keys: generic `fields[name] = v` stores with varying names would turn
 *   the records into dictionary-mode objects after a dozen new properties.
 * - Counters: `counters[2k]` counts lookups made by step k (non-null input), `counters[2k + 1]`
 *   its misses.
 */
import { SluiceError } from '../../core/errors.js';
import type { SluiceRecord } from '../../core/record.js';
import type { EnrichTableConfig, EnrichTransformConfig } from './config.js';
import { cidrColumnsOf, type LookupIndex } from './lookup-index.js';
import { parseIpv4 } from './parse-address.js';

/** How a step finds a row: by exact key, by longest-prefix CIDR match, or by CIDR then key. */
export type LookupMethod = 'key' | 'cidr' | 'cidr-then-key';

/** One lookup of one record field in one table. */
export interface LookupStep {
  table: string;
  /** Position of the table in config order (its index in the indexes array). */
  tableIndex: number;
  field: string;
  method: LookupMethod;
  /** Prefix for the output names, already ending in "_" (or empty): side prefix + table prefix. */
  prefix: string;
  /** Skip the lookup (outputs null) when the field equals this other field: pkt_srcaddr = srcaddr. */
  unlessEqualTo?: string;
}

/** The address fields of flow logs and the side prefix their outputs take. */
export const DEFAULT_ADDRESS_FIELDS: ReadonlyArray<{ field: string; side: string; unlessEqualTo?: string }> = [
  { field: 'srcaddr', side: 'src_' },
  { field: 'dstaddr', side: 'dst_' },
  { field: 'pkt_srcaddr', side: 'pkt_src_', unlessEqualTo: 'srcaddr' },
  { field: 'pkt_dstaddr', side: 'pkt_dst_', unlessEqualTo: 'dstaddr' },
];

/** Side prefixes under which a keyed table also looks up `<side><key>` fields by default. */
export const DEFAULT_KEY_SIDES: readonly string[] = ['src_', 'dst_', 'pkt_src_', 'pkt_dst_'];

/** "src" and "src_" both mean the prefix "src_"; "" means none. */
export function normalizePrefix(prefix: string | undefined): string {
  if (!prefix) return '';
  return prefix.endsWith('_') ? prefix : `${prefix}_`;
}

/**
 * The lookup steps of a transform, in order: tables in config order; within a table, `on`
 * fields, then `match` fields, or when neither is given the flow-log defaults:
 * - `key` K: the record field K (outputs: prefix only);
 * - `cidr`: srcaddr, dstaddr, pkt_srcaddr, pkt_dstaddr (outputs: src_, dst_, pkt_src_, pkt_dst_;
 *   the pkt_ ones only when they differ from srcaddr/dstaddr);
 * - `key` without `cidr`: also src_K, dst_K, pkt_src_K, pkt_dst_K, which an earlier CIDR table
 *   may have added (so vpcs by vpc_id names the VPC of each end found through subnets).
 */
export function planLookupSteps(config: EnrichTransformConfig): LookupStep[] {
  const steps: LookupStep[] = [];
  Object.entries(config.tables).forEach(([table, spec], tableIndex) => {
    const tablePrefix = normalizePrefix(spec.prefix);
    const hasKey = spec.key !== undefined;
    const hasCidr = spec.cidr !== undefined;
    const add = (field: string, method: LookupMethod, side: string, unlessEqualTo?: string) =>
      steps.push({ table, tableIndex, field, method, prefix: side + tablePrefix, ...(unlessEqualTo ? { unlessEqualTo } : {}) });

    if (spec.on !== undefined || spec.match !== undefined) {
      for (const field of spec.on === undefined ? [] : typeof spec.on === 'string' ? [spec.on] : spec.on) add(field, 'key', '');
      const method: LookupMethod = hasCidr ? (hasKey ? 'cidr-then-key' : 'cidr') : 'key';
      for (const [field, side] of Object.entries(spec.match ?? {})) add(field, method, normalizePrefix(side));
      return;
    }
    if (hasKey) add(spec.key!, 'key', '');
    if (hasCidr) {
      for (const end of DEFAULT_ADDRESS_FIELDS) add(end.field, 'cidr', end.side, end.unlessEqualTo);
    } else {
      for (const side of DEFAULT_KEY_SIDES) add(`${side}${spec.key!}`, 'key', side);
    }
  });
  return steps;
}

/** One column copied by a step: its index in the row and the record field it goes to. */
export interface StepOutput {
  column: number;
  name: string;
}

/**
 * The outputs of a step for a table with these columns. Default columns: all but the CIDR
 * columns, and but the key column for lookups by key (it would repeat the input).
 */
export function stepOutputs(step: LookupStep, spec: EnrichTableConfig, columns: readonly string[]): StepOutput[] {
  let chosen: Array<[column: string, name: string]>;
  if (Array.isArray(spec.fields)) chosen = spec.fields.map((c) => [c, c]);
  else if (spec.fields !== undefined) chosen = Object.entries(spec.fields);
  else {
    const skipped = new Set(cidrColumnsOf(spec));
    if (step.method === 'key' && spec.key !== undefined) skipped.add(spec.key);
    chosen = columns.filter((c) => !skipped.has(c)).map((c) => [c, c]);
  }
  const seen = new Set<string>();
  return chosen.map(([column, name]) => {
    const output = step.prefix + name;
    if (seen.has(output)) {
      throw new SluiceError(`enrich table "${step.table}": two columns would both be written to "${output}"`, {
        code: 'ENRICH_BAD_OUTPUT_NAME',
        stage: 'config',
        hint: 'give each column its own output name in `fields`',
      });
    }
    seen.add(output);
    if (output === '__proto__') {
      throw new SluiceError(`enrich table "${step.table}": "__proto__" cannot be an output field name`, {
        code: 'ENRICH_BAD_OUTPUT_NAME',
        stage: 'config',
        hint: 'rename the column with `fields: { column: other_name }`',
      });
    }
    return { column: columns.indexOf(column), name: output };
  });
}

/** Enriches every record of a batch (replacing or changing `record.fields`). */
export type EnrichBatchFunction = (records: SluiceRecord[]) => void;

/** Past this many distinct field layouts, records of new layouts take the in-place path. */
export const MAX_COMPILED_SHAPES = 32;

const METHOD_CALL: Record<LookupMethod, string> = { key: 'byKey', cidr: 'byAddress', 'cidr-then-key': 'byAddressOrKey' };

type FieldsBuilder = (fields: Record<string, unknown>) => Record<string, unknown>;
type FieldsUpdater = (fields: Record<string, unknown>) => void;

interface Shape {
  /** Object.keys of the records of this layout (V8 hands out the same internalized strings, so comparing is cheap). */
  keys: string[];
  /** Builds the enriched fields object, or undefined when this layout takes the in-place path. */
  build: FieldsBuilder | undefined;
}

/**
 * Generates the function that enriches batches against these tables (`outputs[k]` belongs to
 * `steps[k]`).
 *
 * Records are grouped by field layout (their `Object.keys`, which V8 returns from a cache for
 * objects of one hidden class, so checking a record against the previous layout costs one small
 * array copy and pointer compares). For each layout seen, a builder is generated that knows
 * statically which fields are present: it skips lookups of absent fields, keeps every field in a
 * local, and returns a new fields object as one object literal (input fields, then outputs).
 * Adding dozens of properties to an existing object one by one costs several times more: V8
 * grows an object's out-of-object property store three slots at a time. Layouts beyond
 * MAX_COMPILED_SHAPES (records of free-form JSON, say) use the in-place updater instead, which
 * has the same semantics.
 *
 * @example
 * const enrichBatch = compileEnricher(steps, outputs, indexes, counters);
 * enrichBatch(batch.records);
 */
export function compileEnricher(
  steps: readonly LookupStep[],
  outputs: ReadonlyArray<readonly StepOutput[]>,
  indexes: readonly LookupIndex[],
  counters: Float64Array,
): EnrichBatchFunction {
  const updateInPlace = compileInPlaceUpdater(steps, outputs, indexes, counters);
  const shapes = new Map<string, Shape>();
  let last: Shape = { keys: [], build: undefined };

  const shapeOf = (keys: string[]): Shape => {
    const id = keys.join('\n');
    let shape = shapes.get(id);
    if (!shape) {
      const compiled = shapes.size < MAX_COMPILED_SHAPES && !keys.includes('__proto__');
      shape = { keys, build: compiled ? compileShapeBuilder(keys, steps, outputs, indexes, counters) : undefined };
      if (compiled) shapes.set(id, shape);
    }
    return shape;
  };

  return (records: SluiceRecord[]): void => {
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      const fields = record.fields;
      const keys = Object.keys(fields);
      let shape = last;
      const known = shape.keys;
      let same = keys.length === known.length;
      for (let k = 0; same && k < keys.length; k++) same = keys[k] === known[k];
      if (!same) last = shape = shapeOf(keys);
      if (shape.build) record.fields = shape.build(fields);
      else updateInPlace(fields);
    }
  };
}

/** Names the code uses for tables: T0, T1… bound once per compiled function. */
function tablePrelude(steps: readonly LookupStep[]): string[] {
  return [...new Set(steps.map((s) => s.tableIndex))].map((t) => `const T${t} = indexes[${t}];`);
}

const lit = (s: string) => JSON.stringify(s);

function compileShapeBuilder(
  inputKeys: readonly string[],
  steps: readonly LookupStep[],
  outputs: ReadonlyArray<readonly StepOutput[]>,
  indexes: readonly LookupIndex[],
  counters: Float64Array,
): FieldsBuilder {
  // Every field the code touches gets a local; `present` says which exist at this point.
  const locals = new Map<string, string>();
  const present = new Set(inputKeys);
  const touched = new Set<string>();
  const newNames: string[] = [];
  const local = (name: string) => {
    let v = locals.get(name);
    if (!v) {
      v = `L${locals.size}`;
      locals.set(name, v);
    }
    return v;
  };
  // An address field that no step writes is parsed once per record, however many tables match it.
  const written = new Set(outputs.flatMap((outs) => outs.map((o) => o.name)));
  const parsedAddresses = new Map<string, string>();
  const body: string[] = [];
  steps.forEach((step, k) => {
    if (!present.has(step.field)) return; // absent input: the step adds nothing to records of this layout
    const outs = outputs[k]!;
    const skip = step.unlessEqualTo !== undefined && present.has(step.unlessEqualTo) ? ` && v !== ${local(step.unlessEqualTo)}` : '';
    const table = `T${step.tableIndex}`;
    body.push(`  // ${safeComment(step.table)}: ${safeComment(step.field)} by ${step.method}`);
    body.push(`  v = ${local(step.field)};`, '  r = undefined;');
    body.push(`  if (v != null${skip}) {`);
    body.push(`    counters[${2 * k}]++;`);
    if (step.method !== 'key' && !written.has(step.field)) {
      let parsed = parsedAddresses.get(step.field);
      if (!parsed) {
        parsed = `P${parsedAddresses.size}`;
        parsedAddresses.set(step.field, parsed);
      }
      // -2: not parsed yet; -1: not an IPv4 address (IPv6 or anything else: the text path decides).
      body.push(`    if (${parsed} === -2) ${parsed} = typeof v === "string" ? parseIpv4(v) : -1;`);
      body.push(`    r = ${parsed} >= 0 ? ${table}.byIpv4(${parsed}) : ${table}.byAddress(v);`);
      if (step.method === 'cidr-then-key') body.push(`    if (r === undefined) r = ${table}.byKey(v);`);
    } else {
      body.push(`    r = ${table}.${METHOD_CALL[step.method]}(v);`);
    }
    body.push(`    if (r === undefined) counters[${2 * k + 1}]++;`);
    body.push('  }');
    const onHit: string[] = [];
    const onMiss: string[] = [];
    for (const o of outs) {
      const target = local(o.name);
      if (present.has(o.name)) {
        onHit.push(`    if (${target} == null) ${target} = r[${o.column}];`);
      } else {
        onHit.push(`    ${target} = r[${o.column}];`);
        onMiss.push(`    ${target} = null;`);
      }
    }
    for (const o of outs) {
      touched.add(o.name);
      if (!present.has(o.name)) {
        present.add(o.name);
        newNames.push(o.name);
      }
    }
    if (onHit.length > 0) body.push('  if (r !== undefined) {', ...onHit, onMiss.length > 0 ? '  } else {' : '', ...onMiss, '  }');
  });

  // Locals of input fields start from the record; locals of new fields are assigned before use.
  const declarations = [...locals].map(([name, v]) => (inputKeys.includes(name) ? `${v} = f[${lit(name)}]` : v));
  const properties = [
    ...inputKeys.map((key) => `${lit(key)}: ${touched.has(key) ? locals.get(key)! : `f[${lit(key)}]`}`),
    ...newNames.map((name) => `${lit(name)}: ${locals.get(name)!}`),
  ];
  const code = [
    '"use strict";',
    ...tablePrelude(steps),
    'return function enrichFields(f) {',
    '  let v, r;',
    ...(declarations.length > 0 ? [`  let ${declarations.join(', ')};`] : []),
    ...(parsedAddresses.size > 0 ? [`  let ${[...parsedAddresses.values()].map((p) => `${p} = -2`).join(', ')};`] : []),
    ...body,
    `  return {${properties.join(', ')}};`,
    '};',
  ].join('\n');
  return new Function('indexes', 'counters', 'parseIpv4', code)(indexes, counters, parseIpv4) as FieldsBuilder;
}

/**
 * The in-place path: same semantics, decided per record (`f[name] === undefined` for absence).
 */
function compileInPlaceUpdater(
  steps: readonly LookupStep[],
  outputs: ReadonlyArray<readonly StepOutput[]>,
  indexes: readonly LookupIndex[],
  counters: Float64Array,
): FieldsUpdater {
  const lines: string[] = ['"use strict";', ...tablePrelude(steps), 'return function enrichFieldsInPlace(f) {', '  let v, r;'];
  steps.forEach((step, k) => {
    const outs = outputs[k]!;
    lines.push(`  // ${safeComment(step.table)}: ${safeComment(step.field)} by ${step.method}`);
    lines.push(`  v = f[${lit(step.field)}];`);
    lines.push('  if (v !== undefined) {');
    lines.push('    r = undefined;');
    const skip = step.unlessEqualTo === undefined ? '' : ` && v !== f[${lit(step.unlessEqualTo)}]`;
    lines.push(`    if (v !== null${skip}) {`);
    lines.push(`      counters[${2 * k}]++;`);
    lines.push(`      r = T${step.tableIndex}.${METHOD_CALL[step.method]}(v);`);
    lines.push(`      if (r === undefined) counters[${2 * k + 1}]++;`);
    lines.push('    }');
    if (outs.length > 0) {
      lines.push('    if (r !== undefined) {');
      for (const o of outs) lines.push(`      if (f[${lit(o.name)}] == null) f[${lit(o.name)}] = r[${o.column}];`);
      lines.push('    } else {');
      for (const o of outs) lines.push(`      if (f[${lit(o.name)}] === undefined) f[${lit(o.name)}] = null;`);
      lines.push('    }');
    }
    lines.push('  }');
  });
  lines.push('};');
  return new Function('indexes', 'counters', lines.join('\n'))(indexes, counters) as FieldsUpdater;
}

/** Names in generated comments (read in profilers) keep only harmless characters. */
function safeComment(text: string): string {
  return text.replace(/[^\w.-]/g, '?');
}
