/**
 * Decompression ceilings: how fast the bytes can possibly come out of the gzip objects on this
 * machine, with no parsing at all. Sluice's records/s is read against these.
 */
import { createReadStream } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { runMeasured } from './measured-process.js';
import { timed } from './scenario.js';

export interface CeilingFigures {
  wallS: number;
  processes?: number;
  ok: boolean;
  error?: string;
}

/**
 * `gzip -dc` over the files with output to /dev/null, split round-robin over `processes`
 * concurrent gzip processes (1 = the single-core ceiling).
 */
export async function gzipDecompressCeiling(files: string[], processes = 1): Promise<CeilingFigures> {
  const groups: string[][] = Array.from({ length: Math.max(1, Math.min(processes, files.length)) }, () => []);
  files.forEach((f, i) => groups[i % groups.length]!.push(f));
  const t0 = performance.now();
  const runs = await Promise.all(groups.map((g) => runMeasured('gzip', ['-dc', ...g], { discardStdout: true, useGnuTime: false })));
  const wallS = (performance.now() - t0) / 1000;
  const failed = runs.find((r) => r.exitCode !== 0);
  return {
    wallS,
    processes: groups.length,
    ok: failed === undefined,
    error: failed ? `gzip -dc exited with ${failed.exitCode ?? failed.signal}: ${failed.stderrTail.trim().slice(-500)}` : undefined,
  };
}

/**
 * Node's own zlib on one thread: gunzip each file in turn and count newlines. Also a check on
 * the generated data, since it returns the line count.
 */
export async function nodeGunzipLineCount(files: string[]): Promise<CeilingFigures & { lines: number; bytes: number }> {
  let lines = 0;
  let bytes = 0;
  const { wallS } = await timed(async () => {
    for (const file of files) {
      await pipeline(
        createReadStream(file, { highWaterMark: 1024 * 1024 }),
        createGunzip({ chunkSize: 256 * 1024 }),
        new Writable({
          write(chunk: Buffer, _enc, done) {
            bytes += chunk.length;
            for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) lines++;
            done();
          },
        }),
      );
    }
  });
  return { wallS, ok: true, lines, bytes };
}
