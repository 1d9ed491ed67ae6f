/** The one normalized shape every source produces and the journal stores (DESIGN: one journal). */
export type FieldValue = number | boolean | string

export type ReadingSource = 'mqtt' | 'homeassistant' | 'thinq' | 'virtual'

export interface Reading {
  readonly deviceId: string
  readonly measurement: string
  readonly fields: Readonly<Record<string, FieldValue>>
  readonly tags: Readonly<Record<string, string>>
  /** The reading's own time, ms since the epoch (UTC). */
  readonly ts: number
  /** True when the device sent no timestamp and the receive time was used. */
  readonly tsFromReceipt: boolean
  readonly receivedAt: number
  readonly source: ReadingSource
}

/** Why input was refused; stable codes so /metrics can count per reason. */
export type RejectReason = 'not_json' | 'payload_too_large' | 'schema' | 'measurement_schema' | 'ts_invalid' | 'ts_future' | 'ts_too_old' | 'topic'

export interface Rejection {
  readonly reason: RejectReason
  /** A sentence a person can act on ("fields.temp_c: expected number, received string"). */
  readonly detail: string
}

export type NormalizeResult = { readonly ok: true; readonly reading: Reading } | { readonly ok: false; readonly rejection: Rejection }
