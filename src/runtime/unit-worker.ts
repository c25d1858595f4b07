/** Worker-thread entry: runs units sent by the pool (see unit-runner.ts) with its own pipeline. */
import { parentPort, workerData } from 'node:worker_threads';
import type { PipelineConfig } from '../pipeline/config.js';
import { toSluiceError } from '../core/errors.js';
import { closeUnitPipeline, openUnitPipeline } from '../pipeline/build-pipeline.js';
import { processUnit } from './process-unit.js';
import type { FromWorker, ToWorker } from './unit-runner.js';

const port = parentPort!;
const config = (workerData as { config: PipelineConfig }).config;
const pipeline = openUnitPipeline(config);
// A failure to open is reported by every unit's run (the main thread's preflight normally catches it first).
pipeline.catch(() => undefined);
const running = new Map<number, AbortController>();
const send = (msg: FromWorker) => port.postMessage(msg);

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'abort') {
    running.get(msg.taskId)?.abort();
    return;
  }
  if (msg.type === 'close') {
    for (const c of running.values()) c.abort();
    void pipeline.then(closeUnitPipeline, () => undefined).finally(() => {
      send({ type: 'closed' });
      // Keep-alive sockets of SDK clients would hold the thread open: end it explicitly.
      process.exit(0);
    });
    return;
  }
  const controller = new AbortController();
  running.set(msg.taskId, controller);
  pipeline.then((opened) => processUnit(opened, msg.unit, {
    signal: controller.signal,
    onProgress: (progress) => send({ type: 'progress', taskId: msg.taskId, progress }),
  })).then(
    (result) => send({ type: 'done', taskId: msg.taskId, result }),
    (err) => {
      const e = toSluiceError(err, 'read');
      send({ type: 'error', taskId: msg.taskId, error: { ...e.toJSON() } });
    },
  ).finally(() => running.delete(msg.taskId));
});
