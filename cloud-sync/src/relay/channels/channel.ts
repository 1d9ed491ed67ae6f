export interface Notification {
  readonly deliveryId: number
  readonly alertId: number
  readonly severity: 'info' | 'warning' | 'critical'
  readonly title: string
  readonly body: string | null
  readonly homeName: string
  readonly raisedAt: number
  /** 'raised' | 'escalated' | 'resolved' | 'offline' | 'online' */
  readonly kind: string
}
export type SendResult =
  | { readonly ok: true; readonly receipt: string | null }
  | {
      readonly ok: false
      readonly permanent: boolean
      readonly disableTarget: boolean
      readonly retryAfterMs: number | null
      readonly reason: string
    }
export interface Channel {
  readonly kind: 'push' | 'email' | 'sms'
  send(target: string, n: Notification): Promise<SendResult>
}
