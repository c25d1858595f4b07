import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePipeline } from '../pipeline/config.js';
import type { UnitContext } from '../core/component.js';
import { createDirSource } from '../sources/dir/index.js';
import { fixturePath } from '../testing/repo-root.js';
import { createWorkerPoolRunner } from './unit-runner.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-pool-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('worker pool runner', () => {
  it('runs units on worker threads, queueing those beyond the per-worker limit, and an abort drops a queued one', async () => {
    // Prepare: three small objects, one worker that runs one unit at a time.
    for (const name of ['a', 'b', 'c']) {
      copyFileSync(fixturePath('aws-docs/vpcflow/v2-default-examples.with-header.log'), path.join(tmp, `${name}.log`));
    }
    const config = parsePipeline({ name: 'pool', source: { uri: tmp }, format: 'vpcflow', sinks: [{ type: 'files', path: path.join(tmp, 'out') }] });
    const refs = [];
    for await (const page of createDirSource(tmp).list()) refs.push(...page.filter((r) => r.key.endsWith('.log')));
    const units: UnitContext[] = refs.map((ref, i) => ({ id: `u${i}`, outputStem: `u${i}`, objects: [ref] }));
    const runner = createWorkerPoolRunner(config, 1, 1);
    const aborted = new AbortController();
    try {
      // Act
      const first = runner.run(units[0]!, {});
      const second = runner.run(units[1]!, {});
      const third = runner.run(units[2]!, { signal: aborted.signal });
      aborted.abort();
      const results = await Promise.allSettled([first, second, third]);

      // Assess
      assert.equal(results[0]!.status, 'fulfilled');
      assert.equal(results[1]!.status, 'fulfilled');
      assert.equal(results[2]!.status, 'rejected', 'the queued unit is dropped by its abort');
      for (const r of results.slice(0, 2)) {
        if (r.status === 'fulfilled') assert.deepEqual([r.value.recordsIn, r.value.recordsOut], [7, 7]);
      }
    } finally {
      await runner.close();
    }
  });
});
