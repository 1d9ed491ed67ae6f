import type { Db } from '../store/open.js'
import type { EvalEnv } from './conditions.js'

/**
 * Which device is in which room, for rules that watch a room. Read from the devices table and
 * refreshed every few seconds (a device moved in the panel counts from then on); between refreshes
 * lookups are map reads, cheap enough for every reading.
 */
export class DeviceDirectory {
  readonly #db: () => Db
  readonly #timeZone: string
  readonly #refreshMs: number
  #roomOf = new Map<string, string>()
  #byRoom = new Map<string, string[]>()
  #loadedAt = Number.NEGATIVE_INFINITY

  constructor(db: () => Db, timeZone: string, refreshMs = 5000) {
    this.#db = db
    this.#timeZone = timeZone
    this.#refreshMs = refreshMs
  }

  env(now: number): EvalEnv {
    if (now - this.#loadedAt >= this.#refreshMs) this.#load(now)
    return { timeZone: this.#timeZone, roomOf: (id) => this.#roomOf.get(id) ?? null, devicesIn: (room) => this.#byRoom.get(room) ?? [] }
  }

  #load(now: number): void {
    const rows = this.#db().prepare('SELECT id, room FROM devices WHERE room IS NOT NULL').all() as Array<{ id: string; room: string }>
    this.#roomOf = new Map(rows.map((r) => [r.id, r.room]))
    this.#byRoom = new Map()
    for (const r of rows) this.#byRoom.set(r.room, [...(this.#byRoom.get(r.room) ?? []), r.id])
    this.#loadedAt = now
  }
}
