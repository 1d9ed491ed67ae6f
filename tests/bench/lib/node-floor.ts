// Floors under the gateway's figures: a bare Node.js TLS server (no SQLite, no aedes, no gateway
// code) with the same certificates, that answers MQTT just enough for the generator — CONNACK to a
// CONNECT, PUBACK to a QoS 1 PUBLISH (one write per socket read), PINGRESP to a PINGREQ. What it
// costs is what any Node process pays for the same connections and packets before doing any work:
// - memory: its RSS holding N mTLS connections;
// - CPU: its µs per message under W1, beside Mosquitto's (the C broker's cost for the same).
import { type ChildProcess, spawn } from 'node:child_process'
import { connect, type TLSSocket } from 'node:tls'
import type { Credentials } from './fleet.js'
import { rssMiB, sleep } from './stats.js'

const SERVER = `
const { createServer } = require('node:tls')
const CONNACK = Buffer.from([0x20, 2, 0, 0])
const PINGRESP = Buffer.from([0xd0, 0])
const s = createServer({ cert: process.env.CERT, key: process.env.KEY, ca: process.env.CA, requestCert: true, rejectUnauthorized: true }, (c) => {
  c.setNoDelay(true)
  c.on('error', () => {})
  let buf = null
  c.on('data', (chunk) => {
    buf = buf ? Buffer.concat([buf, chunk]) : chunk
    const out = []
    let off = 0
    for (;;) {
      // Fixed header: type byte, then the remaining length (MQTT 3.1.1 §2.2.3, a varint).
      let i = off + 1, len = 0, mul = 1, b = 128
      while (b & 128) {
        if (i >= buf.length) { len = -1; break }
        b = buf[i++]; len += (b & 127) * mul; mul *= 128
      }
      if (len < 0 || i + len > buf.length) break
      const type = buf[off] >> 4
      if (type === 1) out.push(CONNACK)
      else if (type === 3 && ((buf[off] >> 1) & 3) === 1) {
        const id = buf.readUInt16BE(i + 2 + buf.readUInt16BE(i))
        out.push(Buffer.from([0x40, 2, id >> 8, id & 255]))
      } else if (type === 12) out.push(PINGRESP)
      off = i + len
    }
    buf = off < buf.length ? buf.subarray(off) : null
    if (out.length > 0) c.write(out.length === 1 ? out[0] : Buffer.concat(out))
  })
})
s.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('ready\\n'))
`

export interface FloorServer {
  readonly pid: number
  readonly port: number
  stop(): void
}

export interface FloorOptions {
  readonly port: number
  readonly ca: Buffer
  readonly certPem: string
  readonly keyPem: string
}

/** Start the bare server; resolves once it listens. */
export async function startFloorServer(o: FloorOptions): Promise<FloorServer> {
  const child: ChildProcess = spawn(process.execPath, ['-e', SERVER], {
    env: { PATH: process.env.PATH, CERT: o.certPem, KEY: o.keyPem, CA: o.ca.toString(), PORT: String(o.port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve())
    child.once('exit', (code) => reject(new Error(`the floor server exited (${code})`)))
  })
  return { pid: child.pid as number, port: o.port, stop: () => child.kill('SIGKILL') }
}

/** RSS of the bare server idle, then holding one mTLS connection per credential. */
export async function nodeTlsFloor(o: FloorOptions & { creds: readonly Credentials[] }): Promise<{ idleRssMiB: number; connectedRssMiB: number }> {
  const server = await startFloorServer(o)
  try {
    await sleep(500)
    const idleRssMiB = rssMiB(server.pid)
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
    const connectedRssMiB = rssMiB(server.pid)
    for (const s of sockets) s.destroy()
    return { idleRssMiB, connectedRssMiB }
  } finally {
    server.stop()
  }
}
