/**
 * Checks one OCSF event against a shipped schema: the reusable conformance check every mapping's
 * output goes through in tests (and `sluice validate` on a sample of a pipeline's output).
 *
 * What is checked, recursively through objects and arrays:
 * - the class exists (`class_uid`), `category_uid` is the class's, `type_uid = class_uid * 100 +
 *   activity_id`, and `metadata.version` is the schema's version;
 * - required attributes are present (attributes of a profile only when `metadata.profiles` lists
 *   the profile), and the class's or object's `at_least_one` / `just_one` constraints hold;
 * - every present attribute is known (free-form objects such as `unmapped` accept anything), of
 *   the right type (string, 32-bit integer, 64-bit long, float, boolean, object, array) within its
 *   type's length, range and pattern (port, datetime, email, ...; an ip is checked with
 *   node:net), enum values are listed,
 *   and a sibling caption (`activity_name`) matches its id unless the id is 99 (Other);
 * - timestamps look like epoch milliseconds (a value below 10^11 is seconds by mistake);
 * - attributes of a profile are used only when `metadata.profiles` lists it.
 *
 * Absent means `undefined` (what JSON.stringify drops), so mappings may build fixed-shape objects
 * with undefined slots. `null` is reported: OCSF omits attributes that have no value.
 */
import { isIP } from 'node:net';
import type { OcsfAttribute, OcsfObjectDefinition, OcsfSchema, TypeRule } from './schema.js';

export type OcsfProblemCode =
  | 'not_an_object'
  | 'unknown_class'
  | 'missing_required'
  | 'unknown_attribute'
  | 'wrong_type'
  | 'out_of_range'
  | 'bad_format'
  | 'bad_enum'
  | 'sibling_mismatch'
  | 'constraint'
  | 'profile_not_declared'
  | 'type_uid'
  | 'category_uid'
  | 'version_mismatch'
  | 'timestamp_seconds';

export interface OcsfProblem {
  /** Dotted path of the attribute (`src_endpoint.port`, `observables[1].type_id`); '' for the event. */
  path: string;
  code: OcsfProblemCode;
  message: string;
}

