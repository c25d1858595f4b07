/**
 * The OCSF schema as Sluice ships it: a compact extract per OCSF version in `data/ocsf/`
 * (`ocsf-<version>.json`, made by `scripts/extract-ocsf-schema.mjs`; see data/ocsf/SOURCES.md).
 *
 * The schema is only read to validate events and to check mapping targets: no mapping walks it
 * per record. A loaded schema is cached per version for the life of the process, and its data
 * types are resolved once into `TypeRule`s (base kind, length, range, pattern).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SluiceError } from '../../core/errors.js';
import { packageRoot } from '../../core/package-root.js';

/** The OCSF version Sluice targets by default (what Security Lake source version 2 uses). */
export const DEFAULT_OCSF_VERSION = '1.1.0';

export interface OcsfAttribute {
  /** Data type name (`string_t`, `ip_t`, `object_t`, ...). */
  type: string;
  /** For `object_t`: the object's name (`network_endpoint`); `object` means free-form. */
  object?: string;
  array?: true;
  /** Absent means optional. */
  requirement?: 'required' | 'recommended';
  /** Allowed values (ids as strings) with their captions. */
  enum?: Record<string, string>;
  /** The profile that adds this attribute; it applies only when `metadata.profiles` lists it. */
  profile?: string;
  /** The attribute holding this id's caption (`activity_id` -> `activity_name`). */
  sibling?: string;
  deprecated?: true;
}

export interface OcsfConstraints {
  at_least_one?: string[];
  just_one?: string[];
}

export interface OcsfObjectDefinition {
  caption: string;
  constraints?: OcsfConstraints;
  attributes: Record<string, OcsfAttribute>;
}

export interface OcsfClassDefinition extends OcsfObjectDefinition {
  name: string;
  category_uid: number;
  category_name: string;
  profiles: string[];
}

export interface OcsfTypeDefinition {
  /** The type this one refines (`ip_t` -> `string_t`). */
  base?: string;
  max_len?: number;
  range?: [number, number];
  regex?: string;
  values?: unknown[];
}

/** The file format of data/ocsf/ocsf-<version>.json. */
export interface OcsfSchemaDocument {
  format: 'sluice-ocsf-schema/1';
  version: string;
  classes: Record<string, OcsfClassDefinition>;
  objects: Record<string, OcsfObjectDefinition>;
  types: Record<string, OcsfTypeDefinition>;
}

/** How a value of one data type is checked, resolved through the type's bases. */
export interface TypeRule {
  readonly name: string;
  readonly kind: 'string' | 'integer' | 'long' | 'float' | 'boolean' | 'json' | 'object';
  readonly maxLength?: number;
  readonly range?: readonly [number, number];
  readonly pattern?: RegExp;
  /** `timestamp_t`: epoch milliseconds. */
  readonly timestamp: boolean;
}

/** Where an attribute path leads, for mapping authors (`traffic.bytes` -> long_t in network_traffic). */
export interface ResolvedAttributePath {
  attribute: OcsfAttribute;
  /** The class or object that defines the last segment. */
  owner: string;
  rule: TypeRule;
}

export class OcsfSchema {
  readonly version: string;
  private readonly classes = new Map<number, OcsfClassDefinition>();
  private readonly rules = new Map<string, TypeRule>();

  constructor(readonly document: OcsfSchemaDocument) {
    this.version = document.version;
    for (const [uid, cls] of Object.entries(document.classes)) this.classes.set(Number(uid), cls);
    for (const name of Object.keys(document.types)) this.rules.set(name, resolveTypeRule(name, document.types));
    // The export lists scalar types only; objects are typed `object_t`.
    if (!this.rules.has('object_t')) this.rules.set('object_t', { name: 'object_t', kind: 'object', timestamp: false });
  }

  classByUid(uid: number): OcsfClassDefinition | undefined {
    return this.classes.get(uid);
  }

  classUids(): number[] {
    return [...this.classes.keys()];
  }

  object(name: string): OcsfObjectDefinition | undefined {
    return this.document.objects[name];
  }

  typeRule(typeName: string): TypeRule | undefined {
    return this.rules.get(typeName);
  }

