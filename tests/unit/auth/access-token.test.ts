import assert from 'node:assert/strict'
import { createHmac, randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import { jwtVerify, SignJWT } from 'jose'
import { verifyAccessToken } from '../../../gateway/src/auth/access-token.js'

const KEY = randomBytes(32)
const ISSUER = 'carehub:box-1'
const NOW = Date.parse('2026-11-27T10:00:00Z')
const iat = Math.floor(NOW / 1000)

/** A token as the gateway issues it at sign-in (auth-service.ts #sign), optionally changed. */
function issue(o: { key?: Buffer; issuer?: string; exp?: number; header?: Record<string, unknown>; extra?: Record<string, unknown> } = {}) {
  return new SignJWT({ role: 'admin', sid: 's-1', ...o.extra })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...o.header })
    .setSubject('7')
    .setIssuer(o.issuer ?? ISSUER)
    .setIssuedAt(iat)
    .setExpirationTime(o.exp ?? iat + 900)
    .setJti('j-1')
    .sign(o.key ?? KEY)
}

/** A compact JWS built by hand: for what jose would never sign. */
function forge(header: Record<string, unknown>, claims: Record<string, unknown>, key: Buffer = KEY): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
  const input = `${b64(header)}.${b64(claims)}`
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`
}

const check = (token: string, now = NOW) => verifyAccessToken(token, KEY, { issuer: ISSUER, now })
const claims = { sub: '7', iss: ISSUER, iat, exp: iat + 900 }

describe('access tokens are verified synchronously, as strictly as jose was configured', () => {
  test('a token the gateway issued verifies, with its claims', async () => {
    const result = check(await issue())
    assert.ok(result.ok)
    assert.equal(result.claims.sub, '7')
    assert.equal(result.claims.sid, 's-1')
    assert.equal(result.claims.iat, iat)
  })

  test('expiry: refused as expired from the second of exp on (RFC 7519 §4.1.4)', async () => {
    const token = await issue({ exp: iat + 60 })
    assert.ok(check(token, NOW + 59_999).ok)
    assert.deepEqual(check(token, NOW + 60_000), { ok: false, expired: true })
  })

  test('refused as invalid: another key, another issuer, a changed claim, no exp, a future nbf, bad shapes', async () => {
    assert.deepEqual(check(await issue({ key: randomBytes(32) })), { ok: false, expired: false })
    assert.deepEqual(check(await issue({ issuer: 'carehub:other-box' })), { ok: false, expired: false })
    const [h, , s] = (await issue()).split('.') as [string, string, string]
    const raised = Buffer.from(JSON.stringify({ ...claims, sub: '1' })).toString('base64url')
    assert.equal(check(`${h}.${raised}.${s}`).ok, false, 'a payload changed after signing')
    assert.equal(check(forge({ alg: 'HS256' }, { sub: '7', iss: ISSUER })).ok, false, 'no exp')
    assert.equal(check(forge({ alg: 'HS256' }, { ...claims, nbf: iat + 10 })).ok, false, 'not valid before a later time')
    assert.equal(check(forge({ alg: 'HS256' }, { ...claims, iat: 'yesterday' })).ok, false, 'iat not a number')
    assert.ok(check(forge({ alg: 'HS256' }, claims)).ok, 'the hand-built token itself is fine')
    for (const bad of [
      '',
      'a.b',
      'a.b.c.d',
      `${h}..${s}`,
      `${h}.${raised}.`,
      `${h}.${raised}.${s}=`,
      forge({ alg: 'HS256' }, claims).replace('.', '.\u00e9'),
    ])
      assert.equal(check(bad).ok, false, JSON.stringify(bad))
    const notObject = `${Buffer.from('[1]').toString('base64url')}.${Buffer.from('{}').toString('base64url')}`
    assert.equal(check(`${notObject}.${createHmac('sha256', KEY).update(notObject).digest('base64url')}`).ok, false, 'a header that is not an object')
  })

  test('what Buffer would quietly accept is refused: ill-formed UTF-8, a 4k+1-character segment, a clock that is not a number', () => {
    const sign = (header: Buffer, payload: Buffer) => {
      const input = `${header.toString('base64url')}.${payload.toString('base64url')}`
      return `${input}.${createHmac('sha256', KEY).update(input).digest('base64url')}`
    }
    const json = (v: unknown) => Buffer.from(JSON.stringify(v))
    const badUtf8 = Buffer.concat([
      Buffer.from(`{"sub":"7","iss":"${ISSUER}","exp":${iat + 900},"sid":"s`),
      Buffer.from([0xc0, 0xaf]),
      Buffer.from('"}'),
    ])
    assert.equal(check(sign(json({ alg: 'HS256' }), badUtf8)).ok, false, 'payload')
    assert.equal(
      check(sign(Buffer.concat([Buffer.from('{"alg":"HS256","x":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]), json(claims))).ok,
      false,
      'header',
    )
    assert.equal(check(sign(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json({ alg: 'HS256' })]), json(claims))).ok, false, 'a byte-order mark')
    const header = json({ alg: 'HS256', typ: 'JWT' }).toString('base64url')
    const input = `${header}A.${json(claims).toString('base64url')}`
    assert.equal(header.length % 4, 0)
    assert.equal(check(`${input}.${createHmac('sha256', KEY).update(input).digest('base64url')}`).ok, false, '4k+1 characters')
    assert.equal(verifyAccessToken(forge({ alg: 'HS256' }, claims), KEY, { issuer: ISSUER, now: Number.NaN }).ok, false, 'NaN now')
  })

  test('agrees with jose on 2,000 correctly signed tokens with varied headers and claims', async () => {
    const headers = [
      { alg: 'HS256' },
      { alg: 'HS256', typ: 'JWT' },
      { alg: 'HS256', kid: 'k' },
      { alg: 'HS256', b64: false },
      { alg: 'HS384' },
      { alg: 'none' },
      { typ: 'JWT' },
    ]
    const values = [undefined, null, 'x', iat - 1, iat, iat + 1, iat + 900, [iat + 900], '1e400', 1.5]
    const issuers = [ISSUER, undefined, 'other', [ISSUER]]
    let agreed = 0
    for (let i = 0; i < 2000; i++) {
      const pick = <T>(list: readonly T[], salt: number) => list[(i * salt + (i >> 3)) % list.length] as T
      const payload: Record<string, unknown> = { sub: '7' }
      for (const [name, salt] of [
        ['exp', 7],
        ['nbf', 11],
        ['iat', 13],
      ] as const) {
        const v = pick(values, salt)
        if (v !== undefined) payload[name] = v
      }
      const iss = pick(issuers, 5)
      if (iss !== undefined) payload.iss = iss
      if (payload.exp === undefined) payload.exp = iat + 900 // ours requires exp (stricter than jose as configured)
      const token = forge(pick(headers, 3), payload)
      const ours = check(token).ok
      const theirs = await jwtVerify(token, KEY, { algorithms: ['HS256'], issuer: ISSUER, currentDate: new Date(NOW) }).then(
        () => true,
        () => false,
      )
      assert.equal(ours, theirs, `${token}: ours ${ours}, jose ${theirs}`)
      if (ours) agreed++
    }
    assert.ok(agreed > 0, 'some were valid')
  })

  test('algorithms (RFC 8725 §3.1): only HS256; "none", HS512 with our key and an unknown crit extension are refused', async () => {
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`
    assert.equal(check(none).ok, false)
    const hs512 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS512' }).sign(randomBytes(64))
    assert.equal(check(hs512).ok, false)
    assert.equal(check(forge({ alg: 'HS512' }, claims)).ok, false, 'an HS256 MAC labelled HS512')
    assert.equal(check(forge({ alg: 'HS256', crit: ['exp'] }, claims)).ok, false)
  })

  test('agrees with jose on 3,000 tokens with one character changed', async () => {
    const token = await issue()
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.='
    let accepted = 0
    for (let i = 0; i < 3000; i++) {
      const at = i % token.length
      const c = alphabet[(i * 7 + at) % alphabet.length] as string
      const mutated = token.slice(0, at) + c + token.slice(at + 1)
      const ours = check(mutated).ok
      const theirs = await jwtVerify(mutated, KEY, { algorithms: ['HS256'], issuer: ISSUER, currentDate: new Date(NOW) }).then(
        () => true,
        () => false,
      )
      assert.equal(ours, theirs, `token changed at ${at} to ${c}: ours ${ours}, jose ${theirs}`)
      if (ours) accepted++
    }
    // The unchanged ones (a character replaced by itself) and those changing only unused bits of the
    // last base64url character of the signature are the same token: both accept them.
    assert.ok(accepted > 0 && accepted < 300, `accepted ${accepted}`)
  })
})
