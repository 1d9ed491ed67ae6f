/**
 * A fake of Firebase Cloud Messaging HTTP v1 and of Google's OAuth2 token endpoint, for tests.
 * Spec: /work/shared/specs/external-protocols.md §3.
 *
 * It listens on 127.0.0.1 only. `url` stands in for `https://fcm.googleapis.com` (the channel's
 * `baseUrl`), `tokenUri` for `https://oauth2.googleapis.com/token` (the service account's token_uri).
 *
 * - Token endpoint: `POST /token`, form-encoded `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`
 *   and `assertion=<JWT>`. The JWT's RS256 signature is verified with node:crypto against the public
 *   key registered for its `iss` (the service account's client_email), and its claims are checked:
 *   `scope` includes firebase.messaging (or cloud-platform), `aud` is the token URI, `iat` within 5 min
 *   of the fake's clock, `exp` after now and at most 3600 s after `iat`. Refusals use Google's OAuth
 *   error shape (`{"error":"invalid_grant","error_description":…}`).
 * - Send endpoint: `POST /v1/projects/{projectId}/messages:send` with `Authorization: Bearer` —
 *   unknown, expired or revoked access tokens get 401 UNAUTHENTICATED; a token of another project gets
 *   403 PERMISSION_DENIED. The body is checked field by field (unknown fields, exactly one target,
 *   string-only data without reserved keys, Android priority, APNs header values, size ≤ 4096 bytes for
 *   the whole request body — stricter than FCM, which counts the payload) and refused with 400
 *   INVALID_ARGUMENT in FCM's error shape. Accepted messages are recorded and answered with a `name`.
 * - Tests can make a registration token fail (UNREGISTERED, INVALID_ARGUMENT on the token,
 *   QUOTA_EXCEEDED with Retry-After, UNAVAILABLE, INTERNAL, SENDER_ID_MISMATCH,
 *   THIRD_PARTY_AUTH_ERROR, or a dropped connection), and revoke every access token issued so far.
 */
import { createPublicKey, generateKeyPairSync, type KeyObject, randomBytes, verify } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export const FCM_SCOPES = ['https://www.googleapis.com/auth/firebase.messaging', 'https://www.googleapis.com/auth/cloud-platform'] as const
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const FCM_ERROR = 'type.googleapis.com/google.firebase.fcm.v1.FcmError'
const BAD_REQUEST = 'type.googleapis.com/google.rpc.BadRequest'
const MAX_BYTES = 4096

/** A service-account JSON key, as downloaded from the Google Cloud console (the fields we use, and a few more). */
export interface FakeServiceAccount {
  readonly type: 'service_account'
  readonly project_id: string
  readonly private_key_id: string
  readonly private_key: string
  readonly client_email: string
  readonly client_id: string
  readonly token_uri: string
}

export type FcmFailureCode =
  | 'UNREGISTERED'
  | 'INVALID_ARGUMENT'
  | 'SENDER_ID_MISMATCH'
  | 'QUOTA_EXCEEDED'
  | 'UNAVAILABLE'
  | 'INTERNAL'
  | 'THIRD_PARTY_AUTH_ERROR'
  /** Drop the connection without an answer (a transport error). */
  | 'RESET'

export interface FcmFailure {
  readonly code: FcmFailureCode
  /** Sent as the Retry-After header (QUOTA_EXCEEDED / UNAVAILABLE), e.g. '30'. */
  readonly retryAfter?: string
  /** How many sends to this token fail; default every one until clearFailures(). */
  readonly times?: number
}

export interface FakeFcmOptions {
  /** Clock in ms since the epoch, for JWT iat/exp checks and access-token expiry. Default Date.now. */
  readonly now?: () => number
  /** `expires_in` of issued access tokens, default 3599 (as Google). */
  readonly tokenLifetimeSeconds?: number
}

export interface TokenRequestRecord {
  readonly ok: boolean
  /** The refusal's error_description, when refused */
  readonly error?: string
  readonly header?: Record<string, unknown>
  readonly claims?: Record<string, unknown>
}

