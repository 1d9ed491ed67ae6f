import type { FieldValue, Reading, Rejection } from '../core/reading.js'
import { deviceIdFrom } from './device-ids.js'
import { fieldsSchema } from './measurements.js'
import { type NormalizeLimits, resolveTimestamp } from './mqtt-reading.js'

/**
 * Home Assistant state object → Readings (pure). A state object is what `GET /api/states`, the
 * `state_changed` event's `new_state` and our webhook carry (external-protocols §2a/2b):
 * `{ entity_id, state: string, attributes, last_changed, last_updated }`. `state` is always a string
 * in HA; webhook templates are sloppy, so numbers and booleans are accepted too (§2c).
 */
export interface HaState {
  readonly entity_id: string
  readonly state: unknown
  readonly attributes?: Readonly<Record<string, unknown>> | undefined
  readonly last_changed?: string | undefined
  readonly last_updated?: string | undefined
}

/** Config: which entities go where. First matching rule wins; `match` is a glob on the entity id. */
export interface EntityRule {
  readonly match: string
  readonly device?: string | undefined
  readonly measurement?: string | undefined
  readonly field?: string | undefined
  readonly ignore?: boolean | undefined
}

export type HaMapping =
  | {
      readonly kind: 'readings'
      readonly entityId: string
      readonly deviceId: string
      readonly name: string | undefined
      readonly readings: Reading[]
    }
  | { readonly kind: 'unavailable'; readonly entityId: string; readonly deviceId: string; readonly name: string | undefined }
  | { readonly kind: 'ignored'; readonly entityId: string; readonly reason: string }
  | { readonly kind: 'rejected'; readonly entityId: string; readonly deviceId: string; readonly rejection: Rejection }

type Fields = Record<string, FieldValue>
interface Target {
  readonly measurement: string
  readonly fields: Fields
}

const ENTITY_ID = /^[a-z_][a-z0-9_]*\.[a-z0-9_]+$/
/** HA's markers for "no value": recorded as the device's availability, never as a number. */
const NO_VALUE = new Set(['unknown', 'unavailable', 'none', ''])

/** Unit conversions to the unit in our field names (measurements.ts: a number never travels without its unit). */
const NUMERIC: Record<string, { measurement: string; field: string; units: Record<string, (v: number) => number> }> = {
  temperature: { measurement: 'climate', field: 'temp_c', units: { '°C': (v) => v, '°F': (v) => ((v - 32) * 5) / 9, K: (v) => v - 273.15 } },
  humidity: { measurement: 'climate', field: 'humid_pct', units: { '%': (v) => v } },
  pressure: {
    measurement: 'climate',
    field: 'pressure_hpa',
    units: { hPa: (v) => v, mbar: (v) => v, kPa: (v) => v * 10, Pa: (v) => v / 100, inHg: (v) => v * 33.8639, psi: (v) => v * 68.9476 },
  },
  carbon_dioxide: { measurement: 'climate', field: 'co2_ppm', units: { ppm: (v) => v } },
  power: { measurement: 'power', field: 'power_w', units: { W: (v) => v, kW: (v) => v * 1000 } },
  energy: { measurement: 'power', field: 'energy_wh', units: { Wh: (v) => v, kWh: (v) => v * 1000, MWh: (v) => v * 1e6 } },
  voltage: { measurement: 'power', field: 'voltage_v', units: { V: (v) => v, mV: (v) => v / 1000 } },
  current: { measurement: 'power', field: 'current_a', units: { A: (v) => v, mA: (v) => v / 1000 } },
  power_factor: { measurement: 'power', field: 'power_factor', units: { '%': (v) => v / 100, '': (v) => v } },
  battery: { measurement: 'state', field: 'battery_pct', units: { '%': (v) => v } },
}
const DOOR_CLASSES = new Set(['door', 'window', 'garage_door', 'opening'])
const MOTION_CLASSES = new Set(['motion', 'occupancy', 'presence', 'moving'])
const ON_OFF_DOMAINS = new Set(['switch', 'light', 'input_boolean', 'fan', 'binary_sensor'])

export function globToRegExp(glob: string): RegExp {
  return new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  )
}

/** `sensor.kitchen_temperature` → `ha_sensor_kitchen_temperature` (a valid CareHub device id). */
export const defaultDeviceId = (entityId: string) => deviceIdFrom('ha_', entityId)

/** What is known about the Home Assistant instance: its unit system (get_config), °C until known. */
export interface HaContext {
  readonly temperatureUnit: '°C' | '°F'
}

