/**
 * Exponential backoff with jitter, shared by every retry loop (forwarder, Home Assistant, …): the
 * n-th consecutive failure waits between half and all of min × 2^(n−1), capped at max — half fixed
 * so it always grows, half random so a fleet of boxes does not retry in step.
 */
export function backoffDelay(failures: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(failures, 1) - 1, 30))
  return Math.round(ceiling / 2 + (ceiling / 2) * random())
}

/** A sleep that stop() can cut short, so a long backoff never holds up shutdown. */
export class Sleeper {
  #wake: (() => void) | undefined

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      const self = this
      function done() {
        clearTimeout(timer)
        self.#wake = undefined
        resolve()
      }
      this.#wake = done
    })
  }

  wake(): void {
    this.#wake?.()
  }
}
