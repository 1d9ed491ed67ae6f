import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import type { Clock } from '../../core/clock.js'
import { type EntityRule, globToRegExp, type HaContext, type HaState, mapHaState } from '../../normalize/home-assistant.js'
import type { NormalizeLimits } from '../../normalize/mqtt-reading.js'
import { ensureDevice, rememberHaEntity, setAvailability } from '../../store/devices.js'
import type { JournalCommitter } from '../../store/journal-committer.js'
import type { Db } from '../../store/open.js'

export interface HaIngestReport {
  accepted: number
  unavailable: number
  ignored: number
  rejected: Array<{ entityId: string; reason: string }>
}

export interface HaIngestDeps {
  readonly db: () => Db
  readonly committer: JournalCommitter
  readonly clock: Clock
  readonly log: Logger
  readonly registry: Registry
  readonly rules: readonly EntityRule[]
  readonly limits: NormalizeLimits
}

/**
 * Home Assistant states → the journal, whichever way they came (webhook, WebSocket event, REST
 * resync): mapped by the pure mapper, devices registered on first sight, "unknown"/"unavailable"
 * recorded as availability, refusals kept as dead letters. Resolves once everything is committed
 * (DESIGN invariant 1: the webhook's 2xx means stored).
 */
export class HaIngest {
  readonly #d: HaIngestDeps
  readonly #rules: ReadonlyArray<EntityRule & { re: RegExp }>
  readonly #counted: Counter<'via' | 'outcome'>
  readonly #latestTs
  /** Learnt from the instance (HaSource reads get_config after each connect). */
  context: HaContext = { temperatureUnit: '°C' }

  constructor(deps: HaIngestDeps) {
    this.#d = deps
    this.#rules = deps.rules.map((r) => ({ ...r, re: globToRegExp(r.match) }))
    this.#counted = new Counter({
      name: 'carehub_ha_states_total',
      help: 'Home Assistant states received, by path (webhook, websocket, rest) and outcome',
      labelNames: ['via', 'outcome'],
      registers: [deps.registry],
    })
    this.#latestTs = () =>
      deps.db().prepare('SELECT r.ts FROM latest_readings l JOIN readings r ON r.seq = l.seq WHERE l.device_id = ? AND l.measurement = ?').pluck()
  }

  /**
   * `skipUnchanged` (REST resyncs after a reconnect or a restart): a state whose reading is not newer
   * than what the journal already holds for that device and measurement is not recorded again.
   */
  async ingest(states: readonly HaState[], via: 'webhook' | 'websocket' | 'rest', origin: string, skipUnchanged = false): Promise<HaIngestReport> {
    const report: HaIngestReport = { accepted: 0, unavailable: 0, ignored: 0, rejected: [] }
    const now = this.#d.clock.now()
    const pending: Promise<unknown>[] = []
    const db = this.#d.db()
    for (const s of states) {
      const m = mapHaState(s, this.#rules, now, this.#d.limits, this.context)
      this.#counted.inc({ via, outcome: m.kind })
      if (m.kind === 'ignored') {
        report.ignored++
        continue
      }
      if (m.kind === 'rejected') {
        report.rejected.push({ entityId: m.entityId, reason: m.rejection.detail })
        const payload = new TextEncoder().encode(JSON.stringify(s).slice(0, 16_384))
        const deadLetter = {
          receivedAt: now,
          source: 'homeassistant',
          origin,
          reasonCode: 'CAREHUB_ERR_VALIDATION',
          reason: m.rejection.detail,
          payload,
        }
        pending.push(this.#d.committer.submit({ deadLetter }))
        continue
      }
      if (ensureDevice(db, { id: m.deviceId, source: 'homeassistant', ...(m.name ? { name: m.name } : {}) }, now)) {
        this.#d.log.info({ device: m.deviceId, entity: m.entityId }, 'new Home Assistant device')
      }
      // The entity a service call on this device targets (actions/ha-command.ts).
      rememberHaEntity(db, m.deviceId, m.entityId)
      if (m.kind === 'unavailable') {
        setAvailability(db, m.deviceId, 'unavailable', now)
        report.unavailable++
      } else {
        setAvailability(db, m.deviceId, 'online', now)
        const latest = skipUnchanged ? this.#latestTs() : undefined
        for (const reading of m.readings) {
          // Already journaled: a reading no newer than the latest one, or — for a state stamped with the
          // receipt time (its own time unknown or too old) — any reading at all.
          const known = latest?.get(reading.deviceId, reading.measurement) as number | undefined
          if (known !== undefined && (reading.tsFromReceipt || known >= reading.ts)) continue
          pending.push(this.#d.committer.submit({ reading }))
          report.accepted++
        }
      }
    }
    await Promise.all(pending)
    return report
  }
}
