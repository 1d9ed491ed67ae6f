import type { PublishPacket } from 'aedes'
import { Counter, type Registry } from 'prom-client'
import type { DeviceSession } from '../../broker/device-session.js'
import type { PublishTopic } from '../../broker/identity.js'
import type { Clock } from '../../core/clock.js'
import { type NormalizeLimits, normalizeMqttReading } from '../../normalize/mqtt-reading.js'
import type { JournalCommitter } from '../../store/journal-committer.js'
import type { Presence } from './presence.js'

/** How much of a refused payload the dead-letter table keeps: enough to diagnose, bounded. */
const DEAD_LETTER_SAMPLE_BYTES = 4096

/**
 * MQTT publishes → journal. A valid reading resolves (→ PUBACK) once committed. A malformed one is
 * kept as a dead letter with its reason, counted, and ALSO acknowledged once that is committed: MQTT
 * 3.1.1 has no negative acknowledgement, so withholding the PUBACK would make the device resend the
 * same broken message forever and wedge its session (decision documented in the README).
 */
export class MqttIngest {
  readonly #committer: JournalCommitter
  readonly #presence: Presence
  readonly #clock: Clock
  readonly #limits: NormalizeLimits
  readonly #received: Counter<'result'>
  readonly #rejected: Counter<'reason'>

  constructor(deps: { committer: JournalCommitter; presence: Presence; clock: Clock; limits: NormalizeLimits; registry: Registry }) {
    this.#committer = deps.committer
    this.#presence = deps.presence
    this.#clock = deps.clock
    this.#limits = deps.limits
    this.#received = new Counter({
      name: 'carehub_mqtt_messages_total',
      help: 'MQTT publishes handled, by result',
      labelNames: ['result'],
      registers: [deps.registry],
    })
    this.#rejected = new Counter({
      name: 'carehub_ingest_rejected_total',
      help: 'Readings refused at ingest, by reason (each kept as a dead letter)',
      labelNames: ['reason'],
      registers: [deps.registry],
    })
  }

  async onPublish(session: DeviceSession, topic: PublishTopic, packet: PublishPacket): Promise<void> {
    const receivedAt = this.#clock.now()
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload
    if (topic.kind === 'status') {
      this.#presence.statusMessage(session.deviceId, payload.toString('utf8').trim())
      this.#received.inc({ result: 'status' })
      return
    }
    // The composition root routes command results to the commander before ingest; should one get
    // here all the same, it is not a reading (and not a malformed one either).
    if (topic.kind === 'command-result') {
      this.#received.inc({ result: 'command_result' })
      return
    }
    const result = normalizeMqttReading({ deviceId: session.deviceId, measurement: topic.measurement, payload, receivedAt }, this.#limits)
    if (result.ok) {
      await this.#committer.submit({ reading: result.reading })
      this.#presence.readingSeen(session.deviceId, receivedAt)
      this.#received.inc({ result: 'committed' })
      return
    }
    this.#rejected.inc({ reason: result.rejection.reason })
    await this.#committer.submit({
      deadLetter: {
        receivedAt,
        source: 'mqtt',
        origin: packet.topic,
        reasonCode: `CAREHUB_ERR_VALIDATION:${result.rejection.reason}`,
        reason: result.rejection.detail,
        payload: payload.subarray(0, DEAD_LETTER_SAMPLE_BYTES),
      },
    })
    this.#received.inc({ result: 'dead_letter' })
  }
}
