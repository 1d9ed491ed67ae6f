import type { DestinationStream } from 'pino'

/**
 * The last log lines (already redacted by pino), kept in memory for GET /api/logs: an admin can
 * see what the box said without shell access. Bounded: the oldest line goes first.
 */
export class RecentLogs {
  readonly #lines: string[] = []
  readonly #capacity: number

  constructor(capacity = 500) {
    this.#capacity = capacity
  }

  /** A pino destination that writes to `next` and keeps a copy. */
  tee(next: { write(line: string): unknown }): DestinationStream {
    return {
      write: (line: string) => {
        this.#lines.push(line)
        if (this.#lines.length > this.#capacity) this.#lines.shift()
        next.write(line)
      },
    }
  }

  /** Newest last; `minLevel` is pino's numeric level (30 info, 40 warn, 50 error). */
  list(minLevel: number, limit: number): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = []
    for (let i = this.#lines.length - 1; i >= 0 && out.length < limit; i--) {
      let entry: Record<string, unknown>
      try {
        entry = JSON.parse(this.#lines[i] as string) as Record<string, unknown>
      } catch {
        continue
      }
      if ((LEVELS[String(entry.level)] ?? 0) >= minLevel) out.push(entry)
    }
    return out.reverse()
  }
}

export const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 }
