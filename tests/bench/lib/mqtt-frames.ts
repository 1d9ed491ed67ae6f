// MQTT 3.1.1 frames for the load generator, encoded once and patched in place: the generator must
// cost far less per message than the server it measures (issue 9), so no client library and no
// JSON.stringify per message — a publish is a copy of a template with the packet id, sequence
// number, timestamp and temperature digits overwritten.

import { remainingLength } from '../../_support/raw-mqtt.js'

/**
 * The ~200-byte reading every simulated device sends, on an open measurement (`env`) so that `seq`,
 * numbering each device's readings, can be a field: as a tag it would make every reading a new
 * time series in the sink (a cardinality explosion no real firmware causes).
 */
export const MEASUREMENT = 'env'
const PAYLOAD =
  '{"ts":1700000000000,"fields":{"temp_c":21.5,"humid_pct":40.2,"co2_ppm":612,"battery_pct":87,"rssi_dbm":-61,"seq":        0},' +
  '"tags":{"room":"kitchen","fw":"1.4.2","site":"flat-3b"}}'
const SEQ_DIGITS = 9

const varint = (n: number): number[] => [...remainingLength(n)]

export interface PublishTemplate {
  readonly frame: Buffer
  readonly length: number
  /** Offsets inside the frame of the fields patched per message (-1: absent for QoS 0). */
  readonly packetIdAt: number
  readonly seqAt: number
  readonly tsAt: number
  readonly tempAt: number
}

export function publishTemplate(topic: string, qos: 0 | 1): PublishTemplate {
  const payload = Buffer.from(PAYLOAD, 'latin1')
  const topicBytes = Buffer.from(topic, 'utf8')
  const body = 2 + topicBytes.length + (qos === 1 ? 2 : 0) + payload.length
  const header = [qos === 1 ? 0x32 : 0x30, ...varint(body)]
  const frame = Buffer.alloc(header.length + body)
  frame.set(header, 0)
  let at = header.length
  frame.writeUInt16BE(topicBytes.length, at)
  topicBytes.copy(frame, at + 2)
  at += 2 + topicBytes.length
  const packetIdAt = qos === 1 ? at : -1
  if (qos === 1) at += 2
  payload.copy(frame, at)
  return {
    frame,
    length: frame.length,
    packetIdAt,
    seqAt: at + PAYLOAD.indexOf('"seq":') + 6,
    tsAt: at + PAYLOAD.indexOf('"ts":') + 5,
    tempAt: at + PAYLOAD.indexOf('"temp_c":') + 9,
  }
}

const ZERO = 0x30
const SPACE = 0x20

/** Write `t`'s frame at `out[offset]` with this packet id, sequence number, time and hot/normal temperature. */
export function writePublish(t: PublishTemplate, out: Buffer, offset: number, packetId: number, seq: number, ts: number, hot: boolean): void {
  t.frame.copy(out, offset)
  if (t.packetIdAt >= 0) out.writeUInt16BE(packetId, offset + t.packetIdAt)
  // Right-aligned, blank-padded: JSON allows the blanks, not leading zeros.
  let s = seq
  for (let i = SEQ_DIGITS - 1; i >= 0; i--) {
    out[offset + t.seqAt + i] = s > 0 || i === SEQ_DIGITS - 1 ? ZERO + (s % 10) : SPACE
    s = Math.floor(s / 10)
  }
  let v = ts
  for (let i = 12; i >= 0; i--) {
    out[offset + t.tsAt + i] = ZERO + (v % 10)
    v = Math.floor(v / 10)
  }
  if (hot) out[offset + t.tempAt] = ZERO + 3 // 21.5 → 31.5: above the benchmark rule's threshold
}

export function connectFrame(clientId: string, keepaliveSeconds: number): Buffer {
  const id = Buffer.from(clientId, 'utf8')
  const body = 10 + 2 + id.length
  const frame = Buffer.alloc(1 + varint(body).length + body)
  let at = 0
  frame[at++] = 0x10
  for (const b of varint(body)) frame[at++] = b
  frame.writeUInt16BE(4, at)
  frame.write('MQTT', at + 2, 'latin1')
  frame[at + 6] = 4 // protocol level 3.1.1
  frame[at + 7] = 0x02 // clean session
  frame.writeUInt16BE(keepaliveSeconds, at + 8)
  frame.writeUInt16BE(id.length, at + 10)
  id.copy(frame, at + 12)
  return frame
}

export function subscribeFrame(packetId: number, filter: string, qos: 0 | 1): Buffer {
  const f = Buffer.from(filter, 'utf8')
  const body = 2 + 2 + f.length + 1
  const frame = Buffer.alloc(2 + body)
  frame[0] = 0x82
  frame[1] = body
  frame.writeUInt16BE(packetId, 2)
  frame.writeUInt16BE(f.length, 4)
  f.copy(frame, 6)
  frame[6 + f.length] = qos
  return frame
}

export const PINGREQ = Buffer.from([0xc0, 0x00])

export interface FrameSink {
  connack(returnCode: number): void
  puback(packetId: number): void
  /** Anything else (SUBACK, PUBLISH commands, PINGRESP): type nibble and body. */
  other?(type: number, body: Buffer): void
}

/**
 * Splits a byte stream into MQTT packets without allocating for the common case (PUBACKs arrive
 * whole, 4 bytes each); a packet cut across reads is carried to the next.
 */
export class FrameReader {
  #carry: Buffer | null = null
  readonly #sink: FrameSink
  constructor(sink: FrameSink) {
    this.#sink = sink
  }

  push(chunk: Buffer): void {
    let buf = chunk
    if (this.#carry) {
      buf = Buffer.concat([this.#carry, chunk])
      this.#carry = null
    }
    let at = 0
    while (at < buf.length) {
      const start = at
      const first = buf[at++] as number
      let len = 0
      let mul = 1
      let complete = false
      while (at < buf.length) {
        const b = buf[at++] as number
        len += (b & 0x7f) * mul
        mul *= 128
        if ((b & 0x80) === 0) {
          complete = true
          break
        }
      }
      if (!complete || at + len > buf.length) {
        this.#carry = buf.subarray(start)
        return
      }
      const type = first >> 4
      if (type === 4) this.#sink.puback(((buf[at] as number) << 8) | (buf[at + 1] as number))
      else if (type === 2) this.#sink.connack(buf[at + 1] as number)
      else this.#sink.other?.(type, buf.subarray(at, at + len))
      at += len
    }
  }
}

/** Any PUBLISH, built on the spot (W7's hostile clients: their cost is not the point). */
export function publishFrame(topic: string, payload: Buffer, qos: 0 | 1, packetId = 1): Buffer {
  const t = Buffer.from(topic, 'utf8')
  const body = 2 + t.length + (qos === 1 ? 2 : 0) + payload.length
  const head = Buffer.from([qos === 1 ? 0x32 : 0x30, ...varint(body)])
  const fixed = Buffer.alloc(2 + t.length + (qos === 1 ? 2 : 0))
  fixed.writeUInt16BE(t.length, 0)
  t.copy(fixed, 2)
  if (qos === 1) fixed.writeUInt16BE(packetId, 2 + t.length)
  return Buffer.concat([head, fixed, payload])
}

/** Only the fixed header of a PUBLISH announcing `bodyBytes` (an oversized packet, refused before it is buffered). */
export function publishHeader(bodyBytes: number): Buffer {
  return Buffer.from([0x32, ...varint(bodyBytes)])
}
