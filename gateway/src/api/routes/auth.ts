import { type H3, HTTPError, readValidatedBody } from 'h3'
import { z } from 'zod'
import type { AuthService } from '../../auth/auth-service.js'
import { PASSWORD_MAX } from '../../auth/password.js'
import { clientOf, requireSignedIn } from '../_internal/authenticate.js'

export const Login = z.strictObject({
  username: z.string().min(1).max(64),
  password: z
    .string()
    .min(1)
    .max(PASSWORD_MAX * 4),
  /** The 6-digit code, or a recovery code, for an account with MFA. */
  totp: z.string().min(6).max(32).optional(),
})
export const MfaCode = z.strictObject({ code: z.string().regex(/^\d{6}$/, { error: 'the 6-digit code from the authenticator app' }) })
/** Only needed to replace an active factor: the current password and a current (or recovery) code. */
export const MfaEnroll = z
  .strictObject({
    password: z
      .string()
      .max(PASSWORD_MAX * 4)
      .optional(),
    code: z.string().min(6).max(32).optional(),
  })
  .default({})
export const Refresh = z.strictObject({ refreshToken: z.string().min(20).max(200) })

/** POST /api/auth/login, /api/auth/refresh (rotating), /api/auth/logout (ends the session everywhere it is used). */
export function authRoutes(app: H3, deps: { auth: AuthService }): void {
  app.post('/api/auth/login', async (event) => {
    const body = await readValidatedBody(event, Login)
    event.res.headers.set('cache-control', 'no-store')
    return deps.auth.login(body.username, body.password, clientOf(event), body.totp)
  })

  app.post('/api/auth/refresh', async (event) => {
    const body = await readValidatedBody(event, Refresh)
    event.res.headers.set('cache-control', 'no-store')
    return deps.auth.refresh(body.refreshToken, clientOf(event))
  })

  // TOTP (RFC 6238): enrol returns the otpauth:// URI (for a QR code) and the base32 secret; the
  // first correct code activates it and returns ten one-time recovery codes, shown only then.
  app.post('/api/auth/mfa/enroll', async (event) => {
    const body = await readValidatedBody(event, MfaEnroll)
    event.res.headers.set('cache-control', 'no-store')
    return deps.auth.enrolMfa(requireSignedIn(event), body, clientOf(event).ip)
  })

  app.post('/api/auth/mfa/verify', async (event) => {
    const body = await readValidatedBody(event, MfaCode)
    event.res.headers.set('cache-control', 'no-store')
    return deps.auth.confirmMfa(requireSignedIn(event), body.code, clientOf(event).ip)
  })

  // Sign-in links by email need the email channel (the notification issue); until then the route
  // exists and says so, so clients can feature-detect it.
  app.post('/api/auth/magic-link', () => {
    throw new HTTPError({ status: 501, message: 'sign-in links by email are not available yet (they need the email channel)' })
  })

  app.post('/api/auth/logout', (event) => {
    const principal = event.context.principal
    if (principal) deps.auth.logout(principal, clientOf(event).ip)
    event.res.status = 204
    return null
  })
}
