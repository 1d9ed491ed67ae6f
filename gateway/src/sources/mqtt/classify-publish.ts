import type { PublishTopic } from '../../broker/identity.js'
import type { Reading, RejectReason } from '../../core/reading.js'
import { type NormalizeLimits, normalizeMqttReading } from '../../normalize/mqtt-reading.js'

/** How much of a refused payload the dead-letter table keeps: enough to diagnose, bounded. */
const DEAD_LETTER_SAMPLE_BYTES = 4096

/**
 * A device's publish, classified where it arrives (the broker worker) so the gateway's event loop
 * gets a reading ready to store: plain data, cheap to pass between threads.
 */
export type MqttPublish =
  | { readonly kind: 'reading'; readonly reading: Reading }
  | {
      readonly kind: 'invalid'
      readonly deviceId: string
      readonly topic: string
      readonly receivedAt: number
      readonly reason: RejectReason
      readonly detail: string
      /** The start of the payload, in a buffer of its own. */
      readonly sample: Uint8Array
    }
  | { readonly kind: 'status'; readonly deviceId: string; readonly text: string }
  | { readonly kind: 'command-result'; readonly deviceId: string; readonly capability: string; readonly payload: Uint8Array }

/** Pure: no I/O, no clock (receivedAt comes in). */
export function classifyPublish(
  deviceId: string,
  topic: PublishTopic,
  packet: { readonly topic: string; readonly payload: string | Buffer },
  receivedAt: number,
  limits: NormalizeLimits,
): MqttPublish {
  const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload
  if (topic.kind === 'status') return { kind: 'status', deviceId, text: payload.toString('utf8').trim() }
  // Copied: aedes hands out slices of the socket's read chunk, and a view passed to another thread
  // takes its whole underlying buffer along (structured clone copies the ArrayBuffer, not the view).
  if (topic.kind === 'command-result') return { kind: 'command-result', deviceId, capability: topic.capability, payload: new Uint8Array(payload) }
  const result = normalizeMqttReading({ deviceId, measurement: topic.measurement, payload, receivedAt }, limits)
  if (result.ok) return { kind: 'reading', reading: result.reading }
  return {
    kind: 'invalid',
    deviceId,
    topic: packet.topic,
    receivedAt,
    reason: result.rejection.reason,
    detail: result.rejection.detail,
    sample: new Uint8Array(payload.subarray(0, DEAD_LETTER_SAMPLE_BYTES)),
  }
}
