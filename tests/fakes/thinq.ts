/**
 * A fake of the LG ThinQ Connect open API, Personal Access Token flavour, for tests — the API our
 * gateway calls as `GET devices`, `GET devices/{id}/profile`, `GET devices/{id}/state` and
 * `POST devices/{id}/control`. Spec: /work/shared/specs/external-protocols.md §1a.
 *
 * It listens on 127.0.0.1 only; `url` stands in for `https://api-{region}.lgthinq.com` (build the
 * client with a base-URL override). Every request's headers are checked like the real service
 * (_thinq-protocol.ts), answers use LG's envelope, controls are validated against the device
 * profile and merged into the state (_thinq-control.ts, _thinq-appliances.ts), and tests can switch
 * on the real failure modes: offline devices, injected errors, the hourly quota, latency, a revoked
 * token. The real API does no retries and neither does this fake (spec §1a "Retries in the SDK").
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { controlDevice, type FakeDevice, loadDevices, THINQ_FIXTURES, THINQ_FIXTURES_DIR, type ThinqDeviceListItem } from './_thinq-appliances.js'
import { type Json, mergeDocument } from './_thinq-control.js'
import { errorEnvelope, httpStatusOf, regionOf, successEnvelope, ThinqApiError, type ThinqRegion, validateHeaders } from './_thinq-protocol.js'

export type { ThinqDeviceInfo, ThinqDeviceListItem } from './_thinq-appliances.js'
export { THINQ_ERRORS, ThinqApiError, type ThinqRegion } from './_thinq-protocol.js'

export interface FakeThinqOptions {
  /** The PAT the fake accepts as `Authorization: Bearer <token>`. */
  token?: string
  /**
   * The `x-api-key` the fake expects. The real value is the public application key shipped in both
   * SDKs (spec §1a: load it from config, do not invent it); the fake default is a stand-in.
   */
  apiKey?: string
  /** ISO-3166 country the PAT serves; any other `x-country` gets 1307. Default 'DE'. */
  country?: string
  /** Fixture folders to seed, default all four: air_conditioner, washer, refrigerator, air_purifier. */
  fixtures?: readonly string[]
  fixturesDir?: string
  /** Clock, in ms since the epoch, for timestamps, the request log and the hourly quota. */
  now?: () => number
  /** Per-code HTTP status overrides, e.g. `{ '1306': 429 }` (defaults: `THINQ_ERRORS`). */
  httpStatus?: Readonly<Record<string, number>>
  /** Refuse a control without `x-conditional-control` (1216). Default true: our client must send it, as the SDKs do. */
  requireConditionalControl?: boolean
}

/** What `failNext` answers with. `reset` drops the connection instead (a transport error). */
export interface ThinqFailure {
  status?: number
  code?: string
  message?: string
  reset?: boolean
}

export interface ThinqRequestRecord {
  method: string
  path: string
  headers: IncomingHttpHeaders
  /** ms since the epoch, by the fake's clock */
  time: number
  body?: unknown
  /** HTTP status sent (0 when the connection was reset) */
  status?: number
  /** `error.code` when the answer was an error */
  errorCode?: string
}

export interface FakeThinq {
  /** `http://127.0.0.1:PORT` — the stand-in for `https://api-{region}.lgthinq.com` */
  readonly url: string
  /** The country the PAT serves. */
  readonly expectedCountry: string
  /** The region a client should derive from `expectedCountry` (spec §1a "Base URL and region"). */
  readonly region: ThinqRegion
  /** The base URL a real client would use: `https://api-{region}.lgthinq.com`. */
  readonly realBaseUrl: string
  readonly token: string
  readonly apiKey: string
  /** The `GET devices` list (copies). */
  devices(): ThinqDeviceListItem[]
  /** The id of the first seeded device of a type, e.g. `idOf('DEVICE_WASHER')`. */
  idOf(deviceType: string): string
  /** A copy of a device's current state document. */
  getState(deviceId: string): Json
  /** Deep-merges a partial state, as when the appliance changes by itself. */
  setState(deviceId: string, partial: Json): void
  /** Replaces a device's whole state document (e.g. the per-location array form). */
  replaceState(deviceId: string, state: Json): void
  /** Offline devices answer `state` and `control` with 1222 NOT_CONNECTED_DEVICE. */
  setOffline(deviceId: string, offline: boolean): void
  /** The next `n` requests, whatever they are, fail this way (default code 2000 INTERNAL_SERVER_ERROR). */
  failNext(n: number, failure?: ThinqFailure): void
  /** Per-token requests per sliding hour; beyond it 1306 EXCEEDED_API_CALLS. `null` lifts the limit. */
  setRateLimit(limit: { perHour: number } | null): void
  /** Delay every answer by `ms` (a control is applied before the delay, as on a slow real link). */
  setLatency(ms: number): void
  /** From now on the PAT is refused with 1103 INVALID_TOKEN. */
  revokeToken(): void
  /** Every request received, in order. */
  readonly requests: readonly ThinqRequestRecord[]
  /** Requests received during the last hour by the fake's clock. */
  requestsPerHour(): number
  stop(): Promise<void>
}

const HOUR_MS = 3_600_000
const header = (h: IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name]
  return Array.isArray(v) ? v[0] : v
}

