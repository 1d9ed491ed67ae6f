import type { Logger } from 'pino'

/**
 * A typed in-process event bus. Listeners run in registration order; one listener throwing or
 * rejecting is logged and does not stop the others or the emitter (Zigbee2MQTT's eventBus lesson:
 * one broken extension must not break ingest).
 */
export type Listener<T> = (payload: T) => void | Promise<void>

export class EventBus<Events extends { [K in keyof Events]: unknown }> {
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>()
  readonly #log: Logger

  constructor(log: Logger) {
    this.#log = log
  }

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(event)
    if (!set) {
      set = new Set()
      this.#listeners.set(event, set)
    }
    set.add(listener as Listener<never>)
    return () => set.delete(listener as Listener<never>)
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.#listeners.get(event)
    if (!set) return
    for (const listener of [...set]) {
      try {
        const result = (listener as Listener<Events[K]>)(payload)
        if (result instanceof Promise) result.catch((err: unknown) => this.#report(event, err))
      } catch (err) {
        this.#report(event, err)
      }
    }
  }

  listenerCount(event: keyof Events): number {
    return this.#listeners.get(event)?.size ?? 0
  }

  #report(event: keyof Events, err: unknown): void {
    this.#log.error({ err, event: String(event) }, 'event listener failed')
  }
}
