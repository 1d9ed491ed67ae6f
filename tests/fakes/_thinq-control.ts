/**
 * Profile-driven validation of `POST devices/{id}/control` bodies and merging of partial state
 * documents, for the fake ThinQ Connect API.
 *
 * spec §1a "JSON shapes": a profile property descriptor is `{"type","mode":["r","w"],"value":{"r","w"}}`;
 * ranges are `{"min","max","step","except"}`; `property` is an object, or (laundry) an array of
 * per-location objects carrying `{"location":{"locationName":"MAIN"}}`. Some resources are lists
 * keyed by a plain (non-descriptor) field: `unit` (AC `temperatureInUnits`) or `locationName`
 * (fridge `temperatureInUnits`, `doorStatus`). spec §1a "Control payloads": a control body is a
 * partial state document, so `{"temperatureInUnits":{"targetTemperature":22,"unit":"C"}}` addresses
 * the list entry whose `unit` is C.
 *
 * Refusal codes (LG documents the meaning of each code, not which check yields it):
 * - body not a JSON object → 1000 BAD_REQUEST; empty body → 1101 MISSING_PARAMETERS [assumption].
 * - resource/property not in the profile, or not writable (`w` missing from `mode`) → 2207
 *   INVALID_COMMAND_ERROR: LG's error table defines 2207 as "a control command containing a resource
 *   or property the device does not define" [obs].
 * - range value outside `min`/`max`/`step`/`except` → 2201 NOT_PROVIDED_FEATURE: LG's device-profile
 *   guide says 2201 is what an AC set-point outside its range gets [doc, LGAPIPortal yaml_deviceProfile].
 * - wrong JSON type, enum/boolean value not in the `w` list, unknown location/unit → 1102
 *   UNACCEPTABLE_PARAMETERS [assumption].
 */
import { ThinqApiError } from './_thinq-protocol.js'

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
export type JsonObject = { [key: string]: Json }

/** One property a control body sets. `match` picks the list entry (e.g. `{unit:'C'}`); `qualifiers` are `unit`/`locationName` sent alongside. */
export interface ControlWrite {
  resource: string
  key: string
  value: Json
  readable: boolean
  match: JsonObject
  qualifiers: JsonObject
}

export interface ParsedControl {
  location: string | undefined
  writes: ControlWrite[]
}

export const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v)
const isPrimitive = (v: unknown): v is string | number | boolean => ['string', 'number', 'boolean'].includes(typeof v)
const isDescriptor = (v: unknown): v is JsonObject => isObject(v) && typeof v.type === 'string' && v.mode !== undefined
// LG's microwave example writes `mode: rw` as a string; everything else uses an array.
const hasMode = (d: JsonObject, m: 'r' | 'w') => (Array.isArray(d.mode) ? d.mode.includes(m) : String(d.mode).includes(m))
const QUALIFIERS = new Set(['unit', 'locationName'])

function fail(code: string, message: string): never {
  throw new ThinqApiError(code, message)
}

/** Validates a control body against a device profile; throws `ThinqApiError` on the first problem. */
export function parseControl(profile: JsonObject, body: unknown): ParsedControl {
  if (!isObject(body)) return fail('1000', 'Bad request: body must be a JSON object')
  if (Object.keys(body).length === 0) return fail('1101', 'Missing parameters')
  const property = profile.property
  let root: JsonObject
  let location: string | undefined
  if (Array.isArray(property)) {
    // Per-location profile (laundry): the body names its unit via `location.locationName`, as the
    // SDK and LG's washer example do. Refusing a body without it is our choice [unconfirmed].
    const loc = isObject(body.location) ? body.location.locationName : undefined
    if (typeof loc !== 'string') return fail('1101', 'Missing parameters: location.locationName')
    location = loc
    const entry = property.find((e) => isObject(e) && isObject(e.location) && e.location.locationName === loc)
    root = isObject(entry) ? entry : fail('1102', `Unacceptable parameters: no location ${loc}`)
  } else {
    root = isObject(property) ? property : {}
  }
  const writes: ControlWrite[] = []
  for (const [resource, value] of Object.entries(body)) {
    if (location !== undefined && resource === 'location') continue
    const node = root[resource]
    if (!isObject(node) && !Array.isArray(node)) fail('2207', `Invalid command error: unknown resource ${resource}`)
    if (!isObject(value)) fail('1102', `Unacceptable parameters: ${resource} must be an object`)
    writes.push(...(Array.isArray(node) ? listWrites(resource, node, value) : objectWrites(resource, node, value, {})))
  }
  return writes.length > 0 ? { location, writes } : fail('1101', 'Missing parameters: nothing to control')
}

function listWrites(resource: string, entries: Json[], value: JsonObject): ControlWrite[] {
  const objs = entries.filter(isObject)
  const statics = Object.keys(objs[0] ?? {}).filter((k) => objs.every((e) => isPrimitive(e[k])))
  // The keys that tell entries apart (`unit` 'C'/'F', `locationName` FRIDGE/FREEZER) must be sent.
  const discriminators = statics.filter((k) => objs.length === 1 || new Set(objs.map((e) => e[k])).size > 1)
  for (const d of discriminators) if (value[d] === undefined) fail('1101', `Missing parameters: ${resource}.${d}`)
  const entry = objs.find((e) => discriminators.every((d) => e[d] === value[d]))
  if (!entry) return fail('1102', `Unacceptable parameters: no ${resource} entry for ${JSON.stringify(value)}`)
  const match = Object.fromEntries(discriminators.map((d) => [d, entry[d] ?? null]))
  return objectWrites(resource, entry, value, match)
}

