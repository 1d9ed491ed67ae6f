import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { Counter, Histogram, type Registry } from 'prom-client'
import { CAPABILITY, printable } from '../broker/identity.js'
import type { Clock } from '../core/clock.js'
import type { Service } from '../core/service.js'
import type { HaRest } from '../sources/homeassistant/ha-rest.js'
import type { ThinqPoller } from '../sources/thinq/thinq-poller.js'
import { appendAudit } from '../store/audit.js'
import { type Device, getDevice } from '../store/devices.js'
import type { Db } from '../store/open.js'
import { haCommand } from './ha-command.js'
import { MqttCommands } from './mqtt-command.js'
import { thinqCommand } from './thinq-command.js'

export interface CommandRequest {
  readonly deviceId: string
  readonly capability: string
  readonly params: Readonly<Record<string, unknown>>
  /** Who asks: `user:<id>` from the API, `rule:<id>` from the rules engine. */
  readonly actor: string
  readonly timeoutMs?: number
  readonly requestId?: string
  readonly ip?: string
}

export type CommandStatus = 'ok' | 'refused' | 'timeout' | 'failed' | 'unavailable'

export interface CommandOutcome {
  readonly status: CommandStatus
  readonly correlationId: string
  readonly deviceId: string
  readonly capability: string
  readonly ms: number
  readonly result?: unknown
  readonly detail?: string
}

/** What one source answered, before the commander adds identity, timing, audit and metrics. */
export interface SourceAnswer {
  readonly status: CommandStatus
  readonly result?: unknown
  readonly detail?: string
}

export interface DeviceCommanderDeps {
  readonly db: () => Db
  /** The embedded broker: publish from the box, and whether a device has a live session. */
  readonly mqtt: {
    readonly publish: (topic: string, payload: string, options: { qos: 1 }) => Promise<void>
    readonly isConnected: (deviceId: string) => boolean
  }
  /** undefined when ThinQ is disabled. */
  readonly thinq: () => ThinqPoller | undefined
  /** undefined when Home Assistant is disabled or has no URL. */
  readonly homeassistant: () => HaRest | undefined
  readonly clock: Clock
  readonly log: Logger
  readonly registry: Registry
  /** MQTT commands waiting for replies at once (default 256). */
  readonly maxPending?: number
}

export const DEFAULT_TIMEOUT_MS = 5_000
export const MAX_TIMEOUT_MS = 30_000
export const MAX_PARAMS_BYTES = 4_096
/** What of a device's result the audit log keeps (the API answer has all of it). */
const AUDIT_RESULT_BYTES = 1_024
const AUDIT_OUTCOME = { ok: 'ok', refused: 'denied', timeout: 'failed', failed: 'failed', unavailable: 'failed' } as const

/** Why a command request is unacceptable before any device is asked, or null. */
export function requestProblem(req: Pick<CommandRequest, 'capability' | 'params' | 'timeoutMs'>): string | null {
  if (typeof req.capability !== 'string' || !CAPABILITY.test(req.capability)) {
    return `capability "${printable(String(req.capability), 64)}" is not valid: a letter, then up to 63 letters, digits, _ . -`
  }
  const p = req.params as unknown
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return 'params must be a JSON object'
  const proto = Object.getPrototypeOf(p)
  if (proto !== Object.prototype && proto !== null) return 'params must be a plain JSON object'
  let text: string
  try {
    text = JSON.stringify(p)
  } catch (err) {
    return `params are not JSON (${(err as Error).message})`
  }
  if (Buffer.byteLength(text) > MAX_PARAMS_BYTES) return `params are over ${MAX_PARAMS_BYTES} bytes of JSON`
  const t = req.timeoutMs
  if (t !== undefined && (!Number.isInteger(t) || t < 1 || t > MAX_TIMEOUT_MS)) return `timeoutMs must be a whole number of ms, 1–${MAX_TIMEOUT_MS}`
  return null
}

/**
 * The device command path (issue 7): one entry point for the API and the rules engine, routed by the
 * device's source — MQTT (publish + wait for the device's reply), LG ThinQ (control through LG's
 * cloud), Home Assistant (a service call on the device's entity). Device-side outcomes are values,
 * never exceptions; every command is audited and counted; every wait is bounded in time and number,
 * and ends (failed) when the gateway stops.
 */
export class DeviceCommander implements Service {
  readonly name = 'commands'
  readonly #d: DeviceCommanderDeps
  readonly #mqtt: MqttCommands
  readonly #inflight = new Set<(answer: SourceAnswer) => void>()
  readonly #total: Counter<'source' | 'status'>
  readonly #duration: Histogram<'source'>
  #stopped = false

