/**
 * Logs go to stderr through pino: JSON lines by default (for machines), short human lines on a
 * TTY. The level comes from SLUICE_LOG_LEVEL (default info). Never log a secret or a whole record
 * at info level.
 */
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export type { Logger };

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** Renders pino's JSON lines as `HH:MM:SS level message key=value` for people. */
function humanStream(out: NodeJS.WriteStream): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          const { level, time, msg, pid: _pid, hostname: _host, ...rest } = JSON.parse(line) as Record<string, unknown>;
          const clock = new Date(time as number).toISOString().slice(11, 19);
          const extras = Object.entries(rest)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ');
          out.write(`${clock} ${(LEVEL_NAMES[level as number] ?? String(level)).padEnd(5)} ${msg ?? ''}${extras ? ` ${extras}` : ''}\n`);
        } catch {
          out.write(line + '\n');
        }
      }
      callback();
    },
  });
}

export function createLogger(options: { level?: string; pretty?: boolean } = {}): Logger {
  const level = options.level ?? process.env.SLUICE_LOG_LEVEL ?? 'info';
  const pretty = options.pretty ?? process.stderr.isTTY === true;
  return pino({ level, base: undefined }, pretty ? humanStream(process.stderr) : pino.destination({ fd: 2, sync: true }));
}
