import type { FieldValue, Reading } from '../../../gateway/src/core/reading.js'
import { mulberry32 } from '../../_support/prng.js'

/**
 * A reproducible day of history for the backtest tests: every reading has a chosen receive time
 * (ms precision, never on a round minute), so what a rule should have done is known exactly.
 *
 * - living-thermo climate.temp_c, once a minute: 20–24 °C with excursions above 30 of many lengths
 *   (shorter and longer than 10 minutes, back to back inside an hour, with dips to 29.2, 30.0 and 27);
 * - bedroom-thermo climate.temp_c, once a minute, always above 30 (no rule here listens to it);
 * - front-door contact.open: openings of 20 s – 6 min, some within 30 minutes of each other, a few
 *   reported twice, and a heartbeat every ~10 minutes repeating the current state;
 * - hall-pir / hall-pir-2 (room hallway) motion.motion: true every 2–15 minutes, each followed by a
 *   false, except in four long gaps; bath-pir (room bathroom) keeps moving during the gaps;
 * - cellar-thermo climate.temp_c: offline from 3 h before `from`, it uploads its 200 buffered readings
 *   (device times a minute apart, from − 3 h on) 20 minutes into the range, then reports live once a
 *   minute; two buffered readings are above 30 (device times from − 80 min and from − 30 min);
 * - a few readings of each rule's device just outside [from, to], and two exactly on its bounds.
 */

export const SEC = 1000
export const MIN = 60 * SEC
export const HOUR = 60 * MIN

export const THERMO = 'living-thermo'
export const OTHER_THERMO = 'bedroom-thermo'
export const DOOR = 'front-door'
export const HALL = ['hall-pir', 'hall-pir-2'] as const
export const BATH = 'bath-pir'
export const BUFFERED = 'cellar-thermo'

export interface Sample {
  readonly at: number
  readonly deviceId: string
  readonly measurement: string
  readonly fields: Readonly<Record<string, FieldValue>>
  /** The device's own time when it is not the receive time (a buffered reading). */
  readonly ts?: number
  /** The journal seq, once submitted. */
  seq: number
}

/** The journal's shape, received (and timestamped) at the sample's time. */
export function toReading(s: Sample): Reading {
  return {
    deviceId: s.deviceId,
    measurement: s.measurement,
    fields: s.fields,
    tags: {},
    ts: s.ts ?? s.at,
    tsFromReceipt: false,
    receivedAt: s.at,
    source: 'virtual',
  }
}

/** Excursions of living-thermo above 30: [start minute, length in minutes, dips as [offset minute, value]]. */
export const EXCURSIONS: ReadonlyArray<readonly [number, number, ReadonlyArray<readonly [number, number]>?]> = [
  [60, 4], // too short for `for: 10m`
  [120, 12], // fires at its start + 10 min
  [150, 12], // within the hour after that firing, over before the cooldown ends: held back, never fires
  [175, 40], // reaches 10 min inside the cooldown, still hot when it ends: fires when the cooldown ends
  [300, 9], // 9 readings above 30: under 10 minutes
  [330, 10], // 10 readings above: 9–11 minutes, the jitter decides
  [400, 10],
  [470, 11], // over 10 minutes whatever the jitter
  [540, 20, [[8, 29.2]]], // a dip to 29.2: the plain threshold restarts its timer, the one with hysteresis stays on
  [640, 30, [[12, 27]]], // a dip to 27: both turn off
  [700, 30, [[10, 30]]], // a reading of exactly 30 is not above 30
  [800, 90], // long: one firing, and the 15-minute average goes above 30
  [1000, 10],
  [1100, 15],
  [1130, 25], // again inside the hour after the previous firing, over before it ends
  [1250, 60],
  [1380, 5],
]

/** Gaps in the hallway's movement: [start minute, length in minutes]. */
export const HALL_GAPS: ReadonlyArray<readonly [number, number]> = [
  [170, 150],
  [480, 80],
  [690, 330],
  [1180, 125],
]