export interface ValidateOptions {
  /**
   * Paths of required attributes the caller knowingly accepts as absent (a mapping's documented
   * gaps, e.g. the endpoints of a VPC flow NODATA record). Present attributes are still checked.
   */
  allowMissing?: readonly string[];
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
/** 10^11 ms is 1973-03-03; as seconds it is the year 5138. Below it, a timestamp is seconds. */
const MIN_PLAUSIBLE_MS = 1e11;

/**
 * Returns the problems of one event (empty when it conforms).
 *
 * @example
 * const problems = validateOcsfEvent(event, loadOcsfSchema('1.1.0'));
 * assert.deepEqual(problems, []);
 */
export function validateOcsfEvent(event: unknown, schema: OcsfSchema, options: ValidateOptions = {}): OcsfProblem[] {
  const problems: OcsfProblem[] = [];
  if (!isPlainObject(event)) {
    problems.push({ path: '', code: 'not_an_object', message: `an OCSF event is a JSON object, found ${describe(event)}` });
    return problems;
  }
  const classUid = event.class_uid;
  const cls = typeof classUid === 'number' ? schema.classByUid(classUid) : undefined;
  if (!cls || typeof classUid !== 'number') {
    problems.push({
      path: 'class_uid',
      code: classUid === undefined ? 'missing_required' : 'unknown_class',
      message: classUid === undefined
        ? 'class_uid is required'
        : `class_uid ${describe(classUid)} is not a class of OCSF ${schema.version} as shipped (known: ${schema.classUids().join(', ')})`,
    });
    return problems;
  }
  const metadata = event.metadata;
  const declared = isPlainObject(metadata) && Array.isArray(metadata.profiles) ? metadata.profiles.filter((p): p is string => typeof p === 'string') : [];
  const context: Context = { schema, problems, profiles: new Set(declared), allowMissing: new Set(options.allowMissing ?? []) };

  checkObject(event, cls, '', context);

  if (typeof event.activity_id === 'number' && event.type_uid !== undefined && event.type_uid !== classUid * 100 + event.activity_id) {
    problems.push({
      path: 'type_uid',
      code: 'type_uid',
      message: `type_uid must be class_uid * 100 + activity_id = ${classUid * 100 + event.activity_id}, found ${describe(event.type_uid)}`,
    });
  }
  if (event.category_uid !== undefined && event.category_uid !== cls.category_uid) {
    problems.push({ path: 'category_uid', code: 'category_uid', message: `class ${classUid} (${cls.caption}) is in category ${cls.category_uid}, found ${describe(event.category_uid)}` });
  }
  if (isPlainObject(metadata) && typeof metadata.version === 'string' && metadata.version !== schema.version) {
    problems.push({ path: 'metadata.version', code: 'version_mismatch', message: `the event says OCSF ${metadata.version} but is checked against ${schema.version}` });
  }
  return problems;
}

interface Context {
  schema: OcsfSchema;
  problems: OcsfProblem[];
  profiles: ReadonlySet<string>;
  allowMissing: ReadonlySet<string>;
}

function checkObject(value: Record<string, unknown>, definition: OcsfObjectDefinition, path: string, context: Context): void {
  const { attributes } = definition;
  for (const key of Object.keys(value)) {
    const v = value[key];
    if (v === undefined) continue;
    const attributePath = path === '' ? key : `${path}.${key}`;
    const attribute = attributes[key];
    if (!attribute) {
      context.problems.push({ path: attributePath, code: 'unknown_attribute', message: `${attributePath} is not an attribute of ${definition.caption}; put data without an OCSF home under unmapped` });
      continue;
    }
    if (attribute.profile !== undefined && !context.profiles.has(attribute.profile)) {
      context.problems.push({
        path: attributePath,
        code: 'profile_not_declared',
        message: `${attributePath} belongs to the ${attribute.profile} profile, which metadata.profiles does not list`,
      });
    }
    checkAttribute(v, attribute, attributePath, value, context);
  }
  for (const [key, attribute] of Object.entries(attributes)) {
    if (attribute.requirement !== 'required' || value[key] !== undefined) continue;
    if (attribute.profile !== undefined && !context.profiles.has(attribute.profile)) continue;
    const attributePath = path === '' ? key : `${path}.${key}`;
    if (context.allowMissing.has(attributePath)) continue;
    context.problems.push({ path: attributePath, code: 'missing_required', message: `${attributePath} is required in ${definition.caption}` });
  }
  const constraints = definition.constraints;
  if (constraints?.at_least_one && !constraints.at_least_one.some((k) => value[k] !== undefined)) {
    context.problems.push({
      path,
      code: 'constraint',
      message: `${path || 'the event'} (${definition.caption}) needs at least one of ${constraints.at_least_one.join(', ')}`,
    });
  }
  if (constraints?.just_one) {
    const present = constraints.just_one.filter((k) => value[k] !== undefined);
    if (present.length !== 1) {
      context.problems.push({
        path,
        code: 'constraint',
        message: `${path || 'the event'} (${definition.caption}) needs exactly one of ${constraints.just_one.join(', ')}, found ${present.length === 0 ? 'none' : present.join(', ')}`,
      });
    }
  }
}

function checkAttribute(value: unknown, attribute: OcsfAttribute, path: string, owner: Record<string, unknown>, context: Context): void {
  if (attribute.array) {
    if (!Array.isArray(value)) {
      context.problems.push({ path, code: 'wrong_type', message: `${path} must be an array of ${attribute.object ?? attribute.type}, found ${describe(value)}` });
      return;
    }
    for (let i = 0; i < value.length; i++) checkValue(value[i], attribute, `${path}[${i}]`, owner, context, false);
    return;
  }
  checkValue(value, attribute, path, owner, context, true);
}

function checkValue(value: unknown, attribute: OcsfAttribute, path: string, owner: Record<string, unknown>, context: Context, checkSibling: boolean): void {
  const rule = context.schema.typeRule(attribute.type);
  if (!rule) {
    context.problems.push({ path, code: 'wrong_type', message: `${path} has type ${attribute.type}, which the schema does not define` });
    return;
  }
  if (value === null) {
    context.problems.push({ path, code: 'wrong_type', message: `${path} is null; omit an attribute that has no value` });
    return;
  }
  if (rule.kind === 'object') {
    if (!isPlainObject(value)) {
      context.problems.push({ path, code: 'wrong_type', message: `${path} must be an object (${attribute.object}), found ${describe(value)}` });
      return;
    }
    if (attribute.object === undefined || attribute.object === 'object') return; // free-form
    const definition = context.schema.object(attribute.object);
    if (!definition) {
      context.problems.push({ path, code: 'wrong_type', message: `${path} is a ${attribute.object}, which the shipped schema lacks` });
      return;
    }
    checkObject(value, definition, path, context);
    return;
  }
  if (!checkScalar(value, rule, path, context)) return;
  if (attribute.enum !== undefined) {
    const caption = attribute.enum[String(value)];
    if (caption === undefined) {
      const allowed = Object.keys(attribute.enum);
      context.problems.push({
        path,
        code: 'bad_enum',
        message: `${path} = ${describe(value)} is not one of ${allowed.length > 12 ? `${allowed.slice(0, 12).join(', ')}, ...` : allowed.join(', ')}`,
      });
      return;
    }
    if (checkSibling && attribute.sibling !== undefined && value !== 99) {
      const sibling = owner[attribute.sibling];
      if (typeof sibling === 'string' && sibling !== caption) {
        const siblingPath = path.slice(0, path.length - path.split('.').pop()!.length) + attribute.sibling;
        context.problems.push({
          path: siblingPath,
          code: 'sibling_mismatch',
          message: `${siblingPath} = ${JSON.stringify(sibling)} but ${path} = ${describe(value)} means ${JSON.stringify(caption)}`,
        });
      }
    }
  }
}

/** True when the value has the rule's type; reports a problem and returns false otherwise. */
function checkScalar(value: unknown, rule: TypeRule, path: string, context: Context): boolean {
  switch (rule.kind) {
    case 'string': {
      if (typeof value !== 'string') {
        context.problems.push({ path, code: 'wrong_type', message: `${path} must be a string (${rule.name}), found ${describe(value)}` });
        return false;
      }
      if (rule.maxLength !== undefined && value.length > rule.maxLength) {
        context.problems.push({ path, code: 'out_of_range', message: `${path} is ${value.length} characters long; ${rule.name} allows ${rule.maxLength}` });
        return false;
      }
      // ip_t: the schema's regex rejects valid forms such as ::0:0:0:0:0:1.2.3.4, so addresses
      // are checked by what they are (node:net); other types by their pattern.
      if (rule.name === 'ip_t' ? isIP(value) === 0 : rule.pattern !== undefined && !rule.pattern.test(value)) {
        context.problems.push({ path, code: 'bad_format', message: `${path} = ${JSON.stringify(value)} is not a valid ${rule.name}` });
        return false;
      }
      return true;
    }
    case 'integer':
    case 'long': {
      const isBig = typeof value === 'bigint';
      if (!isBig && !(typeof value === 'number' && Number.isInteger(value))) {
        context.problems.push({ path, code: 'wrong_type', message: `${path} must be an integer (${rule.name}), found ${describe(value)}` });
        return false;
      }
      const n = Number(value);
      if (rule.kind === 'integer' && (n < INT32_MIN || n > INT32_MAX)) {
        context.problems.push({ path, code: 'out_of_range', message: `${path} = ${String(value)} does not fit a 32-bit ${rule.name}` });
        return false;
      }
      if (rule.kind === 'long' && !isBig && !Number.isSafeInteger(n)) {
        context.problems.push({ path, code: 'out_of_range', message: `${path} = ${String(value)} is beyond 2^53 and lost precision; pass a bigint` });
        return false;
      }
      if (rule.range !== undefined && (n < rule.range[0] || n > rule.range[1])) {
        context.problems.push({ path, code: 'out_of_range', message: `${path} = ${String(value)} is outside ${rule.name}'s range ${rule.range[0]}-${rule.range[1]}` });
        return false;
      }
      if (rule.timestamp && n > -MIN_PLAUSIBLE_MS && n < MIN_PLAUSIBLE_MS && n !== 0) {
        context.problems.push({ path, code: 'timestamp_seconds', message: `${path} = ${String(value)} looks like epoch seconds; OCSF timestamps are epoch milliseconds` });
        return false;
      }
      return true;
    }
    case 'float':
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        context.problems.push({ path, code: 'wrong_type', message: `${path} must be a finite number (${rule.name}), found ${describe(value)}` });
        return false;
      }
      return true;
    case 'boolean':
      if (typeof value !== 'boolean') {
        context.problems.push({ path, code: 'wrong_type', message: `${path} must be true or false, found ${describe(value)}` });
        return false;
      }
      return true;
    default:
      return true; // json_t: any JSON value
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value);
    case 'object':
      return 'an object';
    case 'bigint':
      return `${value}n`;
    default:
      return String(value);
  }
}
