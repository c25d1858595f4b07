/**
 * Syntax checks for the address fields of flow log lines. IPv4 is checked by hand over char
 * codes (it is on the hot path: two to four addresses per line); IPv6 is rarer and goes to
 * `node:net`.
 */
import { isIPv6 } from 'node:net';

/**
 * True if `text[from, to)` is a dotted-quad IPv4 address: four decimal octets 0-255, no leading
 * zeros (the same rule as `net.isIPv4`).
 */
export function isIpv4At(text: string, from: number, to: number): boolean {
  let octets = 0;
  let digits = 0;
  let value = 0;
  let leadingZero = false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits === 0) leadingZero = c === 48;
      else if (leadingZero) return false;
      value = value * 10 + (c - 48);
      digits++;
      if (value > 255) return false;
    } else if (c === 46) {
      if (digits === 0 || octets === 3) return false;
      octets++;
      digits = 0;
      value = 0;
    } else {
      return false;
    }
  }
  return octets === 3 && digits > 0;
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
