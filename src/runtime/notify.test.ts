/**
 * Notifications against a real local HTTP server and a real shell command: message shape,
 * retries on 5xx, and the run-level wiring (a dead unit and a run with failures notify; a clean
 * run does not).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parsePipeline } from '../pipeline/config.js';
import { createNotifier, type NotifyMessage } from './notify.js';
import { notifySchema } from '../pipeline/run-config.js';
import { openLedger } from './ledger/open-ledger.js';
import { planPipeline, runPipeline, workPipeline } from './run-pipeline.js';

interface Hook {
  url: string;
  received: NotifyMessage[];
  /** Status codes to answer with, in order (then 200). */
  answers: number[];
  server: Server;
}

async function startHook(): Promise<Hook> {
  const hook: Hook = { url: '', received: [], answers: [], server: undefined as unknown as Server };
  hook.server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const status = hook.answers.shift() ?? 200;
      if (status === 200) {
        assert.equal(req.method, 'POST');
        assert.equal(req.headers['content-type'], 'application/json');
        hook.received.push(JSON.parse(body) as NotifyMessage);
      }
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => hook.server.listen(0, '127.0.0.1', resolve));
  hook.url = `http://127.0.0.1:${(hook.server.address() as AddressInfo).port}/hook`;
  return hook;
}

describe('notifications', () => {
  let hook: Hook;
  before(async () => {
    hook = await startHook();
  });
  after(() => hook.server.close());

  it('POSTs the JSON message to the webhook (a secret reference), retrying a 5xx', async () => {
    hook.received.length = 0;
    hook.answers.push(503);
    process.env.SLUICE_TEST_HOOK = hook.url;
    const notifier = createNotifier(notifySchema.parse({ webhook: 'env:SLUICE_TEST_HOOK' }));
    const message: NotifyMessage = { event: 'unit_dead', pipeline: 'p', unit: { id: 'u1', key: '2023-06', attempt: 5 }, error: { message: 'boom', code: 'X' }, counts: { recordsIn: 3 }, at: '2024-01-15T00:00:00.000Z' };
    notifier.send(message);
    await notifier.flush();
    assert.deepEqual(hook.received, [message]);
  });

  it('runs the command with the message on stdin and SLUICE_* variables; events not listed are not sent', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-notify-'));
    const out = path.join(dir, 'out.txt');
    const notifier = createNotifier(notifySchema.parse({ command: `cat > ${out}; echo "$SLUICE_EVENT $SLUICE_PIPELINE $SLUICE_UNIT" >> ${out}`, on: ['unit_dead'] }));
    notifier.send({ event: 'unit_failed', pipeline: 'p', at: 'x' });
    notifier.send({ event: 'unit_dead', pipeline: 'flows', unit: { id: 'u', key: '2023-05', attempt: 1 }, at: 'x' });
    await notifier.flush();
    const [json, vars] = readFileSync(out, 'utf8').trim().split('\n');
    assert.equal(JSON.parse(json!).event, 'unit_dead');
    assert.equal(vars, 'unit_dead flows 2023-05');
  });

  it('a failing delivery never fails the caller', async () => {
    const notifier = createNotifier(notifySchema.parse({ webhook: 'http://127.0.0.1:1/nothing', command: 'exit 3', timeoutMs: 500 }));
    notifier.send({ event: 'run_failed', pipeline: 'p', at: 'x' });
    await notifier.flush();
  });

  it('a run notifies a dead unit and, at its end, the failures with counts; a clean run sends nothing', async () => {
    hook.received.length = 0;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-notify-run-'));
    const logs = path.join(dir, 'logs');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(logs);
    writeFileSync(path.join(logs, 'good.csv'), 'a,b\n1,2\n');
    // gzip magic followed by garbage: the object cannot be read, so its unit fails.
    writeFileSync(path.join(logs, 'broken.csv.gz'), Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8]));
    const config = parsePipeline(
      {
        name: 'notify-run',
        source: { uri: logs },
        format: { type: 'delimited', header: true },
        sinks: [{ type: 'files', path: path.join(dir, 'out') }],
        runtime: { state: path.join(dir, 'state.db'), workers: 0, maxAttempts: 1, notify: { webhook: hook.url } },
      },
      path.join(dir, 'pipeline.yaml'),
    );
    const report = await runPipeline(config);
    assert.equal(report.units.dead, 1);
    const events = hook.received.map((m) => m.event).sort();
    assert.deepEqual(events, ['run_failed', 'unit_dead']);
    const dead = hook.received.find((m) => m.event === 'unit_dead')!;
    assert.equal(dead.pipeline, 'notify-run');
    assert.equal(dead.unit?.key, 'broken.csv.gz');
    assert.ok(dead.error && dead.error.message.length > 0);
    const end = hook.received.find((m) => m.event === 'run_failed')!;
    assert.equal(end.counts?.unitsDead, 1);
    assert.equal(end.counts?.unitsDone, 1);
    assert.equal(end.counts?.recordsIn, 1);
    assert.deepEqual(end.deadUnits?.map((u) => u.key), ['broken.csv.gz']);

    // A fleet worker (`sluice worker`) notifies its failed and dead units too.
    hook.received.length = 0;
    const fleet = { ...config, name: 'notify-fleet', runtime: { ...config.runtime, state: path.join(dir, 'fleet.db') } };
    const ledger = await openLedger(fleet.runtime.state);
    try {
      await planPipeline(fleet, { ledger });
      const worked = await workPipeline(fleet, { ledger });
      assert.equal(worked.units.dead, 1);
    } finally {
      await ledger.close();
    }
    assert.deepEqual(hook.received.map((m) => [m.event, m.pipeline, m.unit?.key]), [['unit_dead', 'notify-fleet', 'broken.csv.gz']]);

    hook.received.length = 0;
    writeFileSync(path.join(logs, 'broken.csv.gz'), '');
    const { rmSync } = await import('node:fs');
    rmSync(path.join(logs, 'broken.csv.gz'));
    const clean = await runPipeline({ ...config, name: 'notify-clean' });
    assert.equal(clean.units.dead, 0);
    assert.deepEqual(hook.received, []);
  });
});
