import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { Notification, SendResult } from '../../../cloud-sync/src/relay/channels/channel.js'
import { FCM_MAX_MESSAGE_BYTES, FCM_SCOPE, FcmChannel } from '../../../cloud-sync/src/relay/channels/fcm.js'
import { createServiceAccount, type FakeFcm, type FakeServiceAccount, newPrivateKeyPem, startFakeFcm } from '../../fakes/fcm.js'

/**
 * The relay's push channel (issue 8) against a fake FCM HTTP v1 + OAuth2 token endpoint on
 * 127.0.0.1 that verifies the JWT assertion's RS256 signature and the message shape
 * (tests/fakes/fcm.ts). The channel and the fake share a controllable clock for token expiry.
 */

let clock = Date.now()
const now = (): number => clock
let fake: FakeFcm
let sa: FakeServiceAccount

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()))
  const { port } = s.address() as AddressInfo
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

function channel(o: { account?: FakeServiceAccount; baseUrl?: string; fetch?: typeof fetch } = {}): FcmChannel {
  return new FcmChannel({ serviceAccount: o.account ?? sa, now, baseUrl: o.baseUrl ?? fake.url, ...(o.fetch ? { fetch: o.fetch } : {}) })
}

let seq = 0
function note(over: Partial<Notification> = {}): Notification {
  seq += 1
  return {
    deliveryId: 1000 + seq,
    alertId: 42,
    severity: 'critical',
    title: 'Kitchen: no movement since 09:00',
    body: 'No motion has been seen in the kitchen for 4 hours.',
    homeName: "Mum's flat",
    raisedAt: clock,
    kind: 'raised',
    ...over,
  }
}

function deviceToken(label: string): string {
  return `${label}:APA91b${'x'.repeat(140)}`
}

function assertFailure(r: SendResult): Extract<SendResult, { ok: false }> {
  assert.equal(r.ok, false, `expected a failure, got ${JSON.stringify(r)}`)
  return r as Extract<SendResult, { ok: false }>
}

before(async () => {
  fake = await startFakeFcm({ now })
  sa = createServiceAccount(fake)
})
after(async () => {
  await fake?.close()
})

describe('FCM channel: sending', () => {
  test('a critical alert goes out with high priority, data fields and the message name as receipt', async () => {
    const ch = channel()
    assert.equal(ch.kind, 'push')
    const token = deviceToken('ok-critical')
    const r = await ch.send(token, note({ alertId: 7, kind: 'escalated' }))
    assert.equal(r.ok, true, JSON.stringify(r))
    const sent = fake.messages.at(-1)
    assert.ok(sent)
    assert.equal(r.ok && r.receipt, sent.name)
    assert.match(sent.name, /^projects\/carehub-test\/messages\//)
    assert.equal(sent.projectId, sa.project_id)
    assert.deepEqual(sent.message, {
      token,
      notification: { title: 'Kitchen: no movement since 09:00', body: 'No motion has been seen in the kitchen for 4 hours.' },
      data: { alertId: '7', severity: 'critical', kind: 'escalated' },
      android: { priority: 'high' },
      apns: { headers: { 'apns-priority': '10' } },
    })
    // The assertion the token endpoint verified.
    const grant = fake.tokenRequests.at(-1)
    assert.ok(grant?.ok)
    assert.equal(grant.header?.alg, 'RS256')
    assert.equal(grant.header?.kid, sa.private_key_id)
    assert.equal(grant.claims?.iss, sa.client_email)
    assert.equal(grant.claims?.aud, sa.token_uri)
    assert.equal(grant.claims?.scope, FCM_SCOPE)
    assert.equal(grant.claims?.iat, Math.floor(clock / 1000))
    assert.equal((grant.claims?.exp as number) - (grant.claims?.iat as number), 3600)
  })

  test('a warning goes out with normal priority; a null body is left out', async () => {
    const token = deviceToken('ok-warning')
    const r = await channel().send(token, note({ severity: 'warning', body: null, kind: 'resolved' }))
    assert.equal(r.ok, true, JSON.stringify(r))
    const m = fake.messages.at(-1)?.message
    assert.deepEqual(m.notification, { title: 'Kitchen: no movement since 09:00' })
    assert.deepEqual(m.data, { alertId: '42', severity: 'warning', kind: 'resolved' })
    assert.equal(m.android.priority, 'normal')
    assert.equal(m.apns.headers['apns-priority'], '5')
  })

  test('an oversized body is truncated (whole code points) to fit 4096 bytes', async () => {
    const token = deviceToken('ok-big')
    const body = '🚨 Wasser läuft! '.repeat(600)
    const r = await channel().send(token, note({ body }))
    assert.equal(r.ok, true, JSON.stringify(r))
    const m = fake.messages.at(-1)?.message
    const sentBody: string = m.notification.body
    assert.ok(sentBody.endsWith('…'))
    assert.ok(body.startsWith(sentBody.slice(0, -1)))
    assert.ok(!sentBody.includes('\uFFFD'))
    assert.ok(sentBody.length > 1000, 'keeps as much as fits')
    assert.equal(m.notification.title, 'Kitchen: no movement since 09:00')
    assert.ok(Buffer.byteLength(JSON.stringify({ message: m })) <= FCM_MAX_MESSAGE_BYTES)
  })

  test('the fake refuses a malformed message in FCM error shape', async () => {
    const ch = channel()
    await ch.send(deviceToken('warm-up'), note())
    const accessToken = fake.messages.at(-1)?.accessToken
    const res = await fetch(`${fake.url}/v1/projects/${sa.project_id}/messages:send`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ message: { token: 't', data: { alertId: 42 } } }),
    })
    assert.equal(res.status, 400)
    const json = (await res.json()) as { error: { status: string } }
    assert.equal(json.error.status, 'INVALID_ARGUMENT')
  })
})

