import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SluiceError } from '../errors.js';
import type { SluiceRecord } from '../record.js';
import { seededRandom, type BackoffPolicy, type RetryTiming } from '../retry.js';
import { deliverBatch, type DeliveryBatch } from './batch-delivery.js';
import type { Verdict } from './send-with-retries.js';
import type { HttpResponse } from './transport.js';

class TestBatch implements DeliveryBatch<TestBatch> {
  constructor(readonly records: SluiceRecord[]) {}
  slice(from: number, to: number): TestBatch {
    return new TestBatch(this.records.slice(from, to));
  }
  pick(which: readonly number[]): TestBatch {
    return new TestBatch(which.map((i) => this.records[i]!));
  }
}

const records = (n: number): SluiceRecord[] => Array.from({ length: n }, (_, i) => ({ id: `r-${i}`, origin: { object: 'o', line: i + 1 }, fields: {} }));
const ok: HttpResponse = { status: 200, headers: {}, body: Buffer.alloc(0) };
const policy = (overrides: Partial<BackoffPolicy> = {}): BackoffPolicy => ({ initialDelayMs: 100, maxDelayMs: 5_000, maxAttempts: 5, maxElapsedMs: 1e9, ...overrides });

function fakeTiming(random = seededRandom(9)): RetryTiming & { sleeps: number[] } {
  let now = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    random,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}

/**
 * A fake server: `answer` gets the ids of each request that reaches it; the kit's account and
 * the requests sent are kept for assertions.
 */
function harness(answer: (ids: string[]) => Verdict) {
  const requests: string[][] = [];
  const delivered: string[] = [];
  const rejected: Array<{ id: string; reason: string; code: string }> = [];
  return {
    requests,
    delivered,
    rejected,
    requestsFor: {
      prepare: async (batch: TestBatch) => async () => {
        requests.push(batch.records.map((r) => r.id));
        return ok;
      },
      classify: (_attempt: unknown, batch: TestBatch) => answer(batch.records.map((r) => r.id)),
      tooLarge: (batch: TestBatch) => `413 for ${batch.records[0]!.id} alone`,
    },
    account: {
      delivered: (batch: TestBatch, positions: readonly number[] | undefined) => {
        for (const i of positions ?? batch.records.keys()) delivered.push(batch.records[i]!.id);
      },
      reject: (record: SluiceRecord, reason: string, code: string) => rejected.push({ id: record.id, reason, code }),
    },
  };
}

/** Every record settled exactly once: delivered or rejected. */
function assertSettledOnce(input: SluiceRecord[], delivered: string[], rejected: Array<{ id: string }>): void {
  const settled = [...delivered, ...rejected.map((r) => r.id)];
  assert.equal(new Set(settled).size, settled.length, `settled twice: ${settled.filter((id, i) => settled.indexOf(id) !== i)}`);
  assert.deepEqual(new Set(settled), new Set(input.map((r) => r.id)));
}

describe('deliverBatch: 413 halving', () => {
  it('halves a batch the server finds too large until each part fits; a record too large alone is rejected', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 70 }), fc.array(fc.integer({ min: 0, max: 69 }), { maxLength: 6 }), async (n, limit, big) => {
        // Prepare: more than `limit` records, or one of the big ones in a request of more than itself, is 413
        const input = records(n);
        const tooBig = new Set(big.filter((i) => i < n).map((i) => `r-${i}`));
        const h = harness((ids) => (ids.length > limit || ids.some((id) => tooBig.has(id)) ? { kind: 'split' } : { kind: 'delivered' }));
        // Act
        await deliverBatch(new TestBatch(input), h.requestsFor, h.account, { policy: policy(), timing: fakeTiming(), signal: new AbortController().signal });
        // Assess
        assertSettledOnce(input, h.delivered, h.rejected);
        assert.deepEqual(h.rejected, [...tooBig].sort((a, b) => Number(a.slice(2)) - Number(b.slice(2))).map((id) => ({ id, reason: `413 for ${id} alone`, code: 'SINK_RECORD_TOO_LARGE' })));
        assert.deepEqual(h.delivered, input.map((r) => r.id).filter((id) => !tooBig.has(id)), 'halves go out one after the other, in order');
        // The requests: the batch, then (when refused) its first half and its second, depth first.
        const expected: string[][] = [];
        const halve = (ids: string[]): void => {
          expected.push(ids);
          if (ids.length === 1 || !(ids.length > limit || ids.some((id) => tooBig.has(id)))) return;
          halve(ids.slice(0, ids.length >> 1));
          halve(ids.slice(ids.length >> 1));
        };
        halve(input.map((r) => r.id));
        assert.deepEqual(h.requests, expected);
      }),
    );
  });

  it('a part that fails the unit stops the delivery; what was delivered before stays reported', async () => {
    const refused = new SluiceError('HTTP 401', { code: 'HTTP_401', stage: 'sink', retryable: false });
    const h = harness((ids) => (ids.length > 2 ? { kind: 'split' } : ids[0] === 'r-2' ? { kind: 'fail', error: refused } : { kind: 'delivered' }));
    const delivering = deliverBatch(new TestBatch(records(4)), h.requestsFor, h.account, { policy: policy(), timing: fakeTiming(), signal: new AbortController().signal });
    await assert.rejects(delivering, (err: unknown) => err === refused);
    assert.deepEqual(h.delivered, ['r-0', 'r-1']);
    assert.deepEqual(h.rejected, []);
  });

  it('a request rejected for good rejects each of its records with the reason', async () => {
    const h = harness(() => ({ kind: 'rejected', reason: 'HTTP 422: no', code: 'HTTP_422' }));
    await deliverBatch(new TestBatch(records(3)), h.requestsFor, h.account, { policy: policy(), timing: fakeTiming(), signal: new AbortController().signal });
    assert.deepEqual(h.rejected, ['r-0', 'r-1', 'r-2'].map((id) => ({ id, reason: 'HTTP 422: no', code: 'HTTP_422' })));
    assert.deepEqual(h.delivered, []);
  });
});

