/**
 * Declarative mappings: one-to-one rules "source field -> typed OCSF attribute path" plus fixed
 * values, compiled once against the shipped schema into an `OcsfMapping`. This is what mapping
 * files (the Security Lake ETL framework's mapping CSV: `traffic:object.bytes:bigint` rows)
 * compile to; the built-in mappings are hand-written functions instead, for speed.
 *
 * Compile time checks every target path against the class (an attribute the class does not have,
 * a path through a scalar or into an array, a type that cannot hold the attribute, two rules for
 * one attribute) and reports all problems at once, each with its rule's `where` (file and row).
 * At map time a value that does not convert (a non-numeric port) rejects the record with the
 * field, the target and the value. Fields no rule reads go to `unmapped`. The classification
 * attributes are filled in: class/category uid and name, metadata.version, type_uid =
 * class_uid * 100 + activity_id, and the captions of the class's top-level enum ids
 * (activity_name, severity, status, ...) when the mapping sets the id but not the caption.
 */
import { isIP } from 'node:net';
import { SluiceError } from '../../core/errors.js';
import type { SluiceRecord } from '../../core/record.js';
import { MappingFailure, OCSF_REJECT_CODES, type OcsfEvent, type OcsfMapping } from './mapping.js';
import type { OcsfSchema, TypeRule } from './schema.js';

/** How a source value is converted before it is stored. */
export type OcsfValueType = 'string' | 'integer' | 'long' | 'float' | 'boolean' | 'timestamp' | 'ip' | 'json';

export interface FieldRule {
  /** The record field to read. */
  from: string;
  /** Dotted OCSF attribute path in the class (`traffic.bytes`, `src_endpoint.port`). */
  to: string;
  /** Conversion; default: derived from the attribute's OCSF type. */
  type?: OcsfValueType;
  /** Value used when the record lacks the field (absent, null, "" or "-"). */
  default?: unknown;
  /** Where the rule was written, for messages (`mapping.csv row 7`). */
  where?: string;
}

export interface DeclarativeMappingSpec {
  /** Shown in dead letters (`file:./mapping.csv`). */
  name: string;
  classUid: number;
  /** Fixed attribute values by dotted path (`metadata.product.name`: `Amazon S3`). */
  constants?: Readonly<Record<string, unknown>>;
  fields: readonly FieldRule[];
  /** Copy the fields no rule reads to `unmapped` (default true). */
  keepUnmapped?: boolean;
}

interface CompiledRule {
  from: string;
  to: string;
  segments: readonly string[];
  convert: (value: unknown) => unknown;
  expected: string;
  array: boolean;
  default: unknown;
}

const NO_VALUE = Symbol('no value');

/** Which conversion types can fill an attribute of each OCSF base kind. */
const FITS: Record<TypeRule['kind'], readonly OcsfValueType[]> = {
  string: ['string', 'ip'],
  integer: ['integer'],
  long: ['long', 'integer', 'timestamp'],
  float: ['float', 'integer', 'long'],
  boolean: ['boolean'],
  json: ['json', 'string', 'integer', 'long', 'float', 'boolean', 'timestamp', 'ip'],
  object: ['json'],
};

/**
 * Compiles a declarative mapping, or throws one SluiceError listing every rule that does not fit
 * the class.
 *
 * @example
 * const mapping = compileDeclarativeMapping({
 *   name: 'file:mapping.csv', classUid: 4001,
 *   constants: { activity_id: 6, severity_id: 1, 'metadata.product.vendor_name': 'AWS' },
 *   fields: [{ from: 'bytes', to: 'traffic.bytes', type: 'long', where: 'mapping.csv row 4' }],
 * }, loadOcsfSchema('1.1.0'));
 */
