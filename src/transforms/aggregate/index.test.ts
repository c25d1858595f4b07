import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { SluiceRecord } from '../../core/record.js';
import { flowLogLines } from '../../demo/flow-log-generator.js';
import { buildDemoInventory } from '../../demo/inventory.js';
import { aggregateTransformSchema } from './config.js';
import { createAggregateTransform, DistinctPeers, HyperLogLog, hllStandardError, type DistinctPeersPartial } from './index.js';
import { peerKey, peerText } from './distinct-peers.js';

const START = Date.UTC(2024, 4, 1, 10, 0, 0) / 1000;
const inventory = buildDemoInventory(3);

/** Flow records the way the vpcflow format makes them (v2 default order, time = start). */
function flowRecords(seed: number, start: number, durationS: number, lines: number): SluiceRecord[] {
  return flowLogLines({ inventory, seed, start, durationS, lines, format: 'v2' }).map((line, i) => {
    const f = line.split(' ');
    return { id: `${seed}-${i}`, origin: { object: `o${seed}`, line: i + 1 }, time: Number(f[10]) * 1000, fields: { srcaddr: f[3], dstaddr: f[4], start: Number(f[10]) } };
  });
}

/** The seed's algorithm (a dict of sets), as the oracle. */
function bruteForce(records: SluiceRecord[], bucketSeconds: number): Map<string, number> {
  const sets = new Map<string, Set<string>>();
  const add = (k: string, v: string) => (sets.get(k) ?? sets.set(k, new Set()).get(k)!).add(v);
  for (const r of records) {
    if (r.fields.srcaddr === '-' || r.fields.dstaddr === '-') continue; // NODATA / SKIPDATA lines
    const bucket = Math.floor((r.fields.start as number) / bucketSeconds) * bucketSeconds;
    add(`${bucket} ${r.fields.srcaddr}`, r.fields.dstaddr as string);
    add(`${bucket} ${r.fields.dstaddr}`, r.fields.srcaddr as string);
  }
  return new Map([...sets].map(([k, s]) => [k, s.size]));
}

const options = (over: Partial<Record<string, unknown>> = {}) => aggregateTransformSchema.parse({ type: 'aggregate', ...over });

