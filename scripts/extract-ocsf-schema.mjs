#!/usr/bin/env node
/**
 * Extracts the part of an OCSF schema export that Sluice maps into a compact JSON file under
 * data/ocsf/ (read at run time by src/transforms/ocsf/schema.ts).
 *
 *   node scripts/extract-ocsf-schema.mjs <ocsf-<version>-export.json> [data/ocsf/ocsf-<version>.json]
 *
 * The input is the schema server's `/export/schema` document (classes, objects, types, version).
 * Kept: the classes Sluice maps (CLASS_NAMES), every object they reference, transitively, and
 * all data types. Per attribute only what validation needs: type, object type, array flag,
 * requirement, enum captions, profile, sibling and a deprecation flag. Descriptions are dropped.
 * The output is deterministic (keys sorted), so re-running on the same export gives the same bytes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The classes Sluice's mappings emit (see DESIGN.md: VPC Flow, CloudTrail, S3 access). */
const CLASS_NAMES = ['network_activity', 'http_activity', 'api_activity', 'authentication', 'account_change'];

const [input, outputArg] = process.argv.slice(2);
if (!input) {
  console.error('usage: node scripts/extract-ocsf-schema.mjs <ocsf-export.json> [output.json]');
  process.exit(2);
}
const exported = JSON.parse(readFileSync(input, 'utf8'));
const version = exported.version;
const output = outputArg ?? path.join('data', 'ocsf', `ocsf-${version}.json`);

function compactAttribute(attr) {
  const out = { type: attr.type };
  if (attr.object_type) out.object = attr.object_type;
  if (attr.is_array) out.array = true;
  if (attr.requirement === 'required' || attr.requirement === 'recommended') out.requirement = attr.requirement;
  if (attr.enum) {
    out.enum = {};
    for (const id of Object.keys(attr.enum).sort(byNumberThenText)) out.enum[id] = attr.enum[id].caption;
  }
  if (attr.profile) out.profile = attr.profile;
  if (attr.sibling) out.sibling = attr.sibling;
  if (attr['@deprecated']) out.deprecated = true;
  return out;
}

function byNumberThenText(a, b) {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

function compactAttributes(attributes, referenced) {
  const out = {};
  for (const name of Object.keys(attributes).sort()) {
    const attr = attributes[name];
    out[name] = compactAttribute(attr);
    if (attr.object_type) referenced.push(attr.object_type);
  }
  return out;
}

const pending = [];
const classes = {};
for (const name of CLASS_NAMES) {
  const cls = exported.classes[name];
  if (!cls) throw new Error(`class ${name} is not in ${input}`);
  classes[String(cls.uid)] = {
    name,
    caption: cls.caption,
    category_uid: cls.category_uid,
    category_name: cls.category_name,
    profiles: [...(cls.profiles ?? [])].sort(),
    ...(cls.constraints ? { constraints: cls.constraints } : {}),
    attributes: compactAttributes(cls.attributes, pending),
  };
}

const objects = {};
while (pending.length > 0) {
  const name = pending.pop();
  if (objects[name]) continue;
  const obj = exported.objects[name];
  if (!obj) throw new Error(`object ${name} is referenced but not in ${input}`);
  objects[name] = {
    caption: obj.caption,
    ...(obj.constraints ? { constraints: obj.constraints } : {}),
    attributes: compactAttributes(obj.attributes, pending),
  };
}

const types = {};
for (const name of Object.keys(exported.types).sort()) {
  const t = exported.types[name];
  const out = {};
  if (t.type) out.base = t.type;
  for (const key of ['max_len', 'range', 'regex', 'values']) if (t[key] !== undefined) out[key] = t[key];
  types[name] = out;
}

const sortedObjects = Object.fromEntries(Object.keys(objects).sort().map((k) => [k, objects[k]]));
const document = {
  format: 'sluice-ocsf-schema/1',
  version,
  generated_by: 'scripts/extract-ocsf-schema.mjs',
  classes,
  objects: sortedObjects,
  types,
};
writeFileSync(output, JSON.stringify(document) + '\n');
console.log(`${output}: OCSF ${version}, ${Object.keys(classes).length} classes, ${Object.keys(sortedObjects).length} objects, ${Object.keys(types).length} types`);
