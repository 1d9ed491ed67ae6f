// REST API of the fake Home Assistant (see ./home-assistant.ts).
// Spec §2b. Behaviour from HA `components/api/__init__.py` (views), `helpers/http.py` `request_handler_factory`
// (auth check → aiohttp `HTTPUnauthorized`; `vol.Invalid` → 400) and aiohttp's plain-text error bodies.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ServiceCallRecord } from './_home-assistant-messages.js'
import { InvalidServiceDataError, ServiceNotFoundError, type ServiceRegistry, ServiceValidationError } from './_home-assistant-services.js'
import { type HaState, isValidEntityId, newContext, type StateMachine } from './_home-assistant-states.js'

export type RestFailureMode = 'unauthorized' | 'server-error' | 'unavailable' | 'slow'

export interface RestFailure {
  rest: RestFailureMode
  /** For 'slow': how long every REST response is held back (default 2000 ms). */
  delayMs?: number
}

export interface RestHost {
  haVersion: string
  userId: string
  serviceLatencyMs: number
  store: StateMachine
  services: ServiceRegistry
  tokenValid(token: string): boolean
  failure(): RestFailure | null
  baseUrl(): string
  serviceCalls: ServiceCallRecord[]
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}

/** aiohttp `HTTPException` bodies are plain text "<code>: <reason>", NOT JSON (e.g. "401: Unauthorized"). */
function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers })
  res.end(text)
}

