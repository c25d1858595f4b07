import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CidrTrie, parseCidr } from './cidr-trie.js';

const ipv4Text = (v: number) => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');

function ipv6Text(v: bigint): string {
  return Array.from({ length: 8 }, (_, i) => ((v >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':');
}

/** The brute-force oracle: scan every prefix, keep the longest that contains the address (first inserted on ties). */
function bruteForceLongest(prefixes: Array<{ base: bigint; length: number }>, address: bigint, bits: number): number {
  let best = -1;
  let bestLength = -1;
  prefixes.forEach((p, index) => {
    const shift = BigInt(bits - p.length);
    if (address >> shift === p.base >> shift && p.length > bestLength) {
      best = index;
      bestLength = p.length;
    }
  });
  return best;
}

/** Prefixes and addresses that share leading bits often, so that nesting and near misses are common. */
function prefixProperty(bits: 32 | 128) {
  const max = (1n << BigInt(bits)) - 1n;
  const value = fc.bigInt({ min: 0n, max });
  // A few "neighbourhoods": values share the top bits of one of a handful of seeds.
  return fc
    .record({
      seeds: fc.array(value, { minLength: 1, maxLength: 4 }),
      prefixes: fc.array(fc.record({ seed: fc.nat(), noise: value, length: fc.integer({ min: 0, max: bits }) }), { maxLength: 60 }),
      addresses: fc.array(fc.record({ seed: fc.nat(), noise: value, keep: fc.integer({ min: 0, max: bits }) }), { minLength: 1, maxLength: 40 }),
    })
    .map(({ seeds, prefixes, addresses }) => {
      const mix = (seed: bigint, noise: bigint, keep: number) => {
        const low = (1n << BigInt(bits - keep)) - 1n;
        return (seed & ~low & max) | (noise & low);
      };
      return {
        prefixes: prefixes.map((p) => ({ base: mix(seeds[p.seed % seeds.length]!, p.noise, p.length), length: p.length })),
        addresses: addresses.map((a) => mix(seeds[a.seed % seeds.length]!, a.noise, a.keep)),
      };
    });
}

describe('parseCidr', () => {
  it('reads IPv4 and IPv6 blocks and bare addresses', () => {
    // Act / Assess
    assert.deepEqual(parseCidr('10.0.0.0/16'), { family: 4, words: Uint32Array.of(0x0a000000), prefixLength: 16 });
    assert.equal(parseCidr('10.0.0.7')!.prefixLength, 32);
    assert.equal(parseCidr('2001:db8::/32')!.prefixLength, 32);
    assert.equal(parseCidr('2001:db8::1')!.prefixLength, 128);
    assert.equal(parseCidr('0.0.0.0/0')!.prefixLength, 0);
  });

  it('rejects malformed blocks', () => {
    // Act / Assess
    for (const bad of ['10.0.0.0/33', '10.0.0.0/', '10.0.0.0/08', '10.0.0.0/-1', '10.0.0.0/1a', '10.0.0/8', '2001:db8::/129', 'subnet-1', '', '/8', '10.0.0.0/16/2']) {
      assert.equal(parseCidr(bad), undefined, bad);
    }
  });
});

describe('CidrTrie', () => {
  it('finds the longest matching block, IPv4 and IPv6', () => {
    // Prepare
    const trie = new CidrTrie();
    trie.insert('10.0.0.0/8', 0);
    trie.insert('10.1.0.0/16', 1);
    trie.insert('10.1.2.0/24', 2);
    trie.insert('10.1.2.3', 3);
    trie.insert('2001:db8::/32', 4);
    trie.insert('2001:db8:1::/48', 5);
    // Act / Assess
    assert.equal(trie.lookup('10.1.2.3'), 3);
    assert.equal(trie.lookup('10.1.2.4'), 2);
    assert.equal(trie.lookup('10.1.9.9'), 1);
    assert.equal(trie.lookup('10.200.0.1'), 0);
    assert.equal(trie.lookup('11.0.0.1'), -1);
    assert.equal(trie.lookup('2001:db8:1::99'), 5);
    assert.equal(trie.lookup('2001:db8:2::1'), 4);
    assert.equal(trie.lookup('2001:db9::1'), -1);
    assert.equal(trie.lookup('not an address'), -1);
    assert.deepEqual(trie.size, { ipv4: 4, ipv6: 2 });
  });

  it('ignores host bits, keeps the first value of a repeated block, and lets /0 match everything', () => {
    // Prepare
    const trie = new CidrTrie();
    // Act
    const first = trie.insert('10.1.2.3/16', 7);
    const again = trie.insert('10.1.0.0/16', 8);
    const invalid = trie.insert('10.1.0.0/40', 9);
    trie.insert('0.0.0.0/0', 10);
    // Assess
    assert.equal(first, 'added');
    assert.equal(again, 'duplicate');
    assert.equal(invalid, 'invalid');
    assert.equal(trie.lookup('10.1.200.1'), 7);
    assert.equal(trie.lookup('192.0.2.1'), 10);
    assert.equal(trie.lookup('::1'), -1, 'an IPv4 /0 does not match IPv6');
  });

  it('IPv4: agrees with a brute-force scan on random prefixes and addresses', () => {
    fc.assert(
      fc.property(prefixProperty(32), ({ prefixes, addresses }) => {
        // Prepare
        const trie = new CidrTrie();
        prefixes.forEach((p, i) => trie.insert(`${ipv4Text(Number(p.base))}/${p.length}`, i));
        for (const address of addresses) {
          // Act
          const found = trie.lookup(ipv4Text(Number(address)));
          // Assess
          assert.equal(found, bruteForceLongest(prefixes, address, 32), ipv4Text(Number(address)));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('IPv6: agrees with a brute-force scan on random prefixes and addresses', () => {
    fc.assert(
      fc.property(prefixProperty(128), ({ prefixes, addresses }) => {
        // Prepare
        const trie = new CidrTrie();
        prefixes.forEach((p, i) => trie.insert(`${ipv6Text(p.base)}/${p.length}`, i));
        for (const address of addresses) {
          // Act
          const found = trie.lookup(ipv6Text(address));
          // Assess
          assert.equal(found, bruteForceLongest(prefixes, address, 128), ipv6Text(address));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('holds thousands of blocks and still answers by walking the address bits', () => {
    // Prepare: every /24 of 10.0.0.0/12 (4096 blocks) plus a covering /8
    const trie = new CidrTrie();
    trie.insert('10.0.0.0/8', 0);
    for (let i = 0; i < 4096; i++) trie.insert(`10.${i >> 8}.${i & 255}.0/24`, i + 1);
    // Act / Assess
    assert.equal(trie.lookup('10.15.255.9'), 4096);
    assert.equal(trie.lookup('10.3.7.200'), 3 * 256 + 7 + 1);
    assert.equal(trie.lookup('10.16.0.1'), 0);
    assert.equal(trie.size.ipv4, 4097);
  });
});