export function compileDeclarativeMapping(spec: DeclarativeMappingSpec, schema: OcsfSchema): OcsfMapping {
  const cls = schema.classByUid(spec.classUid);
  if (!cls) {
    throw new SluiceError(`mapping ${spec.name}: class_uid ${spec.classUid} is not in OCSF ${schema.version} as shipped (known: ${schema.classUids().join(', ')})`, {
      code: 'OCSF_MAPPING_INVALID',
      stage: 'config',
      hint: 'use one of the class uids listed',
    });
  }
  const problems: string[] = [];
  const targets = new Map<string, string>();
  const claim = (to: string, where: string) => {
    const previous = targets.get(to);
    if (previous !== undefined) problems.push(`${where}: ${to} is already set by ${previous}; one rule per attribute`);
    else targets.set(to, where);
  };

  const constants: Array<{ segments: readonly string[]; value: unknown }> = [];
  for (const [to, value] of Object.entries(spec.constants ?? {})) {
    const where = `constant ${to}`;
    const resolved = resolveTarget(schema, spec.classUid, to);
    if (typeof resolved === 'string') problems.push(`${where}: ${resolved}`);
    else constants.push({ segments: to.split('.'), value });
    claim(to, where);
  }

  const rules: CompiledRule[] = [];
  spec.fields.forEach((rule, index) => {
    const where = rule.where ?? `rule ${index + 1} (${rule.from} -> ${rule.to})`;
    claim(rule.to, where);
    const resolved = resolveTarget(schema, spec.classUid, rule.to);
    if (typeof resolved === 'string') {
      problems.push(`${where}: ${resolved}`);
      return;
    }
    const type = rule.type ?? defaultValueType(resolved.rule);
    if (!FITS[resolved.rule.kind].includes(type)) {
      problems.push(`${where}: ${rule.to} is a ${resolved.rule.name}; a ${type} value does not fit it (use ${FITS[resolved.rule.kind].join(' or ')})`);
      return;
    }
    rules.push({
      from: rule.from,
      to: rule.to,
      segments: rule.to.split('.'),
      convert: CONVERTERS[type],
      expected: EXPECTED[type],
      array: resolved.array,
      default: rule.default === undefined ? NO_VALUE : rule.default,
    });
  });
  if (problems.length > 0) {
    throw new SluiceError(`mapping ${spec.name} does not fit OCSF ${schema.version} ${cls.caption} (${spec.classUid}):\n  - ${problems.join('\n  - ')}`, {
      code: 'OCSF_MAPPING_INVALID',
      stage: 'config',
      hint: 'fix the rows listed; attribute paths and types are those of the OCSF schema (https://schema.ocsf.io)',
    });
  }

  const read = new Set(spec.fields.map((f) => f.from));
  const keepUnmapped = spec.keepUnmapped ?? true;
  // Top-level enum ids whose caption the mapping may leave to us (activity_name, severity, ...).
  const captions = Object.entries(cls.attributes)
    .filter(([key, a]) => a.enum !== undefined && a.sibling !== undefined && key !== 'type_uid' && key !== 'class_uid' && key !== 'category_uid')
    .map(([key, a]) => ({ id: key, sibling: a.sibling!, captions: a.enum! }));
  const classUid = spec.classUid;
  const version = schema.version;
  const typeCaptions = cls.attributes.type_uid?.enum ?? {};

  return {
    name: spec.name,
    classUids: [classUid],
    versions: [version],
    map(record: SluiceRecord): OcsfEvent | MappingFailure {
      const fields = record.fields;
      const event: OcsfEvent = {
        class_uid: classUid,
        class_name: cls.caption,
        category_uid: cls.category_uid,
        category_name: cls.category_name,
      };
      for (const c of constants) setPath(event, c.segments, c.value);
      for (const rule of rules) {
        let value = fields[rule.from];
        if (value === undefined || value === null || value === '' || value === '-') {
          if (rule.default === NO_VALUE) continue;
          value = rule.default;
        }
        const converted = rule.convert(value);
        if (converted === NO_VALUE) {
          return new MappingFailure(
            OCSF_REJECT_CODES.badValue,
            `field "${rule.from}" must be ${rule.expected} for OCSF ${rule.to}, found ${describeValue(value)}`,
          );
        }
        setPath(event, rule.segments, rule.array && !Array.isArray(converted) ? [converted] : converted);
      }
      const metadata = (event.metadata ??= {}) as Record<string, unknown>;
      metadata.version ??= version;
      if (typeof event.activity_id === 'number') {
        event.type_uid = classUid * 100 + event.activity_id;
        const typeName = typeCaptions[String(event.type_uid)];
        if (typeName !== undefined) event.type_name ??= typeName;
      }
      for (const c of captions) {
        const id = event[c.id];
        if (id === undefined || id === 99 || event[c.sibling] !== undefined) continue;
        const caption = c.captions[String(id)];
        if (caption !== undefined) event[c.sibling] = caption;
      }
      if (keepUnmapped) {
        let unmapped: Record<string, unknown> | undefined;
        for (const key of Object.keys(fields)) {
          const value = fields[key];
          if (read.has(key) || value === undefined || value === null) continue;
          (unmapped ??= {})[key] = value;
        }
        if (unmapped !== undefined) event.unmapped = { ...(event.unmapped as object | undefined), ...unmapped };
      }
      return event;
    },
  };
}

