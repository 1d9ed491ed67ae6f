import type { FieldValue } from '../core/reading.js'
import { deviceIdFrom } from './device-ids.js'
import { fieldsSchema } from './measurements.js'

/**
 * LG ThinQ state documents → CareHub measurements (pure). Shapes from external-protocols §1a (HA's
 * recorded fixtures and the SDKs). Known device types get the normalized fields caregivers use
 * (room temperature, door, running/finished, air quality); every scalar property is also kept under
 * the generic `appliance` measurement (`<resource>_<property>` in snake case), so a property we do not
 * know yet is recorded rather than lost. Both the newer `temperatureInUnits` and the older
 * `temperature` shapes are read.
 */
export interface ThinqTarget {
  readonly measurement: string
  readonly fields: Record<string, FieldValue>
}

type Doc = Record<string, unknown>

const obj = (v: unknown): Doc | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Doc) : undefined)
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
/** Per-location lists (fridge compartments, laundry units): the entry for one location. */
const locationOf = (e: unknown) => obj(e)?.locationName ?? obj(obj(e)?.location)?.locationName
const at = (list: unknown, location: string): Doc | undefined =>
  Array.isArray(list) ? obj(list.find((e) => locationOf(e) === location)) : locationOf(list) === location ? obj(list) : undefined

const snake = (s: string) =>
  s
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^a-zA-Z0-9]+/g, '_')
    .toLowerCase()
    .replace(/^_+|_+$/g, '')

/** °C from a {current|target}Temperature + unit pair (°F converted). */
function celsius(value: unknown, unit: unknown): number | undefined {
  const v = num(value)
  if (v === undefined) return undefined
  return unit === 'F' ? Math.round((((v - 32) * 5) / 9) * 10) / 10 : v
}

function airConditioner(s: Doc): ThinqTarget[] {
  const inUnits = Array.isArray(s.temperatureInUnits) ? obj(s.temperatureInUnits.find((t) => obj(t)?.unit === 'C')) : undefined
  const legacy = obj(s.temperature)
  const current = inUnits ? num(inUnits.currentTemperature) : celsius(legacy?.currentTemperature, legacy?.unit)
  const target = inUnits ? num(inUnits.targetTemperature) : celsius(legacy?.targetTemperature, legacy?.unit)
  const state: Record<string, FieldValue> = {}
  const power = str(obj(s.operation)?.airConOperationMode)
  if (power) state.on = power === 'POWER_ON'
  const mode = str(obj(s.airConJobMode)?.currentJobMode)
  if (mode) state.mode = mode.toLowerCase()
  if (target !== undefined) state.target_temp_c = target
  const fan = str(obj(s.airFlow)?.windStrength)
  if (fan) state.fan = fan.toLowerCase()
  return [...(current !== undefined ? [{ measurement: 'climate', fields: { temp_c: current } }] : []), { measurement: 'state', fields: state }]
}

function washer(s: Doc): ThinqTarget[] {
  const unit = at(s, 'MAIN') ?? s
  const state: Record<string, FieldValue> = {}
  const run = str(obj(unit.runState)?.currentState)
  if (run) {
    state.run_state = run.toLowerCase()
    // Idle, finished, paused, waiting for a delayed start or guarding against frost: not running.
    state.running = ![
      'POWER_OFF',
      'INITIAL',
      'END',
      'PAUSE',
      'ERROR',
      'SLEEP',
      'RESERVED',
      'FROZEN_PREVENT_INITIAL',
      'FROZEN_PREVENT_PAUSE',
    ].includes(run)
  }
  const timer = obj(unit.timer)
  const h = num(timer?.remainHour)
  const m = num(timer?.remainMinute)
  if (h !== undefined || m !== undefined) state.remaining_min = (h ?? 0) * 60 + (m ?? 0)
  const remote = obj(unit.remoteControlEnable)?.remoteControlEnabled
  if (typeof remote === 'boolean') state.remote_control = remote
  return [{ measurement: 'state', fields: state }]
}

function refrigerator(s: Doc): ThinqTarget[] {
  const out: ThinqTarget[] = []
  const door = str(at(s.doorStatus, 'MAIN')?.doorState)
  if (door === 'OPEN' || door === 'CLOSE') out.push({ measurement: 'event', fields: { door: door === 'OPEN' ? 'open' : 'closed' } })
  const state: Record<string, FieldValue> = {}
  for (const [location, field] of [
    ['FRIDGE', 'fridge_target_c'],
    ['FREEZER', 'freezer_target_c'],
  ] as const) {
    const inUnits = at(s.temperatureInUnits, location)
    const legacy = at(s.temperature, location)
    const c = num(inUnits?.targetTemperatureC) ?? celsius(legacy?.targetTemperature, legacy?.unit)
    if (c !== undefined) state[field] = c
  }
  const express = obj(s.refrigeration)?.expressMode
  if (typeof express === 'boolean') state.express_mode = express
  if (Object.keys(state).length) out.push({ measurement: 'state', fields: state })
  return out
}

