/**
 * Mapping files of the Security Lake ETL framework (seed 004), read as they are written there and
 * compiled into a declarative OCSF mapping (declarative-mapping.ts), so the rows are checked
 * against the class and the output is what the schema check accepts.
 *
 * The file has four columns, in this order: `src_log_type, src_column_name, tgt_column,
 * default_values` (a header row with those names is optional). Rows of one `src_log_type` are in
 * the order of the source's columns: for a source without a header, they name its columns.
 * - `tgt_column` is a typed path, `name:type` segments joined by dots, every segment but the last
 *   typed `object`: `metadata:object.product:object.version:string`, `time:timestamp`,
 *   `traffic:object.bytes:bigint`. Types: string, int/integer/smallint/tinyint, bigint/long,
 *   float/double/decimal, boolean, timestamp, json.
 * - `default_values`: with a source column, the value used when the record lacks it (absent,
 *   empty or "-"); without one, a fixed value for every event (the framework's `default_values`
 *   rows for mandatory attributes the source does not have).
 * - An empty `tgt_column` names a source column without mapping it (it goes to `unmapped`).
 * Timestamp-typed columns are read with the source's timestamp format (the metadata file's
 * `source_log_timestamp_format`: `dd/MMM/yyyy:HH:mm:ss Z`, `epoch`, ...); without one, as epoch
 * seconds/milliseconds or ISO 8601.
 *
 * One-to-one only, as in the framework: a source column mapped twice (one-to-many), an attribute
 * set twice (many-to-one) or an expression in a cell (conditional mapping) is a "not supported"
 * error naming the file and row. Every problem of a file is reported at once.
 */
import { SluiceError } from '../../core/errors.js';
import type { SluiceRecord } from '../../core/record.js';
import { compileTimestampPattern, type TimestampParser } from '../../core/timestamp-pattern.js';
import type { AslCsvOptions } from './asl-config.js';
import { readCsvFile, type CsvRow } from './asl-csv.js';
import { compileDeclarativeMapping, type DeclarativeMappingSpec, type FieldRule, type OcsfValueType } from './declarative-mapping.js';
import { MappingFailure, OCSF_REJECT_CODES, type OcsfEvent, type OcsfMapping } from './mapping.js';
import { loadOcsfSchema } from './schema.js';

export const ASL_MAPPING_COLUMNS = ['src_log_type', 'src_column_name', 'tgt_column', 'default_values'] as const;


/** Mapping-CSV types and the conversion each stands for. */
const TYPES: Readonly<Record<string, OcsfValueType>> = {
  string: 'string',
  varchar: 'string',
  int: 'integer',
  integer: 'integer',
  smallint: 'integer',
  tinyint: 'integer',
  bigint: 'long',
  long: 'long',
  float: 'float',
  double: 'float',
  decimal: 'float',
  boolean: 'boolean',
  timestamp: 'timestamp',
  json: 'json',
};
const TYPE_NAMES = Object.keys(TYPES).join(', ');
const EXPECTED_PATH = 'name:type segments joined by dots, every segment but the last typed object, e.g. traffic:object.bytes:bigint';

export interface AslMappingRow {
  line: number;
  logType: string;
  source: string;
  target: string;
  defaultValue: string;
}

export interface TypedPath {
  /** Dotted OCSF path (`traffic.bytes`). */
  path: string;
  type: OcsfValueType;
  /** The type as written (`bigint`). */
  written: string;
}

/**
 * Reads a typed target path, or returns why it is malformed.
 *
 * @example
 * parseTypedPath('metadata:object.product:object.version:string') // { path: 'metadata.product.version', type: 'string', written: 'string' }
 */
