import assert from 'node:assert/strict'
import { test } from 'node:test'
import { newEnrolmentCode } from '../../../cloud-sync/src/crypto/enrolment-code.js'

test('an enrolment code never starts with "-" (the CLI would read it as an option): such a draw is drawn again', () => {
  // 0xF8 = 0b111110_00: base64url index 62, "-", as the first character.
  const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0x04)]
  const code = newEnrolmentCode(() => draws.shift() as Buffer)
  assert.equal(code, Buffer.alloc(16, 0x04).toString('base64url'))
  assert.equal(draws.length, 0, 'the first draw was refused')
  assert.equal(Buffer.alloc(16, 0xf8).toString('base64url')[0], '-', 'the refused draw did start with "-"')
})

test('real codes: 128 bits in 22 base64url characters, none starting with "-"', () => {
  for (let i = 0; i < 2000; i++) assert.match(newEnrolmentCode(), /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/)
})