export function mapHaState(
  s: HaState,
  rules: ReadonlyArray<EntityRule & { readonly re?: RegExp }>,
  receivedAt: number,
  limits: NormalizeLimits,
  context: HaContext = { temperatureUnit: '°C' },
): HaMapping {
  const entityId = String(s.entity_id)
  if (!ENTITY_ID.test(entityId)) return { kind: 'ignored', entityId: entityId.slice(0, 128), reason: 'not an entity id (domain.object_id)' }
  const rule = rules.find((r) => (r.re ?? globToRegExp(r.match)).test(entityId))
  if (rule?.ignore) return { kind: 'ignored', entityId, reason: 'ignored by configuration' }
  const deviceId = rule?.device ?? defaultDeviceId(entityId)
  const attrs = s.attributes ?? {}
  const name = typeof attrs.friendly_name === 'string' ? attrs.friendly_name.slice(0, 80) : undefined
  const raw = typeof s.state === 'string' ? s.state.trim() : typeof s.state === 'number' || typeof s.state === 'boolean' ? String(s.state) : ''
  if (NO_VALUE.has(raw.toLowerCase())) return { kind: 'unavailable', entityId, deviceId, name }

  const targets = rule?.measurement && rule.field ? overridden(raw, rule.measurement, rule.field) : defaults(entityId, raw, attrs, context)
  if (typeof targets === 'string')
    return targets === 'not mapped' ? { kind: 'ignored', entityId, reason: `${entityId.split('.')[0]} entities are not mapped` } : reject(targets)
  const stamp = s.last_updated ?? s.last_changed
  let ts = resolveTimestamp(stamp, receivedAt, limits)
  let fromReceipt = stamp === undefined
  // An entity that has not changed for months still has that state now: HA's last_updated is then
  // older than readings may be. Record it as observed now (flagged as receipt time), not refuse it.
  if (!ts.ok && ts.reason === 'ts_too_old') {
    ts = { ok: true, value: receivedAt }
    fromReceipt = true
  }
  if (!ts.ok) return reject(ts.detail, ts.reason)
  const readings: Reading[] = []
  for (const t of targets) {
    const checked = fieldsSchema(t.measurement).safeParse(t.fields)
    if (!checked.success)
      return reject(`${t.measurement}: ${checked.error.issues[0]?.path.join('.')}: ${checked.error.issues[0]?.message}`, 'measurement_schema')
    readings.push({
      deviceId,
      measurement: t.measurement,
      fields: t.fields,
      tags: { entity: entityId },
      ts: ts.value,
      tsFromReceipt: fromReceipt,
      receivedAt,
      source: 'homeassistant',
    })
  }
  return { kind: 'readings', entityId, deviceId, name, readings }

  function reject(detail: string, reason: Rejection['reason'] = 'measurement_schema'): HaMapping {
    return { kind: 'rejected', entityId, deviceId, rejection: { reason, detail: `${entityId}: ${detail}` } }
  }
}

function parseNumber(raw: string): number | undefined {
  if (!/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(raw)) return undefined
  const v = Number(raw)
  return Number.isFinite(v) ? v : undefined
}

function overridden(raw: string, measurement: string, field: string): Target[] | string {
  const n = parseNumber(raw)
  const value: FieldValue = n ?? (raw === 'on' ? true : raw === 'off' ? false : raw)
  return [{ measurement, fields: { [field]: value } }]
}

function defaults(entityId: string, state: string, attrs: Readonly<Record<string, unknown>>, context: HaContext): Target[] | string {
  let raw = state
  const domain = entityId.slice(0, entityId.indexOf('.'))
  const deviceClass = typeof attrs.device_class === 'string' ? attrs.device_class : ''
  const unit = typeof attrs.unit_of_measurement === 'string' ? attrs.unit_of_measurement : ''
  if (domain === 'sensor') {
    const n = parseNumber(raw)
    if (n === undefined) return [{ measurement: 'state', fields: { value: raw.slice(0, 64) } }]
    // Object.hasOwn: device_class and unit are HA-supplied strings ("constructor" must not find Object's).
    const known = Object.hasOwn(NUMERIC, deviceClass) ? NUMERIC[deviceClass] : undefined
    if (!known) return [{ measurement: 'state', fields: { value: n } }]
    const convert = Object.hasOwn(known.units, unit) ? known.units[unit] : undefined
    if (!convert) return `unit "${unit}" of a ${deviceClass} sensor is not one CareHub converts (${Object.keys(known.units).join(', ')})`
    return [{ measurement: known.measurement, fields: { [known.field]: round(convert(n)) } }]
  }
  if (ON_OFF_DOMAINS.has(domain)) {
    // Webhook templates may send true/false for on/off (§2c: sloppy JSON).
    raw = raw === 'true' ? 'on' : raw === 'false' ? 'off' : raw
    if (raw !== 'on' && raw !== 'off') return `state "${raw.slice(0, 20)}" of an on/off entity is neither "on" nor "off"`
    if (domain === 'binary_sensor' && DOOR_CLASSES.has(deviceClass))
      return [{ measurement: 'event', fields: { door: raw === 'on' ? 'open' : 'closed' } }]
    if (domain === 'binary_sensor' && MOTION_CLASSES.has(deviceClass)) return [{ measurement: 'event', fields: { motion: raw === 'on' } }]
    return [{ measurement: 'state', fields: { on: raw === 'on' } }]
  }
  if (domain === 'climate') {
    const out: Target[] = [{ measurement: 'state', fields: { hvac_mode: raw.slice(0, 64) } }]
    // Climate entities carry no unit: HA reports them in the instance's unit system (get_config's
    // unit_system.temperature, read by the WebSocket session; °C until known).
    const toC = (v: number) => (context.temperatureUnit === '°F' ? round(((v - 32) * 5) / 9) : v)
    const current = attrs.current_temperature
    if (typeof current === 'number' && Number.isFinite(current)) out.push({ measurement: 'climate', fields: { temp_c: toC(current) } })
    const target = attrs.temperature
    if (typeof target === 'number' && Number.isFinite(target)) (out[0] as { fields: Fields }).fields.target_temp_c = toC(target)
    return out
  }
  if (domain === 'person' || domain === 'device_tracker') return [{ measurement: 'state', fields: { presence: raw.slice(0, 64) } }]
  return 'not mapped'
}

const round = (v: number) => Math.round(v * 1e6) / 1e6
