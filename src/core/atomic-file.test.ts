import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FileHandle } from 'node:fs/promises';
import { writeFully } from './atomic-file.js';

/** A handle whose write(2) takes at most `step` bytes at a time, then fails like a full disk. */
function shortWritingHandle(step: number, capacity: number): { handle: FileHandle; written: number[] } {
  const written: number[] = [];
  const handle = {
    async write(data: Uint8Array, offset: number, length: number) {
      if (written.length >= capacity) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      const n = Math.min(step, length);
      written.push(...data.subarray(offset, offset + n));
      return { bytesWritten: n, buffer: data };
    },
  } as unknown as FileHandle;
  return { handle, written };
}

describe('writeFully', () => {
  it('keeps writing after short writes until every byte is written', async () => {
    const data = Uint8Array.from({ length: 100 }, (_, i) => i);
    const { handle, written } = shortWritingHandle(7, Infinity);
    await writeFully(handle, data);
    assert.deepEqual(written, [...data]);
  });

  it('surfaces the error of a disk that fills after a short write instead of dropping the tail', async () => {
    const { handle, written } = shortWritingHandle(30, 30);
    await assert.rejects(writeFully(handle, new Uint8Array(100)), /ENOSPC/);
    assert.equal(written.length, 30);
  });
});
