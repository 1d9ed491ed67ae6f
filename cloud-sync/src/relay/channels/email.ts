import { createTransport, type NodemailerError, type SMTPPoolOptions, type SMTPPoolSentMessageInfo, type Transporter } from 'nodemailer'
import { brief, failure } from './answers.js'
import type { Channel, Notification, SendResult } from './channel.js'
import { isLoopbackHost } from './loopback.js'

/**
 * The email channel: one pooled nodemailer SMTP transport to the operator's mail provider.
 *
 * `send` never throws: every outcome is a SendResult (RFC 5321 §4.2.1: 4yz transient, 5yz permanent):
 * - 5yz to RCPT TO → permanent; 550/551/553 (no such mailbox, user not local, mailbox name not
 *   allowed) also disable the address — unless the enhanced status is 5.7.x (policy: relaying
 *   denied, sender not authorised), which is our configuration, not the guardian's address;
 * - 5yz to DATA → permanent (the message itself refused);
 * - 5yz to MAIL FROM → retryable: the sender address is refused for every message, a configuration
 *   fix (`from`) makes the retry work;
 * - sign-in refused (535/534/530, EAUTH/ENOAUTH) → retryable, the reason says it is the configuration;
 * - 4yz, 503, connection refused/reset, DNS, TLS trouble, timeouts → retryable.
 *
 * Each message carries `X-CareHub-Delivery: <deliveryId>` and a Message-ID derived from it, so a
 * message sent twice (an ambiguous failure retried) is recognisable as the same one.
 */

export interface EmailChannelOptions {
  /** `smtp://user:pass@host:587` (STARTTLS) or `smtps://user:pass@host:465` (implicit TLS); user and password URL-encoded. */
  readonly url: string
  /** The From address, `alerts@example.org` or `CareHub <alerts@example.org>`. */
  readonly from: string
  /**
   * smtp:// only: insist on STARTTLS (default true). false is allowed only for a loopback host (a
   * local relay) and then talks plain SMTP, ignoring any STARTTLS offer.
   */
  readonly requireTls?: boolean
  /** Connecting, the greeting and DNS, each; an idle socket gets twice this. Default 15 s. */
  readonly timeoutMs?: number
}

const DEFAULT_TIMEOUT_MS = 15_000
const MAX_TITLE_CHARS = 150
const RECEIPT_MAX = 200
const CERT_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])
/** An addr-spec without display name, comments, lists or line breaks. */
const ADDRESS = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:".]+$/

interface SmtpServer {
  readonly host: string
  readonly port: number
  readonly secure: boolean
  readonly requireTls: boolean
  readonly user: string | undefined
  readonly pass: string | undefined
}

export class EmailChannel implements Channel {
  readonly kind = 'email' as const
  readonly #server: SmtpServer
  readonly #from: string
  readonly #domain: string
  readonly #timeoutMs: number
  readonly #transport: Transporter<SMTPPoolSentMessageInfo>

  /** Throws on a configuration that cannot work (bad URL, plain SMTP to a remote host). */
  constructor(o: EmailChannelOptions) {
    this.#server = parseSmtpUrl(o.url, o.requireTls ?? true)
    this.#from = o.from
    const address = /<([^>]+)>\s*$/.exec(o.from)?.[1] ?? o.from
    this.#domain = address.slice(address.lastIndexOf('@') + 1).trim() || 'carehub.invalid'
    this.#timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS
    const s = this.#server
    const options: SMTPPoolOptions & { pool: true } = {
      pool: true,
      maxConnections: 5,
      maxMessages: 100,
      // One requeue when a pooled connection drops mid-send; further retries are the relay worker's.
      maxRequeues: 1,
      idleTimeout: 30_000,
      host: s.host,
      port: s.port,
      secure: s.secure,
      requireTLS: !s.secure && s.requireTls,
      ignoreTLS: !s.secure && !s.requireTls,
      tls: { minVersion: 'TLSv1.2', rejectUnauthorized: true },
      auth: s.user !== undefined ? { user: s.user, pass: s.pass ?? '' } : undefined,
      connectionTimeout: this.#timeoutMs,
      greetingTimeout: this.#timeoutMs,
      socketTimeout: this.#timeoutMs * 2,
      dnsTimeout: this.#timeoutMs,
      logger: false,
      debug: false,
    }
    this.#transport = createTransport(options)
    // Errors outside any send (an idle pooled connection dropping) come on the emitter; unheard they
    // would crash the process. Each send reports its own failure, so nothing is lost here.
    this.#transport.on('error', () => {})
  }

