// A floor for the memory target: a bare Node.js TLS server (no MQTT, no SQLite, no gateway code)
// holding the same N mTLS connections. Its RSS is what any Node process pays for them before doing
// any work, so the gateway's RSS can be read as floor + what the gateway itself adds.
import { spawn } from 'node:child_process'
import { connect, type TLSSocket } from 'node:tls'
import type { Credentials } from './fleet.js'
import { rssMiB, sleep } from './stats.js'

const SERVER = `
const { createServer } = require('node:tls')
const s = createServer({ cert: process.env.CERT, key: process.env.KEY, ca: process.env.CA, requestCert: true, rejectUnauthorized: true },
  (c) => { c.on('data', () => {}); c.on('error', () => {}) })
s.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('ready\\n'))
`

export async function nodeTlsFloor(o: {
  port: number
  ca: Buffer
  certPem: string
  keyPem: string
  creds: readonly Credentials[]
}): Promise<{ idleRssMiB: number; connectedRssMiB: number }> {
  const child = spawn(process.execPath, ['-e', SERVER], {
    env: { PATH: process.env.PATH, CERT: o.certPem, KEY: o.keyPem, CA: o.ca.toString(), PORT: String(o.port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout?.once('data', () => resolve())
      child.once('exit', (code) => reject(new Error(`the floor server exited (${code})`)))
    })
    const pid = child.pid as number
    await sleep(500)
    const idleRssMiB = rssMiB(pid)
    const sockets: TLSSocket[] = []
    for (let i = 0; i < o.creds.length; i += 50) {
      await Promise.all(
        o.creds.slice(i, i + 50).map(
          (c) =>
            new Promise<void>((resolve) => {
              const s = connect({ host: '127.0.0.1', port: o.port, ca: o.ca, cert: c.cert, key: c.key, servername: 'localhost' })
              s.on('error', () => resolve())
              s.once('secureConnect', () => {
                sockets.push(s)
                resolve()
              })
            }),
        ),
      )
    }
    await sleep(2000)
    const connectedRssMiB = rssMiB(pid)
    for (const s of sockets) s.destroy()
    return { idleRssMiB, connectedRssMiB }
  } finally {
    child.kill('SIGKILL')
  }
}
