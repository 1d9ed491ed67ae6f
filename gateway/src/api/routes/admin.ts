import { getQuery, type H3, HTTPError } from 'h3'
import { z } from 'zod'
import type { Db } from '../../store/open.js'
import { LEVELS, type RecentLogs } from '../../system/recent-logs.js'
import { requirePermission } from '../_internal/authenticate.js'

export const AuditQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z.coerce.number().int().min(1).optional(),
  actor: z.string().max(64).optional(),
  action: z.string().max(64).optional(),
})
export const LogQuery = z.strictObject({
  level: z.enum(['debug', 'info', 'warn', 'error', 'fatal']).default('info'),
  limit: z.coerce.number().int().min(1).max(500).default(100),
})

function parse<T extends z.ZodType>(schema: T, query: unknown): z.output<T> {
  const r = schema.safeParse(query)
  if (!r.success) throw new HTTPError({ status: 400, message: 'invalid query', data: { issues: r.error.issues } })
  return r.data
}

/** GET /api/audit (admin; newest first, paged by `before`) and GET /api/logs (admin; recent lines, redacted). */
export function adminRoutes(app: H3, deps: { db: () => Db; recentLogs: RecentLogs }): void {
  app.get('/api/audit', (event) => {
    requirePermission(event, 'audit:read')
    const q = parse(AuditQuery, getQuery(event))
    const rows = deps
      .db()
      .prepare(
        `SELECT id, at, actor, action, target, outcome, ip, request_id AS requestId, detail, hash FROM audit_log
         WHERE (@before IS NULL OR id < @before) AND (@actor IS NULL OR actor = @actor) AND (@action IS NULL OR action = @action)
         ORDER BY id DESC LIMIT @limit`,
      )
      .all({ before: q.before ?? null, actor: q.actor ?? null, action: q.action ?? null, limit: q.limit }) as Array<
      Record<string, unknown> & { detail: string }
    >
    return rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as unknown }))
  })

  app.get('/api/logs', (event) => {
    requirePermission(event, 'logs:read')
    const q = parse(LogQuery, getQuery(event))
    return deps.recentLogs.list(LEVELS[q.level] ?? 30, q.limit)
  })
}
