/**
 * The life cycle of a part file, the same for every part format: the part is written to a local
 * file (a staged object of the sink's place, core/place), then either finished (fsync'd and
 * closed; the unit writer publishes it at commit) or discarded (what still writes to
 * it stopped, closed if still open, and deleted, also after finishing; discarding never throws).
 * A format's writer extends PartFileWriter and says only how it writes and what it holds.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { removeFile, writeFully } from '../../core/atomic-file.js';

/**
 * Opens `tempPath` for writing, starting it with `header` if given; when writing the header
 * fails, nothing is left behind.
 */
export async function openPartFile(tempPath: string, header?: Uint8Array): Promise<{ tempPath: string; handle: FileHandle }> {
  const handle = await open(tempPath, 'w');
  if (header !== undefined) {
    try {
      await writeFully(handle, header);
    } catch (err) {
      await handle.close().catch(() => undefined);
      await removeFile(tempPath).catch(() => undefined);
      throw err;
    }
  }
  return { tempPath, handle };
}

export abstract class PartFileWriter {
  private state: 'open' | 'finished' | 'discarded' = 'open';

  protected constructor(
    readonly tempPath: string,
    protected readonly handle: FileHandle,
  ) {}

  /** Stops writing and deletes the temp file (also after `finish`). Never throws. */
  async discard(): Promise<void> {
    if (this.state === 'discarded') return;
    const wasOpen = this.state === 'open';
    this.state = 'discarded';
    this.release();
    if (wasOpen) {
      await this.stopWriting();
      await this.handle.close().catch(() => undefined);
    }
    await removeFile(this.tempPath).catch(() => undefined);
  }

  /** The end of `finish()`, once everything is written: fsyncs and closes the temp file. */
  protected async closeFinished(): Promise<void> {
    await this.handle.sync();
    await this.handle.close();
    this.state = 'finished';
  }

  /** Drops what the writer holds in memory; called once, by the first `discard`. */
  protected abstract release(): void;

  /** Stops whatever still writes to the file, before a discarded open part is closed. Never throws. */
  protected async stopWriting(): Promise<void> {}
}