export function parseTypedPath(text: string): TypedPath | string {
  const segments = text.split('.');
  const names: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!.trim();
    const colon = segment.indexOf(':');
    if (colon <= 0 || colon === segment.length - 1 || segment.indexOf(':', colon + 1) !== -1) {
      return `"${text}" is not a typed path: segment "${segment}" should be name:type (expected ${EXPECTED_PATH})`;
    }
    const name = segment.slice(0, colon).trim();
    const type = segment.slice(colon + 1).trim().toLowerCase();
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return `"${text}": "${name}" is not an attribute name (letters, digits, _)`;
    names.push(name);
    if (i < segments.length - 1) {
      if (type !== 'object') return `"${text}": segment "${segment}" leads further, so its type must be object (expected ${EXPECTED_PATH})`;
      continue;
    }
    if (type === 'object') return `"${text}": the last segment names a whole object; map a scalar inside it (e.g. ${name}:object.uid:string)`;
    if (type === 'array' || type.startsWith('array<') || type.startsWith('map<') || type.startsWith('struct<')) {
      return `"${text}": type ${type} is not supported (one-to-one mappings set one scalar attribute; known types: ${TYPE_NAMES})`;
    }
    const mapped = TYPES[type];
    if (!mapped) return `"${text}": unknown type "${type}" (expected one of ${TYPE_NAMES})`;
    return { path: names.join('.'), type: mapped, written: type };
  }
  return `"${text}" is empty`;
}

/** Reads the rows of a mapping CSV (all log types), or throws naming the file and row. */
export function readAslMappingFile(file: string): AslMappingRow[] {
  return aslMappingRows(readCsvFile(file, 'mapping CSV'), file);
}

export function aslMappingRows(rows: CsvRow[], file: string): AslMappingRow[] {
  const body = rows.length > 0 && rows[0]!.cells[0]?.toLowerCase() === 'src_log_type' ? rows.slice(1) : rows;
  const problems: string[] = [];
  const out: AslMappingRow[] = [];
  for (const row of body) {
    if (row.cells.length < 3 || row.cells.length > 4) {
      problems.push(`row ${row.line}: ${row.cells.length} columns, expected 4 (${ASL_MAPPING_COLUMNS.join(', ')}; default_values may be empty)`);
      continue;
    }
    const [logType, source, target, defaultValue = ''] = row.cells as [string, string, string, string?];
    if (logType === '') {
      problems.push(`row ${row.line}: src_log_type is empty`);
      continue;
    }
    out.push({ line: row.line, logType, source, target, defaultValue });
  }
  if (problems.length > 0) throw mappingError(file, problems);
  return out;
}

export interface CompiledAslMapping {
  /** The declarative spec (what `compileDeclarativeMapping` checks against the class). */
  spec: DeclarativeMappingSpec;
  /** Source column names in file order (the columns of a headerless source). */
  columns: string[];
  /** Source columns read as timestamps. */
  timestampColumns: string[];
  logType: string;
  /** Row of each fixed value, by attribute path (for messages). */
  constantRows: Map<string, number>;
}

/**
 * Turns the rows of one log type into a declarative spec, reporting every row that is not a
 * one-to-one mapping with a well-formed typed path.
 */
