import { CarehubError } from '../../core/errors.js'
import type { HaState } from '../../normalize/home-assistant.js'

/**
 * Home Assistant's REST API (external-protocols §2b): `GET /api/states` for resyncs and polling, and
 * `POST /api/services/<domain>/<service>` to control devices. Library-free: two calls do not need one.
 */
export class HaRest {
  readonly #base: string
  readonly #token: () => Promise<string | undefined>
  readonly #timeoutMs: number

  constructor(base: string, token: () => Promise<string | undefined>, timeoutMs = 10_000) {
    this.#base = base.replace(/\/+$/, '')
    this.#token = token
    this.#timeoutMs = timeoutMs
  }

  async states(): Promise<HaState[]> {
    const body = await this.#call('GET', '/api/states')
    if (!Array.isArray(body)) throw new CarehubError('CAREHUB_ERR_UPSTREAM_UNAVAILABLE', 'Home Assistant: /api/states did not answer a list')
    return body as HaState[]
  }

  /**
   * Call a service (e.g. switch.turn_on with {entity_id}); resolves with the states it changed. HA
   * answers after the call completes or after 10 s, whichever is first.
   */
  async callService(domain: string, service: string, data: Record<string, unknown>): Promise<HaState[]> {
    if (!/^[a-z0-9_]+$/.test(domain) || !/^[a-z0-9_]+$/.test(service)) {
      throw new CarehubError('CAREHUB_ERR_VALIDATION', `"${domain}.${service}" is not a Home Assistant service name`)
    }
    return (await this.#call('POST', `/api/services/${domain}/${service}`, data)) as HaState[]
  }

  async #call(method: string, path: string, body?: unknown): Promise<unknown> {
    const token = await this.#token()
    if (!token) throw new CarehubError('CAREHUB_ERR_UNAUTHENTICATED', 'no Home Assistant token: carehub secret set homeassistant.token')
    let res: Response
    try {
      res = await fetch(`${this.#base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      })
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message
      throw new CarehubError('CAREHUB_ERR_UPSTREAM_UNAVAILABLE', `Home Assistant unreachable at ${this.#base} (${cause})`, { cause: err })
    }
    const text = await res.text()
    if (res.status === 401 || res.status === 403) {
      throw new CarehubError(
        'CAREHUB_ERR_UNAUTHENTICATED',
        `Home Assistant refused the token (HTTP ${res.status}): create a new long-lived token and carehub secret set homeassistant.token`,
      )
    }
    if (res.status === 400 || res.status === 404) {
      throw new CarehubError(
        res.status === 404 ? 'CAREHUB_ERR_NOT_FOUND' : 'CAREHUB_ERR_VALIDATION',
        `Home Assistant ${method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}`,
      )
    }
    if (!res.ok) {
      // The status tells "HA is stopping" (503) from "the call failed inside HA" (500) for the actions layer.
      throw new CarehubError('CAREHUB_ERR_UPSTREAM_UNAVAILABLE', `Home Assistant ${method} ${path}: HTTP ${res.status}`, {
        details: { status: res.status },
      })
    }
    try {
      return JSON.parse(text) as unknown
    } catch {
      throw new CarehubError('CAREHUB_ERR_UPSTREAM_UNAVAILABLE', `Home Assistant ${method} ${path}: the answer is not JSON`)
    }
  }
}