describe('deliverBatch: per-record results', () => {
  it('re-sends only the records answered with a transient error, each up to maxAttempts, across 413 halves', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ transient: fc.integer({ min: 0, max: 6 }), refused: fc.boolean() }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.boolean(), { maxLength: 40 }),
        async (plan, maxAttempts, limit, flaky413) => {
          // Prepare: record i gets `transient` 429s, then is delivered or refused for good; more than
          // `limit` records is 413, and so is the n-th request when flaky413[n] (re-sends get halved too)
          const input = records(plan.length);
          let request = 0;
          const sends = new Map<string, number>();
          const settledIds = new Set<string>();
          const h = harness((ids) => {
            for (const id of ids) assert.ok(!settledIds.has(id), `${id} was sent again after it was settled`);
            if (ids.length > limit || (ids.length > 1 && flaky413[request++])) return { kind: 'split' };
            const results = { delivered: [] as number[], rejected: [] as Array<{ at: number; reason: string; code: string }>, retry: [] as Array<{ at: number; reason: string }> };
            ids.forEach((id, at) => {
              const n = (sends.get(id) ?? 0) + 1;
              sends.set(id, n);
              const step = plan[Number(id.slice(2))]!;
              if (n <= step.transient) {
                results.retry.push({ at, reason: `HTTP 429 for ${id} #${n}` });
                return;
              }
              settledIds.add(id);
              if (step.refused) results.rejected.push({ at, reason: `HTTP 400 for ${id}`, code: 'SINK_ITEM_400' });
              else results.delivered.push(at);
            });
            return { kind: 'delivered', records: results };
          });
          // Act
          await deliverBatch(new TestBatch(input), h.requestsFor, h.account, { policy: policy({ maxAttempts }), timing: fakeTiming(), signal: new AbortController().signal });
          // Assess
          assertSettledOnce(input, h.delivered, h.rejected);
          plan.forEach((step, i) => {
            const id = `r-${i}`;
            const rejection = h.rejected.find((r) => r.id === id);
            if (step.transient >= maxAttempts) {
              assert.equal(sends.get(id), maxAttempts, `${id}: answered sends`);
              assert.equal(rejection?.code, 'SINK_ITEM_RETRIES_EXHAUSTED');
              assert.match(rejection!.reason, new RegExp(`^HTTP 429 for ${id} #${maxAttempts} \\(gave up after ${maxAttempts} attempts over [\\d.]+ s\\)$`));
            } else {
              assert.equal(sends.get(id), step.transient + 1, `${id}: answered sends`);
              assert.deepEqual(rejection, step.refused ? { id, reason: `HTTP 400 for ${id}`, code: 'SINK_ITEM_400' } : undefined);
            }
          });
        },
      ),
    );
  });

  it("waits a backoff before each round, never under the answer's Retry-After, and stops at maxElapsedMs from a record's first send", async () => {
    // Prepare: r-0 always 429 with Retry-After 700 ms; r-1 delivered
    const timing = fakeTiming(() => 0.9999);
    const h = harness((ids) => ({
      kind: 'delivered',
      records: { delivered: ids.flatMap((id, at) => (id === 'r-1' ? [at] : [])), rejected: [], retry: ids.flatMap((id, at) => (id === 'r-0' ? [{ at, reason: 'HTTP 429' }] : [])), retryAfterMs: 700 },
    }));
    // Act
    await deliverBatch(new TestBatch(records(2)), h.requestsFor, h.account, {
      policy: policy({ initialDelayMs: 400, maxDelayMs: 1_000, maxAttempts: 100, maxElapsedMs: 3_000 }),
      timing,
      signal: new AbortController().signal,
    });
    // Assess: waits are max(jitter, 700): 700 (jitter 399), 799, 999; a fourth would end at 3.497 s
    assert.deepEqual(timing.sleeps, [700, 799, 999]);
    assert.deepEqual(h.requests, [['r-0', 'r-1'], ['r-0'], ['r-0'], ['r-0']]);
    assert.deepEqual(h.delivered, ['r-1']);
    assert.deepEqual(h.rejected, [{ id: 'r-0', reason: 'HTTP 429 (gave up after 4 attempts over 2.5 s)', code: 'SINK_ITEM_RETRIES_EXHAUSTED' }]);
  });
});
