import { createPrivateKey, type KeyObject } from 'node:crypto'
import { SignJWT } from 'jose'
import { errorText, failure, parseJson, parseRetryAfter } from './answers.js'
import type { Channel, Notification, SendResult } from './channel.js'

/**
 * The push channel: Firebase Cloud Messaging HTTP v1 (spec: /work/shared/specs/external-protocols.md §3).
 *
 * Auth is the OAuth2 service-account flow (RFC 7523): an RS256 JWT assertion signed with the
 * service account's key is exchanged at `token_uri` for an access token, which is cached and
 * refreshed five minutes before it expires — one refresh in flight at a time, however many sends
 * are waiting. Each send is one `POST /v1/projects/{project_id}/messages:send`.
 *
 * `send` never throws: every outcome is a SendResult. Errors are read from FCM's error shape
 * (`details[@type=…FcmError].errorCode`, falling back to `status`, then to the HTTP status):
 * - UNREGISTERED, or INVALID_ARGUMENT about the token → permanent, disable the token;
 * - INVALID_ARGUMENT about anything else, SENDER_ID_MISMATCH, THIRD_PARTY_AUTH_ERROR, other 4xx → permanent;
 * - QUOTA_EXCEEDED / 429 → retryable, `Retry-After` honoured (1 min when absent: FCM's minimum for quota);
 * - UNAVAILABLE / INTERNAL / 5xx / network errors / timeouts → retryable (`Retry-After` honoured if sent);
 * - 401 (UNAUTHENTICATED) → drop the cached token and try once more with a fresh one, then retryable;
 * - the token endpoint refusing or unreachable → retryable (a configuration fix makes the retry work).
 */

export interface FcmServiceAccount {
  readonly project_id: string
  readonly client_email: string
  /** PEM (PKCS#8 as Google issues it; PKCS#1 also accepted). Literal `\n` sequences are unescaped. */
  readonly private_key: string
  readonly token_uri: string
  /** Sent as the JWT `kid` when present, as Google's own clients do. */
  readonly private_key_id?: string
}

export interface FcmChannelOptions {
  readonly serviceAccount: FcmServiceAccount
  readonly fetch?: typeof fetch
  /** ms since the epoch; drives the JWT `iat`/`exp` and the token cache. */
  readonly now: () => number
  /** Default https://fcm.googleapis.com */
  readonly baseUrl?: string
  /** Per HTTP request (token exchange and send). Default 15 s, as firebase-admin. */
  readonly timeoutMs?: number
}

export const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging'
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
/** FCM's payload limit; we cap the whole request body, which is stricter. */
export const FCM_MAX_MESSAGE_BYTES = 4096
const FCM_ERROR_TYPE = 'type.googleapis.com/google.firebase.fcm.v1.FcmError'
const BAD_REQUEST_TYPE = 'type.googleapis.com/google.rpc.BadRequest'
const REFRESH_EARLY_MS = 5 * 60_000
const ASSERTION_LIFETIME_S = 3600
const QUOTA_DEFAULT_RETRY_MS = 60_000
const ELLIPSIS = '…'

interface CachedToken {
  readonly token: string
  /** Use until here, then refresh. */
  readonly refreshAt: number
  /** Still usable until here if a refresh fails. */
  readonly expiresAt: number
}

/** A failure to obtain an access token; always retryable (a fixed configuration makes the retry work). */
class FcmAuthError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message)
  }
}

interface FcmErrorInfo {
  /** FcmError.errorCode, else error.status, else null */
  readonly code: string | null
  readonly message: string
  /** A google.rpc.BadRequest field violation names `message.token`. */
  readonly aboutToken: boolean
}

export class FcmChannel implements Channel {
  readonly kind = 'push' as const
  readonly #account: FcmServiceAccount
  readonly #fetch: typeof fetch
  readonly #now: () => number
  readonly #sendUrl: string
  readonly #timeoutMs: number
  #key: KeyObject | undefined
  #cached: CachedToken | undefined
  #refreshing: Promise<string> | undefined

  constructor(o: FcmChannelOptions) {
    this.#account = o.serviceAccount
    this.#fetch = o.fetch ?? globalThis.fetch
    this.#now = o.now
    this.#timeoutMs = o.timeoutMs ?? 15_000
    const base = (o.baseUrl ?? 'https://fcm.googleapis.com').replace(/\/+$/, '')
    this.#sendUrl = `${base}/v1/projects/${encodeURIComponent(o.serviceAccount.project_id)}/messages:send`
  }