  /**
   * Resolves a dotted attribute path (`src_endpoint.port`) in a class, or explains why it does
   * not exist. Array attributes are walked into (`observables.name`). `unmapped.*` and other
   * free-form objects accept any tail.
   */
  resolvePath(classUid: number, dottedPath: string): ResolvedAttributePath | { problem: string } {
    const cls = this.classes.get(classUid);
    if (!cls) return { problem: `class_uid ${classUid} is not in OCSF ${this.version} as shipped (known: ${this.classUids().join(', ')})` };
    const segments = dottedPath.split('.');
    let owner: OcsfObjectDefinition = cls;
    let ownerName = cls.name;
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i]!;
      const attribute: OcsfAttribute | undefined = owner.attributes[segment];
      if (!attribute) {
        const walked = segments.slice(0, i).join('.');
        return { problem: `${ownerName}${walked ? ` (at ${walked})` : ''} has no attribute "${segment}"` };
      }
      const rule = this.rules.get(attribute.type);
      if (!rule) return { problem: `attribute ${segments.slice(0, i + 1).join('.')} has unknown type ${attribute.type}` };
      if (i === segments.length - 1) return { attribute, owner: ownerName, rule };
      if (attribute.type !== 'object_t' || !attribute.object) {
        return { problem: `${segments.slice(0, i + 1).join('.')} is a ${attribute.type}, not an object, so it has no "${segments[i + 1]}"` };
      }
      if (attribute.object === 'object') {
        // Free-form (unmapped): any tail goes.
        return { attribute: { type: 'json_t' }, owner: 'object', rule: this.rules.get('json_t') ?? JSON_RULE };
      }
      const next = this.document.objects[attribute.object];
      if (!next) return { problem: `object ${attribute.object} is not in the shipped schema` };
      owner = next;
      ownerName = attribute.object;
    }
    return { problem: 'empty attribute path' };
  }
}

const JSON_RULE: TypeRule = { name: 'json_t', kind: 'json', timestamp: false };

const BASE_KINDS: Record<string, TypeRule['kind']> = {
  string_t: 'string',
  integer_t: 'integer',
  long_t: 'long',
  float_t: 'float',
  boolean_t: 'boolean',
  json_t: 'json',
  object_t: 'object',
};

function resolveTypeRule(name: string, types: Record<string, OcsfTypeDefinition>): TypeRule {
  let maxLength: number | undefined;
  let range: [number, number] | undefined;
  let regex: string | undefined;
  let current: string | undefined = name;
  const seen = new Set<string>();
  // Walk to the base type; the most specific constraint wins.
  while (current !== undefined && !(current in BASE_KINDS)) {
    if (seen.has(current)) throw new Error(`OCSF type ${name} has a cyclic base`);
    seen.add(current);
    const def: OcsfTypeDefinition | undefined = types[current];
    if (!def) break;
    maxLength ??= def.max_len;
    range ??= def.range;
    regex ??= def.regex;
    current = def.base;
  }
  const base = current ?? name;
  const kind = BASE_KINDS[base] ?? 'json';
  if (kind === 'string') maxLength ??= types[base]?.max_len;
  return {
    name,
    kind,
    ...(maxLength !== undefined ? { maxLength } : {}),
    ...(range !== undefined ? { range } : {}),
    ...(regex !== undefined ? { pattern: new RegExp(regex) } : {}),
    timestamp: name === 'timestamp_t',
  };
}

/** Folder of the shipped schema files. `SLUICE_OCSF_DATA` overrides it (bundles that move data/). */
export function ocsfDataDir(): string {
  return process.env.SLUICE_OCSF_DATA ?? path.join(packageRoot(), 'data', 'ocsf');
}

/** OCSF versions with a schema file in data/ocsf, sorted. */
export function availableOcsfVersions(): string[] {
  const dir = ocsfDataDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => /^ocsf-(\d+\.\d+\.\d+(?:-[\w.]+)?)\.json$/.exec(name)?.[1])
    .filter((v): v is string => v !== undefined)
    .sort();
}

const loaded = new Map<string, OcsfSchema>();

/**
 * The shipped schema of one OCSF version (cached). Throws a config error naming the versions
 * that are shipped when this one is not.
 *
 * @example
 * const schema = loadOcsfSchema('1.1.0');
 * schema.resolvePath(4001, 'traffic.bytes'); // { attribute: { type: 'long_t', ... }, owner: 'network_traffic', ... }
 */
export function loadOcsfSchema(version: string = DEFAULT_OCSF_VERSION): OcsfSchema {
  const cached = loaded.get(version);
  if (cached) return cached;
  const file = path.join(ocsfDataDir(), `ocsf-${version}.json`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const shipped = availableOcsfVersions();
    throw new SluiceError(`OCSF ${version}: no schema file ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, {
      code: 'OCSF_VERSION_UNAVAILABLE',
      stage: 'config',
      hint: shipped.length > 0
        ? `set the ocsf transform's version to one of: ${shipped.join(', ')}`
        : 'the data/ocsf folder is missing from this installation; reinstall Sluice or set SLUICE_OCSF_DATA to its location',
      cause: err,
    });
  }
  const document = JSON.parse(text) as OcsfSchemaDocument;
  if (document.format !== 'sluice-ocsf-schema/1' || document.version !== version) {
    throw new SluiceError(`${file}: not a Sluice OCSF ${version} schema file (format ${String(document.format)}, version ${String(document.version)})`, {
      code: 'OCSF_SCHEMA_INVALID',
      stage: 'config',
      hint: 'regenerate it with scripts/extract-ocsf-schema.mjs',
    });
  }
  const schema = new OcsfSchema(document);
  loaded.set(version, schema);
  return schema;
}
