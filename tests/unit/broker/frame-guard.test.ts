import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import mqttPacket from 'mqtt-packet'
import { FrameGuard } from '../../../gateway/src/broker/frame-guard.js'

/** Deterministic PRNG (mulberry32) so a failing chunking can be reproduced. */
function prng(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Chunking = 'whole' | 'bytes' | { random: number; max: number }

/** Feed the stream; returns null, or the reason and the stream offset just after the chunk that got it. */
function feed(guard: FrameGuard, stream: Buffer, chunking: Chunking): { problem: string; at: number } | null {
  const rand = typeof chunking === 'object' ? prng(chunking.random) : null
  let i = 0
  while (i < stream.length) {
    const size = chunking === 'whole' ? stream.length : chunking === 'bytes' ? 1 : 1 + Math.floor((rand?.() ?? 0) * (chunking.max as number))
    const end = Math.min(stream.length, i + size)
    const problem = guard.push(stream.subarray(i, end))
    i = end
    if (problem !== null) return { problem, at: i }
  }
  return null
}

/** A QoS 0 PUBLISH on topic 't' whose Remaining Length is exactly `rl` (>= 3), built by mqtt-packet. */
function publishWithLength(rl: number, fill = 0xff): Buffer {
  const packet = mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(rl - 3, fill), qos: 0, dup: false, retain: false })
  assert.equal(packet.length, 1 + lengthBytes(rl) + rl, 'mqtt-packet produced an unexpected size')
  return packet
}

function lengthBytes(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4
}

const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'dev_a', clean: true, keepalive: 60 })
const subscribe = mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'care/dev_a/cmd/#', qos: 1 }] })
const pingreq = mqttPacket.generate({ cmd: 'pingreq' })
const publish = (payload: Buffer | string, qos: 0 | 1 = 0) =>
  mqttPacket.generate({ cmd: 'publish', topic: 'care/dev_a/climate', payload, qos, dup: false, retain: false, ...(qos ? { messageId: 7 } : {}) })

const CHUNKINGS: Chunking[] = ['whole', 'bytes', { random: 1, max: 7 }, { random: 2, max: 300 }, { random: 3, max: 70_000 }]

describe('frame guard: packets within the limit', () => {
  test('a realistic session stream is never cut, however it is chunked', () => {
    const big = publishWithLength(20_000, 0x30)
    const stream = Buffer.concat([
      connect,
      subscribe,
      publish('{"fields":{"temp_c":21}}'),
      pingreq,
      publish(Buffer.alloc(4000, 0xc0), 1),
      big,
      pingreq,
      pingreq,
      publish(''),
      publish(Buffer.alloc(127, 0x80)),
    ])
    for (const chunking of CHUNKINGS) assert.equal(feed(new FrameGuard(20_000), stream, chunking), null, JSON.stringify(chunking))
  })

  test('a packet of exactly the limit is accepted', () => {
    for (const limit of [1024, 16_384, 300_000]) {
      assert.equal(feed(new FrameGuard(limit), Buffer.concat([publishWithLength(limit), pingreq]), 'whole'), null, String(limit))
    }
  })

  test('PINGREQ (Remaining Length 0) needs no body: the next byte starts a new packet', () => {
    const guard = new FrameGuard(1024)
    for (let i = 0; i < 50; i++) assert.equal(guard.push(pingreq), null)
    // Had PINGREQ's 0 been misread, these two bytes would be taken as a 2049-byte body or header.
    assert.match(guard.push(Buffer.from([0x30, 0x81, 0x10])) ?? '', /2049 bytes exceeds the 1024-byte limit/)
  })
})

