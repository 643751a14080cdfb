/**
 * The date extension (RFC 5260): the parts of a date (§4.2) in a time zone, for the `date` test
 * (a header field's date) and `currentdate` (the time of delivery).
 */

export const DATE_PARTS = [
  'year',
  'month',
  'day',
  'date',
  'julian',
  'hour',
  'minute',
  'second',
  'time',
  'iso8601',
  'std11',
  'zone',
  'weekday',
] as const;

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A time zone as RFC 5260 §4.1 writes it, "+hhmm" or "-hhmm", in minutes east of UTC; undefined otherwise. */
export function parseZone(text: string): number | undefined {
  const m = /^([+-])([01]\d|2[0-3])([0-5]\d)$/.exec(text);
  if (!m) return undefined;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

/** The server's own zone at that instant, in minutes east of UTC (RFC 5260: the default). */
export function localZone(at: Date): number {
  return -at.getTimezoneOffset();
}

/** A date-part of the instant `at` seen in the zone `zone` (minutes east of UTC); undefined for an unknown part. */
export function datePart(at: Date, zone: number, part: string): string | undefined {
  const local = new Date(at.getTime() + zone * 60_000);
  const two = (n: number) => String(n).padStart(2, '0');
  const year = String(local.getUTCFullYear()).padStart(4, '0');
  const date = `${year}-${two(local.getUTCMonth() + 1)}-${two(local.getUTCDate())}`;
  const time = `${two(local.getUTCHours())}:${two(local.getUTCMinutes())}:${two(local.getUTCSeconds())}`;
  const sign = zone < 0 ? '-' : '+';
  const hhmm = `${two(Math.floor(Math.abs(zone) / 60))}${two(Math.abs(zone) % 60)}`;
  switch (part.toLowerCase()) {
    case 'year':
      return year;
    case 'month':
      return two(local.getUTCMonth() + 1);
    case 'day':
      return two(local.getUTCDate());
    case 'date':
      return date;
    case 'julian': // the Modified Julian Day: days since 1858-11-17
      return String(
        Math.floor(Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate()) / 86_400_000) + 40_587,
      );
    case 'hour':
      return two(local.getUTCHours());
    case 'minute':
      return two(local.getUTCMinutes());
    case 'second':
      return two(local.getUTCSeconds());
    case 'time':
      return time;
    case 'iso8601':
      return `${date}T${time}${sign}${hhmm.slice(0, 2)}:${hhmm.slice(2)}`;
    case 'std11':
      return `${DAYS[local.getUTCDay()]}, ${two(local.getUTCDate())} ${MONTHS[local.getUTCMonth()]} ${year} ${time} ${sign}${hhmm}`;
    case 'zone':
      return `${sign}${hhmm}`;
    case 'weekday':
      return String(local.getUTCDay());
    default:
      return undefined;
  }
}

/** An RFC 5322 date (a Date field's value) and the zone it was written in; undefined when it is not one. */
export function headerDate(value: string): { at: Date; zone: number } | undefined {
  const text = value.trim();
  if (text.length > 200) return undefined;
  const at = new Date(text.replace(/\([^()]*\)/g, ' '));
  if (Number.isNaN(at.getTime())) return undefined;
  const m = /\d:\d\d(?::\d\d)?\s+([+-]\d{4})(?!\d)/.exec(text);
  return { at, zone: (m && parseZone(m[1]!)) ?? 0 };
}
