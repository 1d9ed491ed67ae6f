// Service registry of the fake Home Assistant (see ./home-assistant.ts).
// Spec §2a `call_service` / §2b `POST /api/services/<domain>/<service>`; behaviour from HA `core.py`
// `ServiceRegistry.async_call`, `helpers/service.py` `entity_service_call` and the switch/light/climate entities.
import { type HaContext, type HaState, isValidEntityId, type StateMachine } from './_home-assistant-states.js'

/** HA `ServiceNotFound` → WS `not_found`, REST `400: Bad Request`. */
export class ServiceNotFoundError extends Error {
  constructor(
    readonly domain: string,
    readonly service: string,
  ) {
    super(`Service ${domain}.${service} not found.`)
  }
}

/** voluptuous `vol.Invalid` (service data failed the schema) → WS `invalid_format`, REST `400: Bad Request`. */
export class InvalidServiceDataError extends Error {}

/** HA `ServiceValidationError` → WS `service_validation_error` ("Validation error: …"), REST 500 (not caught by the API view). */
export class ServiceValidationError extends Error {
  constructor(
    message: string,
    readonly translationKey: string,
    readonly translationDomain = 'homeassistant',
    readonly translationPlaceholders: Record<string, string> = {},
  ) {
    super(message)
  }
}

export type SupportsResponse = 'none' | 'optional' | 'only'

export interface ServiceCall {
  domain: string
  service: string
  /** `service_data` with `target` merged in, as HA hands it to the handler. */
  data: Record<string, unknown>
  context: HaContext
  returnResponse: boolean
  store: StateMachine
}

/** Returns the service response (only used when the service supports responses). */
export type ServiceHandler = (call: ServiceCall) => Record<string, unknown> | undefined

interface Service {
  handler: ServiceHandler
  supportsResponse: SupportsResponse
}

export class ServiceRegistry {
  private readonly services = new Map<string, Service>()

  constructor(private readonly store: StateMachine) {
    registerBuiltins(this)
  }

  register(domain: string, service: string, handler: ServiceHandler, supportsResponse: SupportsResponse = 'none'): void {
    this.services.set(`${domain.toLowerCase()}.${service.toLowerCase()}`, { handler, supportsResponse })
  }

  has(domain: string, service: string): boolean {
    return this.services.has(`${domain.toLowerCase()}.${service.toLowerCase()}`)
  }

  supportsResponse(domain: string, service: string): SupportsResponse {
    return this.services.get(`${domain.toLowerCase()}.${service.toLowerCase()}`)?.supportsResponse ?? 'none'
  }

  /**
   * HA `ServiceRegistry.async_call(blocking=True)`: look up (case-insensitive), check the response flag,
   * merge `target` into the data, fire `call_service`, run the handler (entity state writes carry `context`).
   */
  call(
    domain: string,
    service: string,
    serviceData: Record<string, unknown>,
    target: Record<string, unknown> | undefined,
    context: HaContext,
    returnResponse: boolean,
  ): unknown {
    const d = domain.toLowerCase()
    const s = service.toLowerCase()
    const entry = this.services.get(`${d}.${s}`)
    if (!entry) throw new ServiceNotFoundError(d, s)
    const rr = { return_response: 'return_response=True' }
    if (returnResponse && entry.supportsResponse === 'none') {
      throw new ServiceValidationError(
        "An action which does not return responses can't be called with return_response=True.",
        'service_does_not_support_response',
        'homeassistant',
        rr,
      )
    }
    if (!returnResponse && entry.supportsResponse === 'only') {
      throw new ServiceValidationError(
        'An action which returns responses must be called with return_response=True.',
        'service_lacks_response_request',
        'homeassistant',
        rr,
      )
    }
    const data = { ...serviceData, ...target }
    this.store.fire('call_service', { domain: d, service: s, service_data: data }, context)
    const response = entry.handler({ domain: d, service: s, data, context, returnResponse, store: this.store })
    return returnResponse ? (response ?? {}) : null
  }
}

/**
 * `cv.comp_entity_ids` + `entity_service_call`: entity_id may be a string (comma-separated allowed), a list
 * or `all`. Ids of other domains or missing entities are skipped (HA only logs "Referenced entities … are
 * missing or not currently available"), and so are `unavailable` entities. No entity_id → nothing happens.
 */
export function targetEntities(call: ServiceCall): HaState[] {
  const raw = call.data.entity_id
  if (raw === undefined || raw === null || raw === 'none') return []
  if (raw === 'all') return call.store.all().filter((s) => s.entity_id.startsWith(`${call.domain}.`) && s.state !== 'unavailable')
  const ids = typeof raw === 'string' ? raw.split(',').map((id) => id.trim().toLowerCase()) : Array.isArray(raw) ? raw : [raw]
  const result: HaState[] = []
  for (const id of ids) {
    if (typeof id !== 'string' || !isValidEntityId(id))
      throw new InvalidServiceDataError(`Entity ID ${String(id)} is an invalid entity ID for dictionary value @ data['entity_id']`)
    const state = call.store.get(id)
    if (state && id.startsWith(`${call.domain}.`) && state.state !== 'unavailable') result.push(state)
  }
  return result
}

function numberField(data: Record<string, unknown>, key: string, required = false): number | undefined {
  const value = data[key]
  if (value === undefined) {
    if (required) throw new InvalidServiceDataError(`required key not provided @ data['${key}']`)
    return undefined
  }
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN
  if (!Number.isFinite(n)) throw new InvalidServiceDataError(`expected float for dictionary value @ data['${key}']`)
  return n
}

