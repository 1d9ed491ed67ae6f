/**
 * The lifecycle every long-lived part shares (Zigbee2MQTT's extension shape): constructors only
 * assign, `start` acquires resources, `stop` releases them and must be safe to call after a failed
 * or partial start. The composition root starts services in order and stops them in reverse.
 */
export interface Service {
  readonly name: string
  start(): Promise<void>
  stop(): Promise<void>
}

/** What a service reports to /health/ready and `carehub status`. */
export interface ServiceHealth {
  readonly status: 'ok' | 'degraded' | 'down'
  readonly detail?: string
}

export interface HealthCheck {
  readonly name: string
  /** Whether the box is unready while this one is not ok (the store is; an optional upstream is not). */
  readonly critical: boolean
  check(): ServiceHealth | Promise<ServiceHealth>
}

/** A service from two functions, for small steps that hold no state of their own. */
export function defineService(name: string, start: () => Promise<void> | void, stop: () => Promise<void> | void = () => {}): Service {
  return {
    name,
    start: async () => start(),
    stop: async () => stop(),
  }
}
