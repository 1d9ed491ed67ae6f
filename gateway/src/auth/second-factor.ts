import { CarehubError } from '../core/errors.js'
import type { SecretBox } from '../secrets/secret-box.js'
import { acceptStep, activateMfa, mfaState, newRecoveryCodes, RECOVERY_CODE, setPendingSecret, useRecoveryCode } from '../store/mfa.js'
import type { Db } from '../store/open.js'
import { newTotpSecret, otpauthUri, verifyTotp } from './totp.js'

export interface SecondFactorDeps {
  readonly db: Db
  readonly secrets: SecretBox
  readonly clockTrusted: boolean
  readonly now: number
}

/**
 * The second factor at sign-in, for a user who enrolled TOTP: a 6-digit code (refused while the
 * box clock is not known to be right — ASVS 6.5.8) or one of the one-time recovery codes (not
 * time-based, so they still work then). Throws CAREHUB_ERR_MFA_REQUIRED / _UNAUTHENTICATED.
 */
export async function checkSecondFactor(d: SecondFactorDeps, userId: number, code: string | undefined): Promise<'totp' | 'recovery' | 'none'> {
  const state = mfaState(d.db, userId)
  if (!state.enabled) return 'none'
  if (!code)
    throw new CarehubError('CAREHUB_ERR_MFA_REQUIRED', 'this account uses a one-time code: send "totp" with the 6-digit code or a recovery code')
  if (RECOVERY_CODE.test(code)) {
    if (useRecoveryCode(d.db, userId, code, d.now)) return 'recovery'
    throw new CarehubError('CAREHUB_ERR_UNAUTHENTICATED', 'wrong or already used recovery code')
  }
  if (!d.clockTrusted) {
    throw new CarehubError(
      'CAREHUB_ERR_CLOCK_UNTRUSTED',
      'the box clock is not synchronised, so one-time codes cannot be checked; use a recovery code or wait for the network time',
    )
  }
  const secret = Buffer.from(await d.secrets.decrypt(state.secretEnc ?? '', 'the TOTP secret'), 'base64')
  const check = verifyTotp(secret, code, d.now, state.lastStep)
  if (!check.ok || !acceptStep(d.db, userId, check.step)) {
    throw new CarehubError(
      'CAREHUB_ERR_UNAUTHENTICATED',
      check.ok || check.reason === 'replayed' ? 'this code was already used; wait for the next one' : 'wrong one-time code',
    )
  }
  return 'totp'
}

/** Step 1 of enrolment: a new secret, pending until a first code proves the app has it. */
export async function enrolTotp(
  d: SecondFactorDeps,
  userId: number,
  account: string,
  issuer: string,
): Promise<{ otpauthUri: string; secret: string }> {
  const secret = newTotpSecret()
  setPendingSecret(d.db, userId, await d.secrets.encrypt(secret.toString('base64')), d.now)
  const uri = otpauthUri(secret, account, issuer)
  return { otpauthUri: uri, secret: new URL(uri).searchParams.get('secret') ?? '' }
}

/** Step 2: a correct code activates the secret; returns the one-time recovery codes (shown once). */
export async function confirmTotp(d: SecondFactorDeps, userId: number, code: string): Promise<string[]> {
  const state = mfaState(d.db, userId)
  if (!state.pendingEnc) throw new CarehubError('CAREHUB_ERR_VALIDATION', 'no enrolment in progress: POST /api/auth/mfa/enroll first')
  if (!d.clockTrusted) throw new CarehubError('CAREHUB_ERR_CLOCK_UNTRUSTED', 'the box clock is not synchronised; enrol once it is')
  const secret = Buffer.from(await d.secrets.decrypt(state.pendingEnc, 'the pending TOTP secret'), 'base64')
  const check = verifyTotp(secret, code, d.now, null)
  if (!check.ok) throw new CarehubError('CAREHUB_ERR_VALIDATION', 'wrong code: check the time on the phone and type the current code')
  const codes = newRecoveryCodes()
  activateMfa(d.db, userId, check.step, codes, d.now)
  return codes
}
