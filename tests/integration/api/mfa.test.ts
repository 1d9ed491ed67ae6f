import assert from 'node:assert/strict'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { hotp, stepAt } from '../../../gateway/src/auth/totp.js'
import { api, base32Decode } from '../../_support/api-client.js'
import { type Harness, startGateway } from '../../_support/gateway-harness.js'
import { tempDir } from '../../_support/temp.js'

const detail = (r: { body: unknown }) => (r.body as { detail?: string; code?: string } | null) ?? {}

async function enrolled(options: { flagFile?: string } = {}) {
  let now = Date.now() // real time: the TLS certificates are issued by this clock
  const h = await startGateway(options.flagFile ? { auth: { clockSyncedFlagFile: options.flagFile } } : {}, undefined, { clock: { now: () => now } })
  await h.addUser('alice', 'admin')
  const session = await h.login('alice')
  const enrol = await api(h, 'POST', '/api/auth/mfa/enroll', undefined, session.accessToken)
  assert.equal(enrol.status, 200, JSON.stringify(enrol.body))
  const { otpauthUri, secret } = enrol.body as { otpauthUri: string; secret: string }
  assert.match(otpauthUri, /^otpauth:\/\/totp\/CareHub%20gw-[0-9a-f]+:alice\?secret=[A-Z2-7]{32}&issuer=.*&algorithm=SHA1&digits=6&period=30$/)
  const key = base32Decode(secret)
  const code = () => hotp(key, stepAt(now))
  const verify = await api(h, 'POST', '/api/auth/mfa/verify', { code: code() }, session.accessToken)
  assert.equal(verify.status, 200, JSON.stringify(verify.body))
  const { recoveryCodes } = verify.body as { recoveryCodes: string[] }
  return { h, session, code, recoveryCodes, advance: (ms: number) => (now += ms) }
}

const login = (h: Harness, totp?: string) =>
  api(h, 'POST', '/api/auth/login', { username: 'alice', password: 'correct horse battery', ...(totp ? { totp } : {}) })

describe('TOTP two-factor sign-in', () => {
  test("enrol → verify → sign-in needs the code; a code works once; the next step's code works", async () => {
    const { h, code, recoveryCodes, advance } = await enrolled()
    assert.equal(recoveryCodes.length, 10)
    const missing = await login(h)
    assert.equal(missing.status, 401)
    assert.equal(detail(missing).code, 'CAREHUB_ERR_MFA_REQUIRED')
    // The code used to activate was this step's: it is spent (RFC 6238 §5.2).
    assert.match(String(detail(await login(h, code())).detail), /already used/)
    advance(30_000)
    assert.equal((await login(h, code())).status, 200)
    assert.equal((await login(h, code())).status, 401, 'the same code twice')
    assert.equal((await login(h, '000000')).status, 401)
  })

  test('replacing an active factor needs the password and a current code (a stolen token cannot swap it)', async () => {
    const { h, code, advance } = await enrolled()
    advance(30_000)
    const session = (await login(h, code())).body as { accessToken: string }
    const bare = await api(h, 'POST', '/api/auth/mfa/enroll', undefined, session.accessToken)
    assert.equal(bare.status, 401)
    const noCode = await api(h, 'POST', '/api/auth/mfa/enroll', { password: 'correct horse battery' }, session.accessToken)
    assert.equal(detail(noCode).code, 'CAREHUB_ERR_MFA_REQUIRED')
    advance(30_000)
    const ok = await api(h, 'POST', '/api/auth/mfa/enroll', { password: 'correct horse battery', code: code() }, session.accessToken)
    assert.equal(ok.status, 200)
  })

  test('a recovery code works exactly once', async () => {
    const { h, recoveryCodes } = await enrolled()
    assert.equal((await login(h, recoveryCodes[0])).status, 200)
    assert.equal((await login(h, recoveryCodes[0])).status, 401)
    assert.equal((await login(h, recoveryCodes[1]?.toUpperCase())).status, 200)
  })

  test("enabling MFA ends the user's other sessions, not the one that enabled it", async () => {
    let now = Date.now()
    const h = await startGateway({}, undefined, { clock: { now: () => now } })
    await h.addUser('alice', 'admin')
    const other = await h.login('alice')
    const mine = await h.login('alice')
    const { secret } = (await api(h, 'POST', '/api/auth/mfa/enroll', undefined, mine.accessToken)).body as { secret: string }
    const verify = await api(h, 'POST', '/api/auth/mfa/verify', { code: hotp(base32Decode(secret), stepAt(now)) }, mine.accessToken)
    assert.equal(verify.status, 200)
    now += 1000
    assert.equal((await api(h, 'GET', '/api/devices', undefined, mine.accessToken)).status, 200)
    assert.equal((await api(h, 'GET', '/api/devices', undefined, other.accessToken)).status, 401)
  })

  test('while the clock is not known to be synchronised, codes are refused (503) but recovery codes work; readiness says so', async () => {
    const flag = join(tempDir(), 'synchronized')
    writeFileSync(flag, '')
    const { h, code, recoveryCodes, advance } = await enrolled({ flagFile: flag })
    rmSync(flag)
    advance(30_000)
    const refused = await login(h, code())
    assert.equal(refused.status, 503)
    assert.equal(detail(refused).code, 'CAREHUB_ERR_CLOCK_UNTRUSTED')
    assert.equal((await login(h, recoveryCodes[0])).status, 200)
    const ready = await api(h, 'GET', '/health/ready')
    assert.equal(ready.status, 200, 'degraded, not down: ingest goes on')
    assert.equal((ready.body as { checks: Record<string, { status: string }> }).checks.clock?.status, 'degraded')
  })
})
