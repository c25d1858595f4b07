/**
 * Failure notifications (seed 004's SNS alerts, without AWS): when a unit fails or dies, and at
 * the end of a run that left failures, a JSON message goes to a webhook (HTTP POST) and/or a
 * command (the JSON on its stdin, the main facts in SLUICE_* variables).
 *
 * A notification never fails or slows the run: deliveries run in the background (the run waits
 * for them at its end, at most `timeoutMs` each), a webhook gets three attempts on network errors
 * and 5xx/429, and a delivery that still fails is logged as a warning. Messages carry the
 * engine's error text, which never holds a secret (see runtime/secrets.ts); the webhook URL may
 * itself be a secret reference (a Slack or Teams URL is a credential).
 */
import { spawn } from 'node:child_process';
import { z } from 'zod';
import type { Logger } from '../core/logger.js';
import { resolveSecretRefAsync } from '../core/secrets.js';
import type { NotifyConfig } from '../pipeline/run-config.js';

export type { NotifyConfig } from '../pipeline/run-config.js';

export type NotifyEvent = 'unit_failed' | 'unit_dead' | 'run_failed';

export interface NotifyMessage {
  event: NotifyEvent;
  pipeline: string;
  runId?: string;
  /** The unit (unit events): its key (object key or period such as 2023-05), id and attempt. */
  unit?: { id: string; key: string; attempt: number };
  error?: { message: string; code: string };
  /** Unit and record counts (run events: the run's; unit events: the unit's attempt so far). */
  counts?: Record<string, number>;
  /** Dead units of the run (run events), at most 20. */
  deadUnits?: Array<{ key: string; error: string }>;
  /** ISO 8601 time of the event. */
  at: string;
}

export interface Notifier {
  send(message: NotifyMessage): void;
  /** Waits for every delivery started so far. */
  flush(): Promise<void>;
}

/**
 * @example
 * const notifier = createNotifier({ webhook: 'env:ALERT_URL', on: ['unit_dead', 'run_failed'], timeoutMs: 10_000 }, log);
 * notifier.send({ event: 'unit_dead', pipeline: 'vpc', unit: { id, key, attempt: 5 }, error, at: new Date().toISOString() });
 * await notifier.flush();
 */
export function createNotifier(config: NotifyConfig, log?: Logger): Notifier {
  const pending = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  return {
    send(message) {
      if (!config.on.includes(message.event)) return;
      if (config.webhook !== undefined) {
        track(postWebhook(config.webhook, message, config.timeoutMs).catch((err) => log?.warn({ event: message.event, err: (err as Error).message }, 'notification webhook failed')));
      }
      if (config.command !== undefined) {
        track(runCommand(config.command, message, config.timeoutMs).catch((err) => log?.warn({ event: message.event, err: (err as Error).message }, 'notification command failed')));
      }
    },
    async flush() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
  };
}

async function postWebhook(ref: string, message: NotifyMessage, timeoutMs: number): Promise<void> {
  const url = await resolveSecretRefAsync(ref);
  const body = JSON.stringify(message);
  let lastError = '';
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'sluice-notify' },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return;
      lastError = `HTTP ${response.status}`;
      if (response.status < 500 && response.status !== 429) break;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
  }
  // The URL is not named: it may be a credential.
  throw new Error(`webhook${ref.includes(':') && !/^https?:/.test(ref) ? ` (${ref})` : ''} refused the notification: ${lastError}`);
}

function runCommand(command: string, message: NotifyMessage, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], {
      stdio: ['pipe', 'ignore', 'pipe'],
      env: {
        ...process.env,
        SLUICE_EVENT: message.event,
        SLUICE_PIPELINE: message.pipeline,
        SLUICE_UNIT: message.unit?.key ?? '',
        SLUICE_ERROR: message.error?.message ?? '',
      },
      timeout: timeoutMs,
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 2000) stderr += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`command exited with ${signal ?? `status ${code}`}${stderr ? `: ${stderr.trim().slice(0, 500)}` : ''}`));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(`${JSON.stringify(message)}\n`);
  });
}
