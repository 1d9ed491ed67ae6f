// State machine + event bus of the fake Home Assistant (see ./home-assistant.ts).
// Spec: /work/shared/specs/external-protocols.md §2a ("state objects", `old_state`/`new_state`) and §2b.
// Shapes follow HA `homeassistant/core.py` (`State.as_dict`, `Event.as_dict`, `StateMachine.async_set_internal`).
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { isDeepStrictEqual } from 'node:util'

export interface HaContext {
  id: string
  parent_id: string | null
  user_id: string | null
}

/** `State.as_dict()` — key order as HA serialises it; `state` is always a string (§2a). */
export interface HaState {
  entity_id: string
  state: string
  attributes: Record<string, unknown>
  last_changed: string
  last_reported: string
  last_updated: string
  context: HaContext
}

/** `Event.as_dict()`; origin is `LOCAL` for everything this fake fires. */
export interface HaEvent {
  event_type: string
  data: Record<string, unknown>
  origin: 'LOCAL' | 'REMOTE'
  time_fired: string
  context: HaContext
}

export type EventListener = (event: HaEvent) => void

const FIXTURE_STATES = new URL('../fixtures/home-assistant/states.json', import.meta.url)

/** The seeded entities, as `GET /api/states` returned them (tests/fixtures/home-assistant/states.json). */
export function loadFixtureStates(): HaState[] {
  return JSON.parse(readFileSync(FIXTURE_STATES, 'utf8')) as HaState[]
}

let lastMicros = 0

/** Wall-clock microseconds, strictly increasing within this process (HA timestamps carry µs). */
export function nowMicros(): number {
  const micros = Math.floor((performance.timeOrigin + performance.now()) * 1000)
  lastMicros = Math.max(micros, lastMicros + 1)
  return lastMicros
}

/**
 * Python's `datetime.isoformat()` of a UTC datetime: `2025-01-14T12:44:03.250118+00:00`. Like Python,
 * the fraction is left out entirely when the microsecond is 0 — a client must parse both forms.
 */
export function isoFromMicros(micros: number): string {
  const seconds = new Date(Math.floor(micros / 1000)).toISOString().slice(0, 19)
  const fraction = micros % 1_000_000
  return `${seconds}${fraction === 0 ? '' : `.${String(fraction).padStart(6, '0')}`}+00:00`
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/** Context ids are ULIDs since HA 2023.x (`ulid_at_time`): 48-bit ms time + 80 random bits, Crockford base32. */
export function ulid(ms = Date.now()): string {
  let time = ''
  for (let t = ms, i = 0; i < 10; i++, t = Math.floor(t / 32)) time = CROCKFORD.charAt(t % 32) + time
  let rand = ''
  for (const byte of randomBytes(16)) rand += CROCKFORD.charAt(byte % 32)
  return time + rand
}

export function newContext(userId: string | null = null): HaContext {
  return { id: ulid(), parent_id: null, user_id: userId }
}

/** Valid entity id per HA `valid_entity_id`: `<domain>.<object_id>`, lower-case, no double underscores at the edges. */
export function isValidEntityId(entityId: string): boolean {
  return /^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$/.test(entityId)
}

export class StateMachine {
  private readonly states = new Map<string, HaState>()
  private readonly listeners = new Set<EventListener>()

  constructor(seed: readonly HaState[]) {
    for (const state of seed) this.states.set(state.entity_id, structuredClone(state))
  }

  get(entityId: string): HaState | undefined {
    const state = this.states.get(entityId.toLowerCase())
    return state && structuredClone(state)
  }

  all(): HaState[] {
    return [...this.states.values()].map((state) => structuredClone(state))
  }

  listen(listener: EventListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  fire(eventType: string, data: Record<string, unknown>, context: HaContext = newContext(), micros = nowMicros()): HaEvent {
    const event: HaEvent = { event_type: eventType, data, origin: 'LOCAL', time_fired: isoFromMicros(micros), context }
    for (const listener of [...this.listeners]) listener(event)
    return event
  }

  /**
   * HA `StateMachine.async_set_internal`: same state and same attributes → only `last_reported` moves and
   * `state_reported` fires (which `subscribe_events` without event_type never receives: it is in
   * `EVENTS_EXCLUDED_FROM_MATCH_ALL`); otherwise a new State whose `last_changed` is kept only when the state
   * string did not change, and a `state_changed` event whose context is the state's context.
   * Returns the new state, or null when nothing changed.
   */
  set(entityId: string, state: string, attributes?: Record<string, unknown>, context?: HaContext): HaState | null {
    const id = entityId.toLowerCase()
    const old = this.states.get(id)
    const attrs = structuredClone(attributes ?? old?.attributes ?? {})
    const micros = nowMicros()
    const now = isoFromMicros(micros)
    const ctx = context ?? newContext()
    if (old && old.state === state && isDeepStrictEqual(old.attributes, attrs)) {
      const oldLastReported = old.last_reported
      old.last_reported = now
      this.fire('state_reported', { entity_id: id, old_last_reported: oldLastReported, new_state: structuredClone(old) }, ctx, micros)
      return null
    }
    const next: HaState = {
      entity_id: id,
      state,
      attributes: attrs,
      last_changed: old && old.state === state ? old.last_changed : now,
      last_reported: now,
      last_updated: now,
      context: ctx,
    }
    this.states.set(id, next)
    this.fire('state_changed', { entity_id: id, old_state: old ?? null, new_state: structuredClone(next) }, ctx, micros)
    return structuredClone(next)
  }

  /** HA `StateMachine.async_remove`: `state_changed` with `new_state: null`. */
  remove(entityId: string, context: HaContext = newContext()): boolean {
    const id = entityId.toLowerCase()
    const old = this.states.get(id)
    if (!old) return false
    this.states.delete(id)
    this.fire('state_changed', { entity_id: id, old_state: old, new_state: null }, context)
    return true
  }

  /**
   * What a restarted HA looks like: the state machine is rebuilt at start-up, so every entity's
   * `last_changed`/`last_updated`/`last_reported` becomes the boot time with a fresh context, even if
   * its state did not change (HA does not persist them: home-assistant/core#93878 "this is how it has
   * always worked"). No events: nobody is connected yet.
   */
  rebootTimestamps(): void {
    for (const state of this.states.values()) {
      const now = isoFromMicros(nowMicros())
      state.last_changed = now
      state.last_updated = now
      state.last_reported = now
      state.context = newContext()
    }
  }
}
