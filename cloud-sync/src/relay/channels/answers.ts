import type { SendResult } from './channel.js'

/** What the channels share in reading a provider's answer and reporting a failed send. */

export function failure(permanent: boolean, disableTarget: boolean, retryAfterMs: number | null, reason: string): SendResult {
  return { ok: false, permanent, disableTarget, retryAfterMs, reason }
}

/** `Retry-After` as delay-seconds or an HTTP-date, in ms from now. */
export function parseRetryAfter(header: string | null, now: number): number | null {
  if (header === null) return null
  const value = header.trim()
  if (/^\d+$/.test(value)) return Number(value) * 1000
  const at = Date.parse(value)
  return Number.isFinite(at) ? Math.max(0, at - now) : null
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** One line, at most `max` characters (for reasons and receipts). */
export function brief(text: string, max: number): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, max)
}

/** fetch's "fetch failed" hides the cause (ECONNREFUSED, …): show it. */
export function errorText(e: unknown): string {
  if (!(e instanceof Error)) return String(e)
  if (e.name === 'TimeoutError') return `timed out (${e.message})`
  const cause = e.cause as { code?: unknown; message?: unknown } | undefined
  const detail = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : undefined
  return detail === undefined ? e.message : `${e.message} (${detail})`
}
