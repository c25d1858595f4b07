/**
 * The Parquet schema of one part: inferred from the part's first records, or declared by name.
 *
 * Why structs, not JSON strings: OCSF events are nested (`src_endpoint.ip`,
 * `metadata.product.name`), and Security Lake, Athena and DuckDB all expect those as Parquet
 * STRUCT groups, which prune to the one leaf a query reads. Parquet can hold them (the shredder
 * computes definition/repetition levels itself), so nested objects become structs and arrays
 * become standard 3-level LISTs. JSON strings (`converted_type: JSON`) are kept for what a fixed
 * schema cannot express: values whose kind varies between records (a string here, an object
 * there), arrays of mixed or unknown element kinds, arrays of arrays, empty objects, structs
 * wider than `MAX_STRUCT_FIELDS`, and anything nested deeper than `MAX_NESTING`.
 *
 * Inference rules (deterministic: the same sample gives the same schema, fields in order of first
 * appearance): integers -> int64 (a top-level `time` -> timestamp, epoch ms), other numbers ->
 * double (integers and non-integers mixed -> double), booleans, strings (UTF8), Dates ->
 * timestamp, objects (plain or class instances, see isStructLike) -> struct, arrays -> list of
 * the element's type. A field seen only
 * as null in the sample becomes a nullable string. Every column is OPTIONAL.
 *
 * The sample is the part's first 1,000 records (fewer when `rowGroupRows` is smaller). Two
 * columns are added by the sink, not inferred: the record id (`idField`, first) and `_overflow`
 * (last), a JSON object holding, by dotted path, every value that did not fit the part's schema
 * (a field first seen after the sample, or a value of another kind than its column). So nothing
 * is lost, and one part has one schema. Limits: a null reads back like an absent field; JSON has
 * no NaN or ±Infinity, so such a number in `_overflow` or a JSON column reads back as null; a
 * key containing a dot makes its `_overflow` path ambiguous.
 */
import type { SchemaElement } from 'hyparquet';

export type ParquetLeafType = 'int64' | 'double' | 'boolean' | 'string' | 'timestamp' | 'json';

export interface ParquetLeafField {
  kind: 'leaf';
  name: string;
  type: ParquetLeafType;
}

export interface ParquetStructField {
  kind: 'struct';
  name: string;
  fields: ParquetField[];
}

export interface ParquetListField {
  kind: 'list';
  name: string;
  /** The element (named `element` in the file); lists never nest lists (those become JSON). */
  element: ParquetLeafField | ParquetStructField;
}

export type ParquetField = ParquetLeafField | ParquetStructField | ParquetListField;

/** Name of the column holding, as JSON, the values that did not fit the part's schema. */
export const OVERFLOW_COLUMN = '_overflow';

/** Structs with more fields than this in the sample are written as JSON instead. */
export const MAX_STRUCT_FIELDS = 512;
/** Objects nested deeper than this (the record's fields are depth 0) are written as JSON. */
export const MAX_NESTING = 8;

const leaf = (name: string, type: ParquetLeafType): ParquetLeafField => ({ kind: 'leaf', name, type });

/**
 * CloudTrail events as seed 002's monthly Parquet step declares them: the identifying scalars as
 * strings, `eventTime` as a timestamp (the leaf accepts CloudTrail's ISO 8601 strings), and the
 * parts whose shape changes with every API (userIdentity, requestParameters, responseElements,
 * additionalEventData, resources) as JSON strings, because no fixed schema can follow them.
 * errorCode/errorMessage/userAgent/readOnly/eventType are added for the usual queries. Any other
 * field of an event (tlsDetails, eventCategory, ...) lands in `_overflow`, so nothing is lost.
 */
const CLOUDTRAIL_FIELDS: readonly ParquetField[] = [
  leaf('eventID', 'string'),
  leaf('requestID', 'string'),
  leaf('sharedEventID', 'string'),
  leaf('eventTime', 'timestamp'),
  leaf('eventName', 'string'),
  leaf('eventSource', 'string'),
  leaf('eventVersion', 'string'),
  leaf('awsRegion', 'string'),
  leaf('sourceIPAddress', 'string'),
  leaf('recipientAccountId', 'string'),
  leaf('userIdentity', 'json'),
  leaf('requestParameters', 'json'),
  leaf('responseElements', 'json'),
  leaf('additionalEventData', 'json'),
  leaf('resources', 'json'),
  leaf('errorCode', 'string'),
  leaf('errorMessage', 'string'),
  leaf('userAgent', 'string'),
  leaf('readOnly', 'boolean'),
  leaf('eventType', 'string'),
];

