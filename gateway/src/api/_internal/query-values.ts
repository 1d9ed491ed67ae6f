import { z } from 'zod'

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 } as const

/** "90s", "15m", "24h", "7d", "2w", "1y" → milliseconds (how Grafana and Prometheus spell ranges). */
export const Duration = z
  .string()
  .regex(/^[1-9]\d{0,5}[smhdwy]$/, { error: 'a duration such as 15m, 24h, 7d or 1y' })
  .transform((s) => Number(s.slice(0, -1)) * UNIT_MS[s.slice(-1) as keyof typeof UNIT_MS])

/** An ISO-8601 time with a zone ("2026-11-27T08:00:00Z") or epoch milliseconds. */
export const Instant = z.union([
  z
    .string()
    .regex(/^\d{1,15}$/)
    .transform(Number),
  z.iso.datetime({ offset: true, error: 'an ISO-8601 time with a zone, or epoch milliseconds' }).transform((s) => Date.parse(s)),
])
