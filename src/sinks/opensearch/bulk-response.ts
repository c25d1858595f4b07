/**
 * Reading a `_bulk` response: `{took, errors, items: [{<action>: {_index, _id, status, result,
 * error?}}]}`, one item per document sent, in the order sent. An HTTP 200 says nothing about
 * the documents: each item has its own status, and this is where other shippers lose records
 * (a 429 inside a 200 taken for success). Every item is sorted into exactly one outcome:
 *
 * - delivered: 2xx; or 409 for a `create` (the document is already there: a replay);
 * - retry: 429, 5xx, 408, and `cluster_block_exception` (a full disk or a read-only block that
 *   an operator lifts), whatever their status;
 * - rejected: every other status (mapping and parse errors, 400/404/409 on `index`...), with the
 *   item's error type and reason.
 *
 * A response that does not have one item per document, or whose items name other ids than the
 * ones sent, breaks the protocol: that fails the request (the unit), nothing is guessed.
 *
 * Speed: the usual answer (every item a success) is read from its bytes without JSON.parse, which
 * for a request of thousands of documents would build two objects and a string per item only to
 * find `201` in each. That reader accepts only the exact compact shape the sink asks for with
 * `filter_path` (`{"errors":false,"items":[{"<action>":{"_id":"<the id sent>","status":2xx}},...]}`,
 * optionally with `"took":N` first); anything else, down to one space, goes through JSON.parse
 * and the rules above, so the fast path can only agree with the slow one.
 */
import { SluiceError } from '../../core/errors.js';
import type { BulkBatch } from './bulk-request.js';

export interface ItemRejection {
  /** Position of the document in the batch. */
  at: number;
  reason: string;
  code: string;
}

/** Positions of the batch's documents, by outcome. */
export interface BulkOutcome {
  delivered: number[];
  retry: number[];
  rejected: ItemRejection[];
}

interface ResponseItem {
  _id?: unknown;
  status?: unknown;
  error?: unknown;
}

/**
 * Sorts the documents of one bulk request by the outcome the server reported for each.
 * Documents to retry get their `lastErrors` entry set.
 *
 * @example
 * const { delivered, retry, rejected } = readBulkResponse(body, batch, 'index', 'opensearch http://127.0.0.1:9200');
 */
export function readBulkResponse(body: Buffer, batch: BulkBatch, action: 'index' | 'create', where: string): BulkOutcome {
  if (allDeliveredAsSent(body, batch, action)) {
    const delivered = new Array<number>(batch.count);
    for (let i = 0; i < delivered.length; i++) delivered[i] = i;
    return { delivered, retry: [], rejected: [] };
  }
  const sent = batch.records;
  let parsed: { errors?: unknown; items?: unknown };
  try {
    parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
  } catch (err) {
    throw protocolError(where, `the bulk response is not JSON (${(err as Error).message})`);
  }
  const items = parsed?.items;
  if (!Array.isArray(items)) throw protocolError(where, 'the bulk response has no items array');
  if (items.length !== sent.length) throw protocolError(where, `the bulk response has ${items.length} items for ${sent.length} documents sent`);
  const outcome: BulkOutcome = { delivered: [], retry: [], rejected: [] };
  if (parsed.errors === false) {
    // Nothing failed: only check that the answer is about the documents we sent.
    for (let i = 0; i < items.length; i++) {
      checkId(unwrap(items[i], where), sent[i]!.id, where);
      outcome.delivered.push(i);
    }
    return outcome;
  }
  for (let i = 0; i < items.length; i++) {
    const result = unwrap(items[i], where);
    checkId(result, sent[i]!.id, where);
    const status = typeof result.status === 'number' ? result.status : Number.NaN;
    if ((status >= 200 && status < 300) || (status === 409 && action === 'create')) {
      outcome.delivered.push(i);
      continue;
    }
    const error = describeItemError(status, result.error);
    if (status === 429 || status === 408 || status >= 500 || error.type === 'cluster_block_exception') {
      (batch.lastErrors ??= [])[i] = error.text;
      outcome.retry.push(i);
      continue;
    }
    outcome.rejected.push({ at: i, reason: error.text, code: Number.isNaN(status) ? 'SINK_ITEM_NO_STATUS' : `SINK_ITEM_${status}` });
  }
  return outcome;
}

const ERRORS_FALSE_ITEMS = Buffer.from('"errors":false,"items":[');
const TOOK = Buffer.from('"took":');
const STATUS = Buffer.from('","status":');

/**
 * True when `body` is, byte for byte, the compact all-success answer for exactly the documents
 * of `batch` in order: `{["took":N,]"errors":false,"items":[{"<action>":{"_id":"<id>","status":2xx}},...]}`
 * (trailing whitespace allowed). False means "read it with JSON.parse", never "it failed".
 */
