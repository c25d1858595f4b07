/**
 * Runs a child process and measures it: wall time, exit status, captured output, and peak
 * resident memory two ways on Linux, because each alone can mislead:
 * - polling `/proc/<pid>/status` for VmHWM (the kernel's high-water mark of RSS) while the child
 *   runs; VmHWM only grows, so the last value read is a lower bound that misses at most the
 *   final poll interval;
 * - GNU `/usr/bin/time -f %M` when present, which reports the exact maximum RSS at exit. The
 *   child then runs under `time`, and the poller follows `time`'s own child.
 * Elsewhere (macOS, Windows) the memory figures are simply absent.
 */
import { spawn, type StdioOptions } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface MeasuredRunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the child (SIGTERM, then SIGKILL) after this long. */
  timeoutMs?: number;
  /** Send stdout to /dev/null instead of capturing it (for decompression ceilings). */
  discardStdout?: boolean;
  /** Wrap in GNU time when available. Default true. */
  useGnuTime?: boolean;
  /** Poll interval for /proc, ms. Default 50. */
  pollMs?: number;
}

export interface MeasuredRun {
  command: string;
  args: string[];
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  wallMs: number;
  stdout: string;
  /** The last 64 KiB of stderr. */
  stderrTail: string;
  /** Peak RSS from polling /proc/<pid>/status VmHWM (Linux). */
  polledPeakRssBytes?: number;
  /** Peak RSS reported by GNU time (%M) at exit (Linux with /usr/bin/time). */
  gnuTimeMaxRssBytes?: number;
  /** Why a memory figure is missing, when it is. */
  memoryNote?: string;
  /** The pid of the measured process (under GNU time, time's child), when it was seen. */
  measuredPid?: number;
}

const GNU_TIME = '/usr/bin/time';
const STDERR_KEEP = 64 * 1024;

let gnuTimeUsable: boolean | undefined;

/** True when /usr/bin/time is GNU time (BusyBox and BSD `time` lack `-f %M -o`). */
async function hasGnuTime(): Promise<boolean> {
  if (gnuTimeUsable !== undefined) return gnuTimeUsable;
  if (process.platform !== 'linux' || !existsSync(GNU_TIME)) return (gnuTimeUsable = false);
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-bench-time-'));
  try {
    const out = path.join(dir, 'rss');
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(GNU_TIME, ['-f', '%M', '-o', out, process.execPath, '-e', '0'], { stdio: 'ignore' });
      child.on('error', () => resolve(1));
      child.on('exit', (c) => resolve(c));
    });
    gnuTimeUsable = code === 0 && /^\d+\s*$/.test(readFileSync(out, 'utf8'));
  } catch {
    gnuTimeUsable = false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return gnuTimeUsable;
}

async function readVmHwmBytes(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined; // gone already
  }
}

async function firstChildPid(pid: number): Promise<number | undefined> {
  try {
    const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim();
    return children ? Number(children.split(/\s+/)[0]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * @example
 * const run = await runMeasured(process.execPath, ['bin/sluice.js', 'run', '-c', file, '--json'], { cwd: root });
 * console.log(run.exitCode, run.wallMs, run.gnuTimeMaxRssBytes ?? run.polledPeakRssBytes);
 */
export async function runMeasured(command: string, args: string[], options: MeasuredRunOptions = {}): Promise<MeasuredRun> {
  const linux = process.platform === 'linux';
  const wrap = (options.useGnuTime ?? true) && (await hasGnuTime());
  const timeDir = wrap ? mkdtempSync(path.join(tmpdir(), 'sluice-bench-rss-')) : undefined;
  const timeOut = timeDir ? path.join(timeDir, 'maxrss') : undefined;
  const [file, argv] = wrap ? [GNU_TIME, ['-f', '%M', '-o', timeOut!, command, ...args]] : [command, args];

  const devNull = options.discardStdout ? openSync('/dev/null', 'w') : undefined;
  const stdio: StdioOptions = ['ignore', devNull ?? 'pipe', 'pipe'];
  const started = performance.now();
  const child = spawn(file, argv, { cwd: options.cwd, env: options.env ?? process.env, stdio });
  if (devNull !== undefined) closeSync(devNull);

  const stdoutParts: Buffer[] = [];
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => stdoutParts.push(d));
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString('utf8');
    if (stderr.length > 2 * STDERR_KEEP) stderr = stderr.slice(-STDERR_KEEP);
  });

  let polled: number | undefined;
  let target: number | undefined = wrap ? undefined : child.pid;
  let polling = linux && child.pid !== undefined;
  const poller = (async () => {
    while (polling) {
      if (target === undefined && child.pid !== undefined) target = await firstChildPid(child.pid);
      if (target !== undefined) {
        const hwm = await readVmHwmBytes(target);
        if (hwm !== undefined) polled = Math.max(polled ?? 0, hwm);
      }
      await new Promise((r) => setTimeout(r, options.pollMs ?? 50));
    }
  })();

  let timedOut = false;
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(async () => {
          timedOut = true;
          if (wrap && target === undefined && child.pid !== undefined) target = await firstChildPid(child.pid);
          // Under GNU time the measured process is a grandchild: signal it too, or it outlives us.
          const signalAll = (signal: NodeJS.Signals) => {
            if (target !== undefined && target !== child.pid) {
              try {
                process.kill(target, signal);
              } catch {
                // already gone
              }
            }
            child.kill(signal);
          };
          signalAll('SIGTERM');
          setTimeout(() => signalAll('SIGKILL'), 5000).unref();
        }, options.timeoutMs);

  const { exitCode, signal } = await new Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, sig) => resolve({ exitCode: code, signal: sig }));
  });
  const wallMs = performance.now() - started;
  if (timer) clearTimeout(timer);
  polling = false;
  await poller;

  let gnuTimeMaxRssBytes: number | undefined;
  if (timeOut) {
    try {
      // GNU time prints "Command exited with non-zero status N" before the figure in that case.
      const m = /(\d+)\s*$/.exec(readFileSync(timeOut, 'utf8'));
      if (m) gnuTimeMaxRssBytes = Number(m[1]) * 1024;
    } catch {
      // no figure: the wrapper itself failed
    }
    rmSync(timeDir!, { recursive: true, force: true });
  }
  return {
    command,
    args,
    exitCode,
    signal,
    timedOut,
    wallMs,
    stdout: Buffer.concat(stdoutParts).toString('utf8'),
    stderrTail: stderr.slice(-STDERR_KEEP),
    polledPeakRssBytes: polled,
    gnuTimeMaxRssBytes,
    measuredPid: target,
    memoryNote: linux ? (wrap ? undefined : 'GNU /usr/bin/time not available: polled VmHWM only') : 'peak RSS is measured on Linux only',
  };
}
