/**
 * The behaviour every Sink must show, written once and run against each of them (in the manner of
 * Redpanda Connect's shared output suite): a sink is done when it passes this.
 *
 * A sink plugs in through a small adapter saying how it delivers, which decides what "visible"
 * means and what an attempt can take back:
 * - `objects` (files in a folder, objects under an S3 prefix): visible = the objects at the
 *   destination, listed and read back. Nothing of a unit is visible before its commit, an aborted
 *   attempt leaves the destination as it was (no temp object either), and a re-run writes the same
 *   names with the same bytes.
 * - `requests` (http, opensearch): visible = the receiver's document store, by `_id`. A request
 *   that reached the receiver cannot be unsent, so an aborted attempt may have delivered some of
 *   its records; what the sink owes is that nothing more is sent once `abort()` has resolved, and
 *   that every record carries its deterministic id, so the next attempt overwrites what the
 *   aborted or crashed one delivered instead of adding to it.
 * - `stream` (stdout): visible = every line printed. What was printed stays printed: an aborted
 *   attempt's lines remain, and a restarted unit prints its records again (at least once; the
 *   lines carry `_id` for the reader to drop repeats). The suite checks exactly that, and that
 *   nothing is printed after `abort()`.
 *
 * Properties (fast-check, seeded: the same records and batch splits every run):
 * 1. accounting: for every unit, records written = commit's delivered + rejected, whatever the
 *    batch splits (empty batches included) and whichever records the sink refuses;
 * 2. abort: see above, per delivery; an aborted second attempt of a committed unit leaves that
 *    unit's output intact;
 * 3. refusing every 10th record yields exactly those records in `rejected`, each once with a
 *    reason and a code, and all the others visible once;
 * 4. a unit restarted after a crash mid-write (attempt A writes half and is abandoned without
 *    abort, nothing cleaned; a new sink instance runs attempt B of the same unit in full and
 *    commits) ends with each record visible once (`stream`: once per attempt that wrote it), and
 *    for `objects` nothing at the destination but B's outputs;
 * 5. (`objects`) re-running a unit with other batch splits writes byte-identical outputs under
 *    the same names (sha256).
 *
 * How a sink is made to refuse chosen records depends on the sink: the adapter's `spoil` turns a
 * record into one the sink itself cannot write (files, stdout: a value JSON cannot hold), or,
 * without `spoil`, the receiver the adapter starts refuses the ids it is given.
 *
 * @example
 * runSinkConformance('files ndjson', {
 *   delivery: 'objects',
 *   spoil: (record) => ({ ...record, fields: { ...record.fields, loop: circularValue } }),
 *   open: async () => {
 *     const root = await mkdtemp(path.join(tmpdir(), 'out-'));
 *     return { createSink: () => createFilesSink({ ...config, path: root }), visibleIds: () => idsIn(root), listObjects: () => filesIn(root), dispose: () => rm(root, { recursive: true }) };
 *   },
 * });
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Sink, SinkCommit, SinkWriter, UnitContext } from '../core/component.js';
import type { SluiceRecord } from '../core/record.js';
import { startBulkServer, type FaultSchedule } from './bulk-server.js';

/** One destination of a sink (a folder, a prefix, a receiver, a stream), empty when opened. */
interface TargetBase {
  /** A new sink instance delivering to this destination: a restarted process gets a new one. */
  createSink(): Sink;
  /** The id of every record visible at the destination now, once per copy, in any order. */
  visibleIds(): Promise<string[]>;
  /** Closes the sinks it created and releases the destination (servers, folders). */
  dispose(): Promise<void>;
}

export interface ObjectsTarget extends TargetBase {
  /**
   * Every object at the destination, temp or partial ones included, keyed the way the sink names
   * its outputs in `SinkCommit.outputs` (a path, an `s3://` URI).
   */
  listObjects(): Promise<Map<string, Uint8Array>>;
}

