import { getRouterParam, type H3, HTTPError, readValidatedBody } from 'h3'
import { z } from 'zod'
import type { AuthService } from '../../auth/auth-service.js'
import { hashPassword, PASSWORD_MAX, PASSWORD_MIN } from '../../auth/password.js'
import { can } from '../../auth/permissions.js'
import type { Clock } from '../../core/clock.js'
import { appendAudit } from '../../store/audit.js'
import type { Db } from '../../store/open.js'
import { endSessions, listUsers, setPassword, updateUser, userProfile } from '../../store/user-admin.js'
import { insertUser, ROLES, USERNAME_PATTERN } from '../../store/users.js'
import { actorOf, clientOf, requirePermission, requireSignedIn } from '../_internal/authenticate.js'

const Password = z
  .string()
  .min(PASSWORD_MIN)
  .max(PASSWORD_MAX * 4)
export const MeUpdate = z.strictObject({
  displayName: z.string().max(80).nullable().optional(),
  email: z.email().max(254).nullable().optional(),
  currentPassword: z
    .string()
    .max(PASSWORD_MAX * 4)
    .optional(),
  newPassword: Password.optional(),
})
export const NewUser = z.strictObject({ username: z.string().regex(USERNAME_PATTERN), role: z.enum(ROLES), password: Password })
export const UserUpdate = z.strictObject({
  role: z.enum(ROLES).optional(),
  disabled: z.boolean().optional(),
  displayName: z.string().max(80).nullable().optional(),
  email: z.email().max(254).nullable().optional(),
})

export interface UserRouteDeps {
  readonly db: () => Db
  readonly clock: Clock
  readonly auth: AuthService
}

/** GET/PUT /api/me; GET/POST /api/users, GET/PUT /api/users/:id, POST /api/users/:id/sessions/revoke (admins). */
export function userRoutes(app: H3, deps: UserRouteDeps): void {
  const audit = (event: Parameters<typeof clientOf>[0], action: string, target: string, detail: Record<string, unknown>) => {
    const p = requireSignedIn(event)
    appendAudit(deps.db(), {
      at: deps.clock.now(),
      actor: actorOf(p),
      action,
      target,
      ip: clientOf(event).ip,
      requestId: event.context.requestId,
      detail,
    })
  }

  app.get('/api/me', (event) => userProfile(deps.db(), requireSignedIn(event).userId))

  app.put('/api/me', async (event) => {
    const me = requireSignedIn(event)
    const body = await readValidatedBody(event, MeUpdate)
    const db = deps.db()
    const now = deps.clock.now()
    if (body.newPassword !== undefined) {
      // ASVS 6.2.3: changing the password needs the current one (throttled like sign-in).
      await deps.auth.verifyCurrentPassword(me, body.currentPassword ?? '', clientOf(event).ip)
      setPassword(db, me.userId, await hashPassword(body.newPassword, me.username), now)
      audit(event, 'user.password_change', `user:${me.userId}`, {})
    }
    const { before, after } = updateUser(db, me.userId, { displayName: body.displayName, email: body.email }, now)
    if (before.displayName !== after.displayName || before.email !== after.email) {
      audit(event, 'user.update', `user:${me.userId}`, { before: pick(before), after: pick(after) })
    }
    return after
  })

  app.get('/api/users', (event) => {
    requirePermission(event, 'users:manage')
    return listUsers(deps.db())
  })

  app.post('/api/users', async (event) => {
    requirePermission(event, 'users:manage')
    const body = await readValidatedBody(event, NewUser)
    const row = insertUser(deps.db(), {
      username: body.username,
      role: body.role,
      passwordHash: await hashPassword(body.password, body.username),
      now: deps.clock.now(),
    })
    audit(event, 'user.create', `user:${row.id}`, { username: row.username, role: row.role })
    event.res.status = 201
    return userProfile(deps.db(), row.id)
  })

  app.get('/api/users/:id', (event) => {
    const me = requireSignedIn(event)
    const id = Number(getRouterParam(event, 'id'))
    if (id !== me.userId && !can(me.role, 'users:manage')) throw new HTTPError({ status: 403, message: 'only admins may read other accounts' })
    const user = userProfile(deps.db(), id)
    if (!user) throw new HTTPError({ status: 404, message: `no user ${getRouterParam(event, 'id')}` })
    return user
  })

  app.put('/api/users/:id', async (event) => {
    requirePermission(event, 'users:manage')
    const body = await readValidatedBody(event, UserUpdate)
    const id = Number(getRouterParam(event, 'id'))
    const { before, after } = updateUser(deps.db(), id, body, deps.clock.now())
    audit(event, before.role !== after.role ? 'user.role_change' : 'user.update', `user:${id}`, { before: pick(before), after: pick(after) })
    return after
  })

  app.post('/api/users/:id/sessions/revoke', (event) => {
    requirePermission(event, 'users:manage')
    const id = Number(getRouterParam(event, 'id'))
    if (!userProfile(deps.db(), id)) throw new HTTPError({ status: 404, message: `no user ${getRouterParam(event, 'id')}` })
    endSessions(deps.db(), id, deps.clock.now())
    audit(event, 'auth.sessions_revoked', `user:${id}`, {})
    event.res.status = 204
    return null
  })
}

function pick(u: { role: string; disabled: boolean; displayName: string | null; email: string | null }) {
  return { role: u.role, disabled: u.disabled, displayName: u.displayName, email: u.email }
}
