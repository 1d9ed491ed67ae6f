import type { Worker } from 'node:worker_threads'
import type { ToBrokerWorker } from './broker-protocol.js'

/**
 * Ids stored (or refused) together, sent back to the worker in one message. Sent from a microtask,
 * not a later phase of the loop: the acknowledgements a WAL sync releases resolve together, in one
 * run of microtasks, and go out before the journal's next commit (which runs in a turn of its own,
 * durable-acks.ts) instead of after it.
 */
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
    queueMicrotask(() => {
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
