/**
 * The fake ThinQ cloud's appliances: fixture loading and what each device does with a control.
 *
 * Fixtures, tests/fixtures/thinq/<name>/{device,profile,state}.json (JSON has no comments, so their
 * provenance is here):
 * - air_conditioner: HA `tests/components/lg_thinq/fixtures/air_conditioner{,1}` [code] and LG's
 *   OpenAPI `air_conditioner-profile-example`. Changed on purpose: `temperatureInUnits[].targetTemperature`
 *   is an `rw` range (HA: `r` number) so the SDK ≥1.0.4 set-point body (spec §1a "Control payloads")
 *   validates; job modes gain HEAT/AUTO/FAN; `heatTargetTemperature` added. F ranges [unconfirmed].
 * - washer: HA `washer/profile.json` (per-location array). State shaped like HA `washer/status.json`
 *   (an object), but INITIAL with remote control on so a remote start can succeed. LG's OpenAPI
 *   `washer-object-example` is a per-location *array*; `replaceState()` serves that form.
 * - refrigerator: HA has no fixture; from spec §1a, pyTQ `devices/refrigerator.py` and LG's OpenAPI
 *   refrigerator examples. Both the newer `temperatureInUnits` list (targetTemperatureC/F) and the
 *   older `temperature` list are modelled and kept in sync, as the spec asks. F ranges, `expressFridge`
 *   and `waterFilterInfo.unit` (MONTH) [unconfirmed].
 * - air_purifier: [unconfirmed] for any real model. Shapes from LG's OpenAPI `air_purifier-profile-example`
 *   / `-object-example` (including LG's own `oder` typo beside `odor`), `humidity` from pyTQ
 *   `devices/air_purifier.py`; HA's fixture only has `operation` and `sleepTimer`.
 *
 * Device-state refusals (spec §1a "command rejected by device state"; LG's device-profile guide says
 * an AC or purifier that is POWER_OFF is not controllable and AC set-points only work in
 * AUTO/COOL/HEAT). Which code each case gets is our reading of LG's error texts [assumption]:
 * remote control off → 2301 (always); with `x-conditional-control: true` only: POWER_OFF → 2304,
 * ERROR → 2303, washer START while a cycle runs → 2302, AC set-point outside AUTO/COOL/HEAT and
 * purifier airflow in AUTO job mode → 2305.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  applyWrites,
  type ControlWrite,
  findEntry,
  isObject,
  type Json,
  type JsonObject,
  type ParsedControl,
  parseControl,
  stateRoot,
} from './_thinq-control.js'
import { ThinqApiError } from './_thinq-protocol.js'

export interface ThinqDeviceInfo {
  deviceType: string
  modelName: string
  alias: string
  reportable: boolean
  groupId?: string
}

/** One item of `GET devices` (spec §1a "JSON shapes"). */
export interface ThinqDeviceListItem {
  deviceId: string
  deviceInfo: ThinqDeviceInfo
}

export interface FakeDevice {
  item: ThinqDeviceListItem
  profile: JsonObject
  state: Json
  online: boolean
}

export const THINQ_FIXTURES = ['air_conditioner', 'washer', 'refrigerator', 'air_purifier'] as const
export const THINQ_FIXTURES_DIR = fileURLToPath(new URL('../fixtures/thinq/', import.meta.url))

const readJson = (path: string): Json => JSON.parse(readFileSync(path, 'utf8')) as Json

export function loadDevices(dir: string, names: readonly string[]): FakeDevice[] {
  return names.map((name) => {
    const item = readJson(join(dir, name, 'device.json')) as unknown as ThinqDeviceListItem
    const profile = readJson(join(dir, name, 'profile.json'))
    if (!isObject(profile)) throw new Error(`${name}/profile.json is not an object`)
    return { item, profile, state: readJson(join(dir, name, 'state.json')), online: true }
  })
}

interface ControlContext {
  root: JsonObject
  parsed: ParsedControl
  conditional: boolean
}

interface DeviceRule {
  /** Reshapes the body before validation. */
  rewrite?(body: unknown, state: Json): unknown
  /** Throws when the device, in its current state, refuses the command. */
  check?(ctx: ControlContext): void
  /** Device-side effects after the readable writes are stored. */
  apply?(ctx: ControlContext): void
}

