import { LAST_SEEN_SQL } from './last-seen.js'
import type { Db } from './open.js'
import { kept } from './statements.js'

export type Availability = 'unknown' | 'online' | 'offline' | 'unavailable'

export interface Device {
  readonly id: string
  readonly source: string
  readonly type: string
  readonly name: string | null
  readonly room: string | null
  readonly capabilities: readonly string[]
  readonly metadata: Record<string, unknown>
  readonly availability: Availability
  readonly lastSeenAt: number | null
  readonly createdAt: number
  readonly updatedAt: number
}

interface DeviceRow {
  id: string
  source: string
  type: string
  name: string | null
  room: string | null
  capabilities: string
  metadata: string
  availability: Availability
  /** LAST_SEEN_SQL: 0 when never seen. */
  seen: number
  created_at: number
  updated_at: number
}

const toDevice = (r: DeviceRow): Device => ({
  id: r.id,
  source: r.source,
  type: r.type,
  name: r.name,
  room: r.room,
  capabilities: JSON.parse(r.capabilities) as string[],
  metadata: JSON.parse(r.metadata) as Record<string, unknown>,
  availability: r.availability,
  lastSeenAt: r.seen || null,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

export function getDevice(db: Db, id: string): Device | undefined {
  const row = kept(db, `SELECT d.*, ${LAST_SEEN_SQL} AS seen FROM devices d WHERE id = ?`).get(id) as DeviceRow | undefined
  return row ? toDevice(row) : undefined
}

/** One page of a listing: devices with an id after `after`, in id order, `limit` of them at most. */
export interface DevicePage {
  readonly limit: number
  readonly after?: string | undefined
}

/** Devices matching the filter, in id order: all of them, or one page. */
export function listDevices(db: Db, filter: { source?: string; type?: string; room?: string } = {}, page?: DevicePage): Device[] {
  // Kept compiled (statements.ts): the panel lists devices on every refresh.
  const rows = kept(
    db,
    `SELECT d.*, ${LAST_SEEN_SQL} AS seen FROM devices d WHERE (@source IS NULL OR source = @source) AND (@type IS NULL OR type = @type)
       AND (@room IS NULL OR room = @room) AND id > coalesce(@after, '') ORDER BY id LIMIT @limit`, // ids are never empty: '' starts at the first
  ).all({
    source: filter.source ?? null,
    type: filter.type ?? null,
    room: filter.room ?? null,
    after: page?.after ?? null,
    limit: page?.limit ?? -1,
  }) as DeviceRow[]
  return rows.map(toDevice)
}

/** Register a device if it is new; an existing device keeps its metadata. Returns true when created. */
export function ensureDevice(db: Db, d: { id: string; source: string; type?: string; name?: string; room?: string }, now: number): boolean {
  const info = db
    .prepare(
      `INSERT INTO devices (id, source, type, name, room, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO NOTHING`,
    )
    .run(d.id, d.source, d.type ?? 'sensor', d.name ?? null, d.room ?? null, now, now)
  return info.changes === 1
}

export function setAvailability(db: Db, id: string, availability: Availability, now: number): void {
  db.prepare('UPDATE devices SET availability = ?, updated_at = ? WHERE id = ?').run(availability, now, id)
}

export interface DeviceMetadata {
  readonly type?: string | undefined
  readonly name?: string | null | undefined
  readonly room?: string | null | undefined
  readonly capabilities?: readonly string[] | undefined
  readonly metadata?: Record<string, unknown> | undefined
}

/** Change what people say about a device; fields left out keep their value. */
export function updateDeviceMetadata(db: Db, id: string, m: DeviceMetadata, now: number): void {
  db.prepare(
    `UPDATE devices SET type = coalesce(@type, type),
       name = CASE WHEN @setName THEN @name ELSE name END, room = CASE WHEN @setRoom THEN @room ELSE room END,
       capabilities = coalesce(@capabilities, capabilities), metadata = coalesce(@metadata, metadata), updated_at = @now
     WHERE id = @id`,
  ).run({
    id,
    now,
    type: m.type ?? null,
    setName: m.name === undefined ? 0 : 1,
    name: m.name ?? null,
    setRoom: m.room === undefined ? 0 : 1,
    room: m.room ?? null,
    capabilities: m.capabilities ? JSON.stringify(m.capabilities) : null,
    metadata: m.metadata ? JSON.stringify(m.metadata) : null,
  })
}

/** Home Assistant entity ids of a device are kept in its metadata under this key (the command path reads it). */
export const HA_ENTITIES = 'ha_entities'

/**
 * Remember that a Home Assistant entity reports as this device (`metadata.ha_entities`, at most 32):
 * device ids are derived lossily from entity ids (or set by a config rule for many entities), so the
 * entity a service call must target is learnt here, at ingest. Writes only when the entity is new.
 */
export function rememberHaEntity(db: Db, id: string, entityId: string): void {
  db.prepare(
    `UPDATE devices SET metadata = json_set(metadata, '$.${HA_ENTITIES}', json_insert(
       CASE WHEN json_type(metadata, '$.${HA_ENTITIES}') = 'array' THEN json_extract(metadata, '$.${HA_ENTITIES}') ELSE '[]' END, '$[#]', @entityId))
     WHERE id = @id AND NOT EXISTS (SELECT 1 FROM json_each(devices.metadata, '$.${HA_ENTITIES}') WHERE value = @entityId)
       AND coalesce(json_array_length(metadata, '$.${HA_ENTITIES}'), 0) < 32`,
  ).run({ id, entityId })
}
