// RFC 5260 date and currentdate: the RFC 5322 §3.3 date-time of a header field, and the
// date-parts of an instant seen in a time zone (§4.2). Pure: the caller passes the clock.

/** §4.2: the date-part names a date or currentdate test may ask for. */
export const DATE_PARTS = ["year", "month", "day", "date", "julian", "hour", "minute", "second", "time", "iso8601", "std11", "zone", "weekday"] as const;
export type DatePart = (typeof DATE_PARTS)[number];

export interface ZonedInstant {
  /** Milliseconds since the epoch. */
  readonly time: number;
  /** The zone's offset from UTC, in minutes east. */
  readonly offsetMinutes: number;
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
// RFC 5322 §4.3 obsolete zone names; military single letters are "-0000" (unknown), as §4.3 says.
const NAMED_ZONES: Record<string, number> = { ut: 0, gmt: 0, z: 0, est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360, pst: -480, pdt: -420 };

/**
 * The date-time of a header value (RFC 5322 §3.3, with its obsolete forms), or null when it does
 * not parse. For Received fields the date is what follows the last ";" (RFC 5260 §4.1).
 */
export function parseDateTime(value: string, received = false): ZonedInstant | null {
  let text = value;
  if (received) {
    const semi = text.lastIndexOf(";");
    if (semi < 0) return null;
    text = text.slice(semi + 1);
  }
  // Comments (such as "(UTC)" after the zone) carry nothing a date needs.
  text = text.replace(/\([^()]*\)/g, " ").trim();
  const m = /^(?:[A-Za-z]{3}\s*,\s*)?(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{2,4})\s+(\d{1,2})\s*:\s*(\d{2})(?:\s*:\s*(\d{2}))?\s*([+-]\d{4}|[A-Za-z]{1,3})?\s*$/.exec(text);
  if (!m) return null;
  const day = Number(m[1]);
  const month = MONTHS.indexOf(m[2]!.toLowerCase());
  let year = Number(m[3]);
  // RFC 5322 §4.3: two-digit years below 50 are 20xx, others 19xx; three digits add 1900.
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (month < 0 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  let offset = 0;
  const zone = m[7];
  if (zone !== undefined) {
    if (/^[+-]\d{4}$/.test(zone)) {
      const sign = zone[0] === "-" ? -1 : 1;
      const hh = Number(zone.slice(1, 3));
      const mm = Number(zone.slice(3, 5));
      if (mm > 59) return null;
      offset = sign * (hh * 60 + mm);
    } else offset = NAMED_ZONES[zone.toLowerCase()] ?? 0;
  }
  const time = Date.UTC(year, month, day, hour, minute, Math.min(second, 59)) - offset * 60_000;
  // A day past the end of its month (31 Feb) is not a date.
  if (new Date(time + offset * 60_000).getUTCDate() !== day) return null;
  return { time, offsetMinutes: offset };
}

/** RFC 5260 §4.1 :zone argument: "+hhmm" / "-hhmm", or null when malformed. */
export function parseZone(zone: string): number | null {
  const m = /^([+-])(\d{2})(\d{2})$/.exec(zone);
  if (!m || Number(m[3]) > 59) return null;
  return (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

const pad = (n: number, width = 2): string => String(n).padStart(width, "0");

function zoneText(offsetMinutes: number, colon: boolean): string {
  const sign = offsetMinutes < 0 ? "-" : "+";
  const abs = Math.abs(offsetMinutes);
  return `${sign}${pad(Math.floor(abs / 60))}${colon ? ":" : ""}${pad(abs % 60)}`;
}

/** §4.2: one date-part of an instant as seen in a zone. */
export function datePart(instant: ZonedInstant, part: DatePart): string {
  const d = new Date(instant.time + instant.offsetMinutes * 60_000);
  const year = pad(d.getUTCFullYear(), 4);
  const month = pad(d.getUTCMonth() + 1);
  const day = pad(d.getUTCDate());
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  switch (part) {
    case "year":
      return year;
    case "month":
      return month;
    case "day":
      return day;
    case "date":
      return `${year}-${month}-${day}`;
    case "julian":
      // The Modified Julian Day: days since 1858-11-17 (RFC 5260 §4.2).
      return String(Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(1858, 10, 17)) / 86_400_000));
    case "hour":
      return pad(d.getUTCHours());
    case "minute":
      return pad(d.getUTCMinutes());
    case "second":
      return pad(d.getUTCSeconds());
    case "time":
      return time;
    case "iso8601":
      // RFC 3339 §5.6 time-offset: "Z" for UTC, as Pigeonhole writes it too.
      return `${year}-${month}-${day}T${time}${instant.offsetMinutes === 0 ? "Z" : zoneText(instant.offsetMinutes, true)}`;
    case "std11":
      return `${DAYS[d.getUTCDay()]}, ${day} ${MONTHS[d.getUTCMonth()]!.replace(/^./, (c) => c.toUpperCase())} ${year} ${time} ${zoneText(instant.offsetMinutes, false)}`;
    case "zone":
      return zoneText(instant.offsetMinutes, false);
    case "weekday":
      return String(d.getUTCDay());
  }
}
