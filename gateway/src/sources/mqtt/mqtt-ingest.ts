import { Counter, type Registry } from 'prom-client'
import type { JournalCommitter } from '../../store/journal-committer.js'
import type { MqttPublish } from './classify-publish.js'
import type { Presence } from './presence.js'

/**
 * MQTT publishes (classified by the broker worker, classify-publish.ts) → journal. A valid reading
 * resolves (→ PUBACK) once committed. A malformed one is kept as a dead letter with its reason,
 * counted, and ALSO acknowledged once that is committed: MQTT 3.1.1 has no negative
 * acknowledgement, so withholding the PUBACK would make the device resend the same broken message
 * forever and wedge its session (decision documented in the README).
 */
export class MqttIngest {
  readonly #committer: JournalCommitter
  readonly #presence: Presence
  readonly #received: Counter<'result'>
  readonly #rejected: Counter<'reason'>

  constructor(deps: { committer: JournalCommitter; presence: Presence; registry: Registry }) {
    this.#committer = deps.committer
    this.#presence = deps.presence
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

  async accept(p: MqttPublish): Promise<void> {
    switch (p.kind) {
      case 'reading':
        await this.#committer.submit({ reading: p.reading })
        this.#presence.readingSeen(p.reading.deviceId, p.reading.receivedAt)
        this.#received.inc({ result: 'committed' })
        return
      case 'invalid':
        this.#rejected.inc({ reason: p.reason })
        await this.#committer.submit({
          deadLetter: {
            receivedAt: p.receivedAt,
            source: 'mqtt',
            origin: p.topic,
            reasonCode: `CAREHUB_ERR_VALIDATION:${p.reason}`,
            reason: p.detail,
            payload: p.sample,
          },
        })
        this.#received.inc({ result: 'dead_letter' })
        return
      case 'status':
        this.#presence.statusMessage(p.deviceId, p.text)
        this.#received.inc({ result: 'status' })
        return
      // The composition root routes command results to the commander before ingest; should one get
      // here all the same, it is not a reading (and not a malformed one either).
      case 'command-result':
        this.#received.inc({ result: 'command_result' })
        return
    }
  }
}
