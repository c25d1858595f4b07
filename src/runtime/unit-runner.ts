/**
 * Where units actually run: in worker threads (one per core by default) so that decompression,
 * parsing and serialization of several objects use every core, or in the calling thread when
 * `workers` is 0. A worker builds its own pipeline (source client, format, sinks) from the
 * serializable config and runs many units concurrently; the main thread keeps the ledger and
 * only exchanges small messages (unit in, counts out) with workers, never records.
 *
 * A worker that dies fails its in-flight units with a retryable error and is replaced.
 */
import { Worker } from 'node:worker_threads';
import type { UnitContext } from '../core/component.js';
import type { PipelineConfig } from '../pipeline/config.js';
import { SluiceError, type SerializedError } from '../core/errors.js';
import { closeUnitPipeline, openUnitPipeline } from '../pipeline/build-pipeline.js';
import { processUnit, type UnitPipeline, type UnitProgress } from './process-unit.js';
import type { UnitResult } from './ledger/types.js';

export interface UnitRunner {
  run(unit: UnitContext, options: { signal?: AbortSignal; onProgress?: (p: UnitProgress) => void }): Promise<UnitResult>;
  close(): Promise<void>;
}

/** Runs units in the calling thread. */
export function createInlineRunner(config: PipelineConfig): UnitRunner {
  let pipeline: Promise<UnitPipeline> | undefined;
  return {
    async run(unit, options) {
      pipeline ??= openUnitPipeline(config);
      return processUnit(await pipeline, unit, options);
    },
    async close() {
      if (pipeline) await closeUnitPipeline(await pipeline);
    },
  };
}

export type ToWorker =
  | { type: 'run'; taskId: number; unit: UnitContext }
  | { type: 'abort'; taskId: number }
  | { type: 'close' };

export type FromWorker =
  | { type: 'progress'; taskId: number; progress: UnitProgress }
  | { type: 'done'; taskId: number; result: UnitResult }
  | { type: 'error'; taskId: number; error: SerializedError & { name?: string } }
  | { type: 'closed' };

interface Task {
  resolve: (r: UnitResult) => void;
  reject: (e: Error) => void;
  onProgress?: (p: UnitProgress) => void;
  worker: PooledWorker;
}

interface PooledWorker {
  worker: Worker;
  inFlight: number;
  alive: boolean;
}

/**
 * Units a worker thread runs at once. Decoding is CPU-bound, so more units per thread than this
 * only add memory (each holds its batches and zlib buffers) without adding throughput; two keep
 * a thread busy while the other waits on I/O. Units leased beyond that wait here for a slot.
 */
const UNITS_PER_WORKER = 2;
const workerEntry = new URL('./unit-worker.js', import.meta.url);

/** Runs units on a pool of worker threads, each unit on the least busy worker. */
export function createWorkerPoolRunner(config: PipelineConfig, size: number, unitsPerWorker = UNITS_PER_WORKER): UnitRunner {
  const tasks = new Map<number, Task>();
  const waiting: Array<() => void> = [];
  const startWaiting = () => {
    while (waiting.length > 0 && workers.some((w) => w.alive && w.inFlight < unitsPerWorker)) waiting.shift()!();
  };
  const workers: PooledWorker[] = [];
  let nextTaskId = 1;
  let closing = false;

  const spawn = (): PooledWorker => {
    const pooled: PooledWorker = {
      worker: new Worker(workerEntry, {
        workerData: { config },
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ?? 'true' },
      }),
      inFlight: 0,
      alive: true,
    };
    pooled.worker.on('message', (msg: FromWorker) => {
      if (msg.type === 'closed') return;
      const task = tasks.get(msg.taskId);
      if (!task) return;
      if (msg.type === 'progress') {
        task.onProgress?.(msg.progress);
        return;
      }
      tasks.delete(msg.taskId);
      pooled.inFlight--;
      if (msg.type === 'done') task.resolve(msg.result);
      else task.reject(new SluiceError(msg.error.message, msg.error));
      startWaiting();
    });
    const onDeath = (err?: Error) => {
      if (!pooled.alive) return;
      pooled.alive = false;
      for (const [id, task] of tasks) {
        if (task.worker !== pooled) continue;
        tasks.delete(id);
        task.reject(
          new SluiceError(`worker thread died: ${err?.message ?? 'exited'}`, { code: 'WORKER_DIED', stage: 'read', retryable: true, cause: err }),
        );
      }
      const index = workers.indexOf(pooled);
      if (index >= 0 && !closing) {
        workers[index] = spawn();
        startWaiting();
      }
    };
    pooled.worker.on('error', onDeath);
    pooled.worker.on('exit', (code) => onDeath(code === 0 ? undefined : new Error(`exit code ${code}`)));
    return pooled;
  };

  for (let i = 0; i < size; i++) workers.push(spawn());

  return {
    run(unit, options) {
      return new Promise<UnitResult>((resolve, reject) => {
        const start = () => {
          const target = workers.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
          const taskId = nextTaskId++;
          tasks.set(taskId, { resolve, reject, onProgress: options.onProgress, worker: target });
          target.inFlight++;
          target.worker.postMessage({ type: 'run', taskId, unit } satisfies ToWorker);
          options.signal?.addEventListener('abort', () => target.worker.postMessage({ type: 'abort', taskId } satisfies ToWorker), {
            once: true,
          });
        };
        if (workers.some((w) => w.inFlight < unitsPerWorker)) return start();
        // Every worker is busy: wait for a slot (the unit stays leased; its heartbeat goes on).
        waiting.push(start);
        options.signal?.addEventListener(
          'abort',
          () => {
            const index = waiting.indexOf(start);
            if (index < 0) return;
            waiting.splice(index, 1);
            reject(new SluiceError('aborted before it started', { code: 'ABORTED', stage: 'read' }));
          },
          { once: true },
        );
      });
    },
    async close() {
      closing = true;
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve) => {
              if (!w.alive) return resolve();
              const timer = setTimeout(() => void w.worker.terminate().then(() => resolve()), 5000);
              w.worker.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
              w.worker.postMessage({ type: 'close' } satisfies ToWorker);
            }),
        ),
      );
    },
  };
}

export function createUnitRunner(config: PipelineConfig, workers: number): UnitRunner {
  return workers > 0 ? createWorkerPoolRunner(config, workers) : createInlineRunner(config);
}
