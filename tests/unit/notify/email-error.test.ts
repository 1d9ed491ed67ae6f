import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { EmailError, type SmtpTarget, toEmailError } from '../../../gateway/src/notify/email-error.js'

/** The classification table on errors shaped as nodemailer throws them (the real round trips are in tests/integration/notify). */

const TARGET: SmtpTarget = { host: 'smtp.example.com', port: 587, security: 'starttls', timeoutMs: 10_000 }

function smtpError(code: string, response: string | undefined, command: string, extra: Record<string, unknown> = {}) {
  const responseCode = response ? Number(response.slice(0, 3)) : undefined
  return Object.assign(new Error(`failed${response ? `: ${response}` : ''}`), { code, response, responseCode, command, ...extra })
}

describe('toEmailError', () => {
  const cases: Array<[string, Error & { responseCode?: number | undefined }, EmailError['kind']]> = [
    ['535 to AUTH', smtpError('EAUTH', '535 5.7.8 Authentication credentials invalid', 'AUTH PLAIN'), 'auth'],
    ['534 to AUTH (app password needed)', smtpError('EAUTH', '534 5.7.9 Application-specific password required', 'AUTH PLAIN'), 'auth'],
    ['454 to AUTH (temporary)', smtpError('EAUTH', '454 4.7.0 Temporary authentication failure', 'AUTH PLAIN'), 'transient'],
    ['530 to MAIL FROM', smtpError('EENVELOPE', '530 5.7.0 Authentication required', 'MAIL FROM'), 'auth'],
    ['550 to RCPT TO', smtpError('EENVELOPE', '550 5.1.1 User unknown', 'RCPT TO', { rejected: ['x@example.com'] }), 'permanent'],
    ['552 to DATA', smtpError('EMESSAGE', '552 5.3.4 Message too big', 'DATA'), 'permanent'],
    ['553 to MAIL FROM', smtpError('EENVELOPE', '553 5.7.1 Sender rejected', 'MAIL FROM'), 'permanent'],
    ['503 (bad sequence) to RCPT TO', smtpError('EENVELOPE', '503 5.5.1 Bad sequence of commands', 'RCPT TO'), 'transient'],
    ['421 at the greeting', smtpError('EPROTOCOL', '421 4.3.2 Service not available', 'CONN'), 'transient'],
    ['451 to DATA', smtpError('EMESSAGE', '451 4.3.0 Try again later', 'DATA'), 'transient'],
    ['554 at the greeting (not the message)', smtpError('EPROTOCOL', '554 No SMTP service here', 'CONN'), 'transient'],
    ['connection refused', smtpError('ESOCKET', undefined, 'CONN', { originalCode: 'ECONNREFUSED' }), 'transient'],
    ['connection reset', smtpError('ECONNECTION', undefined, 'CONN', { originalCode: 'ECONNRESET' }), 'transient'],
    ['timeout', smtpError('ETIMEDOUT', undefined, 'CONN', { timeoutType: 'CONNECT_TIMEOUT' }), 'transient'],
    ['DNS', smtpError('EDNS', undefined, 'CONN', { originalCode: 'ENOTFOUND' }), 'transient'],
    ['untrusted certificate', smtpError('ESOCKET', undefined, 'CONN', { originalCode: 'CERT_HAS_EXPIRED' }), 'transient'],
    ['missing credentials', Object.assign(new Error('Missing credentials for "PLAIN"'), { code: 'EAUTH', command: 'API' }), 'auth'],
  ]
  for (const [name, err, kind] of cases) {
    test(`${name} → ${kind}`, () => {
      const e = toEmailError(err, TARGET)
      assert.ok(e instanceof EmailError)
      assert.equal(e.kind, kind)
      assert.equal(e.responseCode, err.responseCode)
      assert.equal(e.cause, err)
      assert.match(e.message, /smtp\.example\.com/)
    })
  }

  test('every message says what to do', () => {
    assert.match(toEmailError(cases[0]?.[1], TARGET).message, /carehub secret set smtp\.password/)
    assert.match(toEmailError(cases[4]?.[1], TARGET).message, /refused the recipient x@example\.com .*notify\.email\.to/)
    assert.match(toEmailError(cases[12]?.[1], TARGET).message, /closed the connection unexpectedly/)
    assert.match(toEmailError(cases[13]?.[1], TARGET).message, /no answer .* within 10000 ms .*host and port/)
    assert.match(toEmailError(cases[14]?.[1], TARGET).message, /cannot resolve the host name smtp\.example\.com/)
    assert.match(toEmailError(cases[15]?.[1], TARGET).message, /tlsRejectUnauthorized: false/)
  })

  test('an EmailError passes through; anything else becomes a transient one', () => {
    const mine = new EmailError('permanent', 'x')
    assert.equal(toEmailError(mine, TARGET), mine)
    assert.equal(toEmailError('weird', TARGET).kind, 'transient')
    assert.equal(toEmailError(undefined, TARGET).kind, 'transient')
  })
})
