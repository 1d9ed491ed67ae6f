import type { Worker } from 'node:worker_threads'
import type { ToBrokerWorker } from './broker-protocol.js'

/** Ids stored (or refused) in one event-loop turn, sent back to the worker together. */
export class SettledPublishes {
  #ok: number[] = []
  #failed: Array<[number, string]> = []
  #scheduled = false
  readonly #worker: Worker

  constructor(worker: Worker) {
    this.#worker = worker
  }

  ok(id: number): void {
    this.#ok.push(id)
    this.#schedule()
  }

  failed(id: number, message: string): void {
    this.#failed.push([id, message])
    this.#schedule()
  }

  #schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      const m: ToBrokerWorker = { type: 'settled', ok: this.#ok, failed: this.#failed }
      this.#ok = []
      this.#failed = []
      // A worker that died meanwhile has no one to acknowledge: the devices resend to the next one.
      try {
        this.#worker.postMessage(m)
      } catch {}
    })
  }
}