export interface RequestsTarget extends TargetBase {
  /**
   * Requests the sinks have started to this destination so far, counted at the client as each is
   * created (see `countRequestsStarted`): the receiver sees a request only some event-loop turns
   * later, too late to tell one started before abort() resolved from one started after.
   */
  requestsStarted(): number;
  /** Requests the receiver is done with (answered, refused or dropped), counted at the receiver. */
  requestsFinished(): number;
}

export type StreamTarget = TargetBase;

interface AdapterBase<T> {
  /**
   * Opens a fresh destination. `refusedIds`: records the sink must refuse; adapters without
   * `spoil` make their receiver refuse them.
   */
  open(options: { refusedIds: ReadonlySet<string> }): Promise<T>;
  /** The record as handed to the sink when it is to be refused; absent when the receiver refuses by id. */
  spoil?(record: SluiceRecord): SluiceRecord;
}

export type SinkConformanceAdapter =
  | ({ delivery: 'objects' } & AdapterBase<ObjectsTarget>)
  | ({ delivery: 'requests' } & AdapterBase<RequestsTarget>)
  | ({ delivery: 'stream' } & AdapterBase<StreamTarget>);

type Target = ObjectsTarget | RequestsTarget | StreamTarget;

/**
 * The transient faults the receiver of `bulkServerTarget` throws in, so that attempts retry,
 * replay requests whose answer was lost (writes applied: the case `_id` exists for), and are
 * aborted while requests are held or waiting to be retried. The sink's retries must then be quick
 * and many (`SINK_RETRY_FOR_FAULTS`), or a fault would turn into a rejection.
 */
const RECEIVER_FAULTS: FaultSchedule = {
  seed: 1810,
  requestFaults: [
    { fault: { kind: 'throttle', retryAfterS: 0 }, probability: 0.05 },
    { fault: { kind: 'unavailable', status: 503 }, probability: 0.03 },
    { fault: { kind: 'drop-after' }, probability: 0.02 },
    { fault: { kind: 'slow', delayMs: 15 }, probability: 0.05 },
  ],
  itemFaults: { 429: 0.03 },
};

/**
 * A `requests` destination for sinks built on core/delivery: a bulk test server (its `_bulk` API
 * and its plain `/ingest/<collection>` receiver) throwing in `RECEIVER_FAULTS` and refusing the
 * documents of `refusedIds` with `reason`; `createSink` makes a sink sending to the server's URL.
 *
 * @example
 * open: ({ refusedIds }) => bulkServerTarget({ refusedIds, reason: 'failed to parse field [n]', createSink: (url) => createBulkSink(configFor(url)) }),
 */
export async function bulkServerTarget(options: {
  refusedIds: ReadonlySet<string>;
  reason: string;
  createSink: (url: string) => Sink;
}): Promise<RequestsTarget> {
  const server = await startBulkServer({
    faults: RECEIVER_FAULTS,
    rejectDocument: ({ id }) => (options.refusedIds.has(id) ? options.reason : undefined),
  });
  const started = countRequestsStarted(server.url);
  const sinks: Sink[] = [];
  return {
    createSink: () => {
      const sink = options.createSink(server.url);
      sinks.push(sink);
      return sink;
    },
    visibleIds: async () => [...server.idCounts()].flatMap(([id, copies]) => Array<string>(copies).fill(id)),
    requestsStarted: () => started.count(),
    requestsFinished: () => server.requests.length,
    dispose: async () => {
      await Promise.all(sinks.map((s) => s.close?.()));
      started.stop();
      await server.stop();
    },
  };
}

/** Counts the requests undici (the HTTP client of core/delivery) creates to `origin`, as it creates them, through its diagnostics channel. */
function countRequestsStarted(origin: string): { count(): number; stop(): void } {
  let count = 0;
  const onCreate = (message: unknown) => {
    const request = (message as { request?: { origin?: unknown } }).request;
    if (String(request?.origin ?? '').replace(/\/+$/, '') === origin) count += 1;
  };
  subscribe('undici:request:create', onCreate);
  return { count: () => count, stop: () => unsubscribe('undici:request:create', onCreate) };
}