describe('FCM channel: access token', () => {
  test('one token request serves many sends, concurrent or not; refreshed 5 min before expiry', async () => {
    const ch = channel()
    const before = fake.tokenRequests.length
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => ch.send(deviceToken(`many-${i}`), note())))
    assert.ok(results.every((r) => r.ok))
    for (let i = 0; i < 5; i++) assert.equal((await ch.send(deviceToken('seq'), note())).ok, true)
    assert.equal(fake.tokenRequests.length - before, 1, 'one token for 25 sends')

    // expires_in is 3599 s: still cached one second before the refresh point…
    clock += (3599 - 300 - 1) * 1000
    assert.equal((await ch.send(deviceToken('late'), note())).ok, true)
    assert.equal(fake.tokenRequests.length - before, 1)
    // …refreshed just after it, with a new assertion dated by the clock.
    clock += 2000
    const again = await Promise.all(Array.from({ length: 5 }, () => ch.send(deviceToken('refresh'), note())))
    assert.ok(again.every((r) => r.ok))
    assert.equal(fake.tokenRequests.length - before, 2, 'one refresh in flight')
    assert.equal(fake.tokenRequests.at(-1)?.claims?.iat, Math.floor(clock / 1000))
    // Long past expiry (the fake would refuse the old token): a fresh one again.
    clock += 2 * 3600 * 1000
    assert.equal((await ch.send(deviceToken('much-later'), note())).ok, true)
    assert.equal(fake.tokenRequests.length - before, 3)
  })

  test('a revoked access token (401) is dropped, refreshed once, and the send succeeds', async () => {
    const ch = channel()
    const token = deviceToken('revoked')
    assert.equal((await ch.send(token, note())).ok, true)
    const grants = fake.tokenRequests.length
    fake.revokeAccessTokens()
    const attempts = fake.sendAttempts.length
    const r = await ch.send(token, note())
    assert.equal(r.ok, true, JSON.stringify(r))
    assert.deepEqual(
      fake.sendAttempts.slice(attempts).map((a) => a.status),
      [401, 200],
    )
    assert.equal(fake.tokenRequests.length, grants + 1)
  })

  test('401 again with a fresh token → retryable failure after one retry', async () => {
    const unauthenticated = JSON.stringify({
      error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' },
    })
    let sends = 0
    const ch = channel({
      fetch: async (input, init) => {
        if (String(input).includes('messages:send')) {
          sends += 1
          return new Response(unauthenticated, { status: 401, headers: { 'content-type': 'application/json' } })
        }
        return fetch(input, init)
      },
    })
    const grants = fake.tokenRequests.length
    const f = assertFailure(await ch.send(deviceToken('always-401'), note()))
    assert.equal(f.permanent, false)
    assert.equal(f.disableTarget, false)
    assert.match(f.reason, /401/)
    assert.equal(sends, 2)
    assert.equal(fake.tokenRequests.length, grants + 2)
  })

  test('a wrong private key: the fake refuses the assertion → retryable failure with a clear reason', async () => {
    const wrong = { ...sa, private_key: newPrivateKeyPem() }
    const attempts = fake.sendAttempts.length
    const f = assertFailure(await channel({ account: wrong }).send(deviceToken('wrong-key'), note()))
    assert.equal(f.permanent, false)
    assert.equal(f.disableTarget, false)
    assert.match(f.reason, /token endpoint refused the assertion: HTTP 400 invalid_grant: Invalid JWT Signature\./)
    assert.equal(fake.tokenRequests.at(-1)?.ok, false)
    assert.equal(fake.sendAttempts.length, attempts, 'nothing sent without a token')
  })

  test('an unreadable private key and an unreachable token endpoint → retryable failures', async () => {
    const badPem = assertFailure(await channel({ account: { ...sa, private_key: 'not a key' } }).send(deviceToken('bad-pem'), note()))
    assert.equal(badPem.permanent, false)
    assert.match(badPem.reason, /private_key is not a usable PEM private key/)

    const tokenUri = `http://127.0.0.1:${await closedPort()}/token`
    const down = assertFailure(await channel({ account: { ...sa, token_uri: tokenUri } }).send(deviceToken('no-oauth'), note()))
    assert.equal(down.permanent, false)
    assert.match(down.reason, /token endpoint .* unreachable: .*ECONNREFUSED/)
  })

  test('a failed early refresh keeps using the unexpired token', async () => {
    let refuseTokens = false
    const ch = channel({
      fetch: async (input, init) => {
        if (refuseTokens && String(input) === sa.token_uri) return new Response('{"error":"internal_failure"}', { status: 503 })
        return fetch(input, init)
      },
    })
    assert.equal((await ch.send(deviceToken('early-1'), note())).ok, true)
    refuseTokens = true
    clock += (3599 - 60) * 1000 // inside the refresh window, not yet expired
    assert.equal((await ch.send(deviceToken('early-2'), note())).ok, true)
    clock += 120 * 1000 // expired: now the refusal shows
    const f = assertFailure(await ch.send(deviceToken('early-3'), note()))
    assert.equal(f.permanent, false)
    assert.match(f.reason, /HTTP 503/)
  })
})

