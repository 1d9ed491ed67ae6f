import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { hashPassword, PASSWORD_MAX, PASSWORD_MIN, passwordProblem, verifyPassword } from '../../../gateway/src/auth/password.js'
import { CarehubError } from '../../../gateway/src/core/errors.js'

const USER = 'anna'
/** Not common, does not contain the username; repeated/sliced to the length a test needs. */
const filler = (length: number) => 'kx7-Qm2v'.repeat(Math.ceil(length / 8)).slice(0, length)

describe('passwordProblem', () => {
  test('the limits are 8 and 128', () => {
    assert.equal(PASSWORD_MIN, 8)
    assert.equal(PASSWORD_MAX, 128)
  })

  test('7 characters are too short', () => {
    assert.match(passwordProblem(filler(7), USER) ?? '', /at least 8/)
  })

  test('8 characters are enough', () => {
    assert.equal(passwordProblem(filler(8), USER), null)
  })

  test('128 characters are allowed', () => {
    assert.equal(passwordProblem(filler(128), USER), null)
  })

  test('129 characters are refused', () => {
    assert.match(passwordProblem(filler(129), USER) ?? '', /at most 128/)
  })

  test('length is counted in code points: 7 emoji (14 UTF-16 units) are too short', () => {
    const pw = '🔑'.repeat(7)
    assert.equal(pw.length, 14)
    assert.match(passwordProblem(pw, USER) ?? '', /at least 8/)
  })

  test('length is counted in code points: 8 emoji are enough', () => {
    assert.equal(passwordProblem('🔑'.repeat(8), USER), null)
  })

  test('length is counted in code points: 128 emoji (256 UTF-16 units) are allowed, 129 are not', () => {
    assert.equal(passwordProblem('🔑'.repeat(128), USER), null)
    assert.match(passwordProblem('🔑'.repeat(129), USER) ?? '', /at most 128/)
  })

  for (const common of ['password1', 'PassWord1', 'PASSWORD1', 'Sunshine', 'raspberrypi']) {
    test(`a common password is refused, whatever its case (${common})`, () => {
      assert.match(passwordProblem(common, USER) ?? '', /common/)
    })
  }

  test('a near-miss of a common password is accepted', () => {
    assert.equal(passwordProblem('password1!x', USER), null)
  })

  test('a password containing the username is refused, case-insensitively', () => {
    assert.match(passwordProblem('xxAnnaxx-99', USER) ?? '', /username/)
    assert.match(passwordProblem('xx-anna-99', 'ANNA') ?? '', /username/)
    assert.match(passwordProblem('grandmother-7', 'mother') ?? '', /username/)
  })

  test('a username shorter than 4 characters is not checked', () => {
    assert.equal(passwordProblem('bobbybobby-7', 'bob'), null)
    // the same password is refused for a 4-character username it contains
    assert.match(passwordProblem('bobbybobby-7', 'bobb') ?? '', /username/)
  })
})

describe('hashPassword / verifyPassword', () => {
  const password = 'correct horse battery'

  test('produces an argon2id PHC string with the OWASP parameters, salted', async () => {
    const a = await hashPassword(password, USER)
    const b = await hashPassword(password, USER)
    assert.ok(a.startsWith('$argon2id$v=19$m=19456,t=2,p=1$'), a)
    assert.notEqual(a, b, 'two hashes of one password must differ (random salt)')
    assert.equal(a.includes(password), false)
  })

  test('verifyPassword accepts the right password and refuses a wrong one', async () => {
    const encoded = await hashPassword(password, USER)
    assert.equal(await verifyPassword(encoded, password), true)
    assert.equal(await verifyPassword(encoded, 'correct horse battery!'), false)
    assert.equal(await verifyPassword(encoded, 'Correct horse battery'), false)
    assert.equal(await verifyPassword(encoded, ''), false)
  })

  test('verifyPassword refuses (does not throw on) a garbage or empty hash', async () => {
    assert.equal(await verifyPassword('not-a-hash', password), false)
    assert.equal(await verifyPassword('', password), false)
    assert.equal(await verifyPassword('$argon2id$v=19$m=19456,t=2,p=1$garbage', password), false)
  })

  for (const [why, bad] of [
    ['too short', 'short'],
    ['common', 'PassWord1'],
    ['contains the username', 'my-anna-password-x'],
    ['too long', 'x7'.repeat(65)],
  ] as const) {
    test(`hashPassword rejects a bad password (${why}) with CAREHUB_ERR_VALIDATION`, async () => {
      await assert.rejects(hashPassword(bad, USER), (err: unknown) => {
        assert.ok(err instanceof CarehubError)
        assert.equal(err.code, 'CAREHUB_ERR_VALIDATION')
        assert.equal(err.message, passwordProblem(bad, USER))
        return true
      })
    })
  }
})
