/**
 * Connection attempts per source address: a token bucket (burst, then a steady rate), checked on
 * the raw TCP connection before the TLS handshake — the handshake is the expensive part, so a
 * reconnect loop or a scan must not reach it. Stale buckets are dropped to bound memory.
 */
export class ConnectionLimiter {
  readonly #burst: number
  readonly #perSecond: number
  readonly #buckets = new Map<string, { tokens: number; at: number }>()

  constructor(options: { burst: number; perSecond: number }) {
    this.#burst = options.burst
    this.#perSecond = options.perSecond
  }

  /** True when a connection from `address` may proceed now. */
  allow(address: string, now: number): boolean {
    const bucket = this.#buckets.get(address) ?? { tokens: this.#burst, at: now }
    // `now` must be monotonic (performance.now()); clamp anyway so a step back can never lock out.
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * this.#perSecond)
    bucket.at = now
    const allowed = bucket.tokens >= 1
    if (allowed) bucket.tokens -= 1
    this.#buckets.set(address, bucket)
    if (this.#buckets.size > 10_000) this.#sweep(now)
    return allowed
  }

  #sweep(now: number): void {
    const full = (this.#burst / this.#perSecond) * 1000
    for (const [address, b] of this.#buckets) if (now - b.at > full) this.#buckets.delete(address)
  }
}