// Air purifier shapes from LG's published example; [unconfirmed] for every model.
function airPurifier(s: Doc): ThinqTarget[] {
  const q = obj(s.airQualitySensor) ?? {}
  const air: Record<string, FieldValue> = {}
  for (const [key, field] of [
    ['PM1', 'pm1_ugm3'],
    ['PM2', 'pm25_ugm3'],
    ['PM10', 'pm10_ugm3'],
  ] as const) {
    const v = num(q[key])
    if (v !== undefined) air[field] = v
  }
  const level = str(q.totalPollutionLevel)
  if (level) air.quality = level.toLowerCase()
  const state: Record<string, FieldValue> = {}
  const power = str(obj(s.operation)?.airPurifierOperationMode)
  if (power) state.on = power === 'POWER_ON'
  const mode = str(obj(s.airPurifierJobMode)?.currentJobMode)
  if (mode) state.mode = mode.toLowerCase()
  const humidity = num(q.humidity)
  return [
    ...(Object.keys(air).length ? [{ measurement: 'air', fields: air }] : []),
    ...(humidity !== undefined ? [{ measurement: 'climate', fields: { humid_pct: humidity } }] : []),
    { measurement: 'state', fields: state },
  ]
}

const KNOWN: Record<string, (s: Doc) => ThinqTarget[]> = {
  DEVICE_AIR_CONDITIONER: airConditioner,
  DEVICE_WASHER: washer,
  DEVICE_WASHTOWER_WASHER: washer,
  DEVICE_REFRIGERATOR: refrigerator,
  DEVICE_AIR_PURIFIER: airPurifier,
}

/** Every scalar property, as `<resource>_<property>` (max 32, the generic measurement's limit). */
export function genericFields(s: Doc): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = {}
  const add = (key: string, v: unknown) => {
    if (Object.keys(out).length >= 32) return
    const name = snake(key).slice(0, 64)
    if (!/^[a-z][a-z0-9_]{0,63}$/.test(name)) return
    if (typeof v === 'number' && Number.isFinite(v)) out[name] = v
    else if (typeof v === 'boolean') out[name] = v
    else if (typeof v === 'string' && v.length <= 256) out[name] = v
  }
  for (const [resource, value] of Object.entries(s)) {
    const o = obj(value)
    if (o) for (const [property, v] of Object.entries(o)) add(`${resource}_${property}`, v)
    else add(resource, value)
  }
  return out
}

/** Targets that pass the same checks as any other source; the others with the reason (kept as dead letters). */
export function mapThinqState(
  deviceType: string,
  document: unknown,
): { targets: ThinqTarget[]; rejected: Array<{ measurement: string; reason: string }> } {
  // Laundry state may come as a list of per-location objects (LG's documented form): read the main unit.
  const state = Array.isArray(document) ? (at(document, 'MAIN') ?? obj(document[0]) ?? {}) : (obj(document) ?? {})
  // Object.hasOwn: the device type comes over the network ("constructor" must not find Object's).
  const known = Object.hasOwn(KNOWN, deviceType) ? (KNOWN[deviceType]?.(state) ?? []) : []
  const generic = genericFields(state)
  const all = [...known, ...(Object.keys(generic).length ? [{ measurement: 'appliance', fields: generic }] : [])].filter(
    (t) => Object.keys(t.fields).length > 0,
  )
  const targets: ThinqTarget[] = []
  const rejected: Array<{ measurement: string; reason: string }> = []
  for (const t of all) {
    const checked = fieldsSchema(t.measurement).safeParse(t.fields)
    if (checked.success) targets.push(t)
    else
      rejected.push({
        measurement: t.measurement,
        reason: `${t.measurement}: ${checked.error.issues[0]?.path.join('.')}: ${checked.error.issues[0]?.message}`,
      })
  }
  return { targets, rejected }
}

/** `MW2-2E247F93-…` → `thinq_mw2-2e247f93-…` (a valid CareHub device id, capped at 64). */
export const thinqDeviceId = (deviceId: string) => deviceIdFrom('thinq_', deviceId)
