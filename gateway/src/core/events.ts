import type { AlertNotice } from '../actions/effect-writer.js'
import type { Reading } from './reading.js'

/** A reading as the journal committed it. */
export interface CommittedReading {
  readonly seq: number
  readonly reading: Reading
  /** Fields flagged as anomalous when it was stored (empty when none). */
  readonly anomalies: readonly string[]
}

/** The gateway's events, in one typed map (readings reach the rules engine directly, inside their journal transaction: JournalCommitter's participant). */
export interface GatewayEvents {
  'service:started': { name: string }
  'service:stopped': { name: string }
  'service:error': { name: string; error: Error }
  /** An alert was raised or changed state (panel stream, email, cloud outbox wake-ups). */
  'alert:changed': AlertNotice
}
