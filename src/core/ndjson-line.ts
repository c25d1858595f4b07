/**
 * One record -> one NDJSON line: `{"<idField>":"<id>",...fields}\n`.
 *
 * This is the hot path of every NDJSON sink (hundreds of thousands of records per second), so
 * the line is built from a single `JSON.stringify` of the fields object with the id spliced in
 * front by string concatenation: no object is copied. Only unusual records take a slow path:
 * fields that already hold the id key (the record id wins, so a line never carries the key
 * twice) and values `JSON.stringify` refuses (a bigint is written as a JSON number; a circular
 * structure makes the record unserializable, which the caller turns into a rejection).
 */
import { SluiceError } from './errors.js';
import type { SluiceRecord } from './record.js';

export type NdjsonLineEncoder = (record: SluiceRecord) => string;

/**
 * Returns a function encoding one record as one newline-terminated JSON line.
 * Throws a SluiceError with code `SINK_RECORD_UNSERIALIZABLE` for a record that cannot be
 * represented in JSON (e.g. a circular structure).
 *
 * @example
 * const encode = createNdjsonLineEncoder('_id');
 * encode({ id: 'ab-1', origin: { object: 'x', line: 1 }, fields: { a: 1 } }); // '{"_id":"ab-1","a":1}\n'
 */
export function createNdjsonLineEncoder(idField: string | false): NdjsonLineEncoder {
  if (idField === false) {
    return (record) => stringifyFields(record, record.fields) + '\n';
  }
  const head = '{' + JSON.stringify(idField) + ':';
  return (record) => {
    const fields = record.fields;
    const body = Object.hasOwn(fields, idField)
      ? stringifyFields(record, withoutKey(fields, idField))
      : stringifyFields(record, fields);
    // body is '{}' or '{...}'; JSON.stringify of the id also escapes an unusual id correctly.
    return body.length === 2
      ? head + JSON.stringify(record.id) + '}\n'
      : head + JSON.stringify(record.id) + ',' + body.slice(1) + '\n';
  };
}

function stringifyFields(record: SluiceRecord, fields: Record<string, unknown>): string {
  try {
    return JSON.stringify(fields);
  } catch {
    return stringifyUnusualFields(record, fields);
  }
}

/** Marks a bigint so it can be turned into a bare JSON number after stringifying. */
const BIGINT_MARK = '\u0000sluice-bigint:';
// JSON.stringify writes the NUL of the mark as the 6 characters \u0000.
const BIGINT_MARKED = /"\\u0000sluice-bigint:(-?\d+)"/g;

function stringifyUnusualFields(record: SluiceRecord, fields: Record<string, unknown>): string {
  let json: string;
  try {
    json = JSON.stringify(fields, (_key, value: unknown) =>
      typeof value === 'bigint' ? BIGINT_MARK + value.toString() : value,
    );
  } catch (err) {
    throw new SluiceError(
      `record ${record.id} (${record.origin.object} line ${record.origin.line}) cannot be written as JSON: ${(err as Error).message}`,
      {
        code: 'SINK_RECORD_UNSERIALIZABLE',
        stage: 'sink',
        hint: 'a transform produced a value JSON cannot hold (e.g. a circular object); fix the transform',
        cause: err,
      },
    );
  }
  return json.replace(BIGINT_MARKED, '$1');
}

function withoutKey(fields: Record<string, unknown>, key: string): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const k of Object.keys(fields)) if (k !== key) copy[k] = fields[k];
  return copy;
}