/**
 * Named schemas a pipeline can ask for with `schema: <name>`. `inferred` is the default and has
 * no entry here.
 */
const NAMED_SCHEMAS: Readonly<Record<string, readonly ParquetField[]>> = { cloudtrail: CLOUDTRAIL_FIELDS };

/** The declared fields of a named schema, or undefined for `inferred`. Throws for an unknown name. */
export function namedParquetSchema(name: string): readonly ParquetField[] | undefined {
  if (name === 'inferred') return undefined;
  const fields = NAMED_SCHEMAS[name];
  if (fields === undefined) {
    throw new Error(`unknown Parquet schema "${name}"; known: inferred${Object.keys(NAMED_SCHEMAS).map((n) => `, ${n}`).join('')}`);
  }
  return fields;
}

// Kinds of values seen at one path, as bits.
const INT = 1;
const FLOAT = 2;
const BOOL = 4;
const STRING = 8;
const OBJECT = 16;
const ARRAY = 32;
const DATE = 64;
/** bigints out of int64 range, functions, symbols, class instances: only JSON can try. */
const OTHER = 128;

const INT64_LIMIT = 2 ** 63;

/** What the sample showed at one path. */
class Sketch {
  kinds = 0;
  /** Fields of objects seen here, in order of first appearance. */
  children: Map<string, Sketch> | undefined;
  /** Elements of arrays seen here. */
  element: Sketch | undefined;
}

export interface InferOptions {
  /** Top-level keys never given a column (the id and overflow columns' names). */
  reserved?: readonly string[];
}

/**
 * Infers the fields of a schema from sample records (their `fields` objects).
 *
 * @example
 * inferParquetFields([{ time: 1715000000000, src_endpoint: { ip: '10.0.0.1', port: 443 } }]);
 * // [{ kind: 'leaf', name: 'time', type: 'timestamp' },
 * //  { kind: 'struct', name: 'src_endpoint', fields: [{ ...'ip' string }, { ...'port' int64 }] }]
 */
export function inferParquetFields(samples: readonly Record<string, unknown>[], options: InferOptions = {}): ParquetField[] {
  const root = new Sketch();
  for (const fields of samples) observe(root, fields, 0);
  const reserved = new Set(options.reserved ?? []);
  const out: ParquetField[] = [];
  for (const [name, sketch] of root.children ?? []) {
    // Parquet readers cannot address an empty column name; such a key lands in _overflow.
    if (reserved.has(name) || name === '') continue;
    out.push(resolve(name, sketch, 1, false, true));
  }
  return out;
}

function observe(sketch: Sketch, value: unknown, depth: number): void {
  if (value === null || value === undefined) return;
  switch (typeof value) {
    case 'number':
      sketch.kinds |= Number.isInteger(value) && value < INT64_LIMIT && value >= -INT64_LIMIT ? INT : FLOAT;
      return;
    case 'string':
      sketch.kinds |= STRING;
      return;
    case 'boolean':
      sketch.kinds |= BOOL;
      return;
    case 'bigint':
      sketch.kinds |= value < BigInt(INT64_LIMIT) && value >= -BigInt(INT64_LIMIT) ? INT : OTHER;
      return;
    case 'object':
      break;
    default:
      sketch.kinds |= OTHER;
      return;
  }
  if (Array.isArray(value)) {
    sketch.kinds |= ARRAY;
    if (depth >= MAX_NESTING) {
      sketch.kinds |= OTHER;
      return;
    }
    sketch.element ??= new Sketch();
    for (const item of value) observe(sketch.element, item, depth + 1);
    return;
  }
  if (value instanceof Date) {
    sketch.kinds |= DATE;
    return;
  }
  if (!isStructLike(value)) {
    sketch.kinds |= OTHER;
    return;
  }
  sketch.kinds |= OBJECT;
  if (depth >= MAX_NESTING) {
    sketch.kinds |= OTHER;
    return;
  }
  const children = (sketch.children ??= new Map());
  for (const key in value) {
    const child = (value as Record<string, unknown>)[key];
    if (child === undefined) continue;
    let childSketch = children.get(key);
    if (childSketch === undefined) {
      childSketch = new Sketch();
      children.set(key, childSketch);
    }
    observe(childSketch, child, depth + 1);
  }
}