function write(call: ServiceCall, entity: HaState, state: string, attributes: Record<string, unknown> = entity.attributes): void {
  call.store.set(entity.entity_id, state, attributes, call.context)
}

type EntityAction = (call: ServiceCall, e: HaState) => void

/** An entity service: run `action` for every targeted entity (`entity_service_call`). */
function perEntity(action: EntityAction): ServiceHandler {
  return (call) => {
    for (const e of targetEntities(call)) action(call, e)
    return undefined
  }
}

function onOff(turnOn: EntityAction, turnOff: EntityAction): Record<string, ServiceHandler> {
  return {
    turn_on: perEntity(turnOn),
    turn_off: perEntity(turnOff),
    toggle: perEntity((call, e) => (e.state === 'on' ? turnOff : turnOn)(call, e)),
  }
}

function lightOn(call: ServiceCall, e: HaState): void {
  const pct = numberField(call.data, 'brightness_pct')
  const given = numberField(call.data, 'brightness') ?? (pct === undefined ? undefined : Math.round((pct * 255) / 100))
  // light/__init__.py: brightness 0 in turn_on means turn off.
  if (given === 0) {
    lightOff(call, e)
    return
  }
  const previous = typeof e.attributes.brightness === 'number' ? e.attributes.brightness : 255
  const modes = Array.isArray(e.attributes.supported_color_modes) ? e.attributes.supported_color_modes : []
  const colorMode = modes.includes('brightness') ? 'brightness' : (modes[0] ?? 'onoff')
  const brightness = colorMode === 'onoff' ? null : Math.max(1, Math.min(255, given ?? previous))
  write(call, e, 'on', { ...e.attributes, color_mode: colorMode, brightness })
}

function lightOff(call: ServiceCall, e: HaState): void {
  // An off light reports `color_mode: null` and `brightness: null` (light/__init__.py state_attributes).
  write(call, e, 'off', { ...e.attributes, color_mode: null, brightness: null })
}

function climateAction(mode: string, attributes: Record<string, unknown>): string {
  if (mode === 'off') return 'off'
  const current = attributes.current_temperature
  const target = attributes.temperature
  return typeof current === 'number' && typeof target === 'number' && current < target ? 'heating' : 'idle'
}

function setHvacMode(call: ServiceCall, e: HaState, mode: unknown, attributes = e.attributes): void {
  const modes = Array.isArray(e.attributes.hvac_modes) ? (e.attributes.hvac_modes as unknown[]) : []
  if (typeof mode !== 'string' || !modes.includes(mode)) {
    // climate/__init__.py `_valid_mode_or_raise` (wording approximated from strings.json "not_valid_hvac_mode").
    throw new ServiceValidationError(
      `HVAC mode ${String(mode)} is not valid. Valid HVAC modes are: ${modes.join(', ')}.`,
      'not_valid_hvac_mode',
      'climate',
      {
        mode: String(mode),
        modes: modes.join(', '),
      },
    )
  }
  write(call, e, mode, { ...attributes, hvac_action: climateAction(mode, attributes) })
}

function setTemperature(call: ServiceCall): undefined {
  const temperature = numberField(call.data, 'temperature', true) ?? 0
  for (const e of targetEntities(call)) {
    const min = Number(e.attributes.min_temp ?? 7)
    const max = Number(e.attributes.max_temp ?? 35)
    if (temperature < min || temperature > max) {
      // climate/__init__.py `async_handle_set_temperature_service` (wording approximated from "temp_out_of_range").
      throw new ServiceValidationError(
        `Provided temperature ${temperature} is not valid. Accepted range is ${min} to ${max}.`,
        'temp_out_of_range',
        'climate',
        {
          check_temp: String(temperature),
          min_temp: String(min),
          max_temp: String(max),
        },
      )
    }
    const attributes = { ...e.attributes, temperature }
    if (call.data.hvac_mode !== undefined) setHvacMode(call, e, call.data.hvac_mode, attributes)
    else write(call, e, e.state, { ...attributes, hvac_action: climateAction(e.state, attributes) })
  }
  return undefined
}

function registerBuiltins(registry: ServiceRegistry): void {
  const add = (domain: string, handlers: Record<string, ServiceHandler>) => {
    for (const [service, handler] of Object.entries(handlers)) registry.register(domain, service, handler)
  }
  add(
    'switch',
    onOff(
      (call, e) => write(call, e, 'on'),
      (call, e) => write(call, e, 'off'),
    ),
  )
  add('light', onOff(lightOn, lightOff))
  add('climate', {
    set_temperature: setTemperature,
    set_hvac_mode: perEntity((call, e) => setHvacMode(call, e, call.data.hvac_mode)),
    turn_off: perEntity((call, e) => setHvacMode(call, e, 'off')),
    turn_on: perEntity((call, e) => setHvacMode(call, e, 'heat')),
  })
  // `homeassistant.turn_on/turn_off/toggle` fan out to each entity's own domain service.
  for (const service of ['turn_on', 'turn_off', 'toggle']) {
    registry.register('homeassistant', service, (call) => {
      const ids =
        typeof call.data.entity_id === 'string' ? call.data.entity_id.split(',') : Array.isArray(call.data.entity_id) ? call.data.entity_id : []
      for (const id of ids.map((x) => String(x).trim())) {
        const domain = id.split('.')[0] ?? ''
        if (registry.has(domain, service)) registry.call(domain, service, { ...call.data, entity_id: id }, undefined, call.context, false)
      }
      return undefined
    })
  }
  // Fire-and-forget services a carer gateway typically calls; no state change.
  registry.register('persistent_notification', 'create', () => undefined)
  registry.register('homeassistant', 'update_entity', () => undefined)
}