describe('FCM channel: error mapping', () => {
  test('UNREGISTERED → permanent, disable the token', async () => {
    const token = deviceToken('gone')
    fake.failToken(token, { code: 'UNREGISTERED' })
    const f = assertFailure(await channel().send(token, note()))
    assert.deepEqual(
      { permanent: f.permanent, disableTarget: f.disableTarget, retryAfterMs: f.retryAfterMs },
      { permanent: true, disableTarget: true, retryAfterMs: null },
    )
    assert.match(f.reason, /404 UNREGISTERED/)
  })

  test('INVALID_ARGUMENT on the token → permanent, disable the token', async () => {
    const token = deviceToken('malformed')
    fake.failToken(token, { code: 'INVALID_ARGUMENT' })
    const f = assertFailure(await channel().send(token, note()))
    assert.equal(f.permanent, true)
    assert.equal(f.disableTarget, true)
  })

  test('SENDER_ID_MISMATCH and THIRD_PARTY_AUTH_ERROR → permanent, token kept, no token refresh', async () => {
    const ch = channel()
    await ch.send(deviceToken('warm'), note())
    const grants = fake.tokenRequests.length
    for (const code of ['SENDER_ID_MISMATCH', 'THIRD_PARTY_AUTH_ERROR'] as const) {
      const token = deviceToken(code)
      fake.failToken(token, { code })
      const f = assertFailure(await ch.send(token, note()))
      assert.equal(f.permanent, true, code)
      assert.equal(f.disableTarget, false, code)
      assert.match(f.reason, new RegExp(code))
    }
    assert.equal(fake.tokenRequests.length, grants)
  })

  test('429 QUOTA_EXCEEDED → retryable, Retry-After honoured (1 min when absent)', async () => {
    const token = deviceToken('quota')
    fake.failToken(token, { code: 'QUOTA_EXCEEDED', retryAfter: '30', times: 1 })
    const f = assertFailure(await channel().send(token, note()))
    assert.deepEqual(
      { permanent: f.permanent, disableTarget: f.disableTarget, retryAfterMs: f.retryAfterMs },
      { permanent: false, disableTarget: false, retryAfterMs: 30_000 },
    )
    assert.match(f.reason, /429 QUOTA_EXCEEDED/)

    fake.failToken(token, { code: 'QUOTA_EXCEEDED', times: 1 })
    assert.equal(assertFailure(await channel().send(token, note())).retryAfterMs, 60_000)
    // times: 1 — the next send goes through.
    assert.equal((await channel().send(token, note())).ok, true)
  })

  test('503, 500, a dropped connection and connection refused → retryable', async () => {
    const ch = channel()
    const unavailable = deviceToken('unavailable')
    fake.failToken(unavailable, { code: 'UNAVAILABLE' })
    const f503 = assertFailure(await ch.send(unavailable, note()))
    assert.deepEqual(
      { permanent: f503.permanent, disableTarget: f503.disableTarget, retryAfterMs: f503.retryAfterMs },
      { permanent: false, disableTarget: false, retryAfterMs: null },
    )
    assert.match(f503.reason, /503 UNAVAILABLE/)

    fake.failToken(unavailable, { code: 'UNAVAILABLE', retryAfter: '7' })
    assert.equal(assertFailure(await ch.send(unavailable, note())).retryAfterMs, 7000)

    const internal = deviceToken('internal')
    fake.failToken(internal, { code: 'INTERNAL' })
    const f500 = assertFailure(await ch.send(internal, note()))
    assert.equal(f500.permanent, false)

    const reset = deviceToken('reset')
    fake.failToken(reset, { code: 'RESET' })
    const fReset = assertFailure(await ch.send(reset, note()))
    assert.equal(fReset.permanent, false)
    assert.equal(fReset.disableTarget, false)

    const refused = assertFailure(await channel({ baseUrl: `http://127.0.0.1:${await closedPort()}` }).send(deviceToken('refused'), note()))
    assert.equal(refused.permanent, false)
    assert.equal(refused.disableTarget, false)
    assert.match(refused.reason, /ECONNREFUSED/)
  })
})
