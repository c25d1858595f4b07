/**
 * URL templates of the `http` sink: `{field}` placeholders in the path or query are filled from a
 * record's fields, URL-encoded, so records can be sent to a URL of their own, e.g. the seed's
 * `https://example.com/connection_sets/{bucket_start}` for the distinct-peers aggregate (one
 * request per 10-minute bucket). The origin (scheme, host, port) must be fixed: it is where the
 * connections go. `{{` and `}}` are literal braces.
 */
import { SluiceError } from '../../core/errors.js';
import type { SluiceRecord } from '../../core/record.js';
import { maskUrlCredentials } from '../../core/secrets.js';

export interface UrlTemplate {
  /** Field names used, in order of appearance. */
  readonly fields: readonly string[];
  /** The URL for a record; throws SINK_URL_FIELD_MISSING when a field is absent or not a scalar. */
  render(record: SluiceRecord): string;
}

/**
 * Compiles a URL template (credentials must already be removed from it).
 *
 * @example
 * const template = compileUrlTemplate('https://example.com/connection_sets/{bucket_start}');
 * template.render(record); // 'https://example.com/connection_sets/1714557600'
 */
export function compileUrlTemplate(template: string): UrlTemplate {
  const parts: Array<{ literal: string } | { field: string }> = [];
  let literal = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if ((c === '{' || c === '}') && template[i + 1] === c) {
      literal += c;
      i += 1;
      continue;
    }
    if (c === '}') throw invalid(template, `a lone } at position ${i}`);
    if (c !== '{') {
      literal += c;
      continue;
    }
    const end = template.indexOf('}', i);
    if (end === -1) throw invalid(template, `the { at position ${i} is never closed`);
    const field = template.slice(i + 1, end).trim();
    if (field === '') throw invalid(template, `an empty placeholder {} at position ${i}`);
    if (literal) parts.push({ literal });
    literal = '';
    parts.push({ field });
    i = end;
  }
  if (literal) parts.push({ literal });
  const fields = parts.filter((p): p is { field: string } => 'field' in p).map((p) => p.field);
  const first = parts[0];
  const head = first && 'literal' in first ? first.literal : '';
  if (fields.length > 0 && !/^https?:\/\/[^/?#]+[/?#]/i.test(head)) {
    throw invalid(template, 'placeholders may only appear after the host (in the path or the query)');
  }
  if (fields.length === 0) {
    const fixed = head;
    return { fields, render: () => fixed };
  }
  return {
    fields,
    render(record) {
      let out = '';
      for (const part of parts) {
        if ('literal' in part) {
          out += part.literal;
          continue;
        }
        const value = record.fields[part.field];
        if (value === undefined || value === null || (typeof value === 'object' && !(value instanceof Date))) {
          throw new SluiceError(
            `record ${record.id} (${record.origin.object} line ${record.origin.line}) has no scalar field "${part.field}" for the URL template`,
            { code: 'SINK_URL_FIELD_MISSING', stage: 'sink', hint: `every record sent to this URL needs the field ${part.field}` },
          );
        }
        out += encodeURIComponent(value instanceof Date ? value.toISOString() : String(value));
      }
      return out;
    },
  };
}

function invalid(template: string, what: string): SluiceError {
  return new SluiceError(`URL template "${maskUrlCredentials(template)}": ${what}`, {
    code: 'CONFIG_INVALID',
    stage: 'config',
    hint: 'write placeholders as {field_name} after the host, and {{ }} for literal braces',
  });
}
