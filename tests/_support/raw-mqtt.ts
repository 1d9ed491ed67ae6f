import { after } from 'node:test'
import { connect, type TLSSocket } from 'node:tls'
import mqttPacket from 'mqtt-packet'
import type { DeviceCerts } from './gateway-harness.js'

/**
 * A hand-driven MQTT 3.1.1 client over TLS: to send what no well-behaved library would (oversized
 * packets, invalid UTF-8 topics) and see exactly how the broker reacts.
 */
export async function rawSession(
  port: number,
  certs: Pick<DeviceCerts, 'certPem' | 'keyPem' | 'caPem'>,
  clientId: string,
  keepalive = 60,
): Promise<RawSession> {
  const socket = connect({ host: '127.0.0.1', port, ca: certs.caPem, cert: certs.certPem, key: certs.keyPem, servername: 'localhost' })
  after(() => socket.destroy())
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve)
    socket.once('error', reject)
  })
  const session = new RawSession(socket)
  socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive }))
  const connack = await session.nextPacket()
  if (connack.cmd !== 'connack' || (connack as { returnCode?: number }).returnCode !== 0)
    throw new Error(`CONNACK refused: ${JSON.stringify(connack)}`)
  return session
}

export class RawSession {
  readonly socket: TLSSocket
  readonly closed: Promise<void>
  #packets: mqttPacket.Packet[] = []
  #waiters: Array<(p: mqttPacket.Packet) => void> = []

  constructor(socket: TLSSocket) {
    this.socket = socket
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    parser.on('packet', (p) => {
      const w = this.#waiters.shift()
      if (w) w(p)
      else this.#packets.push(p)
    })
    socket.on('data', (d: Buffer) => parser.parse(d))
    socket.on('error', () => {})
    this.closed = new Promise((r) => socket.once('close', () => r()))
  }

  nextPacket(timeoutMs = 5000): Promise<mqttPacket.Packet> {
    const queued = this.#packets.shift()
    if (queued) return Promise.resolve(queued)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no packet in time')), timeoutMs)
      this.#waiters.push((p) => {
        clearTimeout(timer)
        resolve(p)
      })
    })
  }

  /** A PUBLISH whose topic is given as raw bytes (may be invalid UTF-8). */
  publishRawTopic(topicBytes: Buffer, payload: string, messageId = 1): void {
    const body = Buffer.concat([
      Buffer.from([topicBytes.length >> 8, topicBytes.length & 0xff]),
      topicBytes,
      Buffer.from([messageId >> 8, messageId & 0xff]),
      Buffer.from(payload),
    ])
    this.socket.write(Buffer.concat([Buffer.from([0x32]), remainingLength(body.length), body]))
  }

  /** Announce a PUBLISH of `declared` bytes and start streaming it; returns how many bytes were written before the broker closed. */
  async streamOversized(declared: number, chunk = 16 * 1024): Promise<number> {
    const topic = Buffer.from('care/x/climate')
    let written = 0
    let open = true
    this.socket.once('close', () => {
      open = false
    })
    this.socket.write(Buffer.concat([Buffer.from([0x30]), remainingLength(declared), Buffer.from([0, topic.length]), topic]))
    const block = Buffer.alloc(chunk, 0x41)
    while (open && written < declared) {
      const ok = this.socket.write(block)
      written += block.length
      if (!ok) await Promise.race([new Promise((r) => this.socket.once('drain', r)), this.closed])
      await new Promise((r) => setImmediate(r))
    }
    return written
  }
}

/** MQTT variable byte integer ([MQTT-2.2.3]). */
export function remainingLength(n: number): Buffer {
  const bytes: number[] = []
  let x = n
  do {
    let byte = x % 128
    x = Math.floor(x / 128)
    if (x > 0) byte |= 0x80
    bytes.push(byte)
  } while (x > 0)
  return Buffer.from(bytes)
}
