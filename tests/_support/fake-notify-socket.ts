import { join } from 'node:path'
import { after } from 'node:test'
import { createSocket } from 'unix-dgram'
import { tempDir } from './temp.js'

export interface FakeNotifySocket {
  readonly path: string
  /** Every datagram received, parsed into KEY=VALUE maps, in arrival order. */
  readonly messages: Array<Record<string, string>>
  waitFor(predicate: (m: Record<string, string>) => boolean, timeoutMs?: number): Promise<Record<string, string>>
}

/** A unix datagram socket playing systemd's NOTIFY_SOCKET, as sd_notify(3) describes it. */
export function fakeNotifySocket(): FakeNotifySocket {
  const path = join(tempDir('carehub-notify-'), 'notify.sock')
  const socket = createSocket('unix_dgram')
  const messages: Array<Record<string, string>> = []
  const waiters = new Set<() => void>()
  socket.on('message', (buf: Buffer) => {
    const entry: Record<string, string> = {}
    for (const line of buf.toString('utf8').split('\n')) {
      const eq = line.indexOf('=')
      if (eq > 0) entry[line.slice(0, eq)] = line.slice(eq + 1)
    }
    messages.push(entry)
    for (const w of waiters) w()
  })
  socket.bind(path)
  after(() => socket.close())
  return {
    path,
    messages,
    waitFor(predicate, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.find(predicate)
          if (!found) return
          waiters.delete(check)
          clearTimeout(timer)
          resolve(found)
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`no matching notify message; got ${JSON.stringify(messages)}`))
        }, timeoutMs)
        waiters.add(check)
        check()
      })
    },
  }
}
