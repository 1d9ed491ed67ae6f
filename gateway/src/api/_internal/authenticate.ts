import { getRequestIP, type H3Event, HTTPError, type Middleware } from 'h3'
import type { AuthService, Principal } from '../../auth/auth-service.js'
import { can, type Permission } from '../../auth/permissions.js'
import { CarehubError } from '../../core/errors.js'

declare module 'h3' {
  interface H3EventContext {
    principal?: Principal
  }
}

/** Routes reachable without a token: signing in and refreshing (they carry their own credential). */
const PUBLIC_API = new Set(['/api/auth/login', '/api/auth/refresh', '/api/auth/magic-link', '/api/openapi.json'])

/**
 * Every /api route needs a valid access token (DESIGN invariant 5). The token is re-checked against
 * the live user and session on each request, so revocation is immediate.
 */
export function authenticate(auth: AuthService): Middleware {
  return async (event) => {
    // Webhooks authenticate themselves (a signature per request), not with a user's token.
    if (PUBLIC_API.has(event.url.pathname) || event.url.pathname.startsWith('/api/ingest/')) return
    event.context.principal = await principalOf(event, auth)
  }
}

export async function principalOf(event: H3Event, auth: AuthService): Promise<Principal> {
  const header = event.req.headers.get('authorization') ?? ''
  const match = /^Bearer ([A-Za-z0-9._-]+)$/.exec(header)
  if (!match?.[1]) {
    event.res.errHeaders.set('www-authenticate', 'Bearer')
    throw new CarehubError('CAREHUB_ERR_UNAUTHENTICATED', 'sign in first: send "Authorization: Bearer <access token>" (POST /api/auth/login)')
  }
  try {
    return await auth.authenticate(match[1])
  } catch (err) {
    event.res.errHeaders.set('www-authenticate', 'Bearer error="invalid_token"')
    throw err
  }
}

export function requireSignedIn(event: H3Event): Principal {
  const principal = event.context.principal
  if (!principal) throw new CarehubError('CAREHUB_ERR_UNAUTHENTICATED', 'sign in first')
  return principal
}

/** The route's permission, from the written table (auth/permissions.ts). */
export function requirePermission(event: H3Event, permission: Permission): Principal {
  const principal = requireSignedIn(event)
  if (!can(principal.role, permission)) {
    throw new HTTPError({ status: 403, message: `the ${principal.role} role may not ${permission.replace(':', ' ')}` })
  }
  return principal
}

export function clientOf(event: H3Event): { ip: string; userAgent: string | null } {
  return { ip: getRequestIP(event) ?? 'unknown', userAgent: event.req.headers.get('user-agent')?.slice(0, 200) ?? null }
}

/** The audit log's actor for a request: `user:<id>`, tagged `:admin` for admin actions. */
export function actorOf(principal: Principal): string {
  return `user:${principal.userId}${principal.role === 'admin' ? ':admin' : ''}`
}
