/**
 * Runs settlement callbacks in FIFO order, at most `perTurn` in one event-loop turn.
 *
 * Why: a journal acknowledgement is not cheap. Each resolved submit lets aedes send the PUBACK and,
 * for the device's last packet of a read chunk, read and parse its next chunk, validate it and queue
 * it (aedes lib/client.js nextBatch runs synchronously from the callback). At saturation with 1,000
 * devices × 10 in flight a sync released ~10,000 of them in one go: ~0.5 s in which no HTTP request
 * was read. Released a slice per turn, the poll phase (sockets, the API) runs between slices. Order
 * is kept across batches: MQTT wants PUBACKs in the order the publishes arrived ([MQTT-4.6.0-2]),
 * so a later batch never overtakes the tail of an earlier one.
 *
 * A count, not a time budget: the callbacks only resolve promises, and the work they unblock runs
 * in the microtask checkpoint after the slice, where a clock read inside the slice cannot see it.
 */
export class SlicedRelease {
  readonly #perTurn: number
  readonly #runs: Run[] = []
  /** A slice is running or scheduled: add() then only queues. */
  #busy = false
  #idle: Array<() => void> = []

  constructor(perTurn: number) {
    if (!(perTurn >= 1)) throw new RangeError(`perTurn must be at least 1 (got ${perTurn})`)
    this.#perTurn = perTurn
  }

  /** Callbacks not yet run. */
  get pending(): number {
    let n = 0
    for (const run of this.#runs) n += run.count - run.next
    return n
  }

  /**
   * Queue `settle(0) … settle(count - 1)` behind everything queued before; the first slice runs
   * now if nothing waits. One function and an index, not a closure per item: 10,000 per sync.
   * `settle` is called with increasing i and must not throw (it resolves promises).
   */
  add(count: number, settle: (i: number) => void): void {
    if (count <= 0) return
    this.#runs.push({ count, settle, next: 0 })
    if (!this.#busy) this.#slice()
  }

  /** Resolves once every callback added so far has run. */
  drained(): Promise<void> {
    if (this.#runs.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  #slice(): void {
    this.#busy = true
    let budget = this.#perTurn
    while (budget > 0 && this.#runs.length > 0) {
      const run = this.#runs[0] as Run
      const end = Math.min(run.count, run.next + budget)
      budget -= end - run.next
      while (run.next < end) run.settle(run.next++)
      if (run.next === run.count) this.#runs.shift()
    }
    if (this.#runs.length > 0) {
      setImmediate(() => this.#slice())
      return
    }
    this.#busy = false
    for (const resolve of this.#idle.splice(0)) resolve()
  }
}

interface Run {
  readonly count: number
  readonly settle: (i: number) => void
  next: number
}
