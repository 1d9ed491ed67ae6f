import { z } from 'zod'

/** An ISO-8601 time with a zone ("2026-11-27T08:00:00Z") or epoch milliseconds. */
export const Instant = z.union([
  z
    .string()
    .regex(/^\d{1,15}$/)
    .transform(Number),
  z.iso.datetime({ offset: true, error: 'an ISO-8601 time with a zone, or epoch milliseconds' }).transform((s) => Date.parse(s)),
])
