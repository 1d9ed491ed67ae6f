import { type H3, readValidatedBody } from 'h3'
import { z } from 'zod'
import type { AuthService } from '../../auth/auth-service.js'
import { PASSWORD_MAX } from '../../auth/password.js'
import { clientOf } from '../_internal/authenticate.js'

const Login = z.strictObject({
  username: z.string().min(1).max(64),
  password: z
    .string()
    .min(1)
    .max(PASSWORD_MAX * 4),
})
const Refresh = z.strictObject({ refreshToken: z.string().min(20).max(200) })

/** POST /api/auth/login, /api/auth/refresh (rotating), /api/auth/logout (ends the session everywhere it is used). */
export function authRoutes(app: H3, deps: { auth: AuthService }): void {
  app.post('/api/auth/login', async (event) => {
    const body = await readValidatedBody(event, Login)
    event.res.headers.set('cache-control', 'no-store')
    return deps.auth.login(body.username, body.password, clientOf(event))
  })

  app.post('/api/auth/refresh', async (event) => {
    const body = await readValidatedBody(event, Refresh)
    event.res.headers.set('cache-control', 'no-store')
    return deps.auth.refresh(body.refreshToken, clientOf(event))
  })

  app.post('/api/auth/logout', (event) => {
    const principal = event.context.principal
    if (principal) deps.auth.logout(principal, clientOf(event).ip)
    event.res.status = 204
    return null
  })
}
