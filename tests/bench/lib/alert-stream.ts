// publish → rule fired, as a person sees it: the alert arriving on the panel's live stream
// (GET /api/events, SSE), matched to the reading that fired it per device in order: each hot
// reading fires its device's rule once and the next (normal) reading clears it, so the n-th alert
// of a device belongs to its n-th hot reading.
import { request } from 'node:https'
import type { Recorder } from './fleet.js'

interface AlertEvent {
  event: string
  alert: { deviceId: string | null }
}

export class AlertStream {
  recorder: Recorder | null = null
  latencies: number[] = []
  raised = 0
  #close: (() => void) | undefined

  open(port: number, ca: Buffer, token: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/api/events', ca, servername: 'localhost', headers: { authorization: `Bearer ${token}` } },
        (res) => {
          if (res.statusCode !== 200) {
            reject(new Error(`/api/events answered ${res.statusCode}`))
            return
          }
          let buffer = ''
          res.setEncoding('utf8').on('data', (chunk: string) => {
            const now = performance.now()
            buffer += chunk
            for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
              const message = buffer.slice(0, end)
              buffer = buffer.slice(end + 2)
              if (message.startsWith('event: alert')) this.#onAlert(JSON.parse(message.slice(message.indexOf('data: ') + 6)) as AlertEvent, now)
            }
          })
          resolve()
        },
      )
      req.on('error', (err) => (this.#close ? undefined : reject(err)))
      req.end()
      this.#close = () => req.destroy()
    })
  }

  #onAlert(e: AlertEvent, now: number): void {
    if (e.event !== 'raised') return
    this.raised++
    const sentAt = this.recorder?.hotSentAt.get(e.alert.deviceId ?? '')?.shift()
    if (sentAt !== undefined) this.latencies.push(now - sentAt)
  }

  close(): void {
    this.#close?.()
  }
}
