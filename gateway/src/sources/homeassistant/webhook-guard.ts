import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { CarehubError } from '../../core/errors.js'

export interface WebhookClient {
  readonly id: string
  readonly mode: 'hmac' | 'bearer'
  readonly perMinute: number
}

export interface WebhookGuardOptions {
  readonly clients: readonly WebhookClient[]
  readonly maxSkewMs: number
  /** The secrets accepted for a client now: current, and the previous one during a rotation. */
  readonly secrets: (clientId: string) => Promise<readonly string[]>
  readonly now: () => number
}

const SIGNATURE = /^sha256=([0-9a-f]{64})$/
const TIMESTAMP = /^\d{9,11}$/
const MAX_REMEMBERED = 100_000

/** The signature scheme both ways: verified here on ingest, used by the rules' webhook action on the way out. */
export function webhookSignature(secret: string, unixSeconds: string, body: Uint8Array | string): string {
  return `sha256=${createHmac('sha256', secret).update(`${unixSeconds}.`).update(body).digest('hex')}`
}

/** Constant-time comparison of two strings of any length (both are hashed to 32 bytes first). */
const sameSecret = (a: string, b: string) => timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())

/**
 * Who may POST /api/ingest/ha/:client_id, checked before the body is looked at (issue 6):
 * - hmac: `X-Signature: sha256=<hex HMAC-SHA256(secret, "<X-Timestamp>.<raw body>")>`, `X-Timestamp`
 *   in Unix seconds within ±maxSkew of the box clock (both directions), each signature accepted once
 *   while its timestamp is in the window (a replay cache that forgets what the window refuses anyway);
 * - bearer: `Authorization: Bearer <secret>` — for installs that cannot sign; weaker (a captured
 *   request can be replayed), so off unless chosen per client.
 * Then a per-client quota (token bucket). Each refusal has its own code so the sender can tell them
 * apart. Comparisons are constant-time; two secrets are accepted during a rotation.
 */
export class WebhookGuard {
  readonly #o: WebhookGuardOptions
  readonly #seen = new Map<string, number>()
  readonly #buckets = new Map<string, { tokens: number; at: number }>()

  constructor(options: WebhookGuardOptions) {
    this.#o = options
  }

  async verify(clientId: string, headers: Headers, body: Uint8Array): Promise<WebhookClient> {
    const client = this.#o.clients.find((c) => c.id === clientId)
    const declared = headers.get('x-client-id')
    if (!client || (declared !== null && declared !== clientId)) {
      throw new CarehubError(
        'CAREHUB_ERR_WEBHOOK_UNKNOWN_CLIENT',
        `no webhook client "${clientId.slice(0, 64)}" is configured (homeassistant.webhook.clients), or X-Client-Id does not match the URL`,
      )
    }
    const secrets = await this.#o.secrets(client.id)
    if (secrets.length === 0) {
      throw new CarehubError(
        'CAREHUB_ERR_WEBHOOK_SIGNATURE',
        `webhook client "${client.id}" has no secret yet: carehub secret set ha-webhook.${client.id}`,
      )
    }
    if (client.mode === 'bearer') this.#bearer(headers, secrets)
    else this.#hmac(client, headers, body, secrets)
    this.#quota(client)
    return client
  }

  #bearer(headers: Headers, secrets: readonly string[]): void {
    const m = /^Bearer (\S+)$/.exec(headers.get('authorization') ?? '')
    if (!m?.[1] || !secrets.some((s) => sameSecret(s, m[1] as string))) {
      throw new CarehubError('CAREHUB_ERR_WEBHOOK_SIGNATURE', "the bearer token is missing or not this client's secret")
    }
  }

  #hmac(client: WebhookClient, headers: Headers, body: Uint8Array, secrets: readonly string[]): void {
    const ts = headers.get('x-timestamp') ?? ''
    const sig = SIGNATURE.exec(headers.get('x-signature') ?? '')?.[1]
    if (!TIMESTAMP.test(ts)) throw new CarehubError('CAREHUB_ERR_WEBHOOK_TIMESTAMP', 'X-Timestamp must be the current Unix time in seconds')
    if (!sig)
      throw new CarehubError(
        'CAREHUB_ERR_WEBHOOK_SIGNATURE',
        'X-Signature must be "sha256=" and 64 hex digits of HMAC-SHA256(secret, "<X-Timestamp>.<body>")',
      )
    const given = Buffer.from(sig, 'hex')
    const valid = secrets.some((secret) => timingSafeEqual(createHmac('sha256', secret).update(`${ts}.`).update(body).digest(), given))
    if (!valid)
      throw new CarehubError(
        'CAREHUB_ERR_WEBHOOK_SIGNATURE',
        'the signature does not match the body and timestamp (wrong secret, or the body was changed on the way)',
      )
    const now = this.#o.now()
    const skew = Number(ts) * 1000 - now
    if (Math.abs(skew) > this.#o.maxSkewMs) {
      throw new CarehubError(
        'CAREHUB_ERR_WEBHOOK_TIMESTAMP',
        `X-Timestamp is ${Math.round(Math.abs(skew) / 1000)} s ${skew > 0 ? 'ahead of' : 'behind'} the box clock (at most ${this.#o.maxSkewMs / 1000} s): check the sender's clock`,
      )
    }
    const key = `${client.id}:${sig}`
    if (this.#seen.has(key))
      throw new CarehubError('CAREHUB_ERR_WEBHOOK_REPLAY', 'this signed request was already received (a replay); sign each request anew')
    if (this.#seen.size >= MAX_REMEMBERED) this.#forgetExpired(now)
    if (this.#seen.size >= MAX_REMEMBERED)
      throw new CarehubError('CAREHUB_ERR_WEBHOOK_QUOTA', 'too many signed requests in the replay window; slow down')
    this.#seen.set(key, Number(ts) * 1000 + this.#o.maxSkewMs)
  }

  #forgetExpired(now: number): void {
    for (const [key, until] of this.#seen) if (until < now) this.#seen.delete(key)
  }

  #quota(client: WebhookClient): void {
    const now = this.#o.now()
    const burst = Math.max(10, Math.ceil(client.perMinute / 10))
    const b = this.#buckets.get(client.id) ?? { tokens: burst, at: now }
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 60_000) * client.perMinute)
    b.at = now
    this.#buckets.set(client.id, b)
    if (b.tokens < 1) {
      const retry = Math.ceil(((1 - b.tokens) / client.perMinute) * 60)
      throw new CarehubError(
        'CAREHUB_ERR_WEBHOOK_QUOTA',
        `webhook client "${client.id}" is over its ${client.perMinute} requests per minute; retry in ${retry} s`,
        {
          details: { retryAfterSeconds: Math.max(1, retry) },
        },
      )
    }
    b.tokens -= 1
  }
}
