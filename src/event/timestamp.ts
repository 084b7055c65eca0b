/** How far ahead of `received_at` a client clock may run before we call the timestamp wrong. */
export const MAX_FUTURE_SKEW_MS = 24 * 60 * 60 * 1000

export type TimestampResult = { ok: true; ms: number } | { ok: false; rule: string; message: string }

/**
 * ISO-8601 with a mandatory zone designator. Date.parse is not used: it accepts many non-ISO
 * forms and reads a string without a zone as local time, which would shift events by the
 * server's offset. Fractions of any length are accepted and truncated to milliseconds.
 */
const ISO_WITH_ZONE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/

/**
 * Reads `occurred_at` as sent (ISO string, epoch milliseconds or a Date) into epoch
 * milliseconds, then checks it is neither before 1970 nor more than a day after `receivedAtMs`.
 */
export function parseOccurredAt(value: unknown, receivedAtMs: number): TimestampResult {
  const parsed = toEpochMs(value)
  if (!parsed.ok) return parsed
  if (parsed.ms < 0) {
    return { ok: false, rule: 'not_before_epoch', message: 'must not be before 1970-01-01T00:00:00Z' }
  }
  if (parsed.ms > receivedAtMs + MAX_FUTURE_SKEW_MS) {
    return { ok: false, rule: 'not_future', message: 'must not be more than 24 hours after the time the event was received' }
  }
  return parsed
}

function toEpochMs(value: unknown): TimestampResult {
  if (typeof value === 'string') return parseIsoString(value)
  if (typeof value === 'number') {
    return Number.isInteger(value)
      ? { ok: true, ms: value }
      : { ok: false, rule: 'timestamp', message: 'a numeric timestamp must be a whole number of epoch milliseconds' }
  }
  const dateMs = dateValue(value)
  if (dateMs !== undefined) {
    return Number.isNaN(dateMs) ? { ok: false, rule: 'timestamp', message: 'is an invalid Date' } : { ok: true, ms: dateMs }
  }
  return { ok: false, rule: 'type', message: 'must be an ISO-8601 string with a time zone, epoch milliseconds, or a Date' }
}

/** Reads a Date, including one from another realm, without trusting a spoofed toStringTag. */
function dateValue(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  try {
    return Date.prototype.getTime.call(value)
  } catch {
    return undefined // not a Date: getTime refuses anything without a Date's internal slot
  }
}

const FORMAT_MESSAGE = 'must be ISO-8601 with a time zone, e.g. 2026-11-23T09:00:00.123Z or 2026-11-23T10:00:00+01:00'

function parseIsoString(text: string): TimestampResult {
  const match = text.length <= 40 ? ISO_WITH_ZONE.exec(text) : null
  if (!match) return { ok: false, rule: 'timestamp', message: FORMAT_MESSAGE }
  const [, y, mo, d, h, mi, s = '0', fraction = '0', zulu, sign, offH = '0', offM = '0'] = match
  const year = Number(y)
  const month = Number(mo)
  const day = Number(d)
  const fields = { hour: Number(h), minute: Number(mi), second: Number(s) }
  const offsetMinutes = zulu ? 0 : (sign === '-' ? -1 : 1) * (Number(offH) * 60 + Number(offM))
  if (!validCalendar(year, month, day, fields) || Number(offH) > 23 || Number(offM) > 59) {
    return { ok: false, rule: 'timestamp', message: `${FORMAT_MESSAGE} (the date or time is out of range)` }
  }
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0-99 to 1900-1999.
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  date.setUTCHours(fields.hour, fields.minute, fields.second, Number(fraction.slice(0, 3).padEnd(3, '0')))
  return { ok: true, ms: date.getTime() - offsetMinutes * 60_000 }
}

function validCalendar(year: number, month: number, day: number, t: { hour: number; minute: number; second: number }): boolean {
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return false
  // Leap seconds (:60) are refused: JavaScript time cannot represent them.
  return t.hour <= 23 && t.minute <= 59 && t.second <= 59
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28
  return [4, 6, 9, 11].includes(month) ? 30 : 31
}

/**
 * Every stored timestamp has this exact shape: UTC, millisecond precision, `Z`. Formatted by hand
 * for years 1970-9999 (all we accept) because `Date#toISOString` cost a third of validation time
 * in a profile; the test suite checks the two agree.
 */
export function toIsoMillis(ms: number): string {
  if (!(ms >= 0 && ms < YEAR_10000_MS) || !Number.isInteger(ms)) return new Date(ms).toISOString()
  const days = Math.floor(ms / DAY_MS)
  const { year, month, day } = civilFromDays(days)
  let rest = ms - days * DAY_MS
  const hour = Math.floor(rest / 3_600_000)
  rest -= hour * 3_600_000
  const minute = Math.floor(rest / 60_000)
  rest -= minute * 60_000
  const second = Math.floor(rest / 1000)
  const milli = rest - second * 1000
  return `${year}-${pad2(month)}-${pad2(day)}T${pad2(hour)}:${pad2(minute)}:${pad2(second)}.${pad3(milli)}Z`
}

const DAY_MS = 86_400_000
const YEAR_10000_MS = 253_402_300_800_000

/** Howard Hinnant's days-to-civil algorithm (proleptic Gregorian), for days since 1970-01-01. */
function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719_468
  const era = Math.floor(z / 146_097)
  const doe = z - era * 146_097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day }
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`
}

function pad3(n: number): string {
  return n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`
}