export interface SentMessage {
  /** The `name` answered */
  readonly name: string
  readonly projectId: string
  readonly accessToken: string
  // biome-ignore lint/suspicious/noExplicitAny: tests check the message field by field
  readonly message: any
  readonly validateOnly: boolean
}

export interface SendAttempt {
  readonly projectId: string
  readonly status: number
  readonly token: string | undefined
}

export interface FakeFcm {
  /** Base URL standing in for https://fcm.googleapis.com */
  readonly url: string
  /** Standing in for https://oauth2.googleapis.com/token */
  readonly tokenUri: string
  /** Every token-endpoint request, accepted or refused. */
  readonly tokenRequests: TokenRequestRecord[]
  /** Every send request, with the status answered (0 for a dropped connection). */
  readonly sendAttempts: SendAttempt[]
  /** Accepted messages only. */
  readonly messages: SentMessage[]
  /** Make the key known to the token endpoint for this client_email / project. */
  registerServiceAccount(clientEmail: string, projectId: string, publicKey: KeyObject): void
  /** Make sends to this registration token fail. */
  failToken(registrationToken: string, failure: FcmFailure): void
  clearFailures(): void
  /** Revoke every access token issued so far: the next send with one gets 401 UNAUTHENTICATED. */
  revokeAccessTokens(): void
  close(): Promise<void>
}

interface IssuedToken {
  readonly clientEmail: string
  readonly projectId: string
  readonly expiresAt: number
  revoked: boolean
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`fake FCM refusal ${status}`)
  }
}

function fcmError(status: number, statusText: string, message: string, errorCode?: string, extra: unknown[] = []): Refusal {
  const details = [...(errorCode === undefined ? [] : [{ '@type': FCM_ERROR, errorCode }]), ...extra]
  return new Refusal(status, { error: { code: status, message, status: statusText, ...(details.length > 0 ? { details } : {}) } })
}

function invalidArgument(message: string, field?: string): Refusal {
  const extra = field === undefined ? [] : [{ '@type': BAD_REQUEST, fieldViolations: [{ field, description: message }] }]
  return fcmError(400, 'INVALID_ARGUMENT', message, 'INVALID_ARGUMENT', extra)
}

function oauthError(error: string, description: string, status = 400): Refusal {
  return new Refusal(status, { error, error_description: description })
}

function failureRefusal(f: FcmFailure): Refusal {
  const headers: Record<string, string> = f.retryAfter === undefined ? {} : { 'retry-after': f.retryAfter }
  const r = (() => {
    switch (f.code) {
      case 'UNREGISTERED':
        return fcmError(404, 'NOT_FOUND', 'Requested entity was not found.', 'UNREGISTERED')
      case 'INVALID_ARGUMENT':
        return invalidArgument('The registration token is not a valid FCM registration token', 'message.token')
      case 'SENDER_ID_MISMATCH':
        return fcmError(403, 'PERMISSION_DENIED', 'SenderId mismatch', 'SENDER_ID_MISMATCH')
      case 'QUOTA_EXCEEDED':
        return fcmError(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded for quota metric "Messages" of service fcm.googleapis.com.', 'QUOTA_EXCEEDED')
      case 'UNAVAILABLE':
        return fcmError(503, 'UNAVAILABLE', 'The service is currently unavailable.', 'UNAVAILABLE')
      case 'INTERNAL':
        return fcmError(500, 'INTERNAL', 'Internal error encountered.', 'INTERNAL')
      case 'THIRD_PARTY_AUTH_ERROR':
        return fcmError(401, 'UNAUTHENTICATED', 'Auth error from APNS or Web Push Service', 'THIRD_PARTY_AUTH_ERROR')
      case 'RESET':
        throw new Error('RESET has no answer')
    }
  })()
  return new Refusal(r.status, r.body, headers)
}

function b64urlJson(part: string | undefined): Record<string, unknown> | undefined {
  if (part === undefined) return undefined
  try {
    const v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], at: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw invalidArgument(`Invalid JSON payload received. Unknown name "${k}" at '${at}': Cannot find field.`, at)
  }
}

