/**
 * Tracks MQTT packet boundaries on a byte stream and reports a packet whose Remaining Length (the
 * packet minus its 2–5 byte fixed header) exceeds the limit as soon as its fixed header arrives — before the body is buffered. aedes and
 * mqtt-packet check no size at all (security-reliability §0.3: a client can make the broker buffer
 * 256 MiB). Fixed header: [MQTT-2.2]; Remaining Length: variable byte integer, at most 4 bytes
 * ([MQTT-2.2.3]).
 */
export class FrameGuard {
  readonly #maxPacketBytes: number
  #phase: 'type' | 'length' | 'body' = 'type'
  #length = 0
  #multiplier = 1
  #lengthBytes = 0
  #remaining = 0

  constructor(maxPacketBytes: number) {
    this.#maxPacketBytes = maxPacketBytes
  }

  /** Feed the next chunk; returns a reason when the stream must be cut, else null. */
  push(chunk: Uint8Array): string | null {
    let i = 0
    while (i < chunk.length) {
      if (this.#phase === 'body') {
        const take = Math.min(this.#remaining, chunk.length - i)
        this.#remaining -= take
        i += take
        if (this.#remaining === 0) this.#phase = 'type'
        continue
      }
      const byte = chunk[i++] as number
      if (this.#phase === 'type') {
        this.#phase = 'length'
        this.#length = 0
        this.#multiplier = 1
        this.#lengthBytes = 0
        continue
      }
      this.#length += (byte & 0x7f) * this.#multiplier
      this.#multiplier *= 128
      this.#lengthBytes++
      if (byte & 0x80) {
        if (this.#lengthBytes === 4) return 'malformed Remaining Length (more than 4 bytes)'
        continue
      }
      if (this.#length > this.#maxPacketBytes) return `packet of ${this.#length} bytes exceeds the ${this.#maxPacketBytes}-byte limit`
      this.#remaining = this.#length
      this.#phase = this.#remaining === 0 ? 'type' : 'body'
    }
    return null
  }
}
