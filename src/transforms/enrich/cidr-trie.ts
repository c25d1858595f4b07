/**
 * Longest-prefix matching of IP addresses against CIDR blocks: one binary trie per address
 * family, stored in typed arrays.
 *
 * Invariants:
 * - Node 0 is the root (the /0 prefix). `children[2n + bit]` is the child of node n for that
 *   bit, 0 meaning "none" (the root is nobody's child). `values[n]` is the value of the prefix
 *   ending at node n, or -1.
 * - A prefix of length L is the path of its first L bits, so a lookup walks at most L' ≤ 32
 *   (IPv4) or 128 (IPv6) nodes, L' being the longest prefix stored on the address's path, and
 *   remembers the last value seen: that is the longest matching prefix. Cost does not depend on
 *   how many prefixes are stored.
 * - Host bits after the prefix length are ignored (10.1.2.3/16 is stored as 10.1.0.0/16).
 * - The first value inserted for a prefix is kept; later ones are reported as duplicates.
 */
import { parseIpv4, parseIpv6 } from './parse-address.js';

/** A CIDR block (or bare address) parsed from text. */
export interface ParsedCidr {
  family: 4 | 6;
  /** IPv4: one word; IPv6: four words, most significant first. */
  words: Uint32Array;
  prefixLength: number;
}

/**
 * Parses `10.0.0.0/16`, `2001:db8::/32`, or a bare address (a /32 or /128). Returns undefined
 * when the text is not a CIDR block: the caller knows the row and the file to name.
 */
export function parseCidr(text: string): ParsedCidr | undefined {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  let prefixLength = -1;
  if (slash !== -1) {
    const digits = text.slice(slash + 1);
    // Decimal, no sign, no leading zeros (a "/08" is more likely a typo than a choice).
    if (digits.length === 0 || digits.length > 3 || (digits.length > 1 && digits.charCodeAt(0) === 48)) return undefined;
    prefixLength = 0;
    for (let i = 0; i < digits.length; i++) {
      const c = digits.charCodeAt(i);
      if (c < 48 || c > 57) return undefined;
      prefixLength = prefixLength * 10 + (c - 48);
    }
  }
  const v4 = parseIpv4(address);
  if (v4 >= 0) {
    if (prefixLength > 32) return undefined;
    return { family: 4, words: Uint32Array.of(v4), prefixLength: prefixLength < 0 ? 32 : prefixLength };
  }
  const words = new Uint32Array(4);
  if (!parseIpv6(address, words)) return undefined;
  if (prefixLength > 128) return undefined;
  return { family: 6, words, prefixLength: prefixLength < 0 ? 128 : prefixLength };
}

/** A binary trie over the bits of fixed-width addresses (32 or 128 bits). */
class BinaryTrie {
  children: Int32Array;
  values: Int32Array;
  nodeCount = 1;

  constructor(initialNodes = 64) {
    this.children = new Int32Array(initialNodes * 2);
    this.values = new Int32Array(initialNodes).fill(-1);
  }

  /** Inserts the prefix of `length` bits whose bit i is `bitAt(i)`. False if the prefix was already there. */
  insert(length: number, bitAt: (i: number) => number, value: number): boolean {
    let node = 0;
    for (let i = 0; i < length; i++) {
      const slot = node * 2 + bitAt(i);
      let next = this.children[slot]!;
      if (next === 0) {
        next = this.newNode();
        this.children[slot] = next;
      }
      node = next;
    }
    if (this.values[node]! >= 0) return false;
    this.values[node] = value;
    return true;
  }

  private newNode(): number {
    if (this.nodeCount === this.values.length) {
      const children = new Int32Array(this.children.length * 2);
      children.set(this.children);
      const values = new Int32Array(this.values.length * 2).fill(-1);
      values.set(this.values);
      this.children = children;
      this.values = values;
    }
    return this.nodeCount++;
  }
}

/**
 * Longest-prefix match index for IPv4 and IPv6 CIDR blocks; values are non-negative integers
 * (row numbers of a lookup table).
 *
 * @example
 * const trie = new CidrTrie();
 * trie.insert('10.0.0.0/8', 0);
 * trie.insert('10.1.0.0/16', 1);
 * trie.lookup('10.1.2.3'); // 1
 * trie.lookup('10.9.9.9'); // 0
 * trie.lookup('192.0.2.1'); // -1
 */
export class CidrTrie {
  private readonly v4 = new BinaryTrie();
  private readonly v6 = new BinaryTrie();
  private v4Count = 0;
  private v6Count = 0;
  /** Scratch words for IPv6 lookups (no allocation per lookup). */
  private readonly scratch = new Uint32Array(4);

  /** Number of distinct prefixes stored, per family. */
  get size(): { ipv4: number; ipv6: number } {
    return { ipv4: this.v4Count, ipv6: this.v6Count };
  }

  /**
   * Stores `value` for the block. Returns 'added', 'duplicate' (the block was already stored;
   * the first value is kept) or 'invalid' (the text is not a CIDR block or address).
   */
  insert(cidr: string, value: number): 'added' | 'duplicate' | 'invalid' {
    const parsed = parseCidr(cidr);
    if (!parsed) return 'invalid';
    return this.insertParsed(parsed, value) ? 'added' : 'duplicate';
  }

  insertParsed(cidr: ParsedCidr, value: number): boolean {
    if (!(Number.isInteger(value) && value >= 0)) throw new RangeError(`CidrTrie values must be non-negative integers, got ${value}`);
    const words = cidr.words;
    if (cidr.family === 4) {
      const w = words[0]!;
      const added = this.v4.insert(cidr.prefixLength, (i) => (w >>> (31 - i)) & 1, value);
      if (added) this.v4Count++;
      return added;
    }
    const added = this.v6.insert(cidr.prefixLength, (i) => (words[i >>> 5]! >>> (31 - (i & 31))) & 1, value);
    if (added) this.v6Count++;
    return added;
  }

  /** The value of the longest block containing `address` (IPv4 or IPv6 text), or -1. */
  lookup(address: string): number {
    const v4 = parseIpv4(address);
    if (v4 >= 0) return this.lookupIpv4(v4);
    if (this.v6Count === 0 || !parseIpv6(address, this.scratch)) return -1;
    return this.lookupIpv6(this.scratch);
  }

  /** The value of the longest IPv4 block containing the address (an unsigned 32-bit integer), or -1. */
  lookupIpv4(address: number): number {
    const children = this.v4.children;
    const values = this.v4.values;
    let best = values[0]!;
    let node = 0;
    for (let shift = 31; shift >= 0; shift--) {
      node = children[(node << 1) | ((address >>> shift) & 1)]!;
      if (node === 0) break;
      const value = values[node]!;
      if (value >= 0) best = value;
    }
    return best;
  }

  /** The value of the longest IPv6 block containing the address (four words, most significant first), or -1. */
  lookupIpv6(words: Uint32Array): number {
    const children = this.v6.children;
    const values = this.v6.values;
    let best = values[0]!;
    let node = 0;
    for (let w = 0; w < 4; w++) {
      const word = words[w]!;
      for (let shift = 31; shift >= 0; shift--) {
        node = children[(node << 1) | ((word >>> shift) & 1)]!;
        if (node === 0) return best;
        const value = values[node]!;
        if (value >= 0) best = value;
      }
    }
    return best;
  }
}
