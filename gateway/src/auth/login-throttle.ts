/**
 * Brute-force bounds for login (ASVS 6.1.1/6.3.1) that cannot be turned into a lockout of the owner:
 * failures make the next attempt wait (exponential back-off, capped), they never disable the account.
 * Two keys are counted: the (address, username) pair — a guesser at one machine — and the username
 * across all addresses, with a higher threshold — a guesser spreading over many addresses. A
 * success clears the pair.
 */
export interface ThrottleSettings {
  /** Failures allowed before back-off starts. */
  readonly freeFailures: number
  /** The same for one username across every address. */
  readonly freeFailuresPerUser: number
  readonly maxDelayMs: number
}

interface Counter {
  failures: number
  lastAt: number
}

export class LoginThrottle {
  readonly #s: ThrottleSettings
  readonly #pairs = new Map<string, Counter>()
  readonly #users = new Map<string, Counter>()
  /** Addresses each user signed in from successfully: the per-user counter does not slow them, so
   * failures from elsewhere cannot lock the owner out (ASVS 6.3.1). */
  readonly #known = new Map<string, Set<string>>()

  constructor(settings: ThrottleSettings) {
    this.#s = settings
  }

  /** Milliseconds until this attempt may be made (0 = now). */
  waitMs(ip: string, username: string, now: number): number {
    const user = username.toLowerCase()
    const knownAddress = this.#known.get(user)?.has(ip) === true
    return Math.max(
      this.#delay(this.#pairs.get(`${ip}\u0000${user}`), this.#s.freeFailures, now),
      knownAddress ? 0 : this.#delay(this.#users.get(user), this.#s.freeFailuresPerUser, now),
    )
  }

  failed(ip: string, username: string, now: number): void {
    const user = username.toLowerCase()
    for (const [map, key] of [
      [this.#pairs, `${ip}\u0000${user}`],
      [this.#users, user],
    ] as const) {
      const c = map.get(key) ?? { failures: 0, lastAt: now }
      c.failures++
      c.lastAt = now
      map.set(key, c)
    }
    if (this.#pairs.size > 10_000) this.#sweep(now)
  }

  succeeded(ip: string, username: string): void {
    const user = username.toLowerCase()
    this.#pairs.delete(`${ip}\u0000${user}`)
    const known = this.#known.get(user) ?? new Set<string>()
    known.add(ip)
    if (known.size > 32) known.delete(known.values().next().value as string) // bounded: oldest first
    this.#known.set(user, known)
  }

  #delay(c: Counter | undefined, free: number, now: number): number {
    if (!c || c.failures < free) return 0
    const delay = Math.min(this.#s.maxDelayMs, 1000 * 2 ** (c.failures - free))
    return Math.max(0, c.lastAt + delay - now)
  }

  #sweep(now: number): void {
    for (const map of [this.#pairs, this.#users]) for (const [k, c] of map) if (now - c.lastAt > this.#s.maxDelayMs * 2) map.delete(k)
  }
}
