import assert from 'node:assert/strict'
import { once } from 'node:events'
import { type AddressInfo, createServer, type Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { type EmailConfig, EmailSchema } from '../../../gateway/src/config/notify-schema.js'
import type { AlertMessage } from '../../../gateway/src/notify/alert-email.js'
import { EmailError } from '../../../gateway/src/notify/email-error.js'
import { EmailSender } from '../../../gateway/src/notify/email-sender.js'
import { captureLogger } from '../../_support/log-capture.js'
import { parseMail, type SmtpSink, selfSignedCertificate, startSmtpSink } from '../../_support/smtp-sink.js'
import { freePort } from '../../_support/temp.js'

/**
 * EmailSender against a real SMTP server (the smtp-server package) on 127.0.0.1: what arrives, over
 * STARTTLS / implicit TLS with AUTH PLAIN, and how each kind of failure is reported.
 */

const ALERT: AlertMessage = {
  id: 42,
  event: 'raised',
  severity: 'critical',
  title: 'Fall detected',
  body: 'The fall sensor reported a fall — no movement since.',
  deviceId: 'kitchen-1',
  deviceName: 'Kitchen sensor',
  ruleName: 'Fall detection',
  raisedAt: Date.UTC(2025, 0, 14, 6, 32),
  values: { fall: true, confidence: 0.93 },
  gatewayName: 'CareHub',
  timeZone: 'Europe/Berlin',
  panelUrl: 'https://carehub.local:8443/alerts/42',
}

function emailConfig(over: Record<string, unknown>): EmailConfig {
  return EmailSchema.parse({
    enabled: true,
    host: '127.0.0.1',
    security: 'none',
    from: 'carehub@home.test',
    to: ['anna@family.test', 'ben@family.test'],
    timeoutMs: 2000,
    ...over,
  })
}

const senders: EmailSender[] = []
function sender(config: EmailConfig, password: () => string | undefined = () => undefined) {
  const { log, lines } = captureLogger('debug')
  const s = new EmailSender({ config, password, log })
  senders.push(s)
  return { sender: s, lines }
}

async function rejection(p: Promise<unknown>): Promise<EmailError> {
  try {
    await p
  } catch (err) {
    assert.ok(err instanceof EmailError, `expected an EmailError, got ${String(err)}`)
    return err
  }
  assert.fail('expected the send to fail')
}

/** A server for one test, closed when the file ends. */
const servers: SmtpSink[] = []
async function sink(...args: Parameters<typeof startSmtpSink>): Promise<SmtpSink> {
  const s = await startSmtpSink(...args)
  servers.push(s)
  return s
}
after(async () => {
  for (const s of senders) s.close()
  await Promise.all(servers.map((s) => s.close()))
})

describe('EmailSender: a message arrives', () => {
  test('plain SMTP to a loopback relay: envelope, From/To/Subject, both bodies, headers', async () => {
    const server = await sink({ hideSTARTTLS: true })
    const { sender: s, lines } = sender(emailConfig({ port: server.port }))
    await s.send(ALERT)
    assert.equal(server.received.length, 1)
    const got = server.received[0]
    assert.ok(got)
    assert.equal(got.mailFrom, 'carehub@home.test')
    assert.deepEqual(got.rcptTo, ['anna@family.test', 'ben@family.test'])
    const mail = parseMail(got.raw)
    assert.equal(mail.headers.get('from'), 'CareHub <carehub@home.test>')
    assert.equal(mail.headers.get('to'), 'anna@family.test, ben@family.test')
    assert.equal(mail.headers.get('subject'), '[CareHub] CRITICAL: Fall detected — Kitchen sensor')
    assert.equal(mail.headers.get('x-carehub-alert'), '42')
    assert.equal(mail.headers.get('x-carehub-event'), 'raised')
    assert.equal(mail.headers.get('auto-submitted'), 'auto-generated')
    assert.equal(mail.headers.get('x-priority'), '1 (Highest)')
    assert.match(mail.headers.get('message-id') ?? '', /^<carehub-alert-42-raised-[0-9a-f]{16}@home\.test>$/)
    assert.match(mail.headers.get('references') ?? '', /^<carehub-alert-42-[0-9a-f]{8}@home\.test>$/)
    const text = mail.parts.get('text/plain') ?? ''
    assert.match(text, /The fall sensor reported a fall — no movement since\./)
    assert.match(text, /Raised: Tue, 14 Jan 2025, 07:32 CET/)
    assert.match(text, /fall: yes/)
    assert.match(text, /Open in the CareHub panel: https:\/\/carehub\.local:8443\/alerts\/42/)
    assert.match(mail.parts.get('text/html') ?? '', /<h1[^>]*>Fall detected<\/h1>/)
    const sent = lines().find((l) => l.msg === 'alert email sent')
    assert.equal(sent?.alertId, 42)
    assert.equal(sent?.accepted, 2)
    // health information stays out of the log
    assert.ok(!JSON.stringify(lines()).includes('Fall detected'))
  })

  test('a replay carries the same Message-ID; another event of the alert a new one in the same thread', async () => {
    const server = await sink({ hideSTARTTLS: true })
    const { sender: s } = sender(emailConfig({ port: server.port }))
    await s.send(ALERT)
    await s.send(ALERT)
    await s.send({ ...ALERT, event: 'resolved' })
    const [first, replay, resolved] = server.received.map((m) => parseMail(m.raw).headers)
    assert.equal(replay?.get('message-id'), first?.get('message-id'))
    assert.notEqual(resolved?.get('message-id'), first?.get('message-id'))
    assert.equal(resolved?.get('references'), first?.get('references'))
    assert.equal(resolved?.get('subject'), '[CareHub] Resolved: Fall detected — Kitchen sensor')
    assert.equal(resolved?.get('x-priority'), undefined) // high priority only while an alert is critical
  })

  test('some recipients refused, the others served: the send succeeds and a warning names the refused', async () => {
    const server = await sink({
      hideSTARTTLS: true,
      onRcptTo(address, _session, callback) {
        if (address.address !== 'ben@family.test') return callback()
        callback(Object.assign(new Error('5.1.1 no such mailbox'), { responseCode: 550 }))
      },
    })
    const { sender: s, lines } = sender(emailConfig({ port: server.port }))
    await s.send(ALERT)
    assert.deepEqual(server.received[0]?.rcptTo, ['anna@family.test'])
    const warn = lines().find((l) => l.level === 'warn')
    assert.deepEqual(warn?.rejected, ['ben@family.test'])
    assert.match(String(warn?.msg), /notify\.email\.to/)
  })
})

describe('EmailSender: TLS and sign-in', () => {
  let tls: { key: string; cert: string }
  let accepted = 'first-password'
  const auths: Array<{ user: string; pass: string; secure: boolean }> = []
  let server: SmtpSink
  before(async () => {
    tls = await selfSignedCertificate()
    server = await sink({
      ...tls,
      authOptional: false,
      authMethods: ['PLAIN'],
      onAuth(auth, session, callback) {
        auths.push({ user: auth.username ?? '', pass: auth.password ?? '', secure: session.secure })
        if (auth.username === 'carehub' && auth.password === accepted) return callback(null, { user: 'carehub' })
        callback(new Error('Invalid username or password'))
      },
    })
  })

  const starttls = (over: Record<string, unknown> = {}) =>
    emailConfig({ port: server.port, security: 'starttls', username: 'carehub', tlsRejectUnauthorized: false, ...over })

  test('STARTTLS then AUTH PLAIN with the password from the getter', async () => {
    const { sender: s } = sender(starttls(), () => 'first-password')
    await s.verify()
    await s.send(ALERT)
    const got = server.received.at(-1)
    assert.equal(got?.secure, true)
    assert.equal(got?.user, 'carehub')
    assert.ok(
      auths.every((a) => a.secure),
      'AUTH went over TLS',
    )
  })

  test('a rotated password is read at the next send, without a restart', async () => {
    let current = 'first-password'
    accepted = 'first-password'
    const { sender: s, lines } = sender(starttls(), () => current)
    await s.send(ALERT)
    current = 'second-password'
    accepted = 'second-password'
    auths.length = 0
    await s.send({ ...ALERT, event: 'resolved' })
    assert.deepEqual(
      auths.map((a) => a.pass),
      ['second-password'],
    )
    assert.ok(lines().some((l) => /password changed/.test(String(l.msg))))
    accepted = 'first-password'
  })

  test('a wrong password is kind auth (535), naming the secret to set', async () => {
    const { sender: s } = sender(starttls(), () => 'wrong')
    const err = await rejection(s.send(ALERT))
    assert.equal(err.kind, 'auth')
    assert.equal(err.responseCode, 535)
    assert.match(err.message, /refused the sign-in/)
    assert.match(err.message, /carehub secret set smtp\.password/)
    assert.equal((await rejection(s.verify())).kind, 'auth')
  })

  test('a username without the secret set is kind auth, before any connection', async () => {
    const before = auths.length
    const { sender: s } = sender(starttls(), () => undefined)
    const err = await rejection(s.send(ALERT))
    assert.equal(err.kind, 'auth')
    assert.match(err.message, /smtp\.password is not/)
    assert.equal(auths.length, before)
  })

  test('no username where the server requires sign-in: kind auth (530)', async () => {
    const { sender: s } = sender(starttls({ username: undefined }))
    const err = await rejection(s.send(ALERT))
    assert.equal(err.kind, 'auth')
    assert.equal(err.responseCode, 530)
    assert.match(err.message, /requires signing in/)
  })

  test('the self-signed certificate is refused unless tlsRejectUnauthorized is false, and the message says so', async () => {
    const { sender: s } = sender(starttls({ tlsRejectUnauthorized: true }), () => 'first-password')
    const err = await rejection(s.send(ALERT))
    assert.equal(err.kind, 'transient')
    assert.match(err.message, /certificate/)
    assert.match(err.message, /tlsRejectUnauthorized: false/)
  })

  test('implicit TLS (security: tls, as on port 465)', async () => {
    const implicit = await sink({ ...tls, secure: true })
    const { sender: s } = sender(emailConfig({ port: implicit.port, security: 'tls', tlsRejectUnauthorized: false }))
    await s.send(ALERT)
    assert.equal(implicit.received[0]?.secure, true)
  })

  test('security: tls against a STARTTLS port: transient, suggesting starttls', async () => {
    const { sender: s } = sender(starttls({ security: 'tls' }), () => 'first-password')
    const err = await rejection(s.send(ALERT))
    assert.equal(err.kind, 'transient')
    assert.match(err.message, /TLS with the SMTP server .* failed \(wrong version number\) — .*use security: starttls/)
  })

  test('STARTTLS required but the server does not offer it: transient, with a hint', async () => {
    const plain = await sink({ hideSTARTTLS: true, disabledCommands: ['STARTTLS'] })
    const { sender: s } = sender(emailConfig({ port: plain.port, security: 'starttls' }))
    const err = await rejection(s.send(ALERT))
    assert.equal(err.kind, 'transient')
    assert.match(err.message, /TLS/)
    assert.equal(plain.received.length, 0)
  })
})

describe('EmailSender: failures are classified', () => {
  test('recipients refused with 550: permanent, naming them', async () => {
    const server = await sink({
      hideSTARTTLS: true,
      onRcptTo: (_a, _s, callback) => callback(Object.assign(new Error('5.1.1 mailbox unavailable'), { responseCode: 550 })),
    })
    const { sender: s } = sender(emailConfig({ port: server.port, to: ['nobody@family.test'] }))
    const err = await rejection(s.send(ALERT))
    assert.equal(err.kind, 'permanent')
    assert.equal(err.responseCode, 550)
    assert.match(err.message, /refused the recipient nobody@family\.test/)
    assert.match(err.message, /notify\.email\.to/)
  })

  test('the sender refused (553): permanent, pointing at notify.email.from', async () => {
    const server = await sink({
      hideSTARTTLS: true,
      onMailFrom: (_a, _s, callback) => callback(Object.assign(new Error('5.7.1 sender address not owned by user'), { responseCode: 553 })),
    })
    const { sender: s } = sender(emailConfig({ port: server.port }))
    const err = await rejection(s.send(ALERT))
    assert.equal(err.kind, 'permanent')
    assert.match(err.message, /refused the sender address .*notify\.email\.from/)
  })

  test('a server that wants TLS first (530 … STARTTLS) is a configuration hint, not a sign-in problem', async () => {
    const server = await sink({
      hideSTARTTLS: true,
      onMailFrom: (_a, _s, callback) => callback(Object.assign(new Error('5.7.0 Must issue a STARTTLS command first'), { responseCode: 530 })),
    })
    const { sender: s } = sender(emailConfig({ port: server.port }))
    const err = await rejection(s.send(ALERT))
    assert.equal(err.kind, 'transient')
    assert.match(err.message, /only over an encrypted connection .*security: starttls/)
  })

  test('the message refused at DATA (554): permanent', async () => {
    const server = await sink({ hideSTARTTLS: true }, () => Object.assign(new Error('5.7.1 message content rejected'), { responseCode: 554 }))
    const { sender: s } = sender(emailConfig({ port: server.port }))
    const err = await rejection(s.send(ALERT))
    assert.equal(err.kind, 'permanent')
    assert.equal(err.responseCode, 554)
    assert.match(err.message, /refused the message/)
  })

  test('a 4xx answer (greylisting, mailbox busy): transient', async () => {
    const server = await sink({
      hideSTARTTLS: true,
      onRcptTo: (_a, _s, callback) => callback(Object.assign(new Error('4.2.0 greylisted, try again later'), { responseCode: 450 })),
    })
    const { sender: s } = sender(emailConfig({ port: server.port }))
    const err = await rejection(s.send(ALERT))
    assert.equal(err.kind, 'transient')
    assert.equal(err.responseCode, 450)
  })

  test('nothing listening: transient, connection refused', async () => {
    const { sender: s } = sender(emailConfig({ port: await freePort() }))
    const err = await rejection(s.send(ALERT))
    assert.equal(err.kind, 'transient')
    assert.match(err.message, /connection refused/)
    assert.match(err.message, /127\.0\.0\.1:\d+/)
  })

  test('a server that accepts the connection but never greets: transient after timeoutMs', async () => {
    const sockets = new Set<Socket>()
    const silent = createServer((socket) => sockets.add(socket))
    silent.listen(0, '127.0.0.1')
    await once(silent, 'listening')
    after(() => {
      for (const socket of sockets) socket.destroy()
      silent.close()
    })
    const { sender: s } = sender(emailConfig({ port: (silent.address() as AddressInfo).port, timeoutMs: 1000 }))
    const started = Date.now()
    const err = await rejection(s.send(ALERT))
    assert.equal(err.kind, 'transient')
    assert.match(err.message, /no answer .* within 1000 ms/)
    assert.ok(Date.now() - started < 5000)
  })

  test('an incomplete configuration is refused before connecting', async () => {
    const { sender: s } = sender(EmailSchema.parse({}))
    const err = await rejection(s.send(ALERT))
    assert.equal(err.kind, 'permanent')
    assert.match(err.message, /notify\.email needs host, from and at least one address in to/)
  })
})
