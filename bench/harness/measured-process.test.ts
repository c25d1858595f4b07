import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runMeasured } from './measured-process.js';

const MiB = 1024 * 1024;

describe('runMeasured', () => {
  it('captures exit code, stdout and the stderr tail', async () => {
    // Act
    const run = await runMeasured(process.execPath, ['-e', 'process.stdout.write("out"); process.stderr.write("err"); process.exit(3)']);

    // Assess
    assert.equal(run.exitCode, 3);
    assert.equal(run.stdout, 'out');
    assert.equal(run.stderrTail, 'err');
    assert.equal(run.timedOut, false);
    assert.ok(run.wallMs > 0);
  });

  it('measures the peak RSS of a child that holds 200 MiB for a moment', async () => {
    // Prepare: touch every page so it is resident, hold it long enough for several polls.
    const script = 'const b = Buffer.alloc(200 * 1024 * 1024, 1); setTimeout(() => console.log(b[12345]), 400);';

    // Act
    const run = await runMeasured(process.execPath, ['-e', script], { pollMs: 20 });

    // Assess
    assert.equal(run.exitCode, 0);
    assert.equal(run.stdout.trim(), '1');
    const figures = [run.polledPeakRssBytes, run.gnuTimeMaxRssBytes].filter((v): v is number => v !== undefined);
    if (process.platform !== 'linux') {
      assert.deepEqual(figures, []);
      assert.match(run.memoryNote ?? '', /Linux only/);
      return;
    }
    assert.ok(figures.length >= 1, 'at least one memory figure');
    for (const bytes of figures) assert.ok(bytes > 200 * MiB && bytes < 600 * MiB, `peak RSS ${(bytes / MiB).toFixed(0)} MiB`);
  });

  it('kills a child that outlives its timeout, also under GNU time, and says so', async () => {
    // Prepare: the child reports its pid so we can check it is gone.
    const script = 'console.log(process.pid); setTimeout(() => {}, 60_000)';

    // Act
    const run = await runMeasured(process.execPath, ['-e', script], { timeoutMs: 3000, pollMs: 20 });

    // Assess
    assert.equal(run.timedOut, true);
    assert.notEqual(run.exitCode, 0);
    assert.ok(run.wallMs < 15_000);
    const pid = run.measuredPid ?? Number(run.stdout.trim());
    assert.ok(pid > 0, `the measured pid is known (stdout: ${run.stdout})`);
    if (run.stdout.trim()) assert.equal(Number(run.stdout.trim()), pid);
    // An orphan is reaped by init shortly after it dies; give it a moment.
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(alive(), false, 'the measured process is gone');
  });

  it('discards stdout when asked, for decompression ceilings', async () => {
    // Act
    const run = await runMeasured(process.execPath, ['-e', 'process.stdout.write("x".repeat(1e6))'], { discardStdout: true, useGnuTime: false });

    // Assess
    assert.equal(run.exitCode, 0);
    assert.equal(run.stdout, '');
  });
});