function resolve(name: string, sketch: Sketch, depth: number, insideList: boolean, topLevel: boolean): ParquetField {
  const kinds = sketch.kinds;
  if (kinds === 0) return { kind: 'leaf', name, type: 'string' };
  if (kinds === OBJECT) {
    const children = sketch.children!;
    const fields: ParquetField[] = [];
    for (const [childName, childSketch] of children) {
      // Parquet readers cannot address an empty column name; such a key lands in _overflow.
      if (childName === '') continue;
      fields.push(resolve(childName, childSketch, depth + 1, insideList, false));
    }
    if (fields.length === 0 || fields.length > MAX_STRUCT_FIELDS) return { kind: 'leaf', name, type: 'json' };
    return { kind: 'struct', name, fields };
  }
  if (kinds === ARRAY) {
    if (insideList || sketch.element === undefined || sketch.element.kinds === 0) return { kind: 'leaf', name, type: 'json' };
    const element = resolve('element', sketch.element, depth + 1, true, false);
    if (element.kind === 'list' || (element.kind === 'leaf' && element.type === 'json')) return { kind: 'leaf', name, type: 'json' };
    return { kind: 'list', name, element };
  }
  switch (kinds) {
    case INT:
      return { kind: 'leaf', name, type: topLevel && name === 'time' ? 'timestamp' : 'int64' };
    case FLOAT:
    case INT | FLOAT:
      return { kind: 'leaf', name, type: 'double' };
    case BOOL:
      return { kind: 'leaf', name, type: 'boolean' };
    case STRING:
      return { kind: 'leaf', name, type: 'string' };
    case DATE:
      return { kind: 'leaf', name, type: 'timestamp' };
    default:
      return { kind: 'leaf', name, type: 'json' };
  }
}

/**
 * Whether an object is written as a struct of its enumerable fields: plain objects, and class
 * instances holding data (the ocsf transform builds its events from classes, for their stable
 * shapes). Not arrays (lists), Dates (timestamps), nor containers whose content is not in their
 * fields (Map, Set, typed arrays and Buffers), which only JSON can try.
 */
export function isStructLike(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto === Object.prototype || proto === null) return true;
  return !(Array.isArray(value) || value instanceof Date || ArrayBuffer.isView(value) || value instanceof Map || value instanceof Set);
}

/**
 * The file's schema elements (depth-first, as Parquet stores them): `root`, the id column if
 * any, the fields, the overflow column. Every field is OPTIONAL; lists use the standard 3-level
 * layout (`<name> LIST { repeated group list { element } }`).
 */
export function toSchemaElements(fields: readonly ParquetField[], idColumn: string | undefined): SchemaElement[] {
  const top: ParquetField[] = [
    ...(idColumn === undefined ? [] : [{ kind: 'leaf', name: idColumn, type: 'string' } as const]),
    ...fields,
    { kind: 'leaf', name: OVERFLOW_COLUMN, type: 'json' },
  ];
  const out: SchemaElement[] = [{ name: 'root', num_children: top.length }];
  for (const field of top) pushElements(out, field);
  return out;
}

function pushElements(out: SchemaElement[], field: ParquetField): void {
  if (field.kind === 'leaf') {
    out.push(leafElement(field.name, field.type));
  } else if (field.kind === 'struct') {
    out.push({ name: field.name, repetition_type: 'OPTIONAL', num_children: field.fields.length });
    for (const child of field.fields) pushElements(out, child);
  } else {
    out.push({ name: field.name, repetition_type: 'OPTIONAL', converted_type: 'LIST', logical_type: { type: 'LIST' }, num_children: 1 });
    out.push({ name: 'list', repetition_type: 'REPEATED', num_children: 1 });
    pushElements(out, { ...field.element, name: 'element' });
  }
}

function leafElement(name: string, type: ParquetLeafType): SchemaElement {
  switch (type) {
    case 'int64':
      return { name, type: 'INT64', repetition_type: 'OPTIONAL' };
    case 'double':
      return { name, type: 'DOUBLE', repetition_type: 'OPTIONAL' };
    case 'boolean':
      return { name, type: 'BOOLEAN', repetition_type: 'OPTIONAL' };
    case 'string':
      return { name, type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL', converted_type: 'UTF8', logical_type: { type: 'STRING' } };
    case 'timestamp':
      return {
        name,
        type: 'INT64',
        repetition_type: 'OPTIONAL',
        converted_type: 'TIMESTAMP_MILLIS',
        logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' },
      };
    case 'json':
      return { name, type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL', converted_type: 'JSON', logical_type: { type: 'JSON' } };
  }
}
