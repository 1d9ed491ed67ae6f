import { z } from 'zod'

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 } as const
const PATTERN = /^[1-9]\d{0,5}[smhdwy]$/

/** "90s", "15m", "24h", "7d", "2w", "1y" → milliseconds; NaN for anything else. */
export function durationMs(text: string): number {
  if (!PATTERN.test(text)) return Number.NaN
  return Number(text.slice(0, -1)) * UNIT_MS[text.slice(-1) as keyof typeof UNIT_MS]
}

/** A duration as written ("15m"), kept as text: what a person wrote is what they read back. */
export const DurationText = z.string().regex(PATTERN, { error: 'a duration such as 30s, 15m, 24h or 7d' })

/** The same, parsed to milliseconds (how Grafana and Prometheus spell ranges). */
export const Duration = DurationText.transform(durationMs)