/** Retry settings under which `RECEIVER_FAULTS` exhaust a request's or a document's attempts with a chance of about 0.1^40. */
export const SINK_RETRY_FOR_FAULTS = { initialDelayMs: 1, maxDelayMs: 4, maxAttempts: 40, maxElapsedMs: 60_000 };

const UNIT: UnitContext = { id: 'conformance/a.log.gz', outputStem: 'conformance-a', objects: [] };
const OTHER_UNIT: UnitContext = { id: 'conformance/b.log.gz', outputStem: 'conformance-b', objects: [] };
const BASE_TIME = Date.UTC(2024, 4, 18, 21);
const HOUR = 3_600_000;
/** How long the receiver may take to finish the requests a crashed attempt left in flight. */
const IN_FLIGHT_LANDING_MS = 5_000;
/** How long the suite watches for what an aborted writer should no longer send (retries, buffered batches). */
const AFTER_ABORT_WATCH_MS = 25;

const fieldValue = fc.oneof(
  fc.integer(),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.boolean(),
  fc.constant(null),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
  fc.record({ a: fc.integer(), b: fc.string({ maxLength: 4 }) }),
);

/** Record contents: fixed fields, optional ones, and a drifting one (its type changes between records). */
const recordShape = fc.record(
  {
    hours: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined, freq: 8 }),
    n: fc.integer(),
    text: fc.string({ unit: 'grapheme', maxLength: 24 }),
    flag: fc.boolean(),
    tags: fc.array(fc.constantFrom('a', 'b', 'ünï', 'x y'), { maxLength: 3 }),
    src: fc.record({ ip: fc.ipV4(), port: fc.integer({ min: 0, max: 65_535 }) }),
    extra: fieldValue,
  },
  { requiredKeys: ['n', 'text'] },
);

/** Records with ids `<prefix>-<n>`, distinct within the list. */
function recordsArbitrary(prefix: string, maxLength: number): fc.Arbitrary<SluiceRecord[]> {
  // size 'max': fast-check would otherwise keep arrays to about ten items whatever maxLength says.
  return fc.array(recordShape, { maxLength, size: 'max' }).map((shapes) => shapes.map((shape, i) => toRecord(prefix, i, shape)));
}

function toRecord(prefix: string, i: number, shape: Record<string, unknown>): SluiceRecord {
  const { hours, ...fields } = shape;
  return {
    id: `${prefix}-${i + 1}`,
    origin: { object: `s3://conformance/${prefix}.log`, line: i + 1 },
    ...(hours === undefined ? {} : { time: BASE_TIME + (hours as number) * HOUR + i }),
    fields,
  };
}

/** Batch sizes, used in turn until the records run out; zeros are empty writes. */
const batchSizes = fc.array(fc.integer({ min: 0, max: 25 }), { minLength: 1, maxLength: 12 });

function splitInto<T>(items: readonly T[], sizes: readonly number[]): T[][] {
  const usable = sizes.some((s) => s > 0) ? sizes : [Math.max(1, items.length)];
  const batches: T[][] = [];
  for (let at = 0, k = 0; at < items.length; k++) {
    const size = usable[k % usable.length]!;
    batches.push(items.slice(at, at + size));
    at += size;
  }
  return batches;
}

function countIds(ids: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

/** `id x<count>` for every id whose count differs from the expected one: empty when all match. */
function countMismatches(actual: Map<string, number>, expected: Map<string, number>): string[] {
  const problems: string[] = [];
  for (const [id, want] of expected) if ((actual.get(id) ?? 0) !== want) problems.push(`${id} x${actual.get(id) ?? 0} (expected ${want})`);
  for (const [id, got] of actual) if (!expected.has(id)) problems.push(`${id} x${got} (never written)`);
  return problems.slice(0, 20);
}

function onceEach(ids: Iterable<string>): Map<string, number> {
  return new Map([...ids].map((id) => [id, 1]));
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function digests(target: ObjectsTarget): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [name, bytes] of [...(await target.listObjects())].sort(([a], [b]) => (a < b ? -1 : 1))) out.set(name, sha256(bytes));
  return out;
}