  async send(target: string, n: Notification): Promise<SendResult> {
    const to = target.trim()
    if (!ADDRESS.test(to)) return failure(true, true, null, `email: "${brief(target, 80)}" is not an email address`)
    const mail = formatEmail(n)
    const quiet = n.kind === 'resolved' || n.kind === 'online'
    try {
      const info = await this.#transport.sendMail({
        from: this.#from,
        to,
        subject: mail.subject,
        text: mail.text,
        messageId: `<carehub-delivery-${n.deliveryId}@${this.#domain}>`,
        priority: n.severity === 'critical' && !quiet ? 'high' : 'normal',
        headers: {
          'X-CareHub-Delivery': String(n.deliveryId),
          'X-CareHub-Kind': n.kind,
          // RFC 3834: machine-sent; out-of-office replies should not answer it.
          'Auto-Submitted': 'auto-generated',
          'X-Auto-Response-Suppress': 'All',
        },
        disableFileAccess: true,
        disableUrlAccess: true,
      })
      if (info.rejected.length > 0 && info.accepted.length === 0) {
        return failure(true, false, null, `email: the ${this.#where()} refused the recipient ${to}`)
      }
      const receipt = typeof info.response === 'string' && info.response.trim() !== '' ? info.response : info.messageId
      return { ok: true, receipt: receipt ? brief(receipt, RECEIPT_MAX) : null }
    } catch (err) {
      return classifySmtpError(err, this.#where(), this.#timeoutMs)
    }
  }

  /** Close the pooled connections (a later send would open new ones). */
  close(): void {
    this.#transport.close()
  }

  #where(): string {
    return `SMTP server ${this.#server.host}:${this.#server.port}`
  }
}

/** Parse and check `smtp://` / `smtps://` URLs; throws an Error naming the problem. */
function parseSmtpUrl(url: string, requireTls: boolean): SmtpServer {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new Error('email channel: url is not a valid URL (expected smtp://user:pass@host:587 or smtps://user:pass@host:465)')
  }
  const secure = u.protocol === 'smtps:'
  if (!secure && u.protocol !== 'smtp:') throw new Error(`email channel: url must be smtp:// or smtps://, not ${u.protocol}//`)
  if (u.hostname === '') throw new Error('email channel: url has no host')
  const host = u.hostname.replace(/^\[|\]$/g, '')
  if (!secure && !requireTls && !isLoopbackHost(u.hostname)) {
    throw new Error(
      `email channel: requireTls: false is allowed only for a loopback host, not ${u.hostname} — mail and passwords would cross the network in clear`,
    )
  }
  const user = u.username === '' ? undefined : decodeURIComponent(u.username)
  const pass = u.password === '' ? undefined : decodeURIComponent(u.password)
  return { host, port: u.port === '' ? (secure ? 465 : 587) : Number(u.port), secure, requireTls: secure || requireTls, user, pass }
}

const SEVERITY_LABEL: Record<Notification['severity'], string> = { critical: 'CRITICAL', warning: 'WARNING', info: 'INFO' }

/** Subject and plain-text body of a notification. */
export function formatEmail(n: Notification): { subject: string; text: string } {
  const title = oneLine(n.title, MAX_TITLE_CHARS)
  const home = oneLine(n.homeName, 100)
  const withHome = title.includes(home) ? title : `${title} — ${home}`
  const at = new Date(n.raisedAt).toISOString()
  let subject: string
  let lead: string
  switch (n.kind) {
    case 'escalated':
      subject = `[CareHub] ${SEVERITY_LABEL[n.severity]}: ${title} — ${home} (no one has answered yet)`
      lead = `No one has answered this ${n.severity} alert yet. Please check on ${home}.`
      break
    case 'resolved':
      subject = `[CareHub] Resolved: ${title} — ${home}`
      lead = `This alert at ${home} is resolved.`
      break
    case 'offline':
      subject = `[CareHub] Offline: ${withHome}`
      lead = `The CareHub box at ${home} has stopped reporting: alerts from it cannot reach you until it is back. Please check its power and internet connection.`
      break
    case 'online':
      subject = `[CareHub] Back online: ${withHome}`
      lead = `The CareHub box at ${home} is reporting again.`
      break
    default:
      subject = `[CareHub] ${SEVERITY_LABEL[n.severity]}: ${title} — ${home}`
      lead = `A ${n.severity} alert was raised at ${home}.`
  }
  const lines = [lead, '', title]
  if (n.body !== null && n.body.trim() !== '') lines.push('', n.body.trim())
  const when = n.kind === 'offline' || n.kind === 'online' ? 'Since' : 'Raised'
  lines.push('', `Home: ${home}`, `${when}: ${at} (UTC)`)
  if (n.kind !== 'resolved' && n.kind !== 'online') lines.push('', 'Open the CareHub app to see and acknowledge it.')
  lines.push('', '-- ', `Sent by CareHub (delivery ${n.deliveryId}). This is an automatic message; replies are not read.`)
  return { subject, text: `${lines.join('\n')}\n` }
}

