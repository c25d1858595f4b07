/**
 * The stdout sink against the sink conformance suite, printing into a stream the adapter reads
 * back. Standard output cannot take back what it printed: the suite holds it to a stream's
 * guarantees (nothing printed after abort; a restarted unit prints its records again).
 */
import { Writable } from 'node:stream';
import type { SluiceRecord } from '../../core/record.js';
import { runSinkConformance, type StreamTarget } from '../../testing/sink-conformance.js';
import { createStdoutSink } from './index.js';

/** A record stdout cannot print: a value JSON cannot hold (SINK_RECORD_UNSERIALIZABLE). */
function withCircularValue(record: SluiceRecord): SluiceRecord {
  const loop: Record<string, unknown> = { depth: 1 };
  loop.self = loop;
  return { ...record, fields: { ...record.fields, loop } };
}

runSinkConformance('stdout', {
  delivery: 'stream',
  spoil: withCircularValue,
  async open(): Promise<StreamTarget> {
    const chunks: string[] = [];
    const out = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk.toString('utf8'));
        callback();
      },
    });
    return {
      createSink: () => createStdoutSink({ idField: '_id' }, out),
      visibleIds: async () =>
        chunks
          .join('')
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => String((JSON.parse(line) as { _id: unknown })._id)),
      dispose: async () => {
        out.destroy();
      },
    };
  },
});