  async send(target: string, n: Notification): Promise<SendResult> {
    if (target.trim() === '') return failure(true, true, null, 'FCM: empty registration token')
    const body = buildRequestBody(target, n)
    for (let attempt = 1; ; attempt++) {
      let accessToken: string
      try {
        accessToken = await this.#accessToken()
      } catch (e) {
        const retryAfter = e instanceof FcmAuthError ? e.retryAfterMs : null
        return failure(false, false, retryAfter, `FCM auth: ${errorText(e)}`)
      }
      let res: Response
      try {
        res = await this.#fetch(this.#sendUrl, {
          method: 'POST',
          headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json; charset=utf-8' },
          body,
          signal: AbortSignal.timeout(this.#timeoutMs),
        })
      } catch (e) {
        return failure(false, false, null, `FCM send: ${errorText(e)}`)
      }
      const text = await res.text().catch(() => '')
      if (res.ok) {
        // The message was accepted even if its answer is unreadable: never send it twice.
        const name = (parseJson(text) as { name?: unknown } | undefined)?.name
        return { ok: true, receipt: typeof name === 'string' ? name : null }
      }
      const info = parseFcmError(text)
      if (res.status === 401 && info.code !== 'THIRD_PARTY_AUTH_ERROR') {
        this.#dropToken(accessToken)
        if (attempt === 1) continue
        return failure(false, false, null, `FCM 401 ${info.code ?? 'UNAUTHENTICATED'} with a fresh access token: ${info.message}`)
      }
      return classify(res.status, info, parseRetryAfter(res.headers.get('retry-after'), this.#now()))
    }
  }

  /** A cached token, or one refresh shared by every caller waiting for it. */
  async #accessToken(): Promise<string> {
    const cached = this.#cached
    if (cached !== undefined && this.#now() < cached.refreshAt) return cached.token
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined
    })
    return this.#refreshing
  }

  async #refresh(): Promise<string> {
    const previous = this.#cached
    try {
      return await this.#exchange()
    } catch (e) {
      // Refreshing early failed, but the old token has not expired yet: keep using it.
      if (previous !== undefined && this.#cached === previous && this.#now() < previous.expiresAt) return previous.token
      throw e
    }
  }

  async #exchange(): Promise<string> {
    const sa = this.#account
    const started = this.#now()
    const iat = Math.floor(started / 1000)
    const header: { alg: 'RS256'; typ: 'JWT'; kid?: string } = { alg: 'RS256', typ: 'JWT' }
    if (sa.private_key_id) header.kid = sa.private_key_id
    let assertion: string
    try {
      assertion = await new SignJWT({ scope: FCM_SCOPE })
        .setProtectedHeader(header)
        .setIssuer(sa.client_email)
        .setAudience(sa.token_uri)
        .setIssuedAt(iat)
        .setExpirationTime(iat + ASSERTION_LIFETIME_S)
        .sign(this.#privateKey())
    } catch (e) {
      throw e instanceof FcmAuthError ? e : new FcmAuthError(`cannot sign the JWT assertion: ${errorText(e)}`)
    }
    let res: Response
    try {
      res = await this.#fetch(sa.token_uri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion }).toString(),
        signal: AbortSignal.timeout(this.#timeoutMs),
      })
    } catch (e) {
      throw new FcmAuthError(`token endpoint ${sa.token_uri} unreachable: ${errorText(e)}`)
    }
    const text = await res.text().catch(() => '')
    const json = parseJson(text) as { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown } | undefined
    if (!res.ok) {
      const what = [json?.error, json?.error_description].filter((s) => typeof s === 'string').join(': ') || text.slice(0, 200)
      const hint = res.status >= 400 && res.status < 500 ? ` (check the service account's client_email, private_key and token_uri)` : ''
      throw new FcmAuthError(
        `token endpoint refused the assertion: HTTP ${res.status} ${what}${hint}`,
        parseRetryAfter(res.headers.get('retry-after'), this.#now()),
      )
    }
    const token = json?.access_token
    const expiresIn = json?.expires_in
    if (typeof token !== 'string' || token === '' || typeof expiresIn !== 'number' || !(expiresIn > 0)) {
      throw new FcmAuthError(`token endpoint answered without access_token/expires_in: ${text.slice(0, 200)}`)
    }
    const lifetimeMs = expiresIn * 1000
    const expiresAt = started + lifetimeMs
    this.#cached = { token, expiresAt, refreshAt: expiresAt - Math.min(REFRESH_EARLY_MS, lifetimeMs / 2) }
    return token
  }

  #privateKey(): KeyObject {
    if (this.#key === undefined) {
      try {
        this.#key = createPrivateKey(this.#account.private_key.replace(/\\n/g, '\n'))
      } catch (e) {
        throw new FcmAuthError(`the service account's private_key is not a usable PEM private key: ${errorText(e)}`)
      }
    }
    return this.#key
  }

  /** Forget a token the send endpoint refused, unless a newer one has replaced it meanwhile. */
  #dropToken(token: string): void {
    if (this.#cached?.token === token) this.#cached = undefined
  }
}