export function aslMappingSpec(rows: readonly AslMappingRow[], file: string, options: { logType?: string; classUid: number }): CompiledAslMapping {
  const logTypes = [...new Set(rows.map((r) => r.logType))];
  const logType = options.logType ?? (logTypes.length === 1 ? logTypes[0] : undefined);
  if (logType === undefined) {
    throw new SluiceError(`mapping ${file}: ${logTypes.length === 0 ? 'has no mapping rows' : `holds several src_log_type values (${logTypes.join(', ')}); say which one`}`, {
      code: 'ASL_MAPPING_INVALID',
      stage: 'config',
      hint: logTypes.length === 0 ? `write one row per source column: ${ASL_MAPPING_COLUMNS.join(',')}` : 'set the ocsf transform\'s csv.logType (import-asl does it from source_log_type)',
    });
  }
  const mine = rows.filter((r) => r.logType === logType);
  if (mine.length === 0) {
    throw new SluiceError(`mapping ${file}: no rows for src_log_type "${logType}" (found: ${logTypes.join(', ') || 'none'})`, {
      code: 'ASL_MAPPING_INVALID',
      stage: 'config',
      hint: 'src_log_type in the mapping file must equal source_log_type in the metadata file',
    });
  }
  const problems: string[] = [];
  const columns: string[] = [];
  const timestampColumns: string[] = [];
  const fields: FieldRule[] = [];
  const constants: Record<string, unknown> = {};
  const constantRows = new Map<string, number>();
  const sourceRow = new Map<string, number>();
  const targetRow = new Map<string, number>();
  for (const row of mine) {
    const where = `${file} row ${row.line}`;
    if (row.source !== '' && /[(){}=<>|;]|\s/.test(row.source)) {
      problems.push(`row ${row.line}: src_column_name "${row.source}" is an expression; conditional and computed mappings are not supported (one source column per row)`);
      continue;
    }
    if (row.source !== '') {
      const previous = sourceRow.get(row.source);
      if (previous !== undefined) {
        problems.push(`row ${row.line}: source column "${row.source}" is already mapped on row ${previous}; one-to-many mappings are not supported`);
        continue;
      }
      sourceRow.set(row.source, row.line);
      columns.push(row.source);
    }
    if (row.target === '') {
      if (row.source === '') problems.push(`row ${row.line}: neither src_column_name nor tgt_column is set`);
      else if (row.defaultValue !== '') problems.push(`row ${row.line}: default_values "${row.defaultValue}" has no tgt_column to fill`);
      continue;
    }
    const typed = parseTypedPath(row.target);
    if (typeof typed === 'string') {
      problems.push(`row ${row.line}: tgt_column ${typed}`);
      continue;
    }
    const previousTarget = targetRow.get(typed.path);
    if (previousTarget !== undefined) {
      problems.push(`row ${row.line}: ${typed.path} is already set on row ${previousTarget}; many-to-one mappings are not supported`);
      continue;
    }
    targetRow.set(typed.path, row.line);
    if (row.source === '') {
      if (row.defaultValue === '') {
        problems.push(`row ${row.line}: ${typed.path} has neither a source column nor a default value`);
        continue;
      }
      const value = convertDefault(row.defaultValue, typed);
      if (typeof value === 'object' && value !== null && 'problem' in value) {
        problems.push(`row ${row.line}: default_values ${value.problem}`);
        continue;
      }
      constants[typed.path] = value;
      constantRows.set(typed.path, row.line);
      continue;
    }
    if (typed.type === 'timestamp') timestampColumns.push(row.source);
    fields.push({
      from: row.source,
      to: typed.path,
      type: typed.type,
      where,
      ...(row.defaultValue !== '' ? { default: row.defaultValue } : {}),
    });
  }
  if (problems.length > 0) throw mappingError(file, problems);
  return {
    spec: { name: `file:${file}#${logType}`, classUid: options.classUid, constants, fields },
    columns,
    timestampColumns,
    logType,
    constantRows,
  };
}

function convertDefault(text: string, typed: TypedPath): unknown {
  const bad = (expected: string) => ({ problem: `"${text}" is not ${expected} (${typed.path} is typed ${typed.written})` });
  switch (typed.type) {
    case 'string':
    case 'ip':
      return text;
    case 'integer':
    case 'long':
      return /^-?\d{1,16}$/.test(text) ? Number(text) : bad('an integer');
    case 'float':
      return text !== '' && Number.isFinite(Number(text)) ? Number(text) : bad('a number');
    case 'boolean':
      return text.toLowerCase() === 'true' ? true : text.toLowerCase() === 'false' ? false : bad('true or false');
    case 'timestamp': {
      if (/^\d{1,16}$/.test(text)) return Number(text) < 1e11 ? Number(text) * 1000 : Number(text);
      const ms = Date.parse(text);
      return Number.isNaN(ms) ? bad('epoch milliseconds or an ISO 8601 time') : ms;
    }
    case 'json':
      try {
        return JSON.parse(text);
      } catch {
        return bad('JSON');
      }
  }
}

function mappingError(file: string, problems: string[]): SluiceError {
  return new SluiceError(`mapping ${file} has problems:\n  - ${problems.join('\n  - ')}`, {
    code: 'ASL_MAPPING_INVALID',
    stage: 'config',
    hint: `each row: ${ASL_MAPPING_COLUMNS.join(',')}, with tgt_column like traffic:object.bytes:bigint; one source column per attribute`,
  });
}

/**
 * Builds the OCSF mapping for a framework mapping CSV: the declarative mapping compiled against
 * the shipped schema (throws, naming every bad row, when a target is not in the class), plus
 * timestamp columns read by pattern and the enrich transform's fields turned into `enrichments`.
 *
 * @example
 * const mapping = createAslCsvMapping('examples/asl/s3access-mapping.csv', { classUid: 4002, timestampFormat: 'dd/MMM/yyyy:HH:mm:ss Z' }, '1.1.0');
 */
