// The simulated fleet: one mTLS connection per device with its own enrolled certificate, sending
// pre-encoded QoS 1 readings (mqtt-frames.ts) open loop (a fixed rate) or closed loop (a fixed
// number in flight), recording publish → PUBACK per message and which sequence numbers were acked
// (the loss and duplicate check compares them with the gateway's journal).
import { connect, type TLSSocket } from 'node:tls'
import { connectFrame, FrameReader, PINGREQ, type PublishTemplate, publishTemplate, subscribeFrame, writePublish } from './mqtt-frames.js'

export interface Endpoint {
  readonly port: number
  readonly ca: Buffer
}
export interface Credentials {
  readonly id: string
  readonly cert: Buffer
  readonly key: Buffer
}

/** What one measured window collects from every device. */
export class Recorder {
  puback: number[] = []
  /** Per device id: the sequence numbers acknowledged in this window. */
  acked = new Map<string, number[]>()
  /** Per device, the publish times of readings meant to fire its rule, oldest first. */
  hotSentAt = new Map<string, number[]>()
  sent = 0
  ackCount = 0

  ack(device: string, seq: number, latencyMs: number): void {
    this.puback.push(latencyMs)
    this.ackCount++
    let list = this.acked.get(device)
    if (!list) {
      list = []
      this.acked.set(device, list)
    }
    list.push(seq)
  }
}

interface InFlight {
  readonly seq: number
  readonly at: number
}

export class SimDevice {
  readonly id: string
  readonly #cred: Credentials
  readonly #endpoint: Endpoint
  readonly #template: PublishTemplate
  socket: TLSSocket | null = null
  /** Every device's readings are numbered from 1 over the whole run (across cells and reconnects). */
  seq = 0
  #packetId = 0
  readonly inflight = new Map<number, InFlight>()
  recorder: Recorder
  /** Closed loop: keep this many in flight (0: open loop, the caller sends). */
  window = 0
  /** Every hotEvery-th reading is above the benchmark rule's threshold (0: never). */
  hotEvery = 0
  /** Which reading of each hotEvery is hot: spread over the fleet, so alerts come evenly, not all in one tick. */
  hotPhase = 0
  connected = false
  tlsInfo: { version: string; cipher: string } | null = null
  disconnects = 0
  /** Why the last connect failed (for the bench's error message). */
  lastConnectError = ''

  constructor(cred: Credentials, endpoint: Endpoint, recorder: Recorder) {
    this.id = cred.id
    this.#cred = cred
    this.#endpoint = endpoint
    this.#template = publishTemplate(`care/${cred.id}/env`, 1)
    this.recorder = recorder
  }

  /** Connect, CONNACK; resolves false (not throwing) when the server refuses or cuts. */
  connect(timeoutMs = 15_000): Promise<boolean> {
    this.lastConnectError = ''
    return new Promise((resolve) => {
      const socket = connect({
        host: '127.0.0.1',
        port: this.#endpoint.port,
        ca: this.#endpoint.ca,
        cert: this.#cred.cert,
        key: this.#cred.key,
        servername: 'localhost',
      })
      this.socket = socket
      socket.setNoDelay(true)
      const timer = setTimeout(() => {
        this.lastConnectError = `no CONNACK within ${timeoutMs} ms`
        done(false)
      }, timeoutMs)
      const done = (ok: boolean) => {
        clearTimeout(timer)
        if (!ok) socket.destroy()
        resolve(ok)
      }
      const reader = new FrameReader({
        connack: (code) => {
          this.connected = code === 0
          if (code !== 0) this.lastConnectError = `CONNACK return code ${code}`
          done(code === 0)
          // QoS 1 redelivery after a reconnect (the session was clean: the client resends, [MQTT-4.4.0-1]).
          if (code === 0 && this.inflight.size > 0) this.#resend()
        },
        puback: (id) => this.#onPuback(id),
      })
      socket.on('secureConnect', () => {
        const c = socket.getCipher()
        this.tlsInfo = { version: socket.getProtocol() ?? '?', cipher: c.standardName ?? c.name }
        socket.write(connectFrame(this.id, 60))
      })
      socket.on('data', (chunk: Buffer) => {
        reader.push(chunk)
        if (this.window > 0) this.topUp()
      })
      socket.on('error', (err) => {
        this.lastConnectError = err.message
      })
      socket.on('close', () => {
        if (!this.connected && !this.lastConnectError) this.lastConnectError = 'closed before CONNACK'
        if (this.connected) this.disconnects++
        this.connected = false
        done(false)
      })
    })
  }

