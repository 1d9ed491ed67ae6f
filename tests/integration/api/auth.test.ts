import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { SecretBox } from '../../../gateway/src/secrets/secret-box.js'
import { verifyAuditChain } from '../../../gateway/src/store/audit.js'
import { SECRETS_DIR } from '../../../gateway/src/system/data-layout.js'
import { api } from '../../_support/api-client.js'
import { startGateway } from '../../_support/gateway-harness.js'

const code = (res: { body: unknown }) => (res.body as { code?: string } | null)?.code

describe('sign-in', () => {
  test('good password → tokens that open the API; bad password and unknown user → the same 401; both audited', async () => {
    const h = await startGateway()
    await h.addUser('alice', 'admin')
    const ok = await api(h, 'POST', '/api/auth/login', { username: 'alice', password: 'correct horse battery' })
    assert.equal(ok.status, 200)
    const tokens = ok.body as { accessToken: string; refreshToken: string; tokenType: string; expiresIn: number }
    assert.equal(tokens.tokenType, 'Bearer')
    assert.equal(tokens.expiresIn, 600)
    assert.equal(ok.headers['cache-control'], 'no-store')
    assert.equal((await api(h, 'GET', '/api/devices', undefined, tokens.accessToken)).status, 200)

    const wrong = await api(h, 'POST', '/api/auth/login', { username: 'alice', password: 'not it at all' })
    const unknown = await api(h, 'POST', '/api/auth/login', { username: 'mallory', password: 'not it at all' })
    assert.equal(wrong.status, 401)
    assert.equal(unknown.status, 401)
    assert.equal((wrong.body as { detail: string }).detail, (unknown.body as { detail: string }).detail, 'no hint whether the user exists')
    const audit = h.gateway.store.db.prepare("SELECT action, outcome FROM audit_log WHERE action = 'auth.login' ORDER BY id").all()
    assert.deepEqual(audit, [
      { action: 'auth.login', outcome: 'ok' },
      { action: 'auth.login', outcome: 'denied' },
      { action: 'auth.login', outcome: 'denied' },
    ])
    assert.equal(verifyAuditChain(h.gateway.store.db).broken, null)
  })

  test('no token, a forged token, a token from another box: 401', async () => {
    const h = await startGateway()
    const other = await startGateway()
    await h.addUser('alice', 'admin')
    await other.addUser('alice', 'admin')
    const { accessToken } = await other.login('alice')
    const none = await api(h, 'GET', '/api/devices')
    assert.equal(none.status, 401)
    assert.equal(none.headers['www-authenticate'], 'Bearer')
    assert.equal((await api(h, 'GET', '/api/devices', undefined, `${accessToken.slice(0, -3)}AAA`)).status, 401)
    assert.equal((await api(h, 'GET', '/api/devices', undefined, accessToken)).status, 401, 'signed by another box key')
  })

  test('a token under the box key whose subject is not a user id in decimal is refused (only ours carry one)', async () => {
    const h = await startGateway()
    const id = await h.addUser('alice', 'admin')
    const { accessToken } = await h.login('alice')
    const box = await SecretBox.open(join(h.dataDir, SECRETS_DIR))
    const key = Buffer.from(await box.readFile(join(h.dataDir, SECRETS_DIR, 'jwt-signing.key.age')), 'base64')
    const claims = JSON.parse(Buffer.from(accessToken.split('.')[1] as string, 'base64url').toString()) as Record<string, unknown>
    const resign = (sub: unknown) => {
      const input = `${accessToken.split('.')[0]}.${Buffer.from(JSON.stringify({ ...claims, sub })).toString('base64url')}`
      return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`
    }
    assert.equal((await api(h, 'GET', '/api/devices', undefined, resign(String(id)))).status, 200, 'the same claims re-signed pass')
    for (const sub of [`${id}.0`, ` ${id}`, `0x${id.toString(16)}`, id, `0${id}`])
      assert.equal((await api(h, 'GET', '/api/devices', undefined, resign(sub))).status, 401, JSON.stringify(sub))
  })

  test('repeated failures back off with 429 and Retry-After; the right password waits too; other users are unaffected', async () => {
    let now = Date.now() // real time: the TLS certificates are issued by this clock
    const h = await startGateway({}, undefined, { clock: { now: () => now } })
    await h.addUser('alice', 'admin')
    await h.addUser('bob', 'viewer')
    for (let i = 0; i < 5; i++) assert.equal((await api(h, 'POST', '/api/auth/login', { username: 'alice', password: 'guess number x' })).status, 401)
    const limited = await api(h, 'POST', '/api/auth/login', { username: 'alice', password: 'guess number x' })
    assert.equal(limited.status, 429)
    assert.equal(code(limited), 'CAREHUB_ERR_RATE_LIMITED')
    assert.ok(Number(limited.headers['retry-after']) >= 1)
    assert.equal((await api(h, 'POST', '/api/auth/login', { username: 'alice', password: 'correct horse battery' })).status, 429)
    assert.equal((await api(h, 'POST', '/api/auth/login', { username: 'bob', password: 'correct horse battery' })).status, 200)
    now += 2000 // back-off over: never a permanent lock-out
    assert.equal((await api(h, 'POST', '/api/auth/login', { username: 'alice', password: 'correct horse battery' })).status, 200)
  })
})

describe('sessions', () => {
  test('the access token expires; refreshing rotates both tokens', async () => {
    let now = Date.now() // real time: the TLS certificates are issued by this clock
    const h = await startGateway({}, undefined, { clock: { now: () => now } })
    await h.addUser('alice', 'caregiver')
    const first = await h.login('alice')
    now += 11 * 60_000
    const expired = await api(h, 'GET', '/api/devices', undefined, first.accessToken)
    assert.equal(expired.status, 401)
    assert.match((expired.body as { detail: string }).detail, /expired; refresh it/)
    const refreshed = await api(h, 'POST', '/api/auth/refresh', { refreshToken: first.refreshToken })
    assert.equal(refreshed.status, 200)
    const second = refreshed.body as { accessToken: string; refreshToken: string }
    assert.notEqual(second.refreshToken, first.refreshToken)
    assert.equal((await api(h, 'GET', '/api/devices', undefined, second.accessToken)).status, 200)
  })

  test('two tabs refreshing at once (within the grace window) both succeed with the same successor', async () => {
    const h = await startGateway()
    await h.addUser('alice', 'caregiver')
    const { refreshToken } = await h.login('alice')
    const [a, b] = await Promise.all([api(h, 'POST', '/api/auth/refresh', { refreshToken }), api(h, 'POST', '/api/auth/refresh', { refreshToken })])
    assert.equal(a.status, 200)
    assert.equal(b.status, 200)
    assert.equal((a.body as { refreshToken: string }).refreshToken, (b.body as { refreshToken: string }).refreshToken)
  })

  test('reuse of a consumed refresh token after the grace window revokes the whole session (RFC 9700 §4.14.2)', async () => {
    let now = Date.now() // real time: the TLS certificates are issued by this clock
    const h = await startGateway({}, undefined, { clock: { now: () => now } })
    await h.addUser('alice', 'caregiver')
    const first = await h.login('alice')
    const second = (await api(h, 'POST', '/api/auth/refresh', { refreshToken: first.refreshToken })).body as {
      accessToken: string
      refreshToken: string
    }
    now += 11_000
    const replay = await api(h, 'POST', '/api/auth/refresh', { refreshToken: first.refreshToken })
    assert.equal(replay.status, 401)
    assert.match((replay.body as { detail: string }).detail, /already used; the session was ended/)
    // The legitimate holder's tokens are dead too: the server cannot tell who is the attacker.
    assert.equal((await api(h, 'GET', '/api/devices', undefined, second.accessToken)).status, 401)
    assert.equal((await api(h, 'POST', '/api/auth/refresh', { refreshToken: second.refreshToken })).status, 401)
    assert.equal(h.gateway.store.db.prepare("SELECT count(*) FROM audit_log WHERE action = 'auth.refresh_reuse'").pluck().get(), 1)
  })

  test('inside the grace window, replaying the old token after the successor was used is reuse, not a second tab', async () => {
    const h = await startGateway()
    await h.addUser('alice', 'caregiver')
    const first = await h.login('alice')
    const second = (await api(h, 'POST', '/api/auth/refresh', { refreshToken: first.refreshToken })).body as { refreshToken: string }
    const third = (await api(h, 'POST', '/api/auth/refresh', { refreshToken: second.refreshToken })).body as { accessToken: string }
    const replay = await api(h, 'POST', '/api/auth/refresh', { refreshToken: first.refreshToken })
    assert.equal(replay.status, 401)
    assert.equal((await api(h, 'GET', '/api/devices', undefined, third.accessToken)).status, 401, 'the family was revoked')
  })

  test('logout ends the session: the next request and the refresh token are refused', async () => {
    const h = await startGateway()
    await h.addUser('alice', 'viewer')
    const t = await h.login('alice')
    assert.equal((await api(h, 'POST', '/api/auth/logout', undefined, t.accessToken)).status, 204)
    assert.equal((await api(h, 'GET', '/api/devices', undefined, t.accessToken)).status, 401)
    assert.equal((await api(h, 'POST', '/api/auth/refresh', { refreshToken: t.refreshToken })).status, 401)
  })

  test('a disabled account or a sessions cut-off (password/role change) takes effect on the next request', async () => {
    let now = Date.now() // real time: the TLS certificates are issued by this clock
    const h = await startGateway({}, undefined, { clock: { now: () => now } })
    const id = await h.addUser('alice', 'viewer')
    const t = await h.login('alice')
    now += 5000
    h.gateway.store.db.prepare('UPDATE users SET sessions_valid_after = ? WHERE id = ?').run(now, id)
    assert.equal((await api(h, 'GET', '/api/devices', undefined, t.accessToken)).status, 401)
    const again = await h.login('alice')
    h.gateway.store.db.prepare('UPDATE users SET disabled = 1 WHERE id = ?').run(id)
    assert.equal((await api(h, 'GET', '/api/devices', undefined, again.accessToken)).status, 401)
    assert.equal((await api(h, 'POST', '/api/auth/login', { username: 'alice', password: 'correct horse battery' })).status, 401)
  })

  test('the absolute session lifetime is not extended by refreshing', async () => {
    let now = Date.now() // real time: the TLS certificates are issued by this clock
    const h = await startGateway({ auth: { sessionMaxDays: 1, refreshTokenDays: 1 } }, undefined, { clock: { now: () => now } })
    await h.addUser('alice', 'viewer')
    let { refreshToken } = await h.login('alice')
    for (let i = 0; i < 3; i++) {
      now += 6 * 3_600_000
      const r = await api(h, 'POST', '/api/auth/refresh', { refreshToken })
      assert.equal(r.status, 200)
      refreshToken = (r.body as { refreshToken: string }).refreshToken
    }
    now += 7 * 3_600_000 // 25 h after sign-in
    assert.equal((await api(h, 'POST', '/api/auth/refresh', { refreshToken })).status, 401)
  })
})

describe('per-user API budget', () => {
  test('a user over the budget gets 429 with Retry-After; another user is unaffected', async () => {
    let now = Date.now() // real time: the TLS certificates are issued by this clock
    const h = await startGateway({ auth: { apiBurst: 3, apiPerSecond: 1 } }, undefined, { clock: { now: () => now } })
    await h.addUser('busy', 'viewer')
    await h.addUser('calm', 'viewer')
    const busy = await h.login('busy')
    const calm = await h.login('calm')
    for (let i = 0; i < 3; i++) assert.equal((await api(h, 'GET', '/api/devices', undefined, busy.accessToken)).status, 200)
    const limited = await api(h, 'GET', '/api/devices', undefined, busy.accessToken)
    assert.equal(limited.status, 429)
    assert.equal(limited.headers['retry-after'], '1')
    assert.equal((await api(h, 'GET', '/api/devices', undefined, calm.accessToken)).status, 200)
    now += 1000
    assert.equal((await api(h, 'GET', '/api/devices', undefined, busy.accessToken)).status, 200)
  })

  test('POST /api/auth/magic-link answers 501 until the email channel exists', async () => {
    const h = await startGateway()
    const r = await api(h, 'POST', '/api/auth/magic-link', { email: 'a@example.org' })
    assert.equal(r.status, 501)
    assert.equal((r.body as { code: string }).code, 'CAREHUB_ERR_NOT_IMPLEMENTED')
    assert.match((r.body as { detail: string }).detail, /email channel/)
  })
})
