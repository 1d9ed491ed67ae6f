import type { Reading } from '../core/reading.js'
import type { DeadLetter } from './journal.js'
import type { Db } from './open.js'

export type Item = { readonly reading: Reading; readonly deadLetter?: undefined } | { readonly reading?: undefined; readonly deadLetter: DeadLetter }

export interface Pending {
  readonly item: Item
  readonly enqueuedAt: number
  resolve(seq: number | null): void
  reject(err: Error): void
}

/** Other writes that ride along in the next group commit (sharing its fsync). */
export interface PendingWrite {
  readonly fn: (db: Db) => unknown
  resolve(value: unknown): void
  reject(err: Error): void
}

/** What one transaction takes from the queue: its items, the ride-along writes, the commit requests. */
export class Taken {
  readonly readings: Reading[] = []
  readonly deadLetters: DeadLetter[] = []

  constructor(
    readonly batch: readonly Pending[],
    readonly writes: readonly PendingWrite[],
    readonly requests: ReadonlyArray<() => void>,
  ) {
    for (const p of batch) {
      if (p.item.reading) this.readings.push(p.item.reading)
      else this.deadLetters.push(p.item.deadLetter)
    }
  }

  get empty(): boolean {
    return this.batch.length === 0 && this.writes.length === 0 && this.requests.length === 0
  }

  /** Nothing of it is acknowledged: every caller hears `error`, and the commit requests end. */
  refuse(error: Error): void {
    for (const p of this.batch) p.reject(error)
    for (const w of this.writes) w.reject(error)
    this.ended()
  }

  /** Tell those who asked for a transaction that it has ended (durable or not). */
  ended(): void {
    for (const resolve of this.requests) resolve()
  }
}

/** What waits for the journal's next transaction, in arrival order. */
export class JournalQueue {
  #items: Pending[] = []
  #writes: PendingWrite[] = []
  #requests: Array<() => void> = []

  get depth(): number {
    return this.#items.length
  }

  get oldestEnqueuedAt(): number | null {
    return this.#items[0]?.enqueuedAt ?? null
  }

  /** The receive time of the oldest reading waiting (null: none). */
  oldestReceivedAt(): number | null {
    for (const p of this.#items) if (p.item.reading) return p.item.reading.receivedAt
    return null
  }

  get hasWork(): boolean {
    return this.#items.length > 0 || this.#writes.length > 0 || this.#requests.length > 0
  }

  pushItem(p: Pending): void {
    this.#items.push(p)
  }

  pushWrite(w: PendingWrite): void {
    this.#writes.push(w)
  }

  pushRequest(resolve: () => void): void {
    this.#requests.push(resolve)
  }

  /** The next transaction's share: up to `maxBatch` items, every write and request. */
  take(maxBatch: number): Taken {
    const taken = new Taken(this.#items.splice(0, maxBatch), this.#writes, this.#requests)
    this.#writes = []
    this.#requests = []
    return taken
  }

  /** A transaction that could not start (the write lock was held): back to the front, in order. */
  putBack(t: Taken): void {
    this.#items.unshift(...t.batch)
    this.#writes.unshift(...t.writes)
    this.#requests.unshift(...t.requests)
  }
}
