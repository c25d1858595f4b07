/**
 * IP address parsing for the lookup hot path: char-code loops, no regex, no allocation.
 *
 * - IPv4 becomes an unsigned 32-bit integer (a non-negative JS number), or -1 when the text is
 *   not a dotted quad with octets 0-255 and no leading zeros (the rule of `net.isIPv4`); the
 *   parser is the kit's (core/ip-address.ts), which flow log decoding checks addresses with.
 * - IPv6 is written into a caller-owned `Uint32Array(4)` (most significant word first) and the
 *   function says whether the text was a valid address: 1-4 hex digits per group, at most one
 *   `::` standing for at least one zero group, an optional dotted quad as the last 32 bits (the
 *   rule of `net.isIPv6`, without zone ids).
 */
import { parseIpv4At } from '../../core/ip-address.js';

/** The IPv4 address `text` as an unsigned 32-bit integer, or -1. */
export function parseIpv4(text: string): number {
  return parseIpv4At(text, 0, text.length);
}

/** Scratch 16-bit groups for parseIpv6; module-level so the hot path allocates nothing. */
const groups = new Uint16Array(8);

/**
 * Parses the IPv6 address `text` into `out` (4 words, most significant first). Returns false,
 * leaving `out` in an unspecified state, when the text is not an IPv6 address.
 */
export function parseIpv6(text: string, out: Uint32Array): boolean {
  const n = text.length;
  if (n < 2 || n > 45) return false;
  let count = 0;
  /** Index in `groups` where `::` stands, or -1. */
  let gap = -1;
  let i = 0;
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
  }
  while (i < n) {
    const start = i;
    let value = 0;
    let digits = 0;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      let h: number;
      if (c >= 48 && c <= 57) h = c - 48;
      else if (c >= 97 && c <= 102) h = c - 87;
      else if (c >= 65 && c <= 70) h = c - 55;
      else break;
      if (++digits > 4) {
        // Could still be the dotted quad at the end ("::ffff:1.2.3.4" never has 5 digits, but
        // "::1234.1.1.1" must fail as a whole, which the IPv4 parser does).
        break;
      }
      value = (value << 4) | h;
    }
    if (i < n && (text.charCodeAt(i) === 46 || digits > 4)) {
      // A dotted quad fills the last two groups and must end the text.
      if (count > 6) return false;
      const v4 = parseIpv4At(text, start, n);
      if (v4 < 0) return false;
      groups[count++] = Math.floor(v4 / 65536);
      groups[count++] = v4 & 0xffff;
      i = n;
      break;
    }
    if (digits === 0 || count === 8) return false;
    groups[count++] = value;
    if (i === n) break;
    if (text.charCodeAt(i) !== 58) return false;
    i++;
    if (i === n) return false; // a single trailing colon
    if (text.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = count;
      i++;
    }
  }
  if (gap >= 0) {
    // `::` stands for at least one zero group.
    if (count > 7) return false;
    const tail = count - gap;
    const shift = 8 - count;
    for (let k = tail - 1; k >= 0; k--) groups[gap + shift + k] = groups[gap + k]!;
    for (let k = gap; k < gap + shift; k++) groups[k] = 0;
  } else if (count !== 8) {
    return false;
  }
  out[0] = ((groups[0]! << 16) | groups[1]!) >>> 0;
  out[1] = ((groups[2]! << 16) | groups[3]!) >>> 0;
  out[2] = ((groups[4]! << 16) | groups[5]!) >>> 0;
  out[3] = ((groups[6]! << 16) | groups[7]!) >>> 0;
  return true;
}
