/**
 * Times of day in the home's time zone (rules say "22:00", the person lives by the wall clock).
 * Pure: the zone is an argument; formatters are cached per zone, answers per minute.
 *
 * Daylight saving: a wall time skipped in spring ("02:30" on the spring-forward night) happens at
 * the next valid minute (03:00); a wall time repeated in autumn happens twice — a time window
 * holds in both passes, so its boundaries do too.
 */

const MINUTE = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000
const WEEKDAYS: Readonly<Record<string, number>> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 }

export interface LocalTime {
  /** Minutes since local midnight, 0–1439. */
  readonly minute: number
  /** 0 = Monday … 6 = Sunday. */
  readonly weekday: number
  /** The local date's midnight written as if it were UTC (a key for "which day"). */
  readonly day: number
}

const formatters = new Map<string, Intl.DateTimeFormat>()
const cache = new Map<string, LocalTime>()

export function localTime(t: number, timeZone: string): LocalTime {
  const key = `${timeZone}\u0000${Math.floor(t / MINUTE)}`
  const hit = cache.get(key)
  if (hit) return hit
  let f = formatters.get(timeZone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      hourCycle: 'h23',
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    })
    formatters.set(timeZone, f)
  }
  const p: Record<string, string> = {}
  for (const part of f.formatToParts(t)) p[part.type] = part.value
  const result = {
    minute: Number(p.hour) * 60 + Number(p.minute),
    weekday: WEEKDAYS[p.weekday ?? ''] ?? 0,
    day: Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day)),
  }
  // Bounded: a long replay walks many minutes; the cache only needs the recent ones.
  if (cache.size > 10_000) cache.clear()
  cache.set(key, result)
  return result
}

/** "07:30" → 450. */
export function clockMinute(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5))
}

/** Whether local minute `m` falls in [from, to), wrapping past midnight when from > to. */
export function inSpan(m: number, from: number, to: number): boolean {
  return from <= to ? m >= from && m < to : m >= from || m < to
}

/** Local wall clock minus UTC at t, in ms (whole minutes). */
function offsetAt(t: number, timeZone: string): number {
  const floor = Math.floor(t / MINUTE) * MINUTE
  const l = localTime(floor, timeZone)
  return l.day + l.minute * MINUTE - floor
}

/**
 * The instants when the local clock reads `minute` on local date `day`: one on most days, two in the
 * repeated autumn hour, and the first valid minute after it when spring skipped it.
 */
function instantsOn(day: number, minute: number, timeZone: string): number[] {
  const wall = day + minute * MINUTE
  const offsets = new Set([offsetAt(wall - DAY, timeZone), offsetAt(wall + DAY, timeZone), offsetAt(wall, timeZone)])
  const found = [...offsets].map((o) => wall - o).filter((u) => offsetAt(u, timeZone) === wall - u)
  if (found.length > 0) return [...new Set(found)].sort((a, b) => a - b)
  // Skipped: the clock jumped over this wall time. The jump lies within the hours around it.
  let lo = wall - Math.max(...offsets) - HOUR
  let hi = wall - Math.min(...offsets) + HOUR
  while (hi - lo > MINUTE) {
    const mid = Math.floor((lo + hi) / 2 / MINUTE) * MINUTE
    const l = localTime(mid, timeZone)
    if (l.day + l.minute * MINUTE >= wall) hi = mid
    else lo = mid
  }
  return [hi]
}

/** The first instant after t when the local clock reads `hhmm` (minutes since midnight). */
export function nextLocal(t: number, hhmm: number, timeZone: string): number {
  const today = localTime(t, timeZone).day
  for (let d = -1; d <= 3; d++) {
    for (const u of instantsOn(today + d * DAY, hhmm, timeZone)) if (u > t) return u
  }
  return t + DAY
}

/** The last instant at or before t when the local clock read `hhmm`. */
export function previousLocal(t: number, hhmm: number, timeZone: string): number {
  const today = localTime(t, timeZone).day
  for (let d = 1; d >= -3; d--) {
    const on = instantsOn(today + d * DAY, hhmm, timeZone)
    for (let i = on.length - 1; i >= 0; i--) if ((on[i] as number) <= t) return on[i] as number
  }
  return t - DAY
}