/** aiohttp's answer to an unhandled exception in a handler. */
function internalError(res: ServerResponse): void {
  plain(res, 500, '500 Internal Server Error\n\nServer got itself in trouble')
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

type Route = { methods: string[]; handle: (req: IncomingMessage, res: ServerResponse, url: URL, params: string[]) => Promise<void> | void }

export function createRestHandler(host: RestHost): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { store } = host
  const routes: [RegExp, Route][] = [
    [/^\/api\/$/, { methods: ['GET'], handle: (_req, res) => json(res, 200, { message: 'API running.' }) }],
    [
      /^\/api\/config$/,
      {
        methods: ['GET'],
        handle: (_req, res) => json(res, 200, { location_name: 'Home', time_zone: 'Europe/London', version: host.haVersion, state: 'RUNNING' }),
      },
    ],
    [/^\/api\/states$/, { methods: ['GET'], handle: (_req, res) => json(res, 200, store.all()) }],
    [
      /^\/api\/states\/([^/]+)$/,
      { methods: ['GET', 'POST', 'DELETE'], handle: (req, res, _url, [id = '']) => entityState(req, res, decodeURIComponent(id)) },
    ],
    [
      /^\/api\/services\/([^/]+)\/([^/]+)$/,
      { methods: ['POST'], handle: (req, res, url, [domain = '', service = '']) => callService(req, res, url, domain, service) },
    ],
  ]

  /** APIEntityStateView: GET → object or 404 `{"message":"Entity not found."}`; POST sets the representation only. */
  async function entityState(req: IncomingMessage, res: ServerResponse, entityId: string): Promise<void> {
    if (req.method === 'GET') {
      const state = store.get(entityId)
      return state ? json(res, 200, state) : json(res, 404, { message: 'Entity not found.' })
    }
    if (req.method === 'DELETE') {
      return store.remove(entityId) ? json(res, 200, { message: 'Entity removed.' }) : json(res, 404, { message: 'Entity not found.' })
    }
    const body = await readBody(req)
    let data: unknown
    try {
      data = body ? JSON.parse(body) : null
    } catch {
      return internalError(res) // json_loads is not guarded in this view: a ValueError escapes as a 500.
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data)) return json(res, 400, { message: 'State data should be a JSON object' })
    const { state, attributes } = data as { state?: unknown; attributes?: Record<string, unknown> }
    if (state === undefined || state === null) return json(res, 400, { message: 'No state attribute specified.' })
    if (!isValidEntityId(entityId.toLowerCase())) return json(res, 400, { message: 'Invalid entity ID specified.' })
    const isNew = store.get(entityId) === undefined
    // async_set(attributes or {}): posting without attributes clears them.
    store.set(entityId, String(state), attributes ?? {}, newContext(host.userId))
    json(res, isNew ? 201 : 200, store.get(entityId), { Location: `/api/states/${entityId.toLowerCase()}` })
  }

  /** APIDomainServicesView: body = service data; returns states changed *with this call's context*. */
  async function callService(req: IncomingMessage, res: ServerResponse, url: URL, domain: string, service: string): Promise<void> {
    const body = await readBody(req)
    let data: unknown
    try {
      data = body ? JSON.parse(body) : null
    } catch {
      return json(res, 400, { message: 'Data should be valid JSON.' })
    }
    const serviceData = (data ?? {}) as Record<string, unknown>
    const responseRequested = url.searchParams.has('return_response')
    host.serviceCalls.push({ via: 'rest', domain, service, serviceData, target: undefined, returnResponse: responseRequested, at: Date.now() })
    if (!host.services.has(domain, service)) return plain(res, 400, '400: Bad Request')
    const supports = host.services.supportsResponse(domain, service)
    if (responseRequested && supports === 'none') {
      return json(res, 400, { message: 'Service does not support responses. Remove return_response from request.' })
    }
    if (!responseRequested && supports === 'only') {
      return json(res, 400, {
        message: 'Service call requires responses but caller did not ask for responses. Add ?return_response to query parameters.',
      })
    }
    if (typeof data !== 'object' || Array.isArray(data)) return plain(res, 400, '400: Bad Request')
    if (host.serviceLatencyMs > 0) await sleep(host.serviceLatencyMs)
    const context = newContext(host.userId)
    const changed: HaState[] = []
    const unlisten = store.listen((event) => {
      const next = event.data.new_state as HaState | null
      if (event.event_type === 'state_changed' && event.context.id === context.id && next) changed.push(next)
    })
    try {
      const response = host.services.call(domain, service, serviceData, undefined, context, responseRequested)
      json(res, 200, responseRequested ? { changed_states: changed, service_response: response } : changed)
    } catch (err) {
      if (err instanceof ServiceNotFoundError || err instanceof InvalidServiceDataError) plain(res, 400, '400: Bad Request')
      else if (err instanceof ServiceValidationError)
        internalError(res) // HomeAssistantError is not caught by the view.
      else internalError(res)
    } finally {
      unlisten()
    }
  }

  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    // aiohttp routes first: an unknown path is 404 and a wrong method 405 even without a token.
    const match = routes.map(([re, route]) => ({ m: re.exec(url.pathname), route })).find((x) => x.m)
    if (!match?.m) return plain(res, 404, '404: Not Found')
    if (!match.route.methods.includes(req.method ?? '')) return plain(res, 405, '405: Method Not Allowed', { Allow: match.route.methods.join(',') })
    const failure = host.failure()
    if (failure?.rest === 'slow') await sleep(failure.delayMs ?? 2000)
    if (failure?.rest === 'server-error') return internalError(res)
    // helpers/http.py: `if hass.is_stopping: return web.Response(status=503)` — empty body.
    if (failure?.rest === 'unavailable') return void res.writeHead(503).end()
    // `Authorization: Bearer <token>` (case-sensitive scheme, http/auth.py). Failure → aiohttp HTTPUnauthorized;
    // HA ≥2025 adds an RFC 9728 WWW-Authenticate header pointing at the protected-resource metadata.
    const auth = req.headers.authorization ?? ''
    const token = auth.startsWith('Bearer ') ? auth.slice('Bearer '.length) : null
    if (failure?.rest === 'unauthorized' || token === null || !host.tokenValid(token)) {
      return plain(res, 401, '401: Unauthorized', {
        'WWW-Authenticate': `Bearer resource_metadata="${host.baseUrl()}/.well-known/oauth-protected-resource"`,
      })
    }
    await match.route.handle(req, res, url, match.m.slice(1))
  }
}
