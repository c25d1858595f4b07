import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashSeed, Prng } from './prng.js';

describe('Prng', () => {
  it('gives the same sequence for the same seed', () => {
    // Prepare
    const a = new Prng(42);
    const b = new Prng(42);

    // Act
    const fromA = Array.from({ length: 1000 }, () => a.nextU32());
    const fromB = Array.from({ length: 1000 }, () => b.nextU32());

    // Assess
    assert.deepEqual(fromA, fromB);
  });

  it('pins its first outputs, so a change of algorithm (and of every generated file) is noticed', () => {
    // Prepare
    const rng = new Prng(1);

    // Act
    const first = [rng.nextU32(), rng.nextU32(), rng.nextU32()];

    // Assess: these values are the contract that makes demo data identical on every platform.
    assert.deepEqual(first, PINNED_SEED_1);
  });

  it('gives unrelated streams for neighbouring seeds', () => {
    // Prepare
    const a = new Prng(1);
    const b = new Prng(2);

    // Act
    let equal = 0;
    for (let i = 0; i < 1000; i++) if (a.nextU32() === b.nextU32()) equal++;

    // Assess
    assert.equal(equal, 0);
  });

  it('keeps int(n) in [0, n) and covers the whole range about evenly', () => {
    // Prepare
    const rng = new Prng(7);
    const counts = new Array<number>(10).fill(0);

    // Act
    for (let i = 0; i < 100_000; i++) {
      const v = rng.int(10);
      assert.ok(Number.isInteger(v) && v >= 0 && v < 10, `int(10) gave ${v}`);
      counts[v]!++;
    }

    // Assess: each bucket within 5 % of 10,000.
    for (const c of counts) assert.ok(Math.abs(c - 10_000) < 500, `bucket count ${c}`);
  });

  it('keeps between(min, max) inclusive and next() in [0, 1)', () => {
    // Prepare
    const rng = new Prng('between');
    const seen = new Set<number>();

    // Act
    for (let i = 0; i < 10_000; i++) {
      seen.add(rng.between(3, 6));
      const f = rng.next();
      assert.ok(f >= 0 && f < 1);
    }

    // Assess
    assert.deepEqual([...seen].sort(), [3, 4, 5, 6]);
  });

  it('produces hex ids of the requested length', () => {
    // Prepare
    const rng = new Prng(3);

    // Act
    const ids = Array.from({ length: 100 }, () => rng.hex(17));

    // Assess
    for (const id of ids) assert.match(id, /^[0-9a-f]{17}$/);
    assert.equal(new Set(ids).size, 100);
  });

  it('shuffles into a permutation without touching the input', () => {
    // Prepare
    const input = Array.from({ length: 50 }, (_, i) => i);

    // Act
    const out = new Prng(5).shuffled(input);

    // Assess
    assert.deepEqual([...out].sort((x, y) => x - y), input);
    assert.notDeepEqual(out, input);
    assert.deepEqual(input, Array.from({ length: 50 }, (_, i) => i));
  });

  it('refuses to pick from an empty list with a clear message', () => {
    assert.throws(() => new Prng(1).pick([]), /empty list/);
  });
});

describe('hashSeed', () => {
  it('depends on the parts and their boundaries', () => {
    assert.equal(hashSeed('a', 1), hashSeed('a', 1));
    assert.notEqual(hashSeed('ab', 'c'), hashSeed('a', 'bc'));
    assert.notEqual(hashSeed(1, 2), hashSeed(2, 1));
  });

  it('returns unsigned 32-bit integers', () => {
    for (let i = 0; i < 1000; i++) {
      const h = hashSeed('x', i);
      assert.ok(Number.isInteger(h) && h >= 0 && h < 2 ** 32);
    }
  });
});

const PINNED_SEED_1 = [1828152527, 3394835397, 2967886022];
