/**
 * Index names from a strftime-like template on a record's event time, in UTC: `flows-%Y.%m.%d`
 * -> `flows-2024.05.01`. Supported: %Y (year), %m (month), %d (day), %H (hour), %j (day of year),
 * %% (a literal %). Anything else after % is an error at configuration time.
 *
 * This runs once per document, so names are cached: the last time bucket (a day, or an hour when
 * the template has %H) and its name are remembered, and a small map holds other recent buckets.
 * Records of one object mostly share a day, so nearly every call is one division and a compare.
 */
import { SluiceError } from '../../core/errors.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const MAX_CACHED_BUCKETS = 1024;

export interface IndexNamer {
  /** True when the name depends on the record's time. */
  readonly timed: boolean;
  /** The index for a record with this event time (epoch ms); undefined time only for fixed names. */
  nameFor(time: number | undefined): string | undefined;
}

type Part = string | 'Y' | 'm' | 'd' | 'H' | 'j';

/**
 * Compiles a template; throws a config error naming the bad directive.
 *
 * @example
 * const namer = compileIndexTemplate('flows-%Y.%m.%d');
 * namer.nameFor(Date.UTC(2024, 4, 1, 10)); // 'flows-2024.05.01'
 */
export function compileIndexTemplate(template: string): IndexNamer {
  const parts: Array<{ literal: string } | { directive: Part }> = [];
  let literal = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c !== '%') {
      literal += c;
      continue;
    }
    const d = template[i + 1];
    i += 1;
    if (d === '%') {
      literal += '%';
      continue;
    }
    if (d === 'Y' || d === 'm' || d === 'd' || d === 'H' || d === 'j') {
      if (literal) parts.push({ literal });
      literal = '';
      parts.push({ directive: d });
      continue;
    }
    throw new SluiceError(`index "${template}": unknown directive %${d ?? ''} at position ${i}`, {
      code: 'CONFIG_INVALID',
      stage: 'config',
      hint: 'use %Y %m %d %H %j (UTC event time) or %% for a literal %',
    });
  }
  if (literal) parts.push({ literal });
  const directives = parts.filter((p): p is { directive: Part } => 'directive' in p);
  if (directives.length === 0) {
    const fixed = literal;
    return { timed: false, nameFor: () => fixed };
  }
  const bucketMs = directives.some((p) => p.directive === 'H') ? HOUR_MS : DAY_MS;
  const render = (time: number): string => {
    const date = new Date(time);
    let out = '';
    for (const part of parts) {
      if ('literal' in part) {
        out += part.literal;
        continue;
      }
      switch (part.directive) {
        case 'Y':
          out += String(date.getUTCFullYear()).padStart(4, '0');
          break;
        case 'm':
          out += String(date.getUTCMonth() + 1).padStart(2, '0');
          break;
        case 'd':
          out += String(date.getUTCDate()).padStart(2, '0');
          break;
        case 'H':
          out += String(date.getUTCHours()).padStart(2, '0');
          break;
        case 'j': {
          const dayOfYear = Math.floor((time - Date.UTC(date.getUTCFullYear(), 0, 1)) / DAY_MS) + 1;
          out += String(dayOfYear).padStart(3, '0');
          break;
        }
      }
    }
    return out;
  };
  let lastBucket = NaN;
  let lastName = '';
  const cache = new Map<number, string>();
  return {
    timed: true,
    nameFor(time) {
      if (time === undefined || !Number.isFinite(time)) return undefined;
      const bucket = Math.floor(time / bucketMs);
      if (bucket === lastBucket) return lastName;
      let name = cache.get(bucket);
      if (name === undefined) {
        if (cache.size >= MAX_CACHED_BUCKETS) cache.clear();
        name = render(bucket * bucketMs);
        cache.set(bucket, name);
      }
      lastBucket = bucket;
      lastName = name;
      return name;
    },
  };
}