  constructor(deps: DeviceCommanderDeps) {
    this.#d = deps
    this.#mqtt = new MqttCommands({ ...deps.mqtt, log: deps.log, registry: deps.registry, maxPending: deps.maxPending ?? 256 })
    this.#total = new Counter({
      name: 'carehub_device_commands_total',
      help: 'Device commands, by device source and outcome',
      labelNames: ['source', 'status'],
      registers: [deps.registry],
    })
    this.#duration = new Histogram({
      name: 'carehub_device_command_duration_seconds',
      help: 'Time from a command request to its outcome, by device source',
      labelNames: ['source'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [deps.registry],
    })
  }

  async start(): Promise<void> {
    this.#stopped = false
  }

  /** Every wait (MQTT replies, ThinQ and Home Assistant calls) ends now as failed: "gateway stopping". */
  async stop(): Promise<void> {
    this.#stopped = true
    this.#mqtt.stop()
    for (const settle of [...this.#inflight]) settle({ status: 'failed', detail: 'gateway stopping' })
  }

  /** A device's reply on `care/{deviceId}/cmd/{capability}/result` (routed here by the broker hook, before ingest). */
  onMqttResult(deviceId: string, capability: string, payload: Buffer): Promise<void> {
    return this.#mqtt.onResult(deviceId, capability, payload)
  }

  async run(req: CommandRequest): Promise<CommandOutcome> {
    const startedAt = performance.now()
    const correlationId = randomUUID()
    let source = 'none'
    let answer: SourceAnswer
    const problem = requestProblem(req)
    if (problem) {
      answer = { status: 'refused', detail: problem }
    } else if (this.#stopped) {
      answer = { status: 'unavailable', detail: 'gateway stopping' }
    } else {
      const device = getDevice(this.#d.db(), req.deviceId)
      if (!device) answer = { status: 'refused', detail: `no device "${printable(req.deviceId, 64)}"` }
      else {
        source = device.source
        answer = await this.#dispatch(device, req, correlationId, req.timeoutMs ?? DEFAULT_TIMEOUT_MS)
      }
    }
    const outcome: CommandOutcome = {
      status: answer.status,
      correlationId,
      deviceId: req.deviceId,
      capability: req.capability,
      ms: Math.round(performance.now() - startedAt),
      ...(answer.result === undefined ? {} : { result: answer.result }),
      ...(answer.detail === undefined ? {} : { detail: answer.detail }),
    }
    this.#record(req, outcome, source, problem === null)
    return outcome
  }

  #dispatch(device: Device, req: CommandRequest, correlationId: string, timeoutMs: number): Promise<SourceAnswer> {
    switch (device.source) {
      case 'mqtt':
        return this.#mqtt.send(device.id, req.capability, correlationId, req.params, this.#d.clock.now(), timeoutMs)
      case 'thinq':
        return this.#bounded(thinqCommand(this.#d.thinq(), device.id, req.capability, req.params), timeoutMs, 'LG ThinQ')
      case 'homeassistant':
        return this.#bounded(haCommand(this.#d.homeassistant(), device, req.capability, req.params), timeoutMs, 'Home Assistant')
      case 'virtual':
        return Promise.resolve({ status: 'refused', detail: `device "${device.id}" is virtual: nothing receives commands for it` })
      default:
        return Promise.resolve({ status: 'refused', detail: `device "${device.id}" comes from "${device.source}", which takes no commands` })
    }
  }

  /** An upstream call, bounded by the command's timeout (the call itself may still land: LG and HA cannot be asked to cancel). */
  #bounded(work: Promise<SourceAnswer>, timeoutMs: number, upstream: string): Promise<SourceAnswer> {
    return new Promise((resolve) => {
      const settle = (answer: SourceAnswer) => {
        clearTimeout(timer)
        this.#inflight.delete(settle)
        resolve(answer)
      }
      const timer = setTimeout(
        () => settle({ status: 'timeout', detail: `${upstream} did not answer within ${timeoutMs} ms; the command may still take effect` }),
        timeoutMs,
      )
      this.#inflight.add(settle)
      work.then(settle, (err: unknown) => settle({ status: 'failed', detail: err instanceof Error ? err.message : String(err) }))
    })
  }

  #record(req: CommandRequest, o: CommandOutcome, source: string, validParams: boolean): void {
    this.#total.inc({ source, status: o.status })
    this.#duration.observe({ source }, o.ms / 1000)
    const facts = { deviceId: o.deviceId, capability: o.capability, correlationId: o.correlationId, status: o.status, ms: o.ms, actor: req.actor }
    if (o.status === 'ok') this.#d.log.info(facts, 'device command done')
    else this.#d.log.warn({ ...facts, detail: o.detail }, 'device command not done')
    const result = o.result === undefined ? undefined : JSON.stringify(o.result)
    try {
      appendAudit(this.#d.db(), {
        at: this.#d.clock.now(),
        actor: req.actor,
        action: 'device.command',
        target: `device:${printable(o.deviceId, 64)}`,
        outcome: AUDIT_OUTCOME[o.status],
        ...(req.ip === undefined ? {} : { ip: req.ip }),
        ...(req.requestId === undefined ? {} : { requestId: req.requestId }),
        detail: {
          correlationId: o.correlationId,
          source,
          capability: printable(String(o.capability), 64),
          status: o.status,
          ms: o.ms,
          ...(validParams ? { params: req.params } : {}),
          ...(o.detail === undefined ? {} : { detail: o.detail }),
          ...(result === undefined ? {} : result.length <= AUDIT_RESULT_BYTES ? { result: o.result } : { result: `(${result.length} bytes)` }),
        },
      })
    } catch (err) {
      // The command has happened: its outcome is still returned, and the missing audit entry is loud.
      this.#d.log.error({ err, correlationId: o.correlationId }, 'could not audit a device command')
    }
  }
}
