/**
 * What a parsed JSON value that is not a CloudTrail record looks like, for decisions (is it a
 * digest file?) and for messages that tell the user what was found instead of records.
 */

/** True for a CloudTrail digest file: an object with digest keys and no `Records`. */
export function isDigestObject(value: unknown): boolean {
  if (!isPlainObject(value) || 'Records' in value) return false;
  return 'digestStartTime' in value || 'logFiles' in value;
}

/** Keys (`/`-separated) are digest files when they sit under a `CloudTrail-Digest/` folder. */
export function isDigestKey(keyOrUri: string): boolean {
  return keyOrUri.startsWith('CloudTrail-Digest/') || keyOrUri.includes('/CloudTrail-Digest/');
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** "a JSON array", "a JSON object with keys a, b, c, …", and so on. */
export function describeJsonValue(value: unknown): string {
  if (value === null) return 'JSON null';
  if (Array.isArray(value)) return `a JSON array of ${value.length} element${value.length === 1 ? '' : 's'}`;
  if (typeof value !== 'object') return `a JSON ${typeof value}`;
  const keys = Object.keys(value);
  if (keys.length === 0) return 'an empty JSON object';
  const shown = keys.slice(0, 8).join(', ');
  return `a JSON object with keys ${shown}${keys.length > 8 ? `, … (${keys.length} keys)` : ''}`;
}

/**
 * A hint for a record-less object whose shape we recognise (a CloudWatch Logs subscription
 * payload, a lone event), or undefined.
 */
export function hintForObject(value: unknown): string | undefined {
  if (!isPlainObject(value)) return undefined;
  if ('messageType' in value && 'logEvents' in value) {
    return 'this is a CloudWatch Logs subscription payload, not a CloudTrail delivery file: decode it with the cwl format';
  }
  if (('eventVersion' in value || 'eventTime' in value) && !('Records' in value)) {
    return 'this looks like a single CloudTrail event, not a delivery file ({"Records":[...]}); for one event per line, set the cloudtrail `mode` option to ndjson';
  }
  return undefined;
}
