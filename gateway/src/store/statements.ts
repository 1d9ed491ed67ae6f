import type { Statement } from 'better-sqlite3'
import type { Db } from './open.js'

/** Where a connection keeps its compiled statements: on the connection itself, gone with it. */
const KEPT = Symbol('carehub.statements')

type Keeper = Db & { [KEPT]?: Map<string, Statement> }

/**
 * A statement compiled once per connection and kept with it, for SQL that runs on every alert or
 * rule transition (raise, resolve, deliveries, rule states) or on most API requests (the caller's
 * account, the device list, the latest readings): compiling it each time cost more than running it
 * (bench W1 at 20 alerts/s: `prepare` was 1.8 of the main thread's 18.5 busy seconds; for the
 * device list, 0.18 ms of each request, 0.04 kept, in profiles of 3,000 requests).
 * Only for SQL written in the source, never built from input, so the set stays small. `pluck`
 * statements are kept apart: better-sqlite3 sets the mode on the statement itself.
 */
export function kept(db: Db, sql: string, mode: 'rows' | 'pluck' = 'rows'): Statement {
  const keeper = db as Keeper
  let cache = keeper[KEPT]
  if (cache === undefined) {
    cache = new Map()
    Object.defineProperty(keeper, KEPT, { value: cache })
  }
  const key = mode === 'pluck' ? `pluck\u0000${sql}` : sql
  let statement = cache.get(key)
  if (statement === undefined) {
    statement = db.prepare(sql)
    if (mode === 'pluck') statement.pluck()
    cache.set(key, statement)
  }
  return statement
}
