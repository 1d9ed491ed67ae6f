import assert from 'node:assert/strict'
import { CarehubError, type ErrorCode } from '../../gateway/src/core/errors.js'

/**
 * A validator for assert.throws / assert.rejects: the error must be a CarehubError with this code
 * and, when given, a message matching the pattern. Fails with a readable diff otherwise.
 */
export function carehubError(code: ErrorCode, message?: RegExp): (err: unknown) => true {
  return (err) => {
    assert.ok(
      err instanceof CarehubError,
      `expected a CarehubError ${code}, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`,
    )
    assert.equal(err.code, code, `wrong code; message was: ${err.message}`)
    if (message) assert.match(err.message, message)
    return true
  }
}
