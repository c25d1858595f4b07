/**
 * Grouped small objects (`source.group`): the planner's groups, and runs end to end over a real
 * folder of tiny flow-log files — every record once, a broken object a dead letter naming it,
 * a re-run doing nothing, a late file redoing only its hour and replacing its outputs.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { parsePipeline } from '../../pipeline/config.js';
import type { ObjectRef } from '../../core/record.js';
import { idCountsInOutputs, listFiles } from '../../testing/output-oracle.js';
import { createObjectGrouper } from './group-planner.js';
import { groupSchema } from '../../pipeline/run-config.js';
import type { UnitPayload } from '../executor.js';
import { openLedger } from '../ledger/open-ledger.js';
import { planPipeline, runPipeline } from '../run-pipeline.js';
import type { Logger } from '../../core/logger.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-groups-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const DAY = 'AWSLogs/111122223333/vpcflowlogs/eu-west-1/2024/03/26/';

function ref(key: string, size = 100): ObjectRef {
  return { key, uri: `file:///logs/${key}`, size, etag: `"${key.length}"` };
}

function flowKey(folder: string, hour: number, n: number): string {
  return `${folder}111122223333_vpcflowlogs_eu-west-1_fl-0a_20240326T${String(hour).padStart(2, '0')}${String(n % 60).padStart(2, '0')}Z_${n.toString(16).padStart(8, '0')}.log.gz`;
}

describe('group planner', () => {
  it('groups small objects per folder and hour, keeps large ones alone, and closes a folder when the listing leaves it', () => {
    // Prepare
    const grouper = createObjectGrouper('p', groupSchema.parse({ by: 'hour', maxObjectBytes: 1000 }), 2);
    const other = 'AWSLogs/111122223333/vpcflowlogs/eu-west-1/2024/03/27/';
    const refs = [ref(flowKey(DAY, 0, 1)), ref(flowKey(DAY, 0, 2)), ref(flowKey(DAY, 1, 3)), ref(flowKey(DAY, 1, 4), 5000), ref(flowKey(other, 0, 5))];
    // Act
    const afterEach = refs.map((r) => grouper.add(r));
    const rest = grouper.finish();
    // Assess: the big object is its own unit at once; the first folder's two hours close when the listing moves on.
    assert.deepEqual(afterEach.map((specs) => specs.map((s) => s.kind)), [[], [], [], ['object'], ['partition', 'partition']]);
    const [h0, h1] = afterEach[4]!;
    assert.equal(h0!.key, `${DAY}*2024-03-26T00`);
    assert.deepEqual((h0!.payload as UnitPayload).objects.map((o) => o.key), [refs[0]!.key, refs[1]!.key]);
    assert.deepEqual((h1!.payload as UnitPayload).objects.map((o) => o.key), [refs[2]!.key]);
    assert.deepEqual((h0!.payload as UnitPayload).partition, { step: 'day', sinks: [0, 1], account: '111122223333', region: 'eu-west-1', stream: 'vpcflowlogs', period: '2024-03-26T00' });
    assert.equal(h0!.size, 200);
    // Its file name says the 26th, outside its folder's day: the folder's day is the period.
    assert.deepEqual(rest.map((s) => s.key), [`${other}*2024-03-27`]);
  });

  it('names a group after its folder and period alone: a new object makes a new unit writing the same outputs', () => {
    const plan = (keys: string[]) => {
      const grouper = createObjectGrouper('p', groupSchema.parse({ by: 'day' }), 1);
      for (const key of keys) grouper.add(ref(key));
      return grouper.finish()[0]!;
    };
    const before = plan([flowKey(DAY, 0, 1), flowKey(DAY, 5, 2)]);
    const later = plan([flowKey(DAY, 0, 1), flowKey(DAY, 5, 2), flowKey(DAY, 9, 3)]);
    assert.equal(before.key, `${DAY}*2024-03-26`);
    assert.notEqual(before.id, later.id);
    assert.equal((before.payload as UnitPayload).outputStem, (later.payload as UnitPayload).outputStem);
    assert.equal(plan([flowKey(DAY, 5, 2), flowKey(DAY, 0, 1)]).id, before.id, 'the version does not depend on listing order within a folder');
  });

  it('refuses a listing that comes back to a folder it already left', () => {
    const grouper = createObjectGrouper('p', groupSchema.parse({}), 1);
    grouper.add(ref('a/1.log'));
    grouper.add(ref('b/1.log'));
    assert.throws(() => grouper.add(ref('a/2.log')), (err: Error & { code?: string; hint?: string }) => err.code === 'LISTING_NOT_SORTED' && /a\//.test(err.message) && /source\.group/.test(err.hint ?? ''));
  });
});

describe('grouped runs over tiny flow-log files', () => {
  const logs = path.join(tmp, 'logs');
  const out = path.join(tmp, 'out');
  const header = 'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n';
  let next = 0;
  /** A tiny object of `lines` flow records, each with a unique byte count to find it by. */
  const place = (hour: number, lines: number): string => {
    const n = next++;
    const key = flowKey(DAY, hour, n);
    const body = Array.from({ length: lines }, (_, i) => `2 111122223333 eni-0a 10.0.0.${n % 250} 10.0.1.${i} 443 ${1024 + i} 6 1 ${n * 100 + i} 1711411200 1711411260 ACCEPT OK\n`).join('');
    mkdirSync(path.join(logs, DAY), { recursive: true });
    writeFileSync(path.join(logs, key), gzipSync(header + body));
    return key;
  };
  for (let i = 0; i < 40; i++) place(i % 3, 3);
  const broken = flowKey(DAY, 1, 999);
  writeFileSync(path.join(logs, broken), gzipSync(header + '2 1 eni-0a 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK\n').subarray(0, 20));
  const config = parsePipeline({
    name: 'tiny',
    source: { uri: logs, group: { by: 'hour' } },
    format: 'vpcflow',
    sinks: [{ type: 'files', path: out, format: 'ndjson' }],
    runtime: { state: path.join(tmp, 'state.db'), workers: 1, maxAttempts: 2, backoffMs: 5 },
  });

  it('reads every record once in one unit per hour, and turns the broken object into a dead letter naming it', async () => {
    const report = await runPipeline(config);
    assert.deepEqual({ total: report.units.total, done: report.units.done, dead: report.units.dead }, { total: 3, done: 3, dead: 0 });
    assert.equal(report.records.out, 120);
    const counts = idCountsInOutputs(out);
    assert.equal(counts.size, 120);
    assert.ok([...counts.values()].every((n) => n === 1));
    assert.equal(report.partitions?.day.filesRead, 41);
    assert.deepEqual(report.partitions?.skippedFiles.map((f) => f.object.endsWith(broken)), [true]);
    const dead = listFiles(path.join(out, '_rejected')).map((f) => readFileSync(f, 'utf8')).join('');
    assert.match(dead, new RegExp(path.basename(broken).replace(/\./g, '\\.')));
  });

  it('does nothing on a re-run, and redoes only the hour that gained a late object, replacing its outputs', async () => {
    const again = await runPipeline(config);
    assert.equal(again.units.done, 0);
    assert.equal(again.units.skipped, 3);
    const partsBefore = listFiles(out).filter((f) => f.endsWith('.ndjson.gz')).length;
    place(2, 5);
    const late = await runPipeline(config);
    assert.equal(late.units.done, 1, 'only hour 02 is redone');
    assert.equal(late.records.out, 13 * 3 + 5, 'hour 02 holds its 13 earlier objects and the late one');
    const counts = idCountsInOutputs(out);
    assert.equal(counts.size, 125);
    assert.ok([...counts.values()].every((n) => n === 1), 'the late hour replaced its outputs: nothing twice');
    assert.equal(listFiles(out).filter((f) => f.endsWith('.ndjson.gz')).length, partsBefore);
    assert.ok(readdirSync(out).length > 0);
  });

  it('supersedes a dead hour once it gains another object: the run redoes the hour and leaves no dead unit', async () => {
    // Prepare: hour 00 gains an object and its new unit dies (a sink outage outlasting maxAttempts, say).
    place(0, 2);
    const ledger = await openLedger(config.runtime.state);
    let dead: string;
    try {
      await planPipeline(config, { ledger });
      const lease = await ledger.leaseNextUnit('tiny', 'test', 60_000);
      assert.ok(lease);
      assert.equal(lease.unit.key, `${DAY}*2024-03-26T00`);
      const outage = { message: 'http://sink: 503', code: 'SINK_UNAVAILABLE', stage: 'sink' as const, retryable: false };
      assert.equal(await ledger.failUnit(lease, outage, { maxAttempts: 2, backoffMs: 5, maxBackoffMs: 5, retryable: false }), 'dead');
      dead = lease.unitId;
    } finally {
      await ledger.close();
    }
    place(0, 3);

    // Act
    const report = await runPipeline(config);

    // Assess
    assert.deepEqual({ done: report.units.done, dead: report.units.dead, superseded: report.units.superseded }, { done: 1, dead: 0, superseded: 1 });
    assert.equal(report.records.out, 14 * 3 + 2 + 3, 'hour 00 is redone whole with both late objects');
    const check = await openLedger(config.runtime.state);
    try {
      const old = await check.getUnit(dead);
      assert.equal(old?.state, 'superseded');
      const newer = await check.getUnit(old!.supersededBy!);
      assert.deepEqual([newer?.key, newer?.state], [old?.key, 'done']);
      assert.equal((await check.counts('tiny')).dead, 0);
    } finally {
      await check.close();
    }
    const counts = idCountsInOutputs(out);
    assert.equal(counts.size, 130);
    assert.ok([...counts.values()].every((n) => n === 1), 'the hour replaced its outputs: nothing twice');
  });
});

describe('ungrouped plans of many tiny objects', () => {
  it('count the objects of at most 64 KiB and suggest source.group in a WARN', async () => {
    const logs = path.join(tmp, 'many');
    mkdirSync(path.join(logs, DAY), { recursive: true });
    for (let i = 0; i < 1001; i++) writeFileSync(path.join(logs, flowKey(DAY, i % 24, i)), 'x');
    writeFileSync(path.join(logs, flowKey(DAY, 0, 5000)), Buffer.alloc(70 * 1024));
    const config = parsePipeline({ name: 'many', source: { uri: logs }, format: 'vpcflow', sinks: [{ type: 'files', path: path.join(tmp, 'many-out') }], runtime: { state: path.join(tmp, 'many.db') } });
    const warnings: string[] = [];
    const log = { warn: (_fields: unknown, message: string) => warnings.push(message), info() {}, debug() {} } as unknown as Logger;
    const ledger = await openLedger(config.runtime.state);
    try {
      const plan = await planPipeline(config, { ledger, log });
      assert.equal(plan.total, 1002);
      assert.equal(plan.tinyObjects, 1001);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /1001 of 1002 objects are 64 KiB or smaller.*source\.group/);
    } finally {
      await ledger.close();
    }
  });
});
