/**
 * Pieces for reading a date written with fixed-width digits (`2018-07-02T22:23:00`,
 * `06/Feb/2019:00:00:38`) by hand over char codes, for line formats that read one per line.
 */

/** The non-negative integer written with exactly `count` digits at `from`, or -1. */
export function digitsAt(text: string, from: number, count: number): number {
  let value = 0;
  for (let i = from; i < from + count; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/** Days in `month` (1-12) of `year` (Gregorian). */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Epoch ms of a UTC date and time whose parts are already checked; any year, 0-99 included. */
export function utcEpochMs(year: number, month: number, day: number, hour: number, minute: number, second: number, ms = 0): number {
  const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second, ms));
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear does not.
  date.setUTCFullYear(year);
  return date.getTime();
}
