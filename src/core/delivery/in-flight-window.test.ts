import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InFlightWindow } from './in-flight-window.js';

describe('InFlightWindow', () => {
  it('hands out at most `size` slots, then serves waiters in order', async () => {
    // Prepare
    const window = new InFlightWindow(2);
    const a = await window.acquire();
    const b = await window.acquire();
    const order: string[] = [];
    // Act
    const c = window.acquire().then((release) => (order.push('c'), release));
    const d = window.acquire().then((release) => (order.push('d'), release));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, [], 'both wait while the window is full');
    a();
    a(); // a second call of the same release is ignored
    const releaseC = await c;
    await new Promise((r) => setImmediate(r));
    // Assess
    assert.deepEqual(order, ['c']);
    assert.equal(window.inUse, 2);
    b();
    (await d)();
    releaseC();
    assert.equal(window.inUse, 0);
  });

  it('an aborted waiter leaves the queue; close() fails waiters and later acquires', async () => {
    const window = new InFlightWindow(1);
    const held = await window.acquire();
    const controller = new AbortController();
    const aborted = window.acquire(controller.signal);
    controller.abort(new Error('unit aborted'));
    await assert.rejects(aborted, /unit aborted/);
    const waiting = window.acquire();
    window.close(new Error('sink closed'));
    await assert.rejects(waiting, /sink closed/);
    await assert.rejects(window.acquire(), /sink closed/);
    held();
  });
});
