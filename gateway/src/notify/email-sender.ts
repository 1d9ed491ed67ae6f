import { createHash } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { SMTPPoolOptions, SMTPPoolSentMessageInfo, Transporter } from 'nodemailer'
import type { Logger } from 'pino'
import type { EmailConfig } from '../config/notify-schema.js'
import { SEVERITIES, type Severity } from '../core/severity.js'
import { type AlertMessage, formatAlertEmail } from './alert-email.js'
import { EmailError, type SmtpTarget, toEmailError } from './email-error.js'

export interface EmailSenderOptions {
  readonly config: EmailConfig
  /** The secret smtp.password, read at each send, so `carehub secret set` takes effect without a restart. */
  readonly password: () => string | undefined
  readonly log: Logger
}

/** Whether alerts of `severity` go out by email under `config` (raised, reopened and resolved alike). */
export function emailWanted(config: EmailConfig, severity: Severity): boolean {
  return config.enabled && SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(config.minSeverity)
}

/**
 * Sends alert emails through one pooled nodemailer SMTP transport (two connections at most: alerts
 * are few, and a burst should not open many sessions on a provider's server). Every failure leaves
 * as an EmailError (transient / permanent / auth). Deduplication is the caller's: the delivery table
 * calls send() at least once per alert event; a repeat of the same email carries the same Message-ID
 * (and X-CareHub-Alert), so mail clients and people can recognise it.
 */
export class EmailSender {
  readonly #config: EmailConfig
  readonly #password: () => string | undefined
  readonly #log: Logger
  #transport: Transporter<SMTPPoolSentMessageInfo> | undefined
  /** The password the open transport signed in with; a different one rebuilds it. */
  #transportPassword: string | undefined

  constructor(options: EmailSenderOptions) {
    this.#config = options.config
    this.#password = options.password
    this.#log = options.log
  }

  async send(message: AlertMessage): Promise<void> {
    const { from, to } = this.#addresses()
    const mail = formatAlertEmail(message)
    const domain = from.slice(from.lastIndexOf('@') + 1)
    const gatewayTag = hash(message.gatewayName).slice(0, 8)
    const messageId = `<carehub-alert-${message.id}-${message.event}-${hash(`${message.gatewayName}\n${mail.subject}\n${mail.text}`).slice(0, 16)}@${domain}>`
    // Every email about one alert refers to the same (virtual) thread root, so mail clients group them.
    const threadRoot = `<carehub-alert-${message.id}-${gatewayTag}@${domain}>`
    const transport = await this.#transportNow()
    const started = performance.now()
    let info: SMTPPoolSentMessageInfo
    try {
      info = await transport.sendMail({
        from: { name: message.gatewayName.replace(/\s+/g, ' ').trim() || 'CareHub', address: from },
        to: [...to],
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId,
        references: threadRoot,
        priority: message.severity === 'critical' && message.event !== 'resolved' ? 'high' : 'normal',
        headers: {
          'X-CareHub-Alert': String(message.id),
          'X-CareHub-Event': message.event,
          'X-CareHub-Severity': message.severity,
          // RFC 3834: machine-sent; out-of-office replies should not answer it.
          'Auto-Submitted': 'auto-generated',
          'X-Auto-Response-Suppress': 'All',
        },
        disableFileAccess: true,
        disableUrlAccess: true,
      })
    } catch (err) {
      const error = toEmailError(err, this.#target())
      this.#log.debug({ alertId: message.id, event: message.event, kind: error.kind, responseCode: error.responseCode }, 'alert email failed')
      throw error
    }
    if (info.rejected.length > 0) {
      // Some recipients were refused, the others got it: not a failure of the send (retrying would
      // duplicate it for them), but an installer should fix the address.
      this.#log.warn(
        { alertId: message.id, rejected: info.rejected, accepted: info.accepted.length },
        'the SMTP server refused some alert email recipients — check notify.email.to',
      )
    }
    this.#log.info(
      { alertId: message.id, event: message.event, messageId, accepted: info.accepted.length, ms: Math.round(performance.now() - started) },
      'alert email sent',
    )
  }

  /** Connect, sign in and say goodbye: checks the configuration and the password (for `carehub` and start-up). */
  async verify(): Promise<void> {
    this.#addresses()
    try {
      await (await this.#transportNow()).verify()
    } catch (err) {
      throw toEmailError(err, this.#target())
    }
  }

  /** Close the pooled connections. A later send opens new ones. */
  close(): void {
    this.#transport?.close()
    this.#transport = undefined
    this.#transportPassword = undefined
  }

  #addresses(): { from: string; to: readonly string[] } {
    const { host, from, to } = this.#config
    if (host === undefined || from === undefined || to.length === 0) {
      throw new EmailError('permanent', 'alert email is not configured: notify.email needs host, from and at least one address in to')
    }
    return { from, to }
  }

  #target(): SmtpTarget {
    const c = this.#config
    return { host: c.host ?? '(no host)', port: c.port, security: c.security, timeoutMs: c.timeoutMs }
  }

  async #transportNow(): Promise<Transporter<SMTPPoolSentMessageInfo>> {
    // Loaded on first use: email is off by default, and nodemailer is ~100 modules (~3 MB of heap)
    // a gateway without email never needs. Everything after the await is synchronous, so two sends
    // racing here still share one transport.
    const { createTransport } = await import('nodemailer')
    const c = this.#config
    let password: string | undefined
    if (c.username !== undefined) {
      password = this.#password()
      if (!password) {
        throw new EmailError(
          'auth',
          `notify.email.username is set but the secret smtp.password is not — set it with \`carehub secret set smtp.password\``,
        )
      }
    }
    if (this.#transport && this.#transportPassword === password) return this.#transport
    if (this.#transport) {
      this.#log.info('SMTP password changed: reconnecting with the new one')
      this.#transport.close()
    }
    const options: SMTPPoolOptions & { pool: true } = {
      pool: true,
      maxConnections: 2,
      maxMessages: 50,
      // One requeue when a pooled connection drops mid-send; retrying beyond that is the delivery table's job.
      maxRequeues: 1,
      host: c.host,
      port: c.port,
      secure: c.security === 'tls',
      requireTLS: c.security === 'starttls',
      ignoreTLS: c.security === 'none',
      tls: { rejectUnauthorized: c.tlsRejectUnauthorized, minVersion: 'TLSv1.2' },
      auth: c.username !== undefined && password !== undefined ? { user: c.username, pass: password } : undefined,
      connectionTimeout: c.timeoutMs,
      greetingTimeout: c.timeoutMs,
      socketTimeout: Math.max(c.timeoutMs * 3, 30_000),
      // Alerts come rarely and in small bursts: a connection idle this long is closed (before the socket timeout).
      idleTimeout: 20_000,
      dnsTimeout: c.timeoutMs,
      logger: false,
      debug: false,
    }
    const transport = createTransport(options)
    // A pooled transport reports errors outside any send on the emitter; unheard, they would crash the process.
    transport.on('error', (err: Error) => this.#log.warn({ err: toEmailError(err, this.#target()).message }, 'SMTP connection error'))
    this.#transport = transport
    this.#transportPassword = password
    return transport
  }
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}