describe('frame guard: oversized packets', () => {
  test('one byte over the limit is reported as soon as the last length byte arrives, before any body', () => {
    for (const limit of [1024, 16_383, 16_384, 2_097_151, 2_097_152]) {
      const header = publishWithLength(limit + 1).subarray(0, 1 + lengthBytes(limit + 1))
      const guard = new FrameGuard(limit)
      for (const byte of header.subarray(0, -1)) assert.equal(guard.push(Buffer.from([byte])), null)
      const problem = guard.push(header.subarray(-1))
      assert.equal(problem, `packet of ${limit + 1} bytes exceeds the ${limit}-byte limit`)
    }
  })

  test('the oversized packet is found after valid traffic, in any chunking', () => {
    const before = Buffer.concat([connect, subscribe, publish('x'.repeat(1000)), pingreq])
    const header = Buffer.from([0x32, 0x81, 0x08]) // PUBLISH QoS 1, Remaining Length 1025
    const stream = Buffer.concat([before, header, Buffer.alloc(50, 0x41)])
    assert.deepEqual(feed(new FrameGuard(1024), stream, 'bytes'), {
      problem: 'packet of 1025 bytes exceeds the 1024-byte limit',
      at: before.length + header.length,
    })
    for (const chunking of CHUNKINGS) assert.match(feed(new FrameGuard(1024), stream, chunking)?.problem ?? 'none', /1025 bytes/)
  })

  test('a 5-byte Remaining Length is malformed, whatever the limit', () => {
    for (const length of [
      [0xff, 0xff, 0xff, 0xff, 0x7f],
      [0x80, 0x80, 0x80, 0x80, 0x00],
      [0x81, 0x80, 0x80, 0x80, 0x01],
    ]) {
      const stream = Buffer.concat([pingreq, Buffer.from([0x30, ...length])])
      const result = feed(new FrameGuard(268_435_455), stream, 'bytes')
      assert.deepEqual(result, { problem: 'malformed Remaining Length (more than 4 bytes)', at: pingreq.length + 5 })
    }
  })

  test('the largest 4-byte Remaining Length is decoded, not called malformed', () => {
    const header = Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f])
    assert.equal(new FrameGuard(268_435_455).push(header), null)
    assert.equal(new FrameGuard(268_435_454).push(header), 'packet of 268435455 bytes exceeds the 268435454-byte limit')
  })
})

describe('frame guard: variable-length boundaries', () => {
  for (const rl of [0, 2, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152]) {
    test(`a packet of Remaining Length ${rl} is framed exactly: the stream after it stays in sync`, () => {
      // Body of 0xff: if the guard lost the boundary, it would read body bytes as a malformed length.
      const packet = rl >= 3 ? publishWithLength(rl) : Buffer.concat([Buffer.from([0x30, rl]), Buffer.alloc(rl, 0xff)])
      assert.equal(packet.length, 1 + lengthBytes(rl) + rl)
      const limit = Math.max(rl, 1024)
      const oversize = Buffer.from([0x30, ...encode(limit + 1)])
      const prefix = Buffer.concat([connect, packet, pingreq, publish('ok'), pingreq])
      const stream = Buffer.concat([prefix, oversize, Buffer.alloc(10, 0x41)])
      const expected = { problem: `packet of ${limit + 1} bytes exceeds the ${limit}-byte limit`, at: prefix.length + oversize.length }
      const chunkings: Chunking[] =
        rl > 20_000 ? ['whole', { random: rl, max: 5000 }] : ['bytes', { random: rl, max: 3 }, { random: rl + 1, max: 4096 }]
      for (const chunking of chunkings) {
        const result = feed(new FrameGuard(limit), stream, chunking)
        assert.equal(result?.problem, expected.problem, JSON.stringify(chunking))
        if (chunking === 'bytes') assert.equal(result?.at, expected.at)
      }
    })
  }
})

/** MQTT variable byte integer, written independently of the code under test. */
function encode(n: number): number[] {
  const out: number[] = []
  let x = n
  do {
    const digit = x % 128
    x = Math.floor(x / 128)
    out.push(x > 0 ? digit | 0x80 : digit)
  } while (x > 0)
  return out
}