/** The JSON request body, its notification text cut so the whole body fits FCM_MAX_MESSAGE_BYTES. */
export function buildRequestBody(token: string, n: Notification): string {
  const critical = n.severity === 'critical'
  const make = (title: string, body: string | null): string =>
    JSON.stringify({
      message: {
        token,
        notification: body === null ? { title } : { title, body },
        data: { alertId: String(n.alertId), severity: n.severity, kind: n.kind },
        android: { priority: critical ? 'high' : 'normal' },
        apns: { headers: { 'apns-priority': critical ? '10' : '5' } },
      },
    })
  const fits = (s: string): boolean => Buffer.byteLength(s, 'utf8') <= FCM_MAX_MESSAGE_BYTES
  const whole = make(n.title, n.body)
  if (fits(whole)) return whole
  if (n.body !== null) {
    const body = longestFitting(n.body, (cut) => make(n.title, cut), fits)
    if (body !== undefined) return body
  }
  // The title alone is too big: cut it too, and drop the body.
  return longestFitting(n.title, (cut) => make(cut, null), fits) ?? make('', null)
}

/** make(prefix + '…') for the longest prefix (whole code points) that fits, or undefined if none does. */
function longestFitting(text: string, make: (cut: string) => string, fits: (s: string) => boolean): string | undefined {
  const chars = Array.from(text)
  let lo = 0
  let hi = chars.length - 1
  let best: string | undefined
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const candidate = make(chars.slice(0, mid).join('').trimEnd() + ELLIPSIS)
    if (fits(candidate)) {
      best = candidate
      lo = mid + 1
    } else {
      hi = mid - 1
    }
  }
  return best
}

function classify(status: number, info: FcmErrorInfo, retryAfterMs: number | null): SendResult {
  const reason = `FCM ${status} ${info.code ?? 'error'}: ${info.message}`
  switch (info.code) {
    case 'UNREGISTERED':
      return failure(true, true, null, reason)
    case 'INVALID_ARGUMENT':
      // A malformed or foreign token disables the target; a payload problem is our bug, not the token's.
      return failure(true, info.aboutToken || /registration token/i.test(info.message), null, reason)
    case 'SENDER_ID_MISMATCH':
    case 'THIRD_PARTY_AUTH_ERROR':
      return failure(true, false, null, reason)
    case 'QUOTA_EXCEEDED':
    case 'RESOURCE_EXHAUSTED':
      return failure(false, false, retryAfterMs ?? QUOTA_DEFAULT_RETRY_MS, reason)
    case 'UNAVAILABLE':
    case 'INTERNAL':
      return failure(false, false, retryAfterMs, reason)
  }
  if (status === 429) return failure(false, false, retryAfterMs ?? QUOTA_DEFAULT_RETRY_MS, reason)
  if (status >= 500 || status === 408) return failure(false, false, retryAfterMs, reason)
  return failure(true, false, null, reason)
}

function parseFcmError(text: string): FcmErrorInfo {
  const error = (parseJson(text) as { error?: unknown } | undefined)?.error
  if (typeof error !== 'object' || error === null) return { code: null, message: text.slice(0, 200) || 'no error body', aboutToken: false }
  const e = error as { message?: unknown; status?: unknown; details?: unknown }
  const details = Array.isArray(e.details) ? (e.details as Array<Record<string, unknown>>) : []
  const fcmCode = details.find((d) => d?.['@type'] === FCM_ERROR_TYPE)?.errorCode
  const violations = details.find((d) => d?.['@type'] === BAD_REQUEST_TYPE)?.fieldViolations
  const aboutToken = Array.isArray(violations) && violations.some((v) => (v as { field?: unknown })?.field === 'message.token')
  const code = typeof fcmCode === 'string' ? fcmCode : typeof e.status === 'string' ? e.status : null
  return { code, message: typeof e.message === 'string' ? e.message : '', aboutToken }
}