/** Translate whatever nodemailer threw into a SendResult whose reason says what to do about it. */
export function classifySmtpError(err: unknown, where: string, timeoutMs: number): SendResult {
  const e = (err ?? {}) as NodemailerError
  const code = e.code ?? ''
  const original = e.originalCode ?? ''
  const rc = typeof e.responseCode === 'number' ? e.responseCode : undefined
  const command = e.command ?? ''
  const response = e.response ?? ''
  const reply = response ? ` (server said: ${brief(response, 200)})` : ''
  const retry = (reason: string) => failure(false, false, null, `email: ${reason}`)

  if (rc === 530 && /tls/i.test(response)) {
    return retry(`the ${where} accepts mail only over an encrypted connection${reply} — a configuration problem: use requireTls or smtps://`)
  }
  if (code === 'ENOAUTH' || (code === 'EAUTH' && (rc === undefined || rc >= 500)) || rc === 535 || rc === 534 || rc === 530) {
    return retry(`the ${where} refused the sign-in${reply} — a configuration problem: check the user and password in the email channel's URL`)
  }
  const what = `${original} ${e.message ?? ''}`
  if (CERT_CODES.has(original) || CERT_CODES.has(code) || (rc === undefined && /certificate|self[- ]signed/i.test(what))) {
    return retry(`the TLS certificate of the ${where} is not trusted (${brief(e.message ?? original, 200)}) — a configuration problem`)
  }
  if (code === 'ETLS' || (rc === undefined && /wrong version number|packet length too long|ERR_SSL|STARTTLS|\bTLS\b/i.test(what))) {
    return retry(
      `TLS with the ${where} failed (${brief(e.message ?? original, 200)}) — check the URL: smtp:// on 587 needs STARTTLS, smtps:// is for 465`,
    )
  }
  if (rc !== undefined && rc >= 500 && rc !== 503) {
    if (command.startsWith('RCPT TO')) {
      const enhanced = /^\d{3}[ -](\d\.\d{1,3}\.\d{1,3})\b/.exec(response)?.[1]
      const policy = enhanced?.startsWith('5.7.') ?? false
      const badMailbox = (rc === 550 || rc === 551 || rc === 553) && !policy
      const who = e.rejected?.length ? ` ${e.rejected.join(', ')}` : ''
      return failure(true, badMailbox, null, `email: the ${where} refused the recipient${who}${reply}`)
    }
    if (command.startsWith('DATA')) return failure(true, false, null, `email: the ${where} refused the message${reply}`)
    if (command.startsWith('MAIL FROM')) {
      return retry(`the ${where} refused the sender address${reply} — a configuration problem: check the email channel's from`)
    }
    return retry(`the ${where} answered ${rc} to ${command || 'the session'}${reply}`)
  }
  if (rc !== undefined && rc >= 400) return retry(`the ${where} asked to try again later${reply}`)
  if (code === 'ETIMEDOUT' || original === 'ETIMEDOUT') return retry(`no answer from the ${where} within ${timeoutMs} ms`)
  if (code === 'EDNS' || original === 'ENOTFOUND' || original === 'EAI_AGAIN') return retry(`cannot resolve the host of the ${where}`)
  if (original === 'ECONNREFUSED' || code === 'ECONNREFUSED') return retry(`cannot connect to the ${where}: connection refused`)
  if (code === 'ECONNECTION' || original === 'ECONNRESET' || original === 'EPIPE') {
    return retry(`the ${where} closed the connection unexpectedly${reply}`)
  }
  return retry(`sending to the ${where} failed: ${brief(e.message ?? String(err), 200)}`)
}

/** One line (no header injection through a title), at most `max` characters. */
function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  const chars = Array.from(flat)
  return chars.length <= max
    ? flat
    : `${chars
        .slice(0, max - 1)
        .join('')
        .trimEnd()}…`
}
