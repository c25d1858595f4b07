/**
 * Corrupt and hostile inputs, in one run each for flow logs and CloudTrail: gzip truncated at
 * many offsets and with flipped bits, a garbage line in 10k, invalid UTF-8, a zero-byte object,
 * an object deleted between listing and reading, truncated JSON, 10,000-deep nested JSON. No
 * crash; every good record out exactly once; every bad line a dead letter with its reason; every
 * broken object a dead unit whose error names it; and the counts reconcile.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePipeline } from '../../src/pipeline/config.js';
import { runPipeline } from '../../src/runtime/run-pipeline.js';
import { idCountsInOutputs, listFiles } from '../../src/testing/output-oracle.js';
import { deadLetterIds, recordScenario, writeFlowLogInput } from '../../src/testing/reliability.js';
import { objectIdPrefix, recordId } from '../../src/core/record.js';
import { createDirSource } from '../../src/sources/dir/index.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-corrupt-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function refsByName(dir: string): Promise<Map<string, { uri: string; prefix: string }>> {
  const refs = new Map<string, { uri: string; prefix: string }>();
  for await (const page of createDirSource(dir).list()) for (const ref of page) refs.set(path.basename(ref.uri), { uri: ref.uri, prefix: objectIdPrefix(ref) });
  return refs;
}

describe('corrupt inputs', () => {
  it('flow logs: truncated and bit-flipped gzip, garbage, invalid UTF-8, empty and vanished objects', { timeout: 120_000 }, async () => {
    const started = performance.now();
    // Prepare: 14 objects of 10k lines, then damage 12 of them.
    const dir = path.join(tmp, 'flows');
    const input = await writeFlowLogInput({ dir, objects: 14, lines: 10_000, seed: 3 });
    const names = [...(await refsByName(dir)).keys()].sort();
    const broken = new Map<string, string>(); // file name -> how it was damaged
    const fileOf = (name: string) => listFiles(dir).find((f) => path.basename(f) === name)!;
    const gz = (name: string) => readFileSync(fileOf(name));
    const write = (name: string, bytes: Buffer | string) => writeFileSync(fileOf(name), bytes);
    // Truncated at 6 offsets (in the header, early, middle, just before the trailer) and bit flips at 2.
    const original = gz(names[0]!);
    [10, 200, Math.floor(original.length / 3), Math.floor(original.length / 2), original.length - 9, original.length - 1].forEach((cut, i) => {
      write(names[i]!, gz(names[i]!).subarray(0, Math.min(cut, gz(names[i]!).length - 1)));
      broken.set(names[i]!, `truncated at ${cut}`);
    });
    for (const i of [6, 7]) {
      const bytes = Buffer.from(gz(names[i]!));
      bytes[Math.floor(bytes.length * (i === 6 ? 0.5 : 0.9))]! ^= 0x5a;
      write(names[i]!, bytes);
      broken.set(names[i]!, 'bit flipped');
    }
    // A garbage line and an invalid UTF-8 line in 10k.
    const text8 = gunzipSync(gz(names[8]!)).toString('utf8').split('\n');
    text8[5_000] = 'this is not a flow log line at all';
    write(names[8]!, gzipSync(text8.join('\n')));
    const raw9 = gunzipSync(gz(names[9]!));
    const lineStarts = [0];
    for (let i = 0; i < raw9.length; i++) if (raw9[i] === 0x0a) lineStarts.push(i + 1);
    const bad = Buffer.from(raw9);
    bad[lineStarts[4_000]! + 2] = 0xff; // inside the version field of line 4001
    bad[lineStarts[4_000]! + 3] = 0xfe;
    write(names[9]!, gzipSync(bad));
    write(names[10]!, ''); // zero bytes
    const vanishing = names[11]!;

    const refs = await refsByName(dir);
    const config = parsePipeline({
      name: 'corrupt-flows',
      source: { uri: dir },
      format: 'vpcflow',
      sinks: [{ type: 'files', path: path.join(tmp, 'flows-out'), format: 'ndjson' }],
      runtime: { state: path.join(tmp, 'flows.db'), deadLetters: path.join(tmp, 'flows-dead'), workers: 2, maxAttempts: 2, backoffMs: 1, maxBackoffMs: 5 },
    });

    // Act: the vanishing object is deleted after planning, before any unit reads it.
    const report = await runPipeline(config, { events: { onPlanned: () => unlinkSync(refs.get(vanishing)!.uri) } });

    // Assess: the broken and vanished objects are dead units whose errors name them.
    const deadKeys = new Map(report.deadUnits.map((u) => [path.basename(u.key), u]));
    assert.deepEqual([...deadKeys.keys()].sort(), [...broken.keys(), vanishing].sort());
    for (const [name, unit] of deadKeys) {
      assert.ok(unit.error.includes(name), `error of ${name} does not name it: ${unit.error}`);
      assert.equal(unit.code, name === vanishing ? 'OBJECT_NOT_FOUND' : 'CORRUPT_GZIP', `${name}: ${unit.error}`);
    }
    // Nothing of a dead unit is in the outputs; every other line is out once or a dead letter.
    const outputs = idCountsInOutputs(path.join(tmp, 'flows-out'));
    const dead = await deadLetterIds(path.join(tmp, 'flows-dead'), dir);
    const garbageId = recordId(refs.get(names[8]!)!.prefix, 5_001);
    const utf8Id = recordId(refs.get(names[9]!)!.prefix, 4_001);
    // The garbage line is a dead letter; the invalid UTF-8 (in a text field) is decoded with U+FFFD
    // replacement characters, like every lossy decoder, and goes out once.
    assert.deepEqual([...dead.keys()], [garbageId], 'dead letters: the garbage line only');
    assert.equal(outputs.get(utf8Id), 1);
    for (const reason of dead.values()) assert.ok(reason.length > 10);
    // Line 1 of every object is its header, so the records are lines 2..10001.
    const readable = [names[8]!, names[9]!, names[12]!, names[13]!];
    const expected = new Set(readable.flatMap((name) => Array.from({ length: 10_000 }, (_, i) => recordId(refs.get(name)!.prefix, i + 2))));
    let lost = 0;
    let duplicated = 0;
    let expectedOut = 0;
    for (const id of expected) {
      const copies = (outputs.get(id) ?? 0) + (dead.has(id) ? 1 : 0);
      if (!dead.has(id)) expectedOut++;
      if (copies === 0) lost++;
      if (copies > 1) duplicated++;
    }
    const leaked = [...outputs.keys()].filter((id) => !expected.has(id)).length;
    assert.deepEqual({ lost, duplicated, leaked }, { lost: 0, duplicated: 0, leaked: 0 });
    assert.equal(report.records.out, expectedOut);
    assert.equal(report.records.in, report.records.out + report.records.rejected + report.records.filtered);
    assert.equal(report.units.done, 14 - deadKeys.size);
    recordScenario({
      scenario: 'corrupt-flow-logs',
      tier: 'quick',
      runs: 1,
      faultsInjected: broken.size + 4,
      records: { in: report.records.in, out: report.records.out, dead: dead.size },
      lost,
      duplicated,
      peakRssBytes: report.peakRssBytes,
      elapsedMs: Math.round(performance.now() - started),
      details: { deadUnits: report.deadUnits.map((u) => ({ key: path.basename(u.key), code: u.code })) },
    });
  });

  it('CloudTrail: truncated JSON, 10,000-deep nesting, invalid UTF-8, non-CloudTrail JSON, empty object', { timeout: 60_000 }, async () => {
    const dir = path.join(tmp, 'trail');
    mkdirSync(dir, { recursive: true });
    const event = (i: number) => ({
      eventVersion: '1.08',
      eventTime: `2024-03-26T03:${String(i % 60).padStart(2, '0')}:00Z`,
      eventSource: 's3.amazonaws.com',
      eventName: 'GetObject',
      awsRegion: 'eu-west-1',
      eventID: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`,
      recipientAccountId: '111122223333',
    });
    const file = (events: unknown[]) => JSON.stringify({ Records: events });
    const good = Array.from({ length: 50 }, (_, i) => event(i));
    writeFileSync(path.join(dir, 'a-good.json.gz'), gzipSync(file(good)));
    const truncated = file(Array.from({ length: 20 }, (_, i) => event(100 + i)));
    writeFileSync(path.join(dir, 'b-truncated.json.gz'), gzipSync(truncated.slice(0, Math.floor(truncated.length * 0.6))));
    // Built as text: JSON.stringify itself cannot nest 10,000 deep.
    const deep = `${JSON.stringify(event(200)).slice(0, -1)},"requestParameters":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
    writeFileSync(path.join(dir, 'c-deep.json.gz'), gzipSync(`{"Records":[${JSON.stringify(event(199))},${deep},${JSON.stringify(event(201))}]}`));
    writeFileSync(path.join(dir, 'd-not-cloudtrail.json.gz'), gzipSync(JSON.stringify({ hello: 'world' })));
    writeFileSync(path.join(dir, 'e-empty.json.gz'), Buffer.alloc(0));
    const utf8 = Buffer.from(file([event(300), { ...event(301), userAgent: 'XX' }]));
    const at = utf8.indexOf('XX');
    utf8[at] = 0xff;
    utf8[at + 1] = 0xfe;
    writeFileSync(path.join(dir, 'f-utf8.json.gz'), gzipSync(utf8));

    const config = parsePipeline({
      name: 'corrupt-trail',
      source: { uri: dir },
      format: 'cloudtrail',
      sinks: [{ type: 'files', path: path.join(tmp, 'trail-out'), format: 'ndjson' }],
      runtime: { state: path.join(tmp, 'trail.db'), deadLetters: path.join(tmp, 'trail-dead'), workers: 1, maxAttempts: 2, backoffMs: 1 },
    });
    const report = await runPipeline(config);

    assert.equal(report.units.dead, 0, JSON.stringify(report.deadUnits));
    assert.equal(report.records.in, report.records.out + report.records.rejected + report.records.filtered);
    const out = listFiles(path.join(tmp, 'trail-out'))
      .filter((f) => f.endsWith('.ndjson.gz'))
      .flatMap((f) => (gunzip(f) as Array<{ eventID: string }>).map((e) => e.eventID));
    assert.equal(new Set(out).size, out.length, 'an event came out twice');
    // All good events, the ones before the truncation, both neighbours of the deep one, both UTF-8 ones.
    for (const e of good) assert.ok(out.includes(e.eventID));
    assert.ok(out.includes(event(199).eventID) && out.includes(event(201).eventID));
    assert.ok(out.includes(event(300).eventID) && out.includes(event(301).eventID));
    const deadLetters = listFiles(path.join(tmp, 'trail-dead')).flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { object: string; reason: string }),
    );
    const deadObjects = deadLetters.map((d) => path.basename(d.object)).sort();
    assert.ok(deadObjects.includes('b-truncated.json.gz'), JSON.stringify(deadLetters));
    assert.ok(deadObjects.includes('d-not-cloudtrail.json.gz'), JSON.stringify(deadLetters));
    for (const d of deadLetters) assert.ok(d.reason.length > 10, d.reason);
  });
});

function gunzip(file: string): unknown[] {
  return gunzipSync(readFileSync(file))
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as unknown);
}