/**
 * Handles `POST devices/{id}/control`: the cloud validates the body against the profile, then the
 * device must be online (1222), then the device may refuse; otherwise the state changes at once
 * (a real device reports the change later over MQTT).
 */
export function controlDevice(device: FakeDevice, body: unknown, conditional: boolean): void {
  const rule = RULES[device.item.deviceInfo.deviceType] ?? {}
  const parsed = parseControl(device.profile, rule.rewrite ? rule.rewrite(body, device.state) : body)
  if (!device.online) throw new ThinqApiError('1222')
  const root = stateRoot(device.state, parsed.location)
  if (!root) throw new ThinqApiError('2205', 'Invalid device status: no state for that location')
  const ctx = { root, parsed, conditional }
  rule.check?.(ctx)
  applyWrites(root, parsed.writes)
  rule.apply?.(ctx)
}

const cToF = (c: number) => Math.round((c * 9) / 5 + 32) + 0 // `+ 0` turns -0 into 0
const fToC = (f: number) => Math.round(((f - 32) * 5) / 9) + 0
const obj = (v: Json | undefined): JsonObject => (isObject(v) ? v : {})
const written = (ctx: ControlContext, resource: string, key: string): ControlWrite | undefined =>
  ctx.parsed.writes.find((w) => w.resource === resource && w.key === key)
/** The value `resource.key` will have: the written one, else the current one. */
const upcoming = (ctx: ControlContext, resource: string, key: string): Json | undefined =>
  written(ctx, resource, key)?.value ?? obj(ctx.root[resource])[key]

function checkPower(ctx: ControlContext, opKey: string): void {
  if (!ctx.conditional || obj(ctx.root.operation)[opKey] !== 'POWER_OFF') return
  if (written(ctx, 'operation', opKey)?.value !== 'POWER_ON') throw new ThinqApiError('2304')
}

const airConditioner: DeviceRule = {
  // LG's guide sends `{"temperature":{"targetTemperature":18,"unit":"C"}}`; a unit other than the
  // state's own is served from the matching `temperatureInUnits` entry.
  rewrite(body, state) {
    if (!isObject(body) || !isObject(body.temperature) || 'temperatureInUnits' in body) return body
    const unit = body.temperature.unit
    if (unit === undefined || unit === obj(stateRoot(state, undefined)?.temperature).unit) return body
    const { temperature, ...rest } = body
    return { ...rest, temperatureInUnits: temperature }
  },
  check(ctx) {
    checkPower(ctx, 'airConOperationMode')
    if (!ctx.conditional || !ctx.parsed.writes.some((w) => w.resource.startsWith('temperature'))) return
    const mode = upcoming(ctx, 'airConJobMode', 'currentJobMode')
    if (typeof mode === 'string' && !['AUTO', 'COOL', 'HEAT'].includes(mode)) throw new ThinqApiError('2305', `Command not supported in ${mode}`)
  },
  // Every representation of the set-point moves together. cool/heat/autoTargetTemperature are
  // write-only and only move it in the matching job mode.
  apply(ctx) {
    const mode = obj(ctx.root.airConJobMode).currentJobMode
    for (const w of ctx.parsed.writes) {
      if (!w.resource.startsWith('temperature') || typeof w.value !== 'number') continue
      const kind = /^(cool|heat|auto)TargetTemperature$/.exec(w.key)?.[1]
      if (w.key !== 'targetTemperature' && (!kind || kind.toUpperCase() !== mode)) continue
      const unit = String(w.match.unit ?? w.qualifiers.unit ?? obj(ctx.root.temperature).unit ?? 'C')
      const value = w.value
      const c = unit === 'F' ? fToC(value) : value
      const inUnit = (u: Json | undefined) => (u === unit ? value : u === 'F' ? cToF(c) : c)
      if (isObject(ctx.root.temperature)) ctx.root.temperature.targetTemperature = inUnit(ctx.root.temperature.unit ?? 'C')
      for (const e of Array.isArray(ctx.root.temperatureInUnits) ? ctx.root.temperatureInUnits : []) {
        if (isObject(e)) e.targetTemperature = inUnit(e.unit)
      }
    }
  },
}