export function syntheticDay(from: number, to: number, seed: number): Sample[] {
  const rand = mulberry32(seed)
  const out: Sample[] = []
  const add = (at: number, deviceId: string, measurement: string, fields: Record<string, FieldValue>, ts?: number) =>
    out.push({ at, deviceId, measurement, fields, seq: 0, ...(ts === undefined ? {} : { ts }) })
  const minutes = Math.round((to - from) / MIN)
  const round1 = (x: number) => Math.round(x * 10) / 10

  // Temperatures.
  const temps = Array.from({ length: minutes }, () => round1(20 + rand() * 4))
  for (const [start, length, dips = []] of EXCURSIONS) {
    for (let i = 0; i < length; i++) temps[start + i] = round1(30.5 + rand() * 3)
    for (const [offset, value] of dips) temps[start + offset] = value
  }
  for (let k = 0; k < minutes; k++) {
    add(from + k * MIN + SEC + Math.floor(rand() * 58 * SEC), THERMO, 'climate', { temp_c: temps[k] as number })
    add(from + k * MIN + Math.floor(rand() * 60 * SEC), OTHER_THERMO, 'climate', { temp_c: round1(31 + rand() * 4) })
  }
  add(from, THERMO, 'climate', { temp_c: 22 })
  add(to, THERMO, 'climate', { temp_c: 22 })
  add(from - 30 * SEC, THERMO, 'climate', { temp_c: 35 })
  add(to + 20 * SEC, THERMO, 'climate', { temp_c: 35 })

  // The front door.
  const openings: Array<[number, number]> = []
  for (let m = 15 + rand() * 20; m < minutes - 15; ) {
    const open = from + Math.floor(m * MIN)
    const close = open + 20 * SEC + Math.floor(rand() * 6 * MIN)
    openings.push([open, close])
    add(open, DOOR, 'contact', { open: true })
    if (rand() < 0.2) add(open + 5 * SEC + Math.floor(rand() * 10 * SEC), DOOR, 'contact', { open: true })
    add(close, DOOR, 'contact', { open: false })
    m = (close - from) / MIN + 2 + (rand() < 0.35 ? rand() * 25 : 25 + rand() * 120)
  }
  for (let k = 0; k * 10 < minutes - 10; k++) {
    const t = from + k * 10 * MIN + 30 * SEC + Math.floor(rand() * 4 * MIN)
    add(t, DOOR, 'contact', { open: openings.some(([o, c]) => o <= t && t < c) })
  }
  add(from - MIN, DOOR, 'contact', { open: true })
  add(to + 30 * SEC, DOOR, 'contact', { open: false })

  // The hallway (and the bathroom next to it).
  for (let t = from + 8 * MIN; t < to - 10 * MIN; t += 2 * MIN + Math.floor(rand() * 13 * MIN)) {
    const m = (t - from) / MIN
    if (HALL_GAPS.some(([s, l]) => m >= s && m < s + l)) {
      add(t, BATH, 'motion', { motion: true })
      if (rand() < 0.3) add(t + 7 * SEC, HALL[0], 'motion', { motion: false })
    } else {
      const device = HALL[rand() < 0.5 ? 0 : 1]
      add(t, device, 'motion', { motion: true })
      add(t + 30 * SEC + Math.floor(rand() * 30 * SEC), device, 'motion', { motion: false })
    }
  }
  add(from - 90 * SEC, HALL[1], 'motion', { motion: true })
  add(to + 40 * SEC, HALL[0], 'motion', { motion: true })

  // The cellar sensor's buffer, uploaded 20 minutes into the range, then live readings.
  const upload = from + 20 * MIN
  for (let i = 0; i < 200; i++) {
    const c = i === 100 ? 35 : i === 150 ? 36 : 21
    add(upload + i * 10, BUFFERED, 'climate', { temp_c: c }, from - 3 * HOUR + i * MIN)
  }
  for (let t = upload + 30 * SEC; t < to; t += MIN) add(t, BUFFERED, 'climate', { temp_c: 21 })

  return out.sort((a, b) => a.at - b.at)
}