function resolveTarget(schema: OcsfSchema, classUid: number, to: string): { rule: TypeRule; array: boolean } | string {
  const segments = to.split('.');
  if (segments.some((s) => s === '')) return `"${to}" is not an attribute path (segments separated by single dots)`;
  // Arrays can only be the last segment: one-to-one rules cannot address an element.
  for (let i = 1; i < segments.length; i++) {
    const parent = schema.resolvePath(classUid, segments.slice(0, i).join('.'));
    if ('attribute' in parent && parent.attribute.array) {
      return `${segments.slice(0, i).join('.')} is an array; a one-to-one rule cannot set one element of it (not supported)`;
    }
  }
  const resolved = schema.resolvePath(classUid, to);
  if ('problem' in resolved) return resolved.problem;
  return { rule: resolved.rule, array: resolved.attribute.array === true };
}

function defaultValueType(rule: TypeRule): OcsfValueType {
  if (rule.timestamp) return 'timestamp';
  if (rule.name === 'ip_t') return 'ip';
  switch (rule.kind) {
    case 'string':
      return 'string';
    case 'integer':
      return 'integer';
    case 'long':
      return 'long';
    case 'float':
      return 'float';
    case 'boolean':
      return 'boolean';
    default:
      return 'json';
  }
}

function setPath(event: OcsfEvent, segments: readonly string[], value: unknown): void {
  let target = event;
  for (let i = 0; i < segments.length - 1; i++) {
    const key = segments[i]!;
    let next = target[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      next = {};
      target[key] = next;
    }
    target = next as OcsfEvent;
  }
  target[segments[segments.length - 1]!] = value;
}

const INTEGER_TEXT = /^-?\d{1,16}$/;

function toInteger(value: unknown): unknown {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : NO_VALUE;
  if (typeof value === 'bigint') return value;
  if (typeof value === 'string' && INTEGER_TEXT.test(value.trim())) {
    const n = Number(value.trim());
    return Number.isSafeInteger(n) ? n : NO_VALUE;
  }
  return NO_VALUE;
}

const CONVERTERS: Record<OcsfValueType, (value: unknown) => unknown> = {
  string: (value) => (typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' ? String(value) : NO_VALUE),
  integer: toInteger,
  long: toInteger,
  float: (value) => {
    const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
    return Number.isFinite(n) ? n : NO_VALUE;
  },
  boolean: (value) => {
    if (typeof value === 'boolean') return value;
    if (typeof value === 'string') {
      const lower = value.trim().toLowerCase();
      if (lower === 'true') return true;
      if (lower === 'false') return false;
    }
    return NO_VALUE;
  },
  timestamp: (value) => {
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? NO_VALUE : value.getTime();
    const integer = toInteger(value);
    if (typeof integer === 'number') return integer;
    if (typeof value === 'string') {
      const ms = Date.parse(value);
      return Number.isNaN(ms) ? NO_VALUE : ms;
    }
    return NO_VALUE;
  },
  ip: (value) => (typeof value === 'string' && isIP(value) !== 0 ? value : NO_VALUE),
  json: (value) => value,
};

const EXPECTED: Record<OcsfValueType, string> = {
  string: 'a string',
  integer: 'an integer',
  long: 'an integer',
  float: 'a number',
  boolean: 'true or false',
  timestamp: 'epoch milliseconds or an ISO 8601 date-time',
  ip: 'an IPv4 or IPv6 address',
  json: 'a JSON value',
};

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value);
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}
