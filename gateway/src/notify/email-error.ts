import type { NodemailerError } from 'nodemailer'

/**
 * What went wrong sending an alert email, for the delivery loop to decide (RFC 5321 §4.2.1: 4yz is
 * transient, 5yz permanent):
 * - permanent: the server refused this message for good — a 5yz reply to MAIL FROM, RCPT TO or DATA
 *   (unknown recipient, sender not allowed, message refused). Sending the same again gets the same.
 * - auth: the server refused the sign-in (535, 534, 530) or the password is missing — an installer
 *   must act (`carehub secret set smtp.password`); keep the alert and retry slowly.
 * - transient: everything else — connection refused or reset, timeouts, DNS, TLS trouble, 4yz
 *   replies: retry with backoff. TLS certificate trouble also needs a person, and says so.
 */
export type EmailErrorKind = 'transient' | 'permanent' | 'auth'

export class EmailError extends Error {
  readonly kind: EmailErrorKind
  /** The SMTP reply code, when the server answered (550, 535, 421, …). */
  readonly responseCode: number | undefined

  constructor(kind: EmailErrorKind, message: string, options: { responseCode?: number | undefined; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'EmailError'
    this.kind = kind
    this.responseCode = options.responseCode
  }
}

export interface SmtpTarget {
  readonly host: string
  readonly port: number
  readonly security: 'starttls' | 'tls' | 'none'
  readonly timeoutMs: number
}

const MESSAGE_COMMANDS = /^(MAIL FROM|RCPT TO|DATA)\b/
const CERT_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])

/** Translate whatever nodemailer threw into an EmailError saying what to do about it. */
export function toEmailError(err: unknown, target: SmtpTarget): EmailError {
  if (err instanceof EmailError) return err
  const e = (err ?? {}) as NodemailerError
  const code = e.code ?? ''
  const original = e.originalCode ?? ''
  const rc = typeof e.responseCode === 'number' ? e.responseCode : undefined
  const command = e.command ?? ''
  const reply = e.response ? ` (server said: ${brief(e.response)})` : ''
  const server = `SMTP server ${target.host}:${target.port}`
  const make = (kind: EmailErrorKind, message: string) => new EmailError(kind, message, { responseCode: rc, cause: err })

  if (rc === 530 && /tls/i.test(e.response ?? '')) {
    return make(
      'transient',
      `the ${server} accepts mail only over an encrypted connection${reply} — set notify.email.security: starttls (or tls for port 465)`,
    )
  }
  // Sign-in: EAUTH/ENOAUTH from nodemailer (a 4yz reply to AUTH is a server hiccup, not a refusal), or 530/534/535.
  if (code === 'ENOAUTH' || (code === 'EAUTH' && (rc === undefined || rc >= 500)) || rc === 535 || rc === 534 || rc === 530) {
    if (rc === 530 || (rc === undefined && /credentials/i.test(e.message ?? ''))) {
      return make(
        'auth',
        `the ${server} requires signing in${reply} — set notify.email.username and the password with \`carehub secret set smtp.password\``,
      )
    }
    return make(
      'auth',
      `the ${server} refused the sign-in${reply} — check notify.email.username and set the password again with \`carehub secret set smtp.password\``,
    )
  }

  const what = `${original} ${e.message ?? ''}`
  if (CERT_CODES.has(original) || CERT_CODES.has(code) || (rc === undefined && /certificate|self[- ]signed/i.test(what))) {
    return make(
      'transient',
      `the TLS certificate of the ${server} is not trusted (${brief(e.message ?? original)}) — give the server a certificate from a public CA, or, for a relay on your own network, set notify.email.tlsRejectUnauthorized: false`,
    )
  }
  if (code === 'ETLS' || (rc === undefined && /wrong version number|packet length too long|ERR_SSL|\bTLS\b/i.test(what))) {
    const hint =
      target.security === 'tls'
        ? 'this port may expect STARTTLS: use security: starttls (usually port 587)'
        : target.security === 'starttls'
          ? 'the server may not offer STARTTLS on this port: use security: tls for port 465'
          : 'check notify.email.security and port'
    // OpenSSL's own text is a line of internals; its code says it plainly (ERR_SSL_WRONG_VERSION_NUMBER).
    const why = reply || ` (${original.startsWith('ERR_SSL_') ? original.slice(8).toLowerCase().replace(/_/g, ' ') : brief(e.message ?? '')})`
    return make('transient', `TLS with the ${server} failed${why} — ${hint}`)
  }

  if (rc !== undefined && rc >= 500 && rc !== 503 && MESSAGE_COMMANDS.test(command)) {
    if (command.startsWith('MAIL FROM')) {
      return make(
        'permanent',
        `the ${server} refused the sender address${reply} — check notify.email.from (many servers accept only the signed-in user's address)`,
      )
    }
    if (command.startsWith('RCPT TO')) {
      const who = e.rejected?.length ? ` ${e.rejected.join(', ')}` : ''
      return make('permanent', `the ${server} refused the recipient${who}${reply} — check the addresses in notify.email.to`)
    }
    return make('permanent', `the ${server} refused the message${reply}`)
  }
  if (rc !== undefined && rc >= 400) {
    return make('transient', `the ${server} asked to try again later${reply}`)
  }

  if (code === 'ETIMEDOUT') {
    const hint =
      e.timeoutType === 'GREETING_TIMEOUT' && target.security === 'starttls'
        ? ' — a server on port 465 expects security: tls'
        : ' — is the host and port right, and does a firewall let the box out on that port?'
    return make('transient', `no answer from the ${server} within ${target.timeoutMs} ms${hint}`)
  }
  if (code === 'EDNS' || original === 'ENOTFOUND' || original === 'EAI_AGAIN') {
    return make('transient', `cannot resolve the host name ${target.host} — check notify.email.host and the box's DNS`)
  }
  if (original === 'ECONNREFUSED' || code === 'ECONNREFUSED') {
    return make(
      'transient',
      `cannot connect to the ${server}: connection refused — is the server running, and is the port right (587 STARTTLS, 465 TLS)?`,
    )
  }
  if (code === 'ECONNECTION' || original === 'ECONNRESET' || original === 'EPIPE') {
    return make('transient', `the ${server} closed the connection unexpectedly${reply} — it will be tried again`)
  }
  return make('transient', `sending to the ${server} failed: ${brief(e.message ?? String(err))}`)
}

function brief(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 200)
}