export async function startFakeThinq(options: FakeThinqOptions = {}): Promise<FakeThinq> {
  const now = options.now ?? Date.now
  const token = options.token ?? 'fake-thinq-personal-access-token'
  const apiKey = options.apiKey ?? 'fake-thinq-api-key'
  const country = options.country ?? 'DE'
  const statusOverrides = options.httpStatus ?? {}
  const devices = loadDevices(options.fixturesDir ?? THINQ_FIXTURES_DIR, options.fixtures ?? THINQ_FIXTURES)
  const requests: ThinqRequestRecord[] = []
  const failures: ThinqFailure[] = []
  let counted: number[] = [] // times of requests charged to the hourly quota
  let perHour: number | null = null
  let latencyMs = 0
  let tokenRevoked = false

  const device = (id: string): FakeDevice => {
    const d = devices.find((x) => x.item.deviceId === id)
    if (!d) throw new ThinqApiError('1205') // unknown id → 1205 NOT_REGISTERED_DEVICE, 404 [assumption; 1224 is close]
    return d
  }
  const known = (id: string): FakeDevice => {
    const d = devices.find((x) => x.item.deviceId === id)
    if (!d) throw new Error(`fake ThinQ: no device ${id}`)
    return d
  }

  function chargeQuota(): void {
    const t = now()
    counted = counted.filter((c) => c > t - HOUR_MS)
    // Refused requests are not charged, so the window frees up an hour after the last accepted
    // one [assumption: LG's counting is unpublished, spec §1a "Rate limits"].
    if (perHour !== null && counted.length >= perHour) throw new ThinqApiError('1306')
    counted.push(t)
  }

  function route(method: string, path: string, rawBody: string, conditional: boolean): unknown {
    if (method === 'GET' && path === '/devices') return devices.map((d) => structuredClone(d.item))
    const m = /^\/devices\/([^/]+)\/(profile|state|control)$/.exec(path)
    const id = m?.[1] ? decodeURIComponent(m[1]) : undefined
    if (id !== undefined && method === 'GET' && m?.[2] === 'profile') return structuredClone(device(id).profile)
    if (id !== undefined && method === 'GET' && m?.[2] === 'state') {
      const d = device(id)
      // spec §1a "Retries": HA turns 1222 from the state call into "device not connected".
      if (!d.online) throw new ThinqApiError('1222')
      return structuredClone(d.state)
    }
    if (id !== undefined && method === 'POST' && m?.[2] === 'control') {
      const d = device(id)
      let body: unknown
      try {
        body = JSON.parse(rawBody)
      } catch {
        throw new ThinqApiError('1000', 'Bad request: body is not JSON') // [assumption; 1311 BAD_REQUEST_FORMAT is close]
      }
      controlDevice(d, body, conditional)
      return {} // LG OpenAPI `device-control-res`: an empty object on success
    }
    // Paths/methods the fake does not serve. What LG's gateway answers here is unknown [assumption].
    throw new ThinqApiError('1000', `Bad request: no route ${method} ${path}`, 404)
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const rawBody = Buffer.concat(chunks).toString('utf8')
    const method = req.method ?? 'GET'
    const path = new URL(req.url ?? '/', 'http://fake-thinq').pathname
    const record: ThinqRequestRecord = { method, path, headers: { ...req.headers }, time: now() }
    if (rawBody) record.body = safeJson(rawBody)
    requests.push(record)
    const messageId = header(req.headers, 'x-message-id') ?? ''

    let status = 200
    let envelope: object
    try {
      const failure = failures.shift()
      if (failure?.reset) {
        record.status = 0
        req.socket.destroy()
        return
      }
      if (failure) throw new ThinqApiError(failure.code ?? '2000', failure.message, failure.status)
      const isControl = method === 'POST' && path.endsWith('/control')
      validateHeaders(req.headers, {
        token,
        tokenRevoked,
        apiKey,
        country,
        isControl,
        requireConditionalControl: options.requireConditionalControl ?? true,
      })
      chargeQuota()
      // `x-conditional-control: false` skips the device-state preconditions (see _thinq-appliances.ts).
      const conditional = header(req.headers, 'x-conditional-control') !== 'false'
      envelope = successEnvelope(messageId, now(), route(method, path, rawBody, conditional))
    } catch (err) {
      const e = err instanceof ThinqApiError ? err : new ThinqApiError('0000', String(err))
      status = e.status ?? httpStatusOf(e.code, statusOverrides)
      record.errorCode = e.code
      envelope = errorEnvelope(messageId, now(), e.code, e.message)
    }
    record.status = status
    if (latencyMs > 0) await sleep(latencyMs)
    if (res.destroyed) return
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(envelope))
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy())
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  const region = regionOf(country)

  return {
    url: `http://127.0.0.1:${port}`,
    expectedCountry: country,
    region,
    realBaseUrl: `https://api-${region}.lgthinq.com`,
    token,
    apiKey,
    devices: () => devices.map((d) => structuredClone(d.item)),
    idOf(deviceType) {
      const d = devices.find((x) => x.item.deviceInfo.deviceType === deviceType)
      if (!d) throw new Error(`fake ThinQ: no ${deviceType} seeded`)
      return d.item.deviceId
    },
    getState: (id) => structuredClone(known(id).state),
    setState(id, partial) {
      const d = known(id)
      d.state = mergeDocument(d.state, partial)
    },
    replaceState(id, state) {
      known(id).state = structuredClone(state)
    },
    setOffline(id, offline) {
      known(id).online = !offline
    },
    failNext(n, failure = {}) {
      for (let i = 0; i < n; i++) failures.push({ ...failure })
    },
    setRateLimit(limit) {
      perHour = limit?.perHour ?? null
    },
    setLatency(ms) {
      latencyMs = Math.max(0, ms)
    },
    revokeToken() {
      tokenRevoked = true
    },
    requests,
    requestsPerHour: () => requests.filter((r) => r.time > now() - HOUR_MS).length,
    async stop() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}
