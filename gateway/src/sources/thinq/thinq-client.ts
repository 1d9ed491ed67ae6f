import { messageId, ThinqError } from './thinq-protocol.js'

export interface ThinqDevice {
  readonly deviceId: string
  readonly deviceInfo: { readonly deviceType: string; readonly modelName?: string; readonly alias?: string; readonly reportable?: boolean }
}

export type Json = Record<string, unknown>

/**
 * What the rest of CareHub needs from LG's cloud. The ThinQ Connect PAT API implements it today; the
 * unofficial v2 API (the seed's risk list) could implement it later without touching the poller,
 * the mapping or control.
 */
export interface ThinqApi {
  devices(): Promise<ThinqDevice[]>
  state(deviceId: string): Promise<Json>
  control(deviceId: string, partialState: Json): Promise<unknown>
}

export interface ThinqConnectOptions {
  readonly baseUrl: string
  readonly country: string
  readonly clientId: string
  readonly apiKey: string
  readonly token: () => Promise<string | undefined>
  readonly timeoutMs: number
  /** Called for every request sent (the poller's hourly budget counts them). */
  readonly onRequest?: () => void
}

/**
 * ThinQ Connect open API with a Personal Access Token (external-protocols §1a): the required headers
 * on every request, LG's envelope (`response` or `error{code,message}`) unwrapped, failures as
 * ThinqError with the meaning of the code. One request per call, no retries here (neither SDK
 * retries): the poller owns backoff.
 */
export class ThinqConnectApi implements ThinqApi {
  readonly #o: ThinqConnectOptions

  constructor(options: ThinqConnectOptions) {
    this.#o = options
  }

  async devices(): Promise<ThinqDevice[]> {
    const r = await this.#call('GET', 'devices')
    if (!Array.isArray(r)) throw new ThinqError('0000', 200, 'the device list is not a list')
    return r as ThinqDevice[]
  }

  async state(deviceId: string): Promise<Json> {
    const r = await this.#call('GET', `devices/${encodeURIComponent(deviceId)}/state`)
    if (r === null || typeof r !== 'object') throw new ThinqError('0000', 200, 'the state is not an object')
    return r as Json
  }

  control(deviceId: string, partialState: Json): Promise<unknown> {
    return this.#call('POST', `devices/${encodeURIComponent(deviceId)}/control`, partialState)
  }

  async #call(method: 'GET' | 'POST', path: string, body?: Json): Promise<unknown> {
    const token = await this.#o.token()
    if (!token) throw new ThinqError('1302', 401, 'no personal access token: carehub secret set thinq.pat')
    const headers: Record<string, string> = {
      authorization: `Bearer ${token}`,
      'x-country': this.#o.country,
      'x-message-id': messageId(),
      'x-client-id': this.#o.clientId,
      'x-api-key': this.#o.apiKey,
      'x-service-phase': 'OP',
      'content-type': 'application/json',
    }
    if (path.endsWith('/control')) headers['x-conditional-control'] = 'true'
    this.#o.onRequest?.()
    let res: Response
    try {
      res = await fetch(`${this.#o.baseUrl.replace(/\/+$/, '')}/${path}`, {
        method,
        headers,
        ...(body ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.#o.timeoutMs),
      })
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name
      throw new ThinqError('0000', 0, `LG ThinQ unreachable (${cause})`)
    }
    const text = await res.text()
    let envelope: { response?: unknown; error?: { code?: unknown; message?: unknown } }
    try {
      envelope = JSON.parse(text) as typeof envelope
    } catch {
      throw new ThinqError('0000', res.status, `HTTP ${res.status} without LG's JSON envelope`)
    }
    if (envelope.error) throw new ThinqError(String(envelope.error.code ?? '0000'), res.status, String(envelope.error.message ?? 'error'))
    if (!res.ok) throw new ThinqError('0000', res.status, `HTTP ${res.status}`)
    return envelope.response
  }
}
