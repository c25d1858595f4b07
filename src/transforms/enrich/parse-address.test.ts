import assert from 'node:assert/strict';
import { isIPv4, isIPv6 } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseIpv4, parseIpv6 } from './parse-address.js';

/** 128-bit value of four words, for comparisons. */
function wordsToBigInt(words: Uint32Array): bigint {
  return words.reduce((acc, w) => (acc << 32n) | BigInt(w), 0n);
}

/** Writes a 128-bit value as IPv6 text in one of the styles people and tools use. */
function formatIpv6(value: bigint, style: 'full' | 'padded' | 'compressed' | 'upper' | 'dotted'): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  if (style === 'dotted') {
    const v4 = Number(value & 0xffffffffn);
    return `${groups.slice(0, 6).map((g) => g.toString(16)).join(':')}:${[v4 >>> 24, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255].join('.')}`;
  }
  if (style === 'padded') return groups.map((g) => g.toString(16).padStart(4, '0')).join(':');
  const hex = groups.map((g) => g.toString(16));
  if (style === 'full') return hex.join(':');
  // Compress the longest run of zero groups (length ≥ 1) with "::".
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const text = bestStart < 0 ? hex.join(':') : `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
  return style === 'upper' ? text.toUpperCase() : text;
}

describe('parseIpv4', () => {
  it('reads dotted quads as unsigned 32-bit integers', () => {
    // Act / Assess
    assert.equal(parseIpv4('0.0.0.0'), 0);
    assert.equal(parseIpv4('10.1.2.3'), 0x0a010203);
    assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
  });

  it('rejects what net.isIPv4 rejects', () => {
    // Act / Assess
    for (const text of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1..2.3', '1.2.3.', ' 1.2.3.4', '1.2.3.4/8', '::1']) {
      assert.equal(parseIpv4(text), -1, text);
    }
  });

  it('agrees with net.isIPv4 on arbitrary strings of digits and dots, and with the arithmetic value', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('0', '1', '2', '5', '9', '.', '25', '255', '00'), maxLength: 12 }), (text) => {
        // Act
        const value = parseIpv4(text);
        // Assess
        assert.equal(value >= 0, isIPv4(text), text);
        if (value >= 0) assert.equal(value, text.split('.').reduce((acc, o) => acc * 256 + Number(o), 0));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('parseIpv6', () => {
  it('expands :: and reads an embedded dotted quad', () => {
    // Prepare
    const words = new Uint32Array(4);
    // Act / Assess
    assert.ok(parseIpv6('::', words));
    assert.deepEqual([...words], [0, 0, 0, 0]);
    assert.ok(parseIpv6('2001:db8::1', words));
    assert.deepEqual([...words], [0x20010db8, 0, 0, 1]);
    assert.ok(parseIpv6('::ffff:10.1.2.3', words));
    assert.deepEqual([...words], [0, 0, 0xffff, 0x0a010203]);
    assert.ok(parseIpv6('fe80::', words));
    assert.deepEqual([...words], [0xfe800000, 0, 0, 0]);
  });

  it('round-trips random addresses written in every usual style', () => {
    // Prepare
    const words = new Uint32Array(4);
    const address = fc.oneof(
      fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
      // Many zero groups, so that "::" appears in all positions.
      fc.array(fc.constantFrom(0, 0, 0, 1, 0xffff, 0xdb8), { minLength: 8, maxLength: 8 }).map((g) => g.reduce((acc, x) => (acc << 16n) | BigInt(x), 0n)),
    );
    fc.assert(
      fc.property(address, fc.constantFrom('full', 'padded', 'compressed', 'upper', 'dotted') as fc.Arbitrary<'full'>, (value, style) => {
        const text = formatIpv6(value, style);
        // Act
        const ok = parseIpv6(text, words);
        // Assess
        assert.ok(ok, text);
        assert.equal(wordsToBigInt(words), value, text);
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees with net.isIPv6 on arbitrary strings of hex digits, colons and dots', () => {
    // Prepare
    const words = new Uint32Array(4);
    const unit = fc.constantFrom('0', '1', 'a', 'F', 'ffff', '12345', ':', ':', '::', '.', '1.2.3.4', '255');
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 16 }), (text) => {
        // Act / Assess
        assert.equal(parseIpv6(text, words), isIPv6(text), text);
      }),
      { numRuns: 5000 },
    );
  });
});
