/** The last few error log lines, kept in memory for `carehub status` (bounded: oldest dropped). */
export interface RecentError {
  readonly at: string
  readonly module: string | undefined
  readonly message: string
}

export class RecentErrors {
  readonly #items: RecentError[] = []
  readonly #capacity: number

  constructor(capacity = 20) {
    this.#capacity = capacity
  }

  push(item: RecentError): void {
    this.#items.push(item)
    if (this.#items.length > this.#capacity) this.#items.shift()
  }

  list(): readonly RecentError[] {
    return [...this.#items]
  }
}
