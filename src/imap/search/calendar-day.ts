// Calendar days for the date search keys. RFC 9051 §6.4.4 compares dates "disregarding time and
// timezone", so every date here is a whole day: the number of days since 1970-01-01.
//
// - INTERNALDATE is an instant; its day is taken in UTC, the zone the store keeps it in.
// - The Date: header (SENT*) keeps the day as written by the sender, zone ignored: a message sent
//   "Wed, 05 Mar 2025 23:30 -0800" is SENTON 5-Mar-2025 even though it was the 6th in UTC.

const MS_PER_DAY = 86_400_000;
const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/** Days since 1970-01-01 of a proleptic Gregorian date; null when the date does not exist. */
export function dayNumber(year: number, month: number, day: number): number | null {
  if (!Number.isInteger(year) || !Number.isInteger(month) || !Number.isInteger(day)) return null;
  if (month < 1 || month > 12 || day < 1 || day > 31) return null;
  const time = Date.UTC(year, month - 1, day);
  const check = new Date(time);
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear keeps them as given.
  check.setUTCFullYear(year, month - 1, day);
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return null;
  return Math.floor(check.getTime() / MS_PER_DAY);
}

/** The UTC day of an instant (INTERNALDATE). */
export function dayOfInstant(instant: Date): number {
  return Math.floor(instant.getTime() / MS_PER_DAY);
}

/**
 * The day of an RFC 5322 §3.3 date-time (the Date: header), or null when none can be read.
 * Tolerant as readers of real mail must be: a missing day-of-week, comments, and the obsolete
 * two- and three-digit years of RFC 5322 §4.3 (50-99 → 19xx, 00-49 → 20xx, three digits + 1900).
 */
export function dayOfDateHeader(value: string): number | null {
  const text = value.replace(/\([^()]*\)/g, " ").toLowerCase();
  const match = /(?:^|[^0-9a-z])(\d{1,2})\s*-?\s*([a-z]{3})[a-z]*\.?\s*-?\s*(\d{2,4})(?![0-9])/.exec(text);
  if (match === null) return null;
  const month = MONTHS.indexOf(match[2] ?? "") + 1;
  if (month === 0) return null;
  const digits = match[3] ?? "";
  let year = Number(digits);
  if (digits.length === 2) year += year < 50 ? 2000 : 1900;
  else if (digits.length === 3) year += 1900;
  return dayNumber(year, month, Number(match[1]));
}