export function allDeliveredAsSent(body: Buffer, batch: BulkBatch, action: 'index' | 'create'): boolean {
  const sent = batch.records;
  const end = trimmedEnd(body);
  let at = 0;
  if (body[at++] !== 0x7b) return false; // {
  if (matchAt(body, at, TOOK)) {
    at += TOOK.length;
    const digitsFrom = at;
    while (body[at]! >= 0x30 && body[at]! <= 0x39) at++;
    if (at === digitsFrom || body[at++] !== 0x2c) return false; // ,
  }
  if (!matchAt(body, at, ERRORS_FALSE_ITEMS)) return false;
  at += ERRORS_FALSE_ITEMS.length;
  // {"index":{"_id":"
  const head = action === 'index' ? INDEX_HEAD : CREATE_HEAD;
  for (let i = 0; i < sent.length; i++) {
    if (i > 0 && body[at++] !== 0x2c) return false;
    if (!matchAt(body, at, head)) return false;
    at += head.length;
    const id = sent[i]!.id;
    for (let k = 0; k < id.length; k++) {
      const c = id.charCodeAt(k);
      // Only ids JSON writes as they are can be compared as bytes.
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c || body[at++] !== c) return false;
    }
    if (!matchAt(body, at, STATUS)) return false;
    at += STATUS.length;
    // 2xx, then }}
    if (body[at] !== 0x32 || !isDigit(body[at + 1]) || !isDigit(body[at + 2]) || body[at + 3] !== 0x7d || body[at + 4] !== 0x7d) return false;
    at += 5;
  }
  return body[at] === 0x5d && body[at + 1] === 0x7d && at + 2 === end; // ]}
}

const INDEX_HEAD = Buffer.from('{"index":{"_id":"');
const CREATE_HEAD = Buffer.from('{"create":{"_id":"');

function matchAt(body: Buffer, at: number, bytes: Buffer): boolean {
  if (at + bytes.length > body.length) return false;
  for (let k = 0; k < bytes.length; k++) if (body[at + k] !== bytes[k]) return false;
  return true;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

/** Length of `body` without trailing JSON whitespace. */
function trimmedEnd(body: Buffer): number {
  let end = body.length;
  while (end > 0 && (body[end - 1] === 0x20 || body[end - 1] === 0x0a || body[end - 1] === 0x0d || body[end - 1] === 0x09)) end--;
  return end;
}

function unwrap(entry: unknown, where: string): ResponseItem {
  if (entry !== null && typeof entry === 'object') {
    for (const key in entry as Record<string, unknown>) {
      const value = (entry as Record<string, unknown>)[key];
      if (value !== null && typeof value === 'object') return value as ResponseItem;
    }
  }
  throw protocolError(where, `a bulk response item is not {action: {...}}: ${JSON.stringify(entry)?.slice(0, 200)}`);
}

function checkId(result: ResponseItem, id: string, where: string): void {
  if (result._id !== undefined && result._id !== null && result._id !== id) {
    throw protocolError(where, `a bulk response item names _id ${JSON.stringify(result._id)} where ${JSON.stringify(id)} was sent`);
  }
}

/** "HTTP 400 mapper_parsing_exception: failed to parse field [bytes] ... (caused by ...)" */
function describeItemError(status: number, error: unknown): { type: string; text: string } {
  const head = Number.isNaN(status) ? 'no status' : `HTTP ${status}`;
  if (error === undefined || error === null) return { type: '', text: head };
  if (typeof error === 'string') return { type: '', text: `${head}: ${error.slice(0, 1000)}` };
  const e = error as { type?: unknown; reason?: unknown; caused_by?: { type?: unknown; reason?: unknown } };
  const type = typeof e.type === 'string' ? e.type : '';
  let text = `${head}${type ? ` ${type}` : ''}${typeof e.reason === 'string' ? `: ${e.reason.slice(0, 1000)}` : ''}`;
  if (e.caused_by && typeof e.caused_by === 'object') {
    const cause = [e.caused_by.type, e.caused_by.reason].filter((x) => typeof x === 'string').join(': ');
    if (cause) text += ` (caused by ${cause.slice(0, 500)})`;
  }
  return { type, text };
}

function protocolError(where: string, what: string): SluiceError {
  return new SluiceError(`${where}: ${what}`, {
    code: 'SINK_PROTOCOL_ERROR',
    stage: 'sink',
    // A proxy answering instead of the cluster, or a broken one: worth another try later.
    retryable: true,
    hint: 'check that the URL points at the cluster itself (not a proxy or a login page)',
  });
}
