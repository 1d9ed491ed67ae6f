import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, describe, test } from 'node:test'
import type { Notification, SendResult } from '../../../cloud-sync/src/relay/channels/channel.js'
import { EmailChannel } from '../../../cloud-sync/src/relay/channels/email.js'
import { SMS_MAX_CHARS, SmsChannel } from '../../../cloud-sync/src/relay/channels/sms.js'
import { parseMail, type SmtpSink, startSmtpSink } from '../../_support/smtp-sink.js'

/**
 * The relay's email and SMS channels: email through a real SMTP server on 127.0.0.1
 * (tests/_support/smtp-sink.ts), SMS against a node:http server standing in for a provider.
 */

const RAISED_AT = Date.UTC(2025, 0, 14, 6, 32, 0)
let seq = 0
function note(over: Partial<Notification> = {}): Notification {
  seq += 1
  return {
    deliveryId: 5000 + seq,
    alertId: 42,
    severity: 'critical',
    title: 'Kitchen: no movement since 09:00',
    body: 'No motion has been seen in the kitchen for 4 hours.',
    homeName: "Mum's flat",
    raisedAt: RAISED_AT,
    kind: 'raised',
    ...over,
  }
}

function assertFailure(r: SendResult): Extract<SendResult, { ok: false }> {
  assert.equal(r.ok, false, `expected a failure, got ${JSON.stringify(r)}`)
  return r as Extract<SendResult, { ok: false }>
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer()
  s.listen(0, '127.0.0.1')
  await once(s, 'listening')
  const { port } = s.address() as AddressInfo
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

const sinks: SmtpSink[] = []
const channels: EmailChannel[] = []
async function sink(...args: Parameters<typeof startSmtpSink>): Promise<SmtpSink> {
  const s = await startSmtpSink(...args)
  sinks.push(s)
  return s
}
function email(url: string, over: { requireTls?: boolean } = {}): EmailChannel {
  const c = new EmailChannel({ url, from: 'CareHub <alerts@carehub.test>', requireTls: false, timeoutMs: 2000, ...over })
  channels.push(c)
  return c
}
after(async () => {
  for (const c of channels) c.close()
  await Promise.all(sinks.map((s) => s.close()))
})

describe('EmailChannel', () => {
  test('delivers through SMTP: envelope, subject, body with the time, X-CareHub-Delivery', async () => {
    const server = await sink({ hideSTARTTLS: true })
    const c = email(`smtp://127.0.0.1:${server.port}`)
    const n = note()
    const r = await c.send('anna@family.test', n)
    assert.equal(r.ok, true, JSON.stringify(r))
    assert.ok(r.ok && typeof r.receipt === 'string' && r.receipt.length > 0)
    assert.equal(server.received.length, 1)
    const got = server.received[0]
    assert.ok(got)
    assert.equal(got.mailFrom, 'alerts@carehub.test')
    assert.deepEqual(got.rcptTo, ['anna@family.test'])
    const mail = parseMail(got.raw)
    assert.equal(mail.headers.get('subject'), "[CareHub] CRITICAL: Kitchen: no movement since 09:00 — Mum's flat")
    assert.equal(mail.headers.get('x-carehub-delivery'), String(n.deliveryId))
    assert.equal(mail.headers.get('message-id'), `<carehub-delivery-${n.deliveryId}@carehub.test>`)
    assert.equal(mail.headers.get('auto-submitted'), 'auto-generated')
    const text = mail.parts.get('text/plain') ?? ''
    assert.match(text, /Kitchen: no movement since 09:00/)
    assert.match(text, /No motion has been seen in the kitchen for 4 hours\./)
    assert.match(text, /2025-01-14T06:32:00\.000Z/)
    assert.match(text, /Mum's flat/)
  })

  test('escalated, resolved, offline and online notices read as such', async () => {
    const server = await sink({ hideSTARTTLS: true })
    const c = email(`smtp://localhost:${server.port}`)
    const offline = "The CareHub box of Mum's flat is offline"
    for (const n of [
      note({ kind: 'escalated' }),
      note({ kind: 'resolved' }),
      note({ kind: 'offline', title: offline, body: null }),
      note({ kind: 'online', title: "The CareHub box of Mum's flat is back online", body: null, severity: 'info' }),
    ]) {
      const r = await c.send('anna@family.test', n)
      assert.equal(r.ok, true, JSON.stringify(r))
    }
    const subjects = server.received.map((m) => parseMail(m.raw).headers.get('subject'))
    assert.deepEqual(subjects, [
      "[CareHub] CRITICAL: Kitchen: no movement since 09:00 — Mum's flat (no one has answered yet)",
      "[CareHub] Resolved: Kitchen: no movement since 09:00 — Mum's flat",
      `[CareHub] Offline: ${offline}`,
      "[CareHub] Back online: The CareHub box of Mum's flat is back online",
    ])
    assert.match(parseMail(server.received[0]?.raw ?? '').parts.get('text/plain') ?? '', /No one has answered/)
  })

  test('a 550 to RCPT TO: permanent, and the address is disabled', async () => {
    const server = await sink({
      hideSTARTTLS: true,
      onRcptTo: (_a, _s, callback) => callback(Object.assign(new Error('5.1.1 mailbox unavailable'), { responseCode: 550 })),
    })
    const f = assertFailure(await email(`smtp://127.0.0.1:${server.port}`).send('nobody@family.test', note()))
    assert.equal(f.permanent, true)
    assert.equal(f.disableTarget, true)
    assert.match(f.reason, /refused the recipient nobody@family\.test/)
    assert.equal(server.received.length, 0)
  })

  test('a 554 at DATA: permanent, the address kept', async () => {
    const server = await sink({ hideSTARTTLS: true }, () => Object.assign(new Error('5.7.1 message content rejected'), { responseCode: 554 }))
    const f = assertFailure(await email(`smtp://127.0.0.1:${server.port}`).send('anna@family.test', note()))
    assert.equal(f.permanent, true)
    assert.equal(f.disableTarget, false)
    assert.match(f.reason, /refused the message/)
  })

  test('a 4xx (greylisting): retryable', async () => {
    const server = await sink({
      hideSTARTTLS: true,
      onRcptTo: (_a, _s, callback) => callback(Object.assign(new Error('4.2.0 greylisted'), { responseCode: 450 })),
    })
    const f = assertFailure(await email(`smtp://127.0.0.1:${server.port}`).send('anna@family.test', note()))
    assert.equal(f.permanent, false)
    assert.equal(f.disableTarget, false)
  })

  test('a wrong password (535): retryable, saying it is the configuration', async () => {
    const server = await sink({
      hideSTARTTLS: true,
      allowInsecureAuth: true,
      authOptional: false,
      authMethods: ['PLAIN', 'LOGIN'],
      onAuth: (auth, _s, callback) =>
        auth.username === 'relay' && auth.password === 'p@ss word' ? callback(null, { user: 'relay' }) : callback(new Error('Invalid credentials')),
    })
    const good = await email(`smtp://relay:${encodeURIComponent('p@ss word')}@127.0.0.1:${server.port}`).send('anna@family.test', note())
    assert.equal(good.ok, true, JSON.stringify(good))
    assert.equal(server.received[0]?.user, 'relay')
    const f = assertFailure(await email(`smtp://relay:wrong@127.0.0.1:${server.port}`).send('anna@family.test', note()))
    assert.equal(f.permanent, false)
    assert.equal(f.disableTarget, false)
    assert.match(f.reason, /refused the sign-in/)
    assert.match(f.reason, /configuration/)
    assert.equal(server.received.length, 1)
  })

  test('server down: retryable, connection refused', async () => {
    const f = assertFailure(await email(`smtp://127.0.0.1:${await closedPort()}`).send('anna@family.test', note()))
    assert.equal(f.permanent, false)
    assert.equal(f.disableTarget, false)
    assert.match(f.reason, /connection refused/)
  })

  test('requireTls (the default) against a server without STARTTLS: retryable, nothing sent', async () => {
    const server = await sink({ hideSTARTTLS: true, disabledCommands: ['STARTTLS'] })
    const f = assertFailure(await email(`smtp://127.0.0.1:${server.port}`, { requireTls: true }).send('anna@family.test', note()))
    assert.equal(f.permanent, false)
    assert.match(f.reason, /TLS/)
    assert.equal(server.received.length, 0)
  })

  test('configuration checks: plain SMTP only to loopback; a malformed address is refused without a connection', async () => {
    assert.throws(() => new EmailChannel({ url: 'smtp://mail.example.org:587', from: 'a@b.test', requireTls: false }), /loopback/)
    assert.throws(() => new EmailChannel({ url: 'https://mail.example.org', from: 'a@b.test' }), /smtp:\/\/ or smtps:\/\//)
    const remote = new EmailChannel({ url: 'smtps://u:p@mail.example.org', from: 'a@b.test' })
    remote.close()
    const f = assertFailure(await email('smtp://127.0.0.1:1').send('not an address\r\nBcc: x@y.test', note()))
    assert.equal(f.permanent, true)
    assert.equal(f.disableTarget, true)
  })
})

interface Seen {
  readonly method: string
  readonly headers: IncomingMessage['headers']
  readonly body: string
}
type Reply = (req: IncomingMessage, res: ServerResponse) => void

/** A provider on 127.0.0.1 answering with `reply` (settable per test), recording every request. */
async function provider(): Promise<{ url: string; seen: Seen[]; reply: (r: Reply) => void }> {
  const seen: Seen[] = []
  let current: Reply = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"msg-1"}')
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      seen.push({ method: req.method ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') })
      current(req, res)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  server.keepAliveTimeout = 100
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/v1/sms`, seen, reply: (r) => (current = r) }
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Reply => {
  return (_req, res) => res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
}

describe('SmsChannel', async () => {
  const p = await provider()
  const sms = new SmsChannel({ url: p.url, token: 'sms-token-123', timeoutMs: 2000 })

  test('posts {to, text} with the bearer token; the receipt is the provider id', async () => {
    p.reply(json(201, { messageId: 'abc-123', status: 'queued' }))
    const n = note()
    const r = await sms.send('+44 7700 900123', n)
    assert.deepEqual(r, { ok: true, receipt: 'abc-123' })
    const req = p.seen.at(-1)
    assert.ok(req)
    assert.equal(req.method, 'POST')
    assert.equal(req.headers.authorization, 'Bearer sms-token-123')
    assert.match(req.headers['content-type'] ?? '', /^application\/json/)
    assert.equal(req.headers['idempotency-key'], `carehub-delivery-${n.deliveryId}`)
    assert.deepEqual(JSON.parse(req.body), { to: '+44 7700 900123', text: "CareHub CRITICAL: Kitchen: no movement since 09:00 (Mum's flat)" })

    p.reply(json(200, { id: 77 }))
    assert.deepEqual(await sms.send('+447700900123', note()), { ok: true, receipt: '77' })
    p.reply((_req, res) => res.writeHead(202).end())
    assert.deepEqual(await sms.send('+447700900123', note()), { ok: true, receipt: null })
  })

  test('a long title is cut with … to 160 characters, keeping the home name', async () => {
    p.reply(json(200, { id: 'x' }))
    await sms.send('+447700900123', note({ title: 'Bathroom: '.padEnd(300, 'x'), kind: 'escalated' }))
    const { text } = JSON.parse(p.seen.at(-1)?.body ?? '{}') as { text: string }
    assert.equal(Array.from(text).length, SMS_MAX_CHARS)
    assert.match(text, /^CareHub CRITICAL, no one has answered yet: Bathroom: x+… \(Mum's flat\)$/)
  })

  test('422 invalid number: permanent, the number disabled', async () => {
    p.reply(json(422, { error: 'The destination number is invalid' }))
    const f = assertFailure(await sms.send('+15550000000', note()))
    assert.equal(f.permanent, true)
    assert.equal(f.disableTarget, true)
    assert.match(f.reason, /422/)
    assert.match(f.reason, /invalid/)
  })

  test('400 saying the number is invalid disables it; another 400 is permanent only', async () => {
    p.reply(json(400, { message: 'Invalid phone number format' }))
    const a = assertFailure(await sms.send('+15550000000', note()))
    assert.deepEqual([a.permanent, a.disableTarget], [true, true])
    p.reply(json(400, { message: 'text too long' }))
    const b = assertFailure(await sms.send('+15550000000', note()))
    assert.deepEqual([b.permanent, b.disableTarget], [true, false])
  })

  test('429 honours Retry-After', async () => {
    p.reply(json(429, { message: 'slow down' }, { 'retry-after': '7' }))
    const f = assertFailure(await sms.send('+447700900123', note()))
    assert.equal(f.permanent, false)
    assert.equal(f.disableTarget, false)
    assert.equal(f.retryAfterMs, 7000)
  })

  test('401: retryable, naming the token', async () => {
    p.reply(json(401, { message: 'bad credentials' }))
    const f = assertFailure(await sms.send('+447700900123', note()))
    assert.equal(f.permanent, false)
    assert.equal(f.disableTarget, false)
    assert.match(f.reason, /token/)
  })

  test('503: retryable', async () => {
    p.reply((_req, res) => res.writeHead(503).end('maintenance'))
    const f = assertFailure(await sms.send('+447700900123', note()))
    assert.equal(f.permanent, false)
    assert.equal(f.disableTarget, false)
    assert.equal(f.retryAfterMs, null)
    assert.match(f.reason, /503/)
  })

  test('connection refused: retryable, saying so', async () => {
    const down = new SmsChannel({ url: `http://127.0.0.1:${await closedPort()}/sms`, token: 't', timeoutMs: 2000 })
    const f = assertFailure(await down.send('+447700900123', note()))
    assert.equal(f.permanent, false)
    assert.equal(f.disableTarget, false)
    assert.match(f.reason, /ECONNREFUSED/)
  })

  test('HTTPS only, except loopback; a target that is no number is refused without a request', async () => {
    assert.throws(() => new SmsChannel({ url: 'http://sms.example.org/send', token: 't' }), /https/)
    assert.doesNotThrow(() => new SmsChannel({ url: 'https://sms.example.org/send', token: 't' }))
    assert.doesNotThrow(() => new SmsChannel({ url: 'http://localhost:9/send', token: 't' }))
    const before = p.seen.length
    const f = assertFailure(await sms.send('anna@family.test', note()))
    assert.deepEqual([f.permanent, f.disableTarget], [true, true])
    assert.equal(p.seen.length, before)
  })
})
