/**
 * Reads a unit's objects with many GETs in flight while handing them out strictly in the unit's
 * order, so that what is decoded from them (and so every output byte) does not depend on which
 * GET finished first.
 *
 * Seed 002's Lambda spent 205 of 218 s waiting on one small GET after another; with objects of a
 * few KB the time is all latency, so the cure is overlap, not speed. Invariants:
 * - At most `concurrency` objects are being fetched or waiting to be consumed, and their bodies
 *   hold at most `maxBufferedBytes` (by listed size; one object is always allowed, so progress
 *   never stops). Objects listed larger than `maxPrefetchObjectBytes` are not prefetched: they
 *   are opened when their turn comes and streamed, so a 100 MB file is never held whole.
 * - An error reading an object is handed out at that object's turn, never earlier, so which
 *   object fails the unit is deterministic too; in-flight reads are aborted when the consumer
 *   stops early or the signal aborts.
 */
import { setMaxListeners } from 'node:events';
import type { Source } from '../core/component.js';
import type { ObjectRef } from '../core/record.js';

export interface OrderedReadOptions {
  concurrency: number;
  maxBufferedBytes: number;
  maxPrefetchObjectBytes: number;
  signal?: AbortSignal;
}

export const DEFAULT_READ_CONCURRENCY = 64;
export const DEFAULT_MAX_BUFFERED_BYTES = 256 * 1024 * 1024;
export const DEFAULT_MAX_PREFETCH_OBJECT_BYTES = 8 * 1024 * 1024;
/** Reserved for an object whose size was not listed. */
const UNKNOWN_SIZE_BYTES = 1024 * 1024;

/** One object's turn: its whole body (prefetched), a stream of it (large objects), or the error reading it. */
export interface ObjectRead {
  object: ObjectRef;
  bytes?: Uint8Array;
  body?: AsyncIterable<Uint8Array>;
  error?: unknown;
}

type Fetched = { chunks: Uint8Array[] } | { error: unknown };

/**
 * @example
 * for await (const { object, body, error } of readObjectsInOrder(source, unit.objects, { concurrency: 64, ... })) {
 *   if (error) throw error;
 *   for await (const chunk of body!) ...
 * }
 */
export async function* readObjectsInOrder(source: Source, objects: readonly ObjectRef[], options: OrderedReadOptions): AsyncGenerator<ObjectRead> {
  const controller = new AbortController();
  // Every read in flight listens for the abort: that many listeners are expected, not a leak.
  setMaxListeners(options.concurrency + 16, controller.signal);
  const onAbort = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const inFlight = new Map<number, Promise<Fetched>>();
  const reserved = new Map<number, number>();
  let reservedBytes = 0;
  let next = 0;

  const prefetchable = (ref: ObjectRef) => (ref.size ?? 0) <= options.maxPrefetchObjectBytes;
  const startMore = (consumed: number) => {
    while (next < objects.length && next - consumed < options.concurrency) {
      const ref = objects[next]!;
      if (!prefetchable(ref)) {
        // Streamed at its turn; reads after it wait until then (its turn bounds the window).
        if (next === consumed) next++;
        break;
      }
      const bytes = ref.size ?? UNKNOWN_SIZE_BYTES;
      if (reservedBytes > 0 && reservedBytes + bytes > options.maxBufferedBytes) break;
      reservedBytes += bytes;
      reserved.set(next, bytes);
      inFlight.set(next, fetchWhole(source, ref, controller.signal));
      next++;
    }
  };

  try {
    for (let i = 0; i < objects.length; i++) {
      options.signal?.throwIfAborted();
      startMore(i);
      const object = objects[i]!;
      const pending = inFlight.get(i);
      if (pending === undefined) {
        // Too large to prefetch: open it now and stream it.
        let body: AsyncIterable<Uint8Array> | undefined;
        let error: unknown;
        try {
          body = await source.open(object, controller.signal);
        } catch (err) {
          error = err;
        }
        if (next <= i) next = i + 1;
        yield error === undefined ? { object, body } : { object, error };
        continue;
      }
      const fetched = await pending;
      inFlight.delete(i);
      reservedBytes -= reserved.get(i) ?? 0;
      reserved.delete(i);
      startMore(i + 1);
      if ('error' in fetched) yield { object, error: fetched.error };
      else yield { object, bytes: fetched.chunks.length === 1 ? fetched.chunks[0]! : Buffer.concat(fetched.chunks) };
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    if (inFlight.size > 0) {
      controller.abort();
      await Promise.allSettled(inFlight.values());
    }
  }
}

/** Reads an object's whole (small) body; never rejects. */
async function fetchWhole(source: Source, ref: ObjectRef, signal: AbortSignal): Promise<Fetched> {
  try {
    const chunks: Uint8Array[] = [];
    for await (const chunk of await source.open(ref, signal)) chunks.push(chunk);
    return { chunks };
  } catch (error) {
    return { error };
  }
}