describe('aggregate: distinct peers per address per bucket', () => {
  it('matches a brute-force count when buckets are split across objects and partials are merged', () => {
    // Five "objects" of 5 minutes each, overlapping in their windows: every 10-minute bucket spans several.
    const objects = [0, 1, 2, 3, 4].map((k) => flowRecords(100 + k, START + k * 240, 300, 1500));
    const merged = new DistinctPeers(options());
    for (const records of [...objects].reverse()) {
      const unit = new DistinctPeers(options());
      for (const r of records) unit.add(r);
      merged.merge(JSON.parse(JSON.stringify(unit.toPartial())) as DistinctPeersPartial);
    }
    const expected = bruteForce(objects.flat(), 600);
    const results = [...merged.results('agg')];
    assert.equal(results.length, expected.size);
    const buckets = new Set(results.map((r) => r.fields.bucket_start));
    assert.ok(buckets.size >= 2, 'the data spans several buckets');
    for (const r of results) {
      assert.equal(r.fields.exact, true);
      assert.equal(r.fields.peers, expected.get(`${r.fields.bucket_start} ${r.fields.ip}`), `${r.fields.bucket_start} ${r.fields.ip}`);
      assert.equal(r.id, `agg-${r.fields.bucket_start}-${r.fields.ip}`);
    }
    // A single pass over everything gives the same records.
    const single = createAggregateTransform(options());
    const out = single.apply({ records: objects.flat(), rejects: [] }) as { records: SluiceRecord[]; filtered?: number };
    assert.equal(out.records.length, 0);
    assert.equal(out.filtered, objects.flat().length, 'consumed records are counted');
    assert.deepEqual(single.results('agg').map((r) => r.fields), results.map((r) => r.fields));
  });

  it('carries enrichment names, first non-null wins', () => {
    const agg = new DistinctPeers(options());
    agg.add({ id: '1', origin: { object: 'o', line: 1 }, time: START * 1000, fields: { srcaddr: '10.0.0.1', dstaddr: '10.0.0.2', src_name: 'web-1', dst_name: null, dst_instance_name: 'db' } });
    agg.add({ id: '2', origin: { object: 'o', line: 2 }, time: START * 1000, fields: { srcaddr: '10.0.0.2', dstaddr: '10.0.0.1', src_name: 'db-eni' } });
    agg.add({ id: '3', origin: { object: 'o', line: 3 }, time: START * 1000, fields: { srcaddr: '-', dstaddr: '10.0.0.1' } });
    const byIp = new Map([...agg.results('o')].map((r) => [r.fields.ip, r.fields]));
    assert.deepEqual(byIp.get('10.0.0.1'), { bucket_start: START - (START % 600), bucket_seconds: 600, ip: '10.0.0.1', peers: 1, exact: true, name: 'web-1', instance_name: null });
    assert.equal(byIp.get('10.0.0.2')!.name, 'db-eni');
    assert.equal(byIp.get('10.0.0.2')!.instance_name, 'db');
    assert.equal(agg.skipped, 1, 'a NODATA-like record without addresses counts nothing');
  });

  it('switches a bucket past its memory bound to HyperLogLog, within the stated error', () => {
    const sigma = hllStandardError(12);
    const bound = 4 * sigma; // ~6.5 %: a 4-sigma miss is a real defect, not bad luck
    const records: SluiceRecord[] = [];
    // Three heavy hitters talking to many distinct peers, plus light traffic, all in one bucket.
    for (const [host, peers] of [['10.9.0.1', 20_000], ['10.9.0.2', 5_000], ['10.9.0.3', 900]] as const) {
      for (let i = 0; i < peers; i++) records.push({ id: `${host}-${i}`, origin: { object: 'o', line: i }, time: START * 1000, fields: { srcaddr: host, dstaddr: `172.16.${i >> 8}.${i & 255}`, start: START } });
    }
    const expected = bruteForce(records, 600);
    // Two units, each over the bound, then merged: sketches merge with sketches and exact sets.
    const half = Math.floor(records.length / 2);
    const merged = new DistinctPeers(options({ maxExactPairs: 4000 }));
    for (const part of [records.slice(0, half), records.slice(half)]) {
      const unit = new DistinctPeers(options({ maxExactPairs: 4000 }));
      for (const r of part) unit.add(r);
      merged.merge(unit.toPartial());
    }
    const results = [...merged.results('o')];
    assert.equal(results.length, expected.size);
    let estimated = 0;
    for (const r of results) {
      const truth = expected.get(`${r.fields.bucket_start} ${r.fields.ip}`)!;
      if (r.fields.exact) assert.equal(r.fields.peers, truth);
      else {
        estimated++;
        const error = Math.abs((r.fields.peers as number) - truth) / truth;
        assert.ok(error <= bound, `${r.fields.ip}: ${r.fields.peers} vs ${truth} (${(error * 100).toFixed(2)} % > ${(bound * 100).toFixed(2)} %)`);
      }
    }
    assert.ok(estimated >= 2, 'the heavy hitters were sketched');
  });

  it('HyperLogLog estimates stay within 3 sigma over a range of cardinalities and merge like a union', () => {
    for (const n of [100, 1_000, 10_000, 100_000]) {
      const a = new HyperLogLog(12);
      const b = new HyperLogLog(12);
      for (let i = 0; i < n; i++) (i % 2 ? a : b).add(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
      a.merge(b);
      const error = Math.abs(a.estimate() - n) / n;
      assert.ok(error <= 3 * hllStandardError(12), `n=${n}: estimate ${a.estimate()} (${(error * 100).toFixed(2)} %)`);
      assert.equal(HyperLogLog.fromBase64(12, a.toBase64()).estimate(), a.estimate());
    }
  });

  it('refuses to merge partials made with another bucket length', () => {
    const unit = new DistinctPeers(options({ bucketSeconds: 300 }));
    assert.throws(() => new DistinctPeers(options()).merge(unit.toPartial()), /bucketSeconds 300/);
  });

  it('stores canonical IPv4 peers as numbers and everything else as text, without mixing them up', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        const key = peerKey(ip);
        assert.equal(typeof key, 'number');
        assert.equal(peerText(key), ip);
      }),
    );
    for (const other of ['010.1.1.1', '1.2.3', '1.2.3.4.5', '256.1.1.1', '::1', '2001:db8::1', '1..2.3', '', '-', '1.2.3.4 ']) {
      assert.equal(peerKey(other), other, other);
    }
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (text) => {
        const key = peerKey(text);
        assert.equal(peerText(key), text);
      }),
    );
  });
});
