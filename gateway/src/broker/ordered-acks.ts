/**
 * Per connection, its publishes in arrival order: each is settled by the gateway when it is stored
 * (a reading, after its WAL sync) or at once (a status, a command result), but a publish is
 * released to aedes — which then sends its PUBACK, or closes the connection for a refusal — only
 * after every publish that arrived before it on the same connection. MQTT 3.1.1 §4.6
 * [MQTT-4.6.0-2]: PUBACKs are sent in the order the PUBLISH packets were received.
 */
export class OrderedAcks<K extends object> {
  readonly #queues = new Map<K, Entry[]>()

  /** A publish arrived on `connection`; returns what settles it (out of order is fine). */
  add(connection: K, release: { resolve(): void; reject(err: Error): void }): (outcome: Error | null) => void {
    const entry: Entry = { outcome: undefined, release }
    let queue = this.#queues.get(connection)
    if (!queue) {
      queue = []
      this.#queues.set(connection, queue)
    }
    queue.push(entry)
    return (outcome) => {
      if (entry.outcome !== undefined) return
      entry.outcome = outcome
      this.#drain(connection)
    }
  }

  /** Connections with publishes not yet released (for the tests: nothing is kept once released). */
  get size(): number {
    return this.#queues.size
  }

  #drain(connection: K): void {
    const queue = this.#queues.get(connection)
    if (!queue) return
    while (queue.length > 0 && (queue[0] as Entry).outcome !== undefined) {
      const { outcome, release } = queue.shift() as Entry
      if (outcome === null) release.resolve()
      else release.reject(outcome as Error)
    }
    if (queue.length === 0) this.#queues.delete(connection)
  }
}

interface Entry {
  /** undefined: not settled yet; null: stored; an Error: refused. */
  outcome: Error | null | undefined
  readonly release: { resolve(): void; reject(err: Error): void }
}
