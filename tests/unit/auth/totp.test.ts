import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { base32, hotp, otpauthUri, stepAt, verifyTotp } from '../../../gateway/src/auth/totp.js'

describe('TOTP (RFC 6238)', () => {
  test('Appendix B test vectors (SHA-1, SHA-256, SHA-512; 8 digits)', () => {
    const seeds = {
      sha1: Buffer.from('12345678901234567890'),
      sha256: Buffer.from('12345678901234567890123456789012'),
      sha512: Buffer.from('1234567890123456789012345678901234567890123456789012345678901234'),
    } as const
    const vectors: Array<[number, string, string, string]> = [
      [59, '94287082', '46119246', '90693936'],
      [1111111109, '07081804', '68084774', '25091201'],
      [1111111111, '14050471', '67062674', '99943326'],
      [1234567890, '89005924', '91819424', '93441116'],
      [2000000000, '69279037', '90698825', '38618901'],
      [20000000000, '65353130', '77737706', '47863826'],
    ]
    for (const [t, sha1, sha256, sha512] of vectors) {
      const step = stepAt(t * 1000)
      assert.equal(hotp(seeds.sha1, step, 8, 'sha1'), sha1, `sha1 T=${t}`)
      assert.equal(hotp(seeds.sha256, step, 8, 'sha256'), sha256, `sha256 T=${t}`)
      assert.equal(hotp(seeds.sha512, step, 8, 'sha512'), sha512, `sha512 T=${t}`)
    }
  })

  test('RFC 4226 Appendix D HOTP values (6 digits)', () => {
    const secret = Buffer.from('12345678901234567890')
    const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489']
    for (const [counter, code] of expected.entries()) assert.equal(hotp(secret, counter), code)
  })

  test('accepts the current step and one either side only; refuses a replay and anything at or before the last step', () => {
    const secret = Buffer.from('12345678901234567890')
    const now = 1_111_111_111_000
    const step = stepAt(now)
    assert.deepEqual(verifyTotp(secret, hotp(secret, step), now, null), { ok: true, step })
    assert.equal(verifyTotp(secret, hotp(secret, step - 1), now, null).ok, true)
    assert.equal(verifyTotp(secret, hotp(secret, step + 1), now, null).ok, true)
    assert.deepEqual(verifyTotp(secret, hotp(secret, step - 2), now, null), { ok: false, reason: 'wrong' })
    assert.deepEqual(verifyTotp(secret, hotp(secret, step + 2), now, null), { ok: false, reason: 'wrong' })
    assert.deepEqual(verifyTotp(secret, hotp(secret, step), now, step), { ok: false, reason: 'replayed' })
    assert.deepEqual(verifyTotp(secret, hotp(secret, step - 1), now, step - 1), { ok: false, reason: 'replayed' })
    assert.deepEqual(verifyTotp(secret, '12345', now, null), { ok: false, reason: 'format' })
    assert.deepEqual(verifyTotp(secret, '12a456', now, null), { ok: false, reason: 'format' })
  })

  test('base32 (RFC 4648 §10 vectors, no padding) and a QR-ready otpauth URI', () => {
    const cases: Array<[string, string]> = [
      ['', ''],
      ['f', 'MY'],
      ['fo', 'MZXQ'],
      ['foo', 'MZXW6'],
      ['foob', 'MZXW6YQ'],
      ['fooba', 'MZXW6YTB'],
      ['foobar', 'MZXW6YTBOI'],
    ]
    for (const [input, out] of cases) assert.equal(base32(Buffer.from(input)), out)
    const uri = otpauthUri(Buffer.from('12345678901234567890'), 'alice', 'CareHub gw-1')
    assert.equal(
      uri,
      'otpauth://totp/CareHub%20gw-1:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=CareHub%20gw-1&algorithm=SHA1&digits=6&period=30',
    )
  })
})
