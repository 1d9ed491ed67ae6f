import { brief, errorText, failure, parseJson, parseRetryAfter } from './answers.js'
import type { Channel, Notification, SendResult } from './channel.js'
import { isLoopbackHost } from './loopback.js'

/**
 * The SMS channel: a generic HTTP SMS provider adapter. Each send is one
 * `POST <url>` with `Authorization: Bearer <token>`, `Idempotency-Key: carehub-delivery-<id>` and
 * the JSON body `{"to": "<number>", "text": "<at most 160 characters>"}`.
 *
 * `send` never throws: every outcome is a SendResult.
 * - 2xx → sent; the receipt is the JSON answer's `id` or `messageId`, if any;
 * - 400 / 404 / 422 → permanent; 422, or an answer saying the number is invalid, disables the number;
 * - 401 / 403 → retryable: the provider refused the token, a configuration fix makes the retry work;
 * - 429 → retryable after `Retry-After` (1 min when absent);
 * - 408, 5xx, 3xx (the URL moved: configuration), network errors, timeouts → retryable
 *   (`Retry-After` honoured when sent);
 * - any other 4xx → permanent.
 */

export interface SmsChannelOptions {
  /** The provider's send endpoint; https:// (http:// only for a loopback host). */
  readonly url: string
  /** The provider's API token, sent as a bearer token. */
  readonly token: string
  /** Per request. Default 15 s. */
  readonly timeoutMs?: number
  readonly fetch?: typeof fetch
  /** ms since the epoch, for an HTTP-date Retry-After. Default Date.now. */
  readonly now?: () => number
}

export const SMS_MAX_CHARS = 160
const QUOTA_DEFAULT_RETRY_MS = 60_000
const RECEIPT_MAX = 200
const ELLIPSIS = '…'
/** A phone number as people and providers write it: digits with an optional +, spaces, dashes, dots, parentheses. */
const PHONE = /^\+?[0-9][0-9 ().-]{2,30}$/
const INVALID_NUMBER =
  /\b(invalid|not (?:a )?valid|unknown|malformed|unreachable|unallocated)\b.{0,40}\b(number|recipient|phone|destination|msisdn)\b|\b(number|recipient|phone|destination|msisdn)\b.{0,40}\b(invalid|not (?:a )?valid|malformed|unknown)\b/i

export class SmsChannel implements Channel {
  readonly kind = 'sms' as const
  readonly #url: string
  readonly #token: string
  readonly #timeoutMs: number
  readonly #fetch: typeof fetch
  readonly #now: () => number

  /** Throws on a URL that cannot be used (not a URL, plain http to a remote host, no token). */
  constructor(o: SmsChannelOptions) {
    let u: URL
    try {
      u = new URL(o.url)
    } catch {
      throw new Error('SMS channel: url is not a valid URL')
    }
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopbackHost(u.hostname))) {
      throw new Error(`SMS channel: url must be https:// (http:// only for a loopback host), not ${u.protocol}//${u.host}`)
    }
    if (o.token.trim() === '') throw new Error('SMS channel: token is empty')
    this.#url = u.toString()
    this.#token = o.token
    this.#timeoutMs = o.timeoutMs ?? 15_000
    this.#fetch = o.fetch ?? globalThis.fetch
    this.#now = o.now ?? Date.now
  }

  async send(target: string, n: Notification): Promise<SendResult> {
    const to = target.trim()
    if (!PHONE.test(to)) return failure(true, true, null, `SMS: "${brief(target, 40)}" is not a phone number`)
    let res: Response
    try {
      res = await this.#fetch(this.#url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.#token}`,
          'content-type': 'application/json; charset=utf-8',
          accept: 'application/json',
          'idempotency-key': `carehub-delivery-${n.deliveryId}`,
        },
        body: JSON.stringify({ to, text: formatSms(n) }),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
      })
    } catch (e) {
      return failure(false, false, null, `SMS provider unreachable: ${errorText(e)}`)
    }
    const text = await res.text().catch(() => '')
    if (res.ok) {
      // Accepted even if the answer is unreadable: never send it twice.
      const json = parseJson(text) as { id?: unknown; messageId?: unknown } | undefined
      const id = [json?.id, json?.messageId].find((v) => typeof v === 'string' || typeof v === 'number')
      return { ok: true, receipt: id === undefined || id === '' ? null : String(id).slice(0, RECEIPT_MAX) }
    }
    const status = res.status
    const retryAfter = parseRetryAfter(res.headers.get('retry-after'), this.#now())
    const reason = `SMS provider answered HTTP ${status}${detail(text)}`
    if (status === 401 || status === 403) {
      return failure(false, false, retryAfter, `${reason} — it refused the API token: check the SMS channel's token`)
    }
    if (status === 429) return failure(false, false, retryAfter ?? QUOTA_DEFAULT_RETRY_MS, reason)
    if (status >= 500 || status === 408) return failure(false, false, retryAfter, reason)
    if (status >= 300 && status < 400) {
      return failure(false, false, null, `${reason} to ${res.headers.get('location') ?? '(no location)'} — check the SMS channel's url`)
    }
    if (status === 422 || INVALID_NUMBER.test(text)) return failure(true, true, null, `${reason} — the number ${to} was refused`)
    return failure(true, false, null, reason)
  }
}

const SEVERITY_LABEL: Record<Notification['severity'], string> = { critical: 'CRITICAL', warning: 'WARNING', info: 'INFO' }

/** The SMS text, at most SMS_MAX_CHARS characters: the title is cut (…) before the home name is. */
export function formatSms(n: Notification): string {
  const title = flat(n.title)
  const home = flat(n.homeName)
  const label = SEVERITY_LABEL[n.severity]
  let head: string
  let tail = ` (${home})`
  switch (n.kind) {
    case 'escalated':
      head = `CareHub ${label}, no one has answered yet: `
      break
    case 'resolved':
      head = 'CareHub resolved: '
      break
    case 'offline':
    case 'online':
      head = 'CareHub: '
      if (title.includes(home)) tail = ''
      break
    default:
      head = `CareHub ${label}: `
  }
  const whole = `${head}${title}${tail}`
  if (length(whole) <= SMS_MAX_CHARS) return whole
  const room = SMS_MAX_CHARS - length(head) - length(tail) - 1
  if (room >= 20) return `${head}${cut(title, room)}${ELLIPSIS}${tail}`
  return `${cut(whole, SMS_MAX_CHARS - 1)}${ELLIPSIS}`
}

function length(s: string): number {
  return Array.from(s).length
}

function cut(s: string, chars: number): string {
  return Array.from(s).slice(0, chars).join('').trimEnd()
}

function flat(s: string): string {
  return s.replace(/\s+/g, ' ').trim()
}

/** The provider's error message, briefly: JSON `message`/`error`/`detail`, else the text. */
function detail(text: string): string {
  const json = parseJson(text) as { message?: unknown; error?: unknown; detail?: unknown } | undefined
  const m = [json?.message, json?.error, json?.detail].find((v) => typeof v === 'string')
  const out = typeof m === 'string' ? m : json === undefined ? text : ''
  return out.trim() === '' ? '' : `: ${brief(out, 200)}`
}
