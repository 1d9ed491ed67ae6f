import { getRouterParam, type H3, HTTPError } from 'h3'
import { CarehubError } from '../../core/errors.js'
import type { HaState } from '../../normalize/home-assistant.js'
import type { HaIngest } from '../../sources/homeassistant/ha-ingest.js'
import type { WebhookGuard } from '../../sources/homeassistant/webhook-guard.js'

export interface IngestHaDeps {
  readonly guard: () => WebhookGuard
  readonly ingest: () => HaIngest
  readonly maxStates: number
}

/**
 * The body may be one state object, an array of them, `{"states":[…]}`, or a `state_changed` event
 * (its `data.new_state`, or `{entity_id, new_state}`) — whatever a Home Assistant template or
 * Node-RED flow finds easiest to send (external-protocols §2c: expect sloppy JSON).
 */
export function statesOf(body: unknown): HaState[] {
  const one = (x: unknown): HaState[] => {
    if (x === null || typeof x !== 'object') return []
    const o = x as Record<string, unknown>
    if (o.event && typeof o.event === 'object') return one((o.event as Record<string, unknown>).data)
    if (o.new_state !== undefined) return o.new_state === null ? [] : one(o.new_state)
    if (Array.isArray(o.states)) return o.states.flatMap(one)
    if (typeof o.entity_id === 'string' && 'state' in o) return [o as unknown as HaState]
    return []
  }
  return Array.isArray(body) ? body.flatMap(one) : one(body)
}

/** POST /api/ingest/ha/:client_id — authenticated by its signature, not by a user token (issue 6). */
export function ingestHaRoutes(app: H3, deps: IngestHaDeps): void {
  app.post('/api/ingest/ha/:client_id', async (event) => {
    const clientId = getRouterParam(event, 'client_id', { decode: true }) ?? ''
    // The raw bytes are what was signed: read them once, verify, then parse (h3 reads a body once).
    const raw = new Uint8Array(await event.req.arrayBuffer())
    const client = await deps.guard().verify(clientId, event.req.headers, raw)
    let body: unknown
    try {
      body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw).replace(/^\uFEFF/, ''))
    } catch (err) {
      throw new CarehubError('CAREHUB_ERR_VALIDATION', `the body is not UTF-8 JSON (${(err as Error).message})`)
    }
    const states = statesOf(body)
    if (states.length === 0) {
      throw new HTTPError({
        status: 400,
        message:
          'no Home Assistant state in the body: send {"entity_id": "sensor.x", "state": "21.5", "last_updated": "…"} (or an array, or {"states": […]})',
      })
    }
    if (states.length > deps.maxStates)
      throw new CarehubError('CAREHUB_ERR_VALIDATION', `${states.length} states in one request; at most ${deps.maxStates}`)
    return deps.ingest().ingest(states, 'webhook', `webhook:${client.id}`)
  })
}
