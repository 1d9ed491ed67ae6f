import type { Logger } from 'pino'
import { Counter, Gauge, type Registry } from 'prom-client'
import { z } from 'zod'
import { printable } from '../broker/identity.js'
import type { SourceAnswer } from './device-command.js'

export interface MqttCommandDeps {
  /** Publish from the box (the embedded broker), resolved once routed. */
  readonly publish: (topic: string, payload: string, options: { qos: 1 }) => Promise<void>
  /** Whether the device has a live MQTT session now. */
  readonly isConnected: (deviceId: string) => boolean
  readonly log: Logger
  readonly registry: Registry
  /** Commands waiting for a reply at once; beyond it a command is not sent. */
  readonly maxPending: number
}

/** What a device answers on `care/{id}/cmd/{capability}/result`; other keys are ignored. */
const Reply = z.looseObject({
  id: z.string().min(1).max(128),
  ok: z.boolean(),
  result: z.unknown().optional(),
  error: z.string().optional(),
})

interface Pending {
  readonly deviceId: string
  readonly capability: string
  readonly settle: (answer: SourceAnswer) => void
  readonly timer: NodeJS.Timeout
}

/**
 * Commands to MQTT devices: publish `{id, params, ts}` QoS 1 on `care/{id}/cmd/{capability}` and wait,
 * bounded in time and in number, for the device's `{id, ok, result?, error?}` on `…/result`. A reply
 * nobody waits for (late, unknown id, another capability) or a malformed one is counted and dropped:
 * it never reaches the journal and never breaks a wait.
 */
export class MqttCommands {
  readonly #d: MqttCommandDeps
  readonly #pending = new Map<string, Pending>()
  readonly #replies: Counter<'result'>

  constructor(deps: MqttCommandDeps) {
    this.#d = deps
    this.#replies = new Counter({
      name: 'carehub_device_command_replies_total',
      help: 'MQTT command replies received, by result (matched, unknown: no command waits for that id, malformed)',
      labelNames: ['result'],
      registers: [deps.registry],
    })
    const pending = this.#pending
    new Gauge({
      name: 'carehub_device_commands_pending',
      help: 'MQTT commands waiting for the device to answer',
      registers: [deps.registry],
      collect() {
        this.set(pending.size)
      },
    })
  }

  /** Publish one command and wait for its reply; never rejects. */
  send(deviceId: string, capability: string, correlationId: string, params: unknown, ts: number, timeoutMs: number): Promise<SourceAnswer> {
    if (!this.#d.isConnected(deviceId)) {
      return Promise.resolve({ status: 'unavailable', detail: `device "${deviceId}" is not connected to the broker` })
    }
    if (this.#pending.size >= this.#d.maxPending) {
      return Promise.resolve({
        status: 'unavailable',
        detail: `${this.#pending.size} commands are already waiting for device replies; try again shortly`,
      })
    }
    return new Promise<SourceAnswer>((resolve) => {
      // Registered before the publish: a fast device may answer before the publish call returns.
      const settle = (answer: SourceAnswer) => {
        const p = this.#pending.get(correlationId)
        if (!p) return
        clearTimeout(p.timer)
        this.#pending.delete(correlationId)
        resolve(answer)
      }
      const timer = setTimeout(() => settle({ status: 'timeout', detail: `device "${deviceId}" did not answer within ${timeoutMs} ms` }), timeoutMs)
      this.#pending.set(correlationId, { deviceId, capability, settle, timer })
      const payload = JSON.stringify({ id: correlationId, params, ts })
      this.#d.publish(`care/${deviceId}/cmd/${capability}`, payload, { qos: 1 }).catch((err: Error) => {
        this.#d.log.warn({ deviceId, capability, err: err.message }, 'publishing a command failed')
        settle({ status: 'failed', detail: `the broker could not publish the command (${err.message})` })
      })
    })
  }

  /**
   * A publish on `care/{deviceId}/cmd/{capability}/result` (the broker's ACL vouches for deviceId).
   * Resolves at once: the device gets its PUBACK whatever the reply said.
   */
  async onResult(deviceId: string, capability: string, payload: Buffer): Promise<void> {
    let reply: z.infer<typeof Reply>
    try {
      const parsed = Reply.safeParse(JSON.parse(payload.toString('utf8')))
      if (!parsed.success) throw new Error(parsed.error.issues[0]?.message ?? 'not a reply')
      reply = parsed.data
    } catch (err) {
      this.#replies.inc({ result: 'malformed' })
      this.#d.log.debug({ deviceId, capability, err: (err as Error).message }, 'malformed command reply ignored')
      return
    }
    const pending = this.#pending.get(reply.id)
    if (!pending || pending.deviceId !== deviceId || pending.capability !== capability) {
      this.#replies.inc({ result: 'unknown' })
      this.#d.log.debug({ deviceId, capability, id: printable(reply.id) }, 'command reply for no waiting command ignored (late or unknown id)')
      return
    }
    this.#replies.inc({ result: 'matched' })
    pending.settle(
      reply.ok
        ? { status: 'ok', result: reply.result }
        : { status: 'refused', detail: reply.error ? printable(reply.error, 500) : 'the device refused the command without a reason' },
    )
  }

  /** Every wait ends now, as failed (the gateway is stopping). */
  stop(): void {
    for (const p of [...this.#pending.values()]) p.settle({ status: 'failed', detail: 'gateway stopping' })
  }
}