export function createAslCsvMapping(file: string, options: AslCsvOptions, version: string): OcsfMapping {
  const compiled = aslMappingSpec(readAslMappingFile(file), file, options);
  const schema = loadOcsfSchema(version);
  // Fixed values carry no row in the declarative spec: check them here so messages name the row.
  const constantProblems: string[] = [];
  const badConstants = new Set<string>();
  for (const [to, line] of compiled.constantRows) {
    const resolved = schema.resolvePath(options.classUid, to);
    if ('problem' in resolved) {
      constantProblems.push(`row ${line}: ${resolved.problem}`);
      badConstants.add(to);
    }
    else if (resolved.attribute.array && !Array.isArray(compiled.spec.constants![to])) {
      // An array attribute (metadata.profiles) takes a comma-separated default: "cloud,security_control".
      const value = compiled.spec.constants![to];
      (compiled.spec.constants as Record<string, unknown>)[to] = typeof value === 'string' ? value.split(',').map((v) => v.trim()).filter((v) => v !== '') : [value];
    }
  }
  let inner: OcsfMapping;
  try {
    inner = compileDeclarativeMapping({ ...compiled.spec, constants: Object.fromEntries(Object.entries(compiled.spec.constants ?? {}).filter(([to]) => !badConstants.has(to))) }, schema);
  } catch (err) {
    if (constantProblems.length === 0 || !(err instanceof SluiceError)) throw err;
    throw new SluiceError(`${err.message}\n  - ${constantProblems.join('\n  - ')}`, { code: err.code, stage: 'config', hint: err.hint });
  }
  if (constantProblems.length > 0) {
    throw new SluiceError(`mapping ${file} does not fit OCSF ${version} class ${options.classUid}:\n  - ${constantProblems.join('\n  - ')}`, {
      code: 'OCSF_MAPPING_INVALID',
      stage: 'config',
      hint: 'fix the rows listed; attribute paths and types are those of the OCSF schema (https://schema.ocsf.io)',
    });
  }
  const pattern: TimestampParser | undefined = options.timestampFormat ? compileTimestampPattern(options.timestampFormat) : undefined;
  const timeColumns = pattern ? compiled.timestampColumns : [];
  const enrichment = options.enrichment;
  const rowOf = new Map(compiled.spec.fields.map((f) => [f.from, f.where]));
  return {
    name: compiled.spec.name,
    classUids: inner.classUids,
    versions: inner.versions,
    map(record: SluiceRecord): OcsfEvent | MappingFailure {
      let fields = record.fields;
      let extra: Record<string, unknown> | undefined;
      if (enrichment) {
        fields = {};
        for (const key of Object.keys(record.fields)) {
          if (key.startsWith(enrichment.prefix)) {
            const value = record.fields[key];
            if (value !== null && value !== undefined) (extra ??= {})[key.slice(enrichment.prefix.length)] = value;
            continue;
          }
          fields[key] = record.fields[key];
        }
      }
      // Times are converted in place, once all of them parsed: the transform emits a new record,
      // and copying the fields of every record cost ~20% of the mapping's throughput. A record that
      // fails on its time keeps its text; one failing later shows its time in epoch ms.
      let converted: number[] | undefined;
      for (let i = 0; i < timeColumns.length; i++) {
        const column = timeColumns[i]!;
        const value = fields[column];
        if (typeof value !== 'string' || value === '' || value === '-') continue;
        const ms = pattern!(value);
        if (ms === undefined) {
          return new MappingFailure(
            OCSF_REJECT_CODES.badValue,
            `field "${column}" ${JSON.stringify(value)} does not match the timestamp format "${pattern!.pattern}" (expected ${pattern!.expected}; ${rowOf.get(column)})`,
          );
        }
        (converted ??= new Array<number>(timeColumns.length))[i] = ms;
      }
      if (converted !== undefined) {
        for (let i = 0; i < timeColumns.length; i++) if (converted[i] !== undefined) fields[timeColumns[i]!] = converted[i];
      }
      const event = inner.map(fields === record.fields ? record : { ...record, fields });
      if (event instanceof MappingFailure || !enrichment || extra === undefined) return event;
      const looked = record.fields[enrichment.field];
      const entry: Record<string, unknown> = { name: enrichment.field, value: looked === null || looked === undefined ? '' : String(looked), data: extra };
      if (enrichment.type) entry.type = enrichment.type;
      if (enrichment.provider) entry.provider = enrichment.provider;
      event.enrichments = [...((event.enrichments as unknown[] | undefined) ?? []), entry];
      return event;
    },
  };
}