function objectWrites(resource: string, node: JsonObject, value: JsonObject, match: JsonObject): ControlWrite[] {
  const out: ControlWrite[] = []
  const qualifiers: JsonObject = {}
  for (const [key, v] of Object.entries(value)) {
    const desc = node[key]
    if (QUALIFIERS.has(key) || key in match) {
      checkQualifier(resource, key, desc, v)
      qualifiers[key] = v
      continue
    }
    if (!isDescriptor(desc)) fail('2207', `Invalid command error: unknown property ${resource}.${key}`)
    if (!hasMode(desc, 'w')) fail('2207', `Invalid command error: ${resource}.${key} is not writable`)
    checkValue(`${resource}.${key}`, desc, v)
    out.push({ resource, key, value: v, readable: hasMode(desc, 'r'), match, qualifiers })
  }
  return out
}

/** `unit`/`locationName` sent with a write: must equal a plain profile value, or be one of a descriptor's values. */
function checkQualifier(resource: string, key: string, desc: Json | undefined, v: Json): void {
  if (desc === undefined) fail('2207', `Invalid command error: unknown property ${resource}.${key}`)
  if (isDescriptor(desc)) {
    const values = isObject(desc.value) ? [desc.value.r, desc.value.w].flatMap((l) => (Array.isArray(l) ? l : [])) : []
    if (!values.includes(v)) fail('1102', `Unacceptable parameters: ${resource}.${key}=${String(v)}`)
  } else if (desc !== v) {
    fail('1102', `Unacceptable parameters: ${resource}.${key}=${String(v)}`)
  }
}

function checkValue(name: string, d: JsonObject, v: Json): void {
  const w = isObject(d.value) ? d.value.w : undefined
  const bad: () => never = () => fail('1102', `Unacceptable parameters: ${name}=${JSON.stringify(v)}`)
  switch (d.type) {
    case 'enum':
      if (!Array.isArray(w) || !w.includes(v)) bad()
      return
    case 'boolean':
      if (typeof v !== 'boolean' || (Array.isArray(w) && !w.includes(v))) bad()
      return
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v)) bad()
      return
    case 'string':
      if (typeof v !== 'string') bad()
      return
    case 'list':
      if (!Array.isArray(v)) bad()
      return
    case 'range': {
      if (typeof v !== 'number' || !Number.isFinite(v)) bad()
      if (!isObject(w)) return
      const { min, max, step, except } = w
      const steps = typeof min === 'number' && typeof step === 'number' && step > 0 ? (v - min) / step : 0
      const out =
        (typeof min === 'number' && v < min) ||
        (typeof max === 'number' && v > max) ||
        Math.abs(steps - Math.round(steps)) > 1e-9 ||
        (Array.isArray(except) && except.includes(v))
      if (out) fail('2201', `Not provided feature: ${name}=${v} is outside ${JSON.stringify(w)}`)
      return
    }
    default:
      fail('2207', `Invalid command error: ${name} has unsupported type ${String(d.type)}`)
  }
}

/** The state object a control addresses: the matching `location` entry of a per-location state, else the state itself. */
export function stateRoot(state: Json, location: string | undefined): JsonObject | undefined {
  if (!Array.isArray(state)) return isObject(state) ? state : undefined
  const hit = state.find((e) => isObject(e) && (location === undefined || (isObject(e.location) && e.location.locationName === location)))
  return isObject(hit) ? hit : undefined
}

/** The entry of list resource `list` matching every key of `match` (e.g. `{locationName:'FRIDGE'}`). */
export function findEntry(list: Json | undefined, match: JsonObject): JsonObject | undefined {
  if (!Array.isArray(list)) return undefined
  const hit = list.find((e) => isObject(e) && Object.entries(match).every(([k, v]) => e[k] === v))
  return isObject(hit) ? hit : undefined
}

/** Stores the readable writes in the state (write-only ones such as `washerOperationMode` are left to device rules). */
export function applyWrites(root: JsonObject, writes: readonly ControlWrite[]): void {
  for (const w of writes) {
    if (!w.readable) continue
    const current = root[w.resource]
    if (Object.keys(w.match).length > 0) {
      const list = Array.isArray(current) ? current : []
      let entry = findEntry(list, w.match)
      if (!entry) {
        entry = { ...w.match }
        list.push(entry)
      }
      entry[w.key] = w.value
      root[w.resource] = list
    } else {
      const obj = isObject(current) ? current : {}
      obj[w.key] = w.value
      root[w.resource] = obj
    }
  }
}

const identity = (e: JsonObject): string | undefined => {
  const loc = isObject(e.location) ? e.location.locationName : e.locationName
  if (typeof loc === 'string') return `loc:${loc}`
  return typeof e.unit === 'string' ? `unit:${e.unit}` : undefined
}

/**
 * Deep-merges a partial state document, the way an MQTT `report` is merged (spec §1a "Event / push
 * delivery"): objects merge key by key; lists of `locationName`/`unit`-keyed objects merge entry by
 * entry (unknown entries are appended); any other value replaces.
 */
export function mergeDocument(target: Json, partial: Json): Json {
  if (isObject(target) && isObject(partial)) {
    for (const [k, v] of Object.entries(partial)) target[k] = k in target ? mergeDocument(target[k] ?? null, v) : structuredClone(v)
    return target
  }
  if (Array.isArray(target) && Array.isArray(partial) && partial.every((e) => isObject(e) && identity(e) !== undefined)) {
    for (const p of partial as JsonObject[]) {
      const hit = target.find((t) => isObject(t) && identity(t) === identity(p))
      if (hit !== undefined) mergeDocument(hit, p)
      else target.push(structuredClone(p))
    }
    return target
  }
  return structuredClone(partial)
}