/**
 * A property's run settings. The time limit bounds shrinking (with records that need files or
 * requests, shrinking a failure can go on for minutes) and, failing on interrupt, never lets a
 * slow passing run end early as a pass. Passing properties take a few seconds at most.
 */
function parameters(numRuns: number, seed: number): fc.Parameters<unknown> {
  return { numRuns, seed, plugins: [fc.interruptAfterTimeLimit(60_000, { failOnInterrupt: true })] };
}

/** Waits until the receiver has finished every request started so far. */
async function untilRequestsFinished(target: RequestsTarget): Promise<void> {
  const deadline = Date.now() + IN_FLIGHT_LANDING_MS;
  while (target.requestsFinished() < target.requestsStarted()) {
    assert.ok(Date.now() < deadline, `the receiver finished ${target.requestsFinished()} of ${target.requestsStarted()} requests in ${IN_FLIGHT_LANDING_MS} ms`);
    await sleep(2);
  }
}

async function writeBatches(writer: SinkWriter, batches: readonly SluiceRecord[][]): Promise<void> {
  for (const batch of batches) await writer.write(batch);
}

/** One attempt of a unit, start to commit; aborts the writer when it fails. */
async function runUnit(sink: Sink, unit: UnitContext, batches: readonly SluiceRecord[][]): Promise<SinkCommit> {
  const writer = sink.openUnit(unit);
  try {
    await writeBatches(writer, batches);
    return await writer.commit();
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

export function runSinkConformance(name: string, adapter: SinkConformanceAdapter, options: { runs?: number } = {}): void {
  const runs = options.runs ?? 10;

  /** Runs one case against a fresh destination, always released. */
  async function withTarget<R>(refused: ReadonlySet<string>, work: (target: Target) => Promise<R>): Promise<R> {
    const target = await adapter.open({ refusedIds: refused });
    try {
      return await work(target);
    } finally {
      await target.dispose();
    }
  }

  const objectsOf = (target: Target): ObjectsTarget | undefined => (adapter.delivery === 'objects' ? (target as ObjectsTarget) : undefined);
  const requestsOf = (target: Target): RequestsTarget | undefined => (adapter.delivery === 'requests' ? (target as RequestsTarget) : undefined);

  /**
   * Called as soon as abort() resolved: from then on a request sink starts no request and a
   * stream prints nothing. (An objects destination is compared as a whole afterwards.)
   */
  async function assertQuietAfterAbort(target: Target): Promise<void> {
    const requests = requestsOf(target);
    if (requests) {
      const started = requests.requestsStarted();
      await sleep(AFTER_ABORT_WATCH_MS);
      assert.equal(requests.requestsStarted(), started, 'the writer started requests after abort() resolved');
    } else if (adapter.delivery === 'stream') {
      const printed = await target.visibleIds();
      await sleep(AFTER_ABORT_WATCH_MS);
      assert.deepEqual(await target.visibleIds(), printed, 'output appeared after abort() resolved');
    }
  }

  /** The records as handed to the sink: refused ones spoiled where the sink itself refuses. */
  function handedOver(records: readonly SluiceRecord[], refused: ReadonlySet<string>): SluiceRecord[] {
    const spoil = adapter.spoil?.bind(adapter);
    return spoil ? records.map((r) => (refused.has(r.id) ? spoil(r) : r)) : [...records];
  }

  describe(`${name}: Sink conformance (${adapter.delivery})`, () => {
    it('accounts for every record: written = delivered + rejected, over random batches and refusals', () =>
      fc.assert(
        fc.asyncProperty(
          recordsArbitrary('a1a1a1a1a1a1a1a1', 60),
          batchSizes,
          fc.uniqueArray(fc.nat({ max: 59 }), { maxLength: 8 }),
          async (records, sizes, refusedAt) => {
            // Prepare
            const refused = new Set(refusedAt.filter((i) => i < records.length).map((i) => records[i]!.id));
            await withTarget(refused, async (target) => {
              // Act
              const commit = await runUnit(target.createSink(), UNIT, splitInto(handedOver(records, refused), sizes));

              // Assess
              assert.equal(commit.delivered + commit.rejected.length, records.length, `delivered ${commit.delivered} + rejected ${commit.rejected.length}`);
              assert.deepEqual(commit.rejected.map((r) => r.record.id).sort(), [...refused].sort());
            });
          },
        ),
        parameters(runs, 1805),
      ));

    it('leaves nothing visible of an aborted attempt, and an aborted re-attempt leaves the committed unit intact', () =>
      fc.assert(
        fc.asyncProperty(
          recordsArbitrary('b2b2b2b2b2b2b2b2', 30),
          recordsArbitrary('c3c3c3c3c3c3c3c3', 60),
          batchSizes,
          async (committedRecords, abortedRecords, sizes) => {
            await withTarget(new Set(), async (target) => {
              // Prepare: another unit committed before.
              await runUnit(target.createSink(), OTHER_UNIT, splitInto(committedRecords, sizes));
              const committedIds = committedRecords.map((r) => r.id);
              const objects = objectsOf(target);
              const objectsBefore = objects && (await digests(objects));
              const sink = target.createSink();

              // Act: an attempt of a new unit and a second attempt of the committed one, both aborted.
              const batches = splitInto(abortedRecords, sizes);
              const written = batches.slice(0, Math.ceil(batches.length / 2));
              const aborted = sink.openUnit(UNIT);
              await writeBatches(aborted, written);
              await aborted.abort();
              await assertQuietAfterAbort(target);
              const halfAgain = committedRecords.slice(0, Math.ceil(committedRecords.length / 2));
              const again = sink.openUnit(OTHER_UNIT);
              await writeBatches(again, splitInto(halfAgain, sizes));
              await again.abort();
              await assertQuietAfterAbort(target);

              // Assess
              const writtenIds = written.flat().map((r) => r.id);
              if (objects) {
                assert.deepEqual(await digests(objects), objectsBefore, 'the destination changed (names or bytes)');
                assert.deepEqual(countMismatches(countIds(await target.visibleIds()), onceEach(committedIds)), []);
              } else if (adapter.delivery === 'requests') {
                // Delivered requests cannot be unsent: only records the attempts were given, each at most once.
                const visible = countIds(await target.visibleIds());
                const allowed = new Set([...committedIds, ...writtenIds]);
                assert.deepEqual([...visible].filter(([id, n]) => !allowed.has(id) || n !== 1), []);
                assert.deepEqual(committedIds.filter((id) => visible.get(id) !== 1), [], 'the committed unit lost records');
              } else {
                const printed = await target.visibleIds();
                const expected = [...committedIds, ...writtenIds, ...halfAgain.map((r) => r.id)];
                assert.deepEqual(printed.slice().sort(), expected.sort(), 'printed lines are those given, once per write');
              }
            });
          },
        ),
        parameters(runs, 1806),
      ));

    it('rejects exactly the refused records (every 10th), each once with a reason and a code', () =>
      fc.assert(
        // The contents do not shrink: a counterexample is about the batch splits, and shrinking 95 records takes minutes.
        fc.asyncProperty(fc.noShrink(fc.array(recordShape, { minLength: 95, maxLength: 95 })), batchSizes, async (shapes, sizes) => {
          // Prepare
          const records = shapes.map((shape, i) => toRecord('d4d4d4d4d4d4d4d4', i, shape));
          const refused = new Set(records.filter((_, i) => i % 10 === 9).map((r) => r.id));
          await withTarget(refused, async (target) => {
            // Act
            const commit = await runUnit(target.createSink(), UNIT, splitInto(handedOver(records, refused), sizes));

            // Assess
            assert.deepEqual(commit.rejected.map((r) => r.record.id).sort(), [...refused].sort());
            for (const rejection of commit.rejected) {
              assert.ok(rejection.reason.length > 0, `${rejection.record.id}: rejected without a reason`);
              assert.match(rejection.code, /^[A-Z][A-Z0-9_]+$/, `${rejection.record.id}: code ${rejection.code}`);
            }
            assert.equal(commit.delivered, records.length - refused.size);
            const delivered = records.filter((r) => !refused.has(r.id)).map((r) => r.id);
            assert.deepEqual(countMismatches(countIds(await target.visibleIds()), onceEach(delivered)), []);
          });
        }),
        parameters(Math.max(2, Math.ceil(runs / 3)), 1807),
      ));

    it('ends a unit restarted after a crash mid-write with each record once', () =>
      fc.assert(
        fc.asyncProperty(recordsArbitrary('e5e5e5e5e5e5e5e5', 60), batchSizes, batchSizes, async (records, sizesA, sizesB) => {
          await withTarget(new Set(), async (target) => {
            // Prepare: attempt A writes half and is abandoned: no abort, no commit, nothing cleaned.
            const half = records.slice(0, Math.floor(records.length / 2));
            const crashed = target.createSink().openUnit(UNIT);
            try {
              await writeBatches(crashed, splitInto(half, sizesA));
              // What it had in flight lands before the unit is retried (a lease expiry later); later
              // landings, from a worker only presumed dead, are the race the end of this case covers.
              const requests = requestsOf(target);
              if (requests) await untilRequestsFinished(requests);

              // Act: attempt B, in a new sink instance (a restarted process), runs the unit in full.
              const commit = await runUnit(target.createSink(), UNIT, splitInto(records, sizesB));

              // Assess
              const expected = onceEach(records.map((r) => r.id));
              if (adapter.delivery === 'stream') for (const r of half) expected.set(r.id, 2);
              assert.equal(commit.delivered, records.length);
              assert.deepEqual(countMismatches(countIds(await target.visibleIds()), expected), []);
              const objects = objectsOf(target);
              if (objects) {
                assert.deepEqual([...(await objects.listObjects()).keys()].sort(), [...commit.outputs].sort(), 'the destination holds exactly the outputs of the committed attempt');
              }
              // The crashed attempt's late cleanup (its process was only presumed dead) must not touch B's output.
              const committed = objects && (await digests(objects));
              await crashed.abort();
              if (objects) assert.deepEqual(await digests(objects), committed);
              assert.deepEqual(countMismatches(countIds(await target.visibleIds()), expected), []);
            } finally {
              // Releases what A holds (open files, requests still retrying) when the case failed early.
              await crashed.abort();
            }
          });
        }),
        parameters(runs, 1808),
      ));

    if (adapter.delivery === 'objects') {
      it('re-runs a unit with other batch splits into byte-identical outputs under the same names', () =>
        fc.assert(
          fc.asyncProperty(recordsArbitrary('f6f6f6f6f6f6f6f6', 60), batchSizes, batchSizes, async (records, sizesA, sizesB) => {
            await withTarget(new Set(), async (target) => {
              const objects = objectsOf(target)!;
              // Prepare
              const first = await runUnit(target.createSink(), UNIT, splitInto(records, sizesA));
              const firstDigests = await digests(objects);

              // Act
              const second = await runUnit(target.createSink(), UNIT, splitInto(records, sizesB));

              // Assess
              assert.deepEqual(second.outputs, first.outputs);
              assert.deepEqual(await digests(objects), firstDigests);
              assert.deepEqual([...firstDigests.keys()].sort(), [...first.outputs].sort());
            });
          }),
          parameters(runs, 1809),
        ));
    }
  });
}
