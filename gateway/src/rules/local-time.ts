/**
 * Times of day in the home's time zone (rules say "22:00", the person lives by the wall clock).
 * Pure: the zone is an argument; formatters are cached per zone and minute results per instant.
 */

const MINUTE = 60_000
const DAY_MINUTES = 1440
const WEEKDAYS: Readonly<Record<string, number>> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 }

export interface LocalTime {
  /** Minutes since local midnight, 0–1439. */
  readonly minute: number
  /** 0 = Monday … 6 = Sunday. */
  readonly weekday: number
}

const formatters = new Map<string, Intl.DateTimeFormat>()
const cache = new Map<string, LocalTime>()

export function localTime(t: number, timeZone: string): LocalTime {
  const key = `${timeZone}\u0000${Math.floor(t / MINUTE)}`
  const hit = cache.get(key)
  if (hit) return hit
  let f = formatters.get(timeZone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', weekday: 'short', hour: '2-digit', minute: '2-digit' })
    formatters.set(timeZone, f)
  }
  let hour = 0
  let minute = 0
  let weekday = 0
  for (const p of f.formatToParts(t)) {
    if (p.type === 'hour') hour = Number(p.value)
    else if (p.type === 'minute') minute = Number(p.value)
    else if (p.type === 'weekday') weekday = WEEKDAYS[p.value] ?? 0
  }
  const result = { minute: hour * 60 + minute, weekday }
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

/**
 * The first instant after t when the local clock reads `hhmm`. Around a DST change the naive guess
 * can be an hour off; it is corrected by looking an hour either side (a skipped time, e.g. 02:30 on
 * the spring-forward night, falls on the next valid minute).
 */
export function nextLocal(t: number, hhmm: number, timeZone: string): number {
  const start = Math.floor(t / MINUTE) * MINUTE
  const { minute } = localTime(start, timeZone)
  const delta = (hhmm - minute + DAY_MINUTES) % DAY_MINUTES || DAY_MINUTES
  const guess = start + delta * MINUTE
  for (const shift of [0, -60, 60]) {
    const c = guess + shift * MINUTE
    if (c > t && localTime(c, timeZone).minute === hhmm) return c
  }
  return guess
}

/** The last instant at or before t when the local clock read `hhmm`. */
export function previousLocal(t: number, hhmm: number, timeZone: string): number {
  // Start 26 h earlier (always ≤ t, whatever DST did) and walk forward: the last one ≤ t wins.
  let c = nextLocal(t - 26 * 3_600_000, hhmm, timeZone)
  for (;;) {
    const n = nextLocal(c, hhmm, timeZone)
    if (n > t) return c
    c = n
  }
}