const RUNNING_STATES = new Set([
  'DETECTING',
  'PREWASH',
  'SOAKING',
  'RUNNING',
  'RINSING',
  'SPINNING',
  'DRYING',
  'REFRESHING',
  'STEAM_SOFTENING',
  'DISPENSING',
  'DETERGENT_AMOUNT',
  'ADD_DRAIN',
  'FROZEN_PREVENT_RUNNING',
])
// washerOperationMode is write-only; its visible effect is on runState [assumption: STOP pauses].
const WASHER_EFFECT: Record<string, string> = { START: 'RUNNING', STOP: 'PAUSE', POWER_OFF: 'POWER_OFF', POWER_ON: 'INITIAL' }

const washer: DeviceRule = {
  check(ctx) {
    if (obj(ctx.root.remoteControlEnable).remoteControlEnabled === false) throw new ThinqApiError('2301')
    if (!ctx.conditional) return
    const current = obj(ctx.root.runState).currentState
    const op = written(ctx, 'operation', 'washerOperationMode')?.value
    if (current === 'ERROR') throw new ThinqApiError('2303')
    if (current === 'POWER_OFF' && op !== 'POWER_ON') throw new ThinqApiError('2304')
    if (op === 'START' && typeof current === 'string' && RUNNING_STATES.has(current)) {
      throw new ThinqApiError('2302', `Command not supported in ${current}`)
    }
  },
  apply(ctx) {
    const op = written(ctx, 'operation', 'washerOperationMode')?.value
    const next = typeof op === 'string' ? WASHER_EFFECT[op] : undefined
    if (next === undefined) return
    ctx.root.runState = { ...obj(ctx.root.runState), currentState: next }
    if (next === 'POWER_OFF') ctx.root.remoteControlEnable = { ...obj(ctx.root.remoteControlEnable), remoteControlEnabled: false }
  },
}

const refrigerator: DeviceRule = {
  // A compartment's set-point lives in `temperatureInUnits` (C and F) and in the older `temperature`
  // list; whichever was written, all three numbers follow.
  apply(ctx) {
    for (const w of ctx.parsed.writes) {
      const loc = w.match.locationName
      if (typeof w.value !== 'number' || typeof loc !== 'string') continue
      let c: number | undefined
      let f: number | undefined
      if (w.resource === 'temperatureInUnits' && w.key === 'targetTemperatureC') c = w.value
      else if (w.resource === 'temperatureInUnits' && w.key === 'targetTemperatureF') f = w.value
      else if (w.resource === 'temperature' && w.key === 'targetTemperature') {
        const unit = w.qualifiers.unit ?? findEntry(ctx.root.temperature, { locationName: loc })?.unit ?? 'C'
        if (unit === 'F') f = w.value
        else c = w.value
      } else continue
      const cc = c ?? fToC(f ?? 0)
      const ff = f ?? cToF(cc)
      const inUnits = findEntry(ctx.root.temperatureInUnits, { locationName: loc })
      if (inUnits) Object.assign(inUnits, { targetTemperatureC: cc, targetTemperatureF: ff })
      const legacy = findEntry(ctx.root.temperature, { locationName: loc })
      if (legacy) legacy.targetTemperature = legacy.unit === 'F' ? ff : cc
    }
  },
}

const airPurifier: DeviceRule = {
  check(ctx) {
    checkPower(ctx, 'airPurifierOperationMode')
    if (!ctx.conditional || !ctx.parsed.writes.some((w) => w.resource === 'airFlow')) return
    if (upcoming(ctx, 'airPurifierJobMode', 'currentJobMode') === 'AUTO') throw new ThinqApiError('2305', 'Command not supported in AUTO')
  },
}

const RULES: Readonly<Record<string, DeviceRule>> = {
  DEVICE_AIR_CONDITIONER: airConditioner,
  DEVICE_WASHER: washer,
  DEVICE_REFRIGERATOR: refrigerator,
  DEVICE_AIR_PURIFIER: airPurifier,
}