function checkStringMap(v: unknown, at: string): Record<string, string> {
  if (!isRecord(v)) throw invalidArgument(`Invalid value at '${at}': expected a map`, at)
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') throw invalidArgument(`Invalid value at '${at}[${k}]' (TYPE_STRING), ${JSON.stringify(val)}`, `${at}[${k}]`)
  }
  return v as Record<string, string>
}

/** The message checks FCM makes that our channel could get wrong. */
function validateMessage(body: unknown): { message: Record<string, unknown>; validateOnly: boolean } {
  if (!isRecord(body)) throw invalidArgument('Invalid JSON payload received.')
  checkKeys(body, ['message', 'validate_only'], '')
  const m = body.message
  if (!isRecord(m)) throw invalidArgument('Request contains an invalid argument.', 'message')
  checkKeys(m, ['name', 'data', 'notification', 'android', 'webpush', 'apns', 'fcm_options', 'token', 'topic', 'condition'], 'message')
  const targets = ['token', 'topic', 'condition'].filter((k) => m[k] !== undefined)
  if (targets.length !== 1) throw invalidArgument('Exactly one of token, topic or condition must be set.', 'message')
  if (m.token !== undefined && (typeof m.token !== 'string' || m.token === '')) {
    throw invalidArgument('The registration token is not a valid FCM registration token', 'message.token')
  }
  if (m.notification !== undefined) {
    if (!isRecord(m.notification)) throw invalidArgument("Invalid value at 'message.notification'", 'message.notification')
    checkKeys(m.notification, ['title', 'body', 'image'], 'message.notification')
    checkStringMap(m.notification, 'message.notification')
  }
  if (m.data !== undefined) {
    const data = checkStringMap(m.data, 'message.data')
    for (const k of Object.keys(data)) {
      if (k === 'from' || k === 'message_type' || k.startsWith('google.') || k.startsWith('gcm.')) {
        throw invalidArgument(`Invalid data payload key: ${k}`, 'message.data')
      }
    }
  }
  if (m.android !== undefined) {
    const a = m.android
    if (!isRecord(a)) throw invalidArgument("Invalid value at 'message.android'", 'message.android')
    checkKeys(
      a,
      ['collapse_key', 'priority', 'ttl', 'restricted_package_name', 'data', 'notification', 'fcm_options', 'direct_boot_ok'],
      'message.android',
    )
    // The enum is NORMAL | HIGH; firebase-admin sends 'normal' | 'high', which FCM accepts too.
    if (a.priority !== undefined && !['NORMAL', 'HIGH', 'normal', 'high'].includes(a.priority as string)) {
      throw invalidArgument(
        `Invalid value at 'message.android.priority' (type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority), ${JSON.stringify(a.priority)}`,
        'message.android.priority',
      )
    }
    if (a.ttl !== undefined && (typeof a.ttl !== 'string' || !/^\d+(\.\d+)?s$/.test(a.ttl)))
      throw invalidArgument('Invalid TTL', 'message.android.ttl')
  }
  if (m.apns !== undefined) {
    const a = m.apns
    if (!isRecord(a)) throw invalidArgument("Invalid value at 'message.apns'", 'message.apns')
    checkKeys(a, ['headers', 'payload', 'fcm_options', 'live_activity_token'], 'message.apns')
    if (a.headers !== undefined) {
      const h = checkStringMap(a.headers, 'message.apns.headers')
      const p = h['apns-priority']
      if (p !== undefined && !['1', '5', '10'].includes(p)) throw invalidArgument('Invalid APNs priority', 'message.apns.headers')
    }
  }
  const validateOnly = body.validate_only === true
  return { message: m, validateOnly }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

export async function startFakeFcm(o: FakeFcmOptions = {}): Promise<FakeFcm> {
  const now = o.now ?? Date.now
  const lifetime = o.tokenLifetimeSeconds ?? 3599
  const keys = new Map<string, { projectId: string; publicKey: KeyObject }>()
  const issued = new Map<string, IssuedToken>()
  const failures = new Map<string, { failure: FcmFailure; left: number }>()
  const tokenRequests: TokenRequestRecord[] = []
  const sendAttempts: SendAttempt[] = []
  const messages: SentMessage[] = []
  let messageSeq = 0
  let tokenUri = ''

  function token(
    raw: Buffer,
    contentType: string | undefined,
  ): { accessToken: string; header: Record<string, unknown>; claims: Record<string, unknown> } {
    if (!contentType?.startsWith('application/x-www-form-urlencoded'))
      throw oauthError('invalid_request', 'Content-Type must be application/x-www-form-urlencoded')
    const form = new URLSearchParams(raw.toString('utf8'))
    const grant = form.get('grant_type')
    if (grant !== JWT_BEARER) throw oauthError('unsupported_grant_type', `Invalid grant_type: ${grant ?? ''}`)
    const assertion = form.get('assertion') ?? ''
    const parts = assertion.split('.')
    const header = b64urlJson(parts[0])
    const claims = b64urlJson(parts[1])
    if (parts.length !== 3 || header === undefined || claims === undefined) throw oauthError('invalid_grant', 'Invalid JWT: malformed assertion')
    if (header.alg !== 'RS256') throw oauthError('invalid_grant', `Invalid JWT: unsupported alg ${String(header.alg)}`)
    const account = typeof claims.iss === 'string' ? keys.get(claims.iss) : undefined
    if (account === undefined) throw oauthError('invalid_grant', 'Invalid grant: account not found')
    const signed = Buffer.from(`${parts[0]}.${parts[1]}`, 'ascii')
    if (!verify('sha256', signed, account.publicKey, Buffer.from(parts[2] ?? '', 'base64url'))) {
      throw oauthError('invalid_grant', 'Invalid JWT Signature.', 400)
    }
    const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ') : []
    if (!scopes.some((s) => (FCM_SCOPES as readonly string[]).includes(s)))
      throw oauthError('invalid_scope', 'Invalid OAuth scope or ID token audience provided.')
    if (claims.aud !== tokenUri) throw oauthError('invalid_grant', `Invalid JWT: Failed audience check. The right audience is ${tokenUri}`)
    const nowS = Math.floor(now() / 1000)
    const { iat, exp } = claims
    if (typeof iat !== 'number' || typeof exp !== 'number' || Math.abs(iat - nowS) > 300 || exp <= nowS || exp <= iat || exp - iat > 3600) {
      throw oauthError(
        'invalid_grant',
        'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
      )
    }
    const accessToken = `ya29.fake-${randomBytes(24).toString('base64url')}`
    issued.set(accessToken, { clientEmail: claims.iss as string, projectId: account.projectId, expiresAt: now() + lifetime * 1000, revoked: false })
    return { accessToken, header, claims }
  }

  function send(
    projectId: string,
    req: IncomingMessage,
    raw: Buffer,
  ): { name: string; message: Record<string, unknown>; validateOnly: boolean; accessToken: string } | 'reset' {
    const auth = req.headers.authorization ?? ''
    const accessToken = auth.startsWith('Bearer ') ? auth.slice('Bearer '.length) : ''
    const t = issued.get(accessToken)
    if (t === undefined || t.revoked || now() >= t.expiresAt) {
      throw fcmError(
        401,
        'UNAUTHENTICATED',
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
      )
    }
    if (t.projectId !== projectId) {
      throw fcmError(
        403,
        'PERMISSION_DENIED',
        `Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/${projectId}' (or it may not exist).`,
      )
    }
    if (!req.headers['content-type']?.startsWith('application/json')) throw invalidArgument('Invalid JSON payload received.')
    if (raw.length > MAX_BYTES) throw invalidArgument(`Message is too big: ${raw.length} bytes (limit ${MAX_BYTES})`)
    let parsed: unknown
    try {
      parsed = JSON.parse(raw.toString('utf8'))
    } catch {
      throw invalidArgument('Invalid JSON payload received.')
    }
    const { message, validateOnly } = validateMessage(parsed)
    const target = typeof message.token === 'string' ? message.token : undefined
    const f = target === undefined ? undefined : failures.get(target)
    if (f !== undefined && target !== undefined) {
      f.left -= 1
      if (f.left <= 0) failures.delete(target)
      if (f.failure.code === 'RESET') return 'reset'
      throw failureRefusal(f.failure)
    }
    messageSeq += 1
    const name = `projects/${projectId}/messages/0:${now()}${String(messageSeq).padStart(6, '0')}%${randomBytes(8).toString('hex')}`
    return { name, message, validateOnly, accessToken }
  }

  function answer(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body)
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text), ...headers })
    res.end(text)
  }

  const server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req)
      const path = new URL(req.url ?? '/', 'http://x').pathname
      const sendMatch = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(path)
      if (req.method === 'POST' && path === '/token') {
        try {
          const t = token(raw, req.headers['content-type'])
          tokenRequests.push({ ok: true, header: t.header, claims: t.claims })
          answer(res, 200, { access_token: t.accessToken, expires_in: lifetime, token_type: 'Bearer' })
        } catch (e) {
          if (!(e instanceof Refusal)) throw e
          tokenRequests.push({ ok: false, error: String((e.body as { error_description?: unknown }).error_description) })
          answer(res, e.status, e.body, e.headers)
        }
        return
      }
      if (req.method === 'POST' && sendMatch !== null) {
        const projectId = decodeURIComponent(sendMatch[1] ?? '')
        let target: string | undefined
        try {
          const body = JSON.parse(raw.toString('utf8')) as { message?: { token?: unknown } }
          target = typeof body.message?.token === 'string' ? body.message.token : undefined
        } catch {}
        try {
          const r = send(projectId, req, raw)
          if (r === 'reset') {
            sendAttempts.push({ projectId, status: 0, token: target })
            req.socket.destroy()
            return
          }
          sendAttempts.push({ projectId, status: 200, token: target })
          messages.push({ name: r.name, projectId, accessToken: r.accessToken, message: r.message, validateOnly: r.validateOnly })
          answer(res, 200, { name: r.name })
        } catch (e) {
          if (!(e instanceof Refusal)) throw e
          sendAttempts.push({ projectId, status: e.status, token: target })
          answer(res, e.status, e.body, e.headers)
        }
        return
      }
      answer(res, 404, { error: { code: 404, message: `Not found: ${req.method} ${path}`, status: 'NOT_FOUND' } })
    })().catch((e: unknown) => {
      if (!res.headersSent) answer(res, 500, { error: { code: 500, message: String(e), status: 'INTERNAL' } })
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  const url = `http://127.0.0.1:${port}`
  tokenUri = `${url}/token`

  return {
    url,
    tokenUri,
    tokenRequests,
    sendAttempts,
    messages,
    registerServiceAccount(clientEmail, projectId, publicKey) {
      keys.set(clientEmail, { projectId, publicKey })
    },
    failToken(registrationToken, failure) {
      failures.set(registrationToken, { failure, left: failure.times ?? Number.POSITIVE_INFINITY })
    },
    clearFailures() {
      failures.clear()
    },
    revokeAccessTokens() {
      for (const t of issued.values()) t.revoked = true
    },
    close() {
      server.closeAllConnections()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** A fresh 2048-bit RSA private key, PKCS#8 PEM (the form Google's key files use). */
export function newPrivateKeyPem(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
}

/**
 * A throw-away service account whose public key the fake knows, `token_uri` pointing at the fake.
 * `private_key` can be swapped for `newPrivateKeyPem()` to model a wrong key.
 */
export function createServiceAccount(fake: FakeFcm, o: { projectId?: string; name?: string } = {}): FakeServiceAccount {
  const projectId = o.projectId ?? 'carehub-test'
  const clientEmail = `${o.name ?? 'carehub-relay'}@${projectId}.iam.gserviceaccount.com`
  const privateKey = newPrivateKeyPem()
  fake.registerServiceAccount(clientEmail, projectId, createPublicKey(privateKey))
  return {
    type: 'service_account',
    project_id: projectId,
    private_key_id: randomBytes(20).toString('hex'),
    private_key: privateKey,
    client_email: clientEmail,
    client_id: String(100_000_000_000_000_000_000n + BigInt(`0x${randomBytes(6).toString('hex')}`)),
    token_uri: fake.tokenUri,
  }
}
