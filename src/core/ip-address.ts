/**
 * IP addresses in log text: the one IPv4 parser (char codes, no regex, no allocation; it is on
 * the hot paths of flow log decoding, two to four addresses per line, and of enrich lookups,
 * every address) and syntax checks built on it. IPv6 checks are rarer and go to `node:net`.
 */
import { isIPv6 } from 'node:net';

/**
 * The IPv4 address in `text[from, to)` as an unsigned 32-bit integer (a non-negative number), or
 * -1 when it is not a dotted quad of decimal octets 0-255 without leading zeros (the rule of
 * `net.isIPv4`).
 */
export function parseIpv4At(text: string, from: number, to: number): number {
  let address = 0;
  let octets = 0;
  let digits = 0;
  let value = 0;
  let leadingZero = false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits === 0) leadingZero = c === 48;
      else if (leadingZero) return -1;
      value = value * 10 + (c - 48);
      if (value > 255) return -1;
      digits++;
    } else if (c === 46) {
      if (digits === 0 || octets === 3) return -1;
      address = address * 256 + value;
      octets++;
      digits = 0;
      value = 0;
    } else {
      return -1;
    }
  }
  if (octets !== 3 || digits === 0) return -1;
  // Multiplication instead of shifts keeps the result positive without a final `>>> 0`.
  return address * 256 + value;
}

/** True if `text[from, to)` is a dotted-quad IPv4 address (see parseIpv4At). */
export function isIpv4At(text: string, from: number, to: number): boolean {
  return parseIpv4At(text, from, to) !== -1;
}

/** True if `text[from, to)` is a valid IPv4 or IPv6 address. */
export function isIpAddressAt(text: string, from: number, to: number): boolean {
  return isIpv4At(text, from, to) || isIpv6At(text, from, to);
}

/** True if `text[from, to)` is a valid IPv6 address. */
export function isIpv6At(text: string, from: number, to: number): boolean {
  // An IPv6 address has at least two colons; anything with a dot and no colon was IPv4 or nothing.
  if (to - from < 2 || to - from > 45) return false;
  const colon = text.indexOf(':', from);
  if (colon === -1 || colon >= to) return false;
  return isIPv6(text.slice(from, to));
}
