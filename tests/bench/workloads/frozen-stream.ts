// A panel that opens the live stream and then stops reading (a tab frozen in the background): the
// gateway must cut it once too much is unsent, not buffer alerts for it forever.
import { request } from 'node:https'
import type { GatewayTarget } from '../lib/gateway-target.js'

export interface FrozenStream {
  /** Resume reading and tell whether the gateway had ended the stream (it drains, then ends). */
  cut(): Promise<boolean>
  close(): void
}

export function frozenEventStream(gw: GatewayTarget): Promise<FrozenStream> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: gw.o.httpPort,
        path: '/api/events',
        ca: gw.ca,
        servername: 'localhost',
        headers: { authorization: `Bearer ${gw.token}` },
      },
      (res) => {
        let ended = false
        res.once('close', () => {
          ended = true
        })
        res.once('data', () => res.pause())
        resolve({
          cut: async () => {
            res.resume()
            for (let i = 0; i < 30 && !ended; i++) await new Promise((r) => setTimeout(r, 100))
            return ended
          },
          close: () => req.destroy(),
        })
      },
    )
    req.on('error', (err) => reject(err))
    req.end()
  })
}
