import type { Middleware } from 'h3'
import type { Clock } from '../../core/clock.js'
import { CarehubError } from '../../core/errors.js'

/**
 * Per-user request budget on the API (ASVS 2.4.1 anti-automation, 15.2.2 resource exhaustion): a
 * token bucket per signed-in user, so one runaway client or stolen token cannot starve the panel of
 * the others. Runs after authentication; 429 with Retry-After when the bucket is empty.
 */
export function userRateLimit(o: { burst: number; perSecond: number; clock: Clock }): Middleware {
  const buckets = new Map<number, { tokens: number; at: number }>()
  return (event) => {
    const principal = event.context.principal
    if (!principal) return
    const now = o.clock.now()
    const b = buckets.get(principal.userId) ?? { tokens: o.burst, at: now }
    b.tokens = Math.min(o.burst, b.tokens + (Math.max(0, now - b.at) / 1000) * o.perSecond)
    b.at = now
    buckets.set(principal.userId, b)
    if (b.tokens < 1) {
      const retryAfterSeconds = Math.max(1, Math.ceil((1 - b.tokens) / o.perSecond))
      throw new CarehubError('CAREHUB_ERR_RATE_LIMITED', `too many requests for this account; retry in ${retryAfterSeconds} s`, {
        details: { retryAfterSeconds },
      })
    }
    b.tokens -= 1
  }
}