  #nextPacketId(): number {
    do this.#packetId = (this.#packetId % 65535) + 1
    while (this.inflight.has(this.#packetId))
    return this.#packetId
  }

  #onPuback(id: number): void {
    const f = this.inflight.get(id)
    if (!f) return
    this.inflight.delete(id)
    this.recorder.ack(this.id, f.seq, performance.now() - f.at)
  }

  /** Send `count` readings in one write (one TLS record). */
  send(count = 1): void {
    if (!this.connected || !this.socket || count <= 0) return
    const t = this.#template
    const out = Buffer.allocUnsafe(t.length * count)
    const now = performance.now()
    const wall = Date.now()
    for (let i = 0; i < count; i++) {
      const seq = ++this.seq
      const id = this.#nextPacketId()
      const hot = this.hotEvery > 0 && (seq + this.hotPhase) % this.hotEvery === 0
      writePublish(t, out, i * t.length, id, seq, wall, hot)
      this.inflight.set(id, { seq, at: now })
      if (hot) {
        const list = this.recorder.hotSentAt.get(this.id)
        if (list) list.push(now)
        else this.recorder.hotSentAt.set(this.id, [now])
      }
    }
    this.recorder.sent += count
    this.socket.write(out)
  }

  topUp(): void {
    const missing = this.window - this.inflight.size
    if (missing > 0) this.send(missing)
  }

  /** Resend what was not acknowledged, same sequence numbers, new packet ids. */
  #resend(): void {
    const pending = [...this.inflight.values()]
    this.inflight.clear()
    const t = this.#template
    const out = Buffer.allocUnsafe(t.length * pending.length)
    pending.forEach((p, i) => {
      const id = this.#nextPacketId()
      writePublish(t, out, i * t.length, id, p.seq, Date.now(), false)
      out[i * t.length] = (out[i * t.length] as number) | 0x08 // DUP
      this.inflight.set(id, p)
    })
    this.socket?.write(out)
  }

  ping(): void {
    if (this.connected) this.socket?.write(PINGREQ)
  }

  subscribe(filter: string): void {
    this.socket?.write(subscribeFrame(1, filter, 0))
  }

  close(): void {
    this.connected = false
    this.socket?.destroy()
  }
}

/** Connect every device, `parallel` handshakes at a time; returns how long it took and how many failed. */
export async function connectAll(devices: readonly SimDevice[], parallel = 50): Promise<{ ms: number; failed: number }> {
  const started = performance.now()
  let failed = 0
  let next = 0
  const lane = async () => {
    while (next < devices.length) {
      const d = devices[next++] as SimDevice
      let ok = false
      for (let attempt = 0; attempt < 20 && !ok; attempt++) {
        ok = await d.connect()
        if (!ok) await new Promise((r) => setTimeout(r, 100 + attempt * 100))
      }
      if (!ok) failed++
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallel, devices.length) }, lane))
  return { ms: performance.now() - started, failed }
}

/** Open loop: `rate` readings/s spread evenly over the devices (random phases), until stopped. */
export function driveOpen(devices: readonly SimDevice[], rate: number): () => void {
  const interval = (1000 * devices.length) / rate
  const timers: NodeJS.Timeout[] = []
  devices.forEach((d, i) => {
    timers[i] = setTimeout(() => {
      d.send()
      timers[i] = setInterval(() => d.send(), interval)
    }, Math.random() * interval)
  })
  return () => {
    for (const t of timers) clearInterval(t)
  }
}

/** Closed loop: `window` in flight per device, topped up as PUBACKs arrive, until stopped. */
export function driveClosed(devices: readonly SimDevice[], window: number): () => void {
  for (const d of devices) {
    d.window = window
    d.topUp()
  }
  return () => {
    for (const d of devices) d.window = 0
  }
}

/** Resolves when no device has anything in flight, or after `ms`. */
export async function drain(devices: readonly SimDevice[], ms: number): Promise<number> {
  const until = performance.now() + ms
  for (;;) {
    const left = devices.reduce((n, d) => n + (d.connected ? d.inflight.size : 0), 0)
    if (left === 0 || performance.now() > until) return left
    await new Promise((r) => setTimeout(r, 20))
  }
}
