import type { Db } from '../store/open.js'
import { kept } from '../store/statements.js'

export interface LatestScope {
  readonly device?: string | undefined
  readonly room?: string | undefined
  readonly measurement?: string | undefined
}

/**
 * The rows as one JSON array, written by SQLite. Devices are the outer loop (CROSS JOIN:
 * sqlite.org optoverview.html §"Manual Control Of Query Plans Using CROSS JOIN"), each device's
 * latest readings found by primary key; the aggregate's own ORDER BY (lang_aggfunc.html, SQLite
 * 3.44+) orders the array, as an outer ORDER BY would not. `json(r.fields)` embeds the stored text
 * as JSON rather than as a string; the journal's CHECK (json_valid(…)) on `fields` and `anomalies`
 * (migrations 001, 005, 008) means it always is JSON. `ageSeconds` is floor(x + 0.5): what
 * Math.round gives, also for a reading stamped ahead of the box's clock.
 */
export const LATEST_SQL = `SELECT '[' || coalesce(group_concat(json_object(
    'deviceId', d.id, 'name', d.name, 'room', d.room, 'measurement', l.measurement, 'ts', r.ts,
    'fields', json(r.fields), 'anomalies', json(coalesce(r.anomalies, '[]')),
    'ageSeconds', CAST(floor((@now - r.ts) / 1000.0 + 0.5) AS INTEGER)
  ), ',' ORDER BY d.id, l.measurement), '') || ']'
  FROM devices d CROSS JOIN latest_readings l ON l.device_id = d.id JOIN readings r ON r.seq = l.seq
  WHERE (@device IS NULL OR d.id = @device) AND (@room IS NULL OR d.room = @room) AND (@measurement IS NULL OR l.measurement = @measurement)`

/**
 * The `latest` preset, every device's newest reading of each measurement (what the panel asks for
 * on each refresh), as the JSON text of its rows:
 * `[{deviceId, name, room, measurement, ts, fields, anomalies, ageSeconds}, …]`.
 *
 * SQLite writes the JSON, so the stored readings are never parsed into JavaScript objects only to
 * be serialised again. That was most of the preset's cost, on the thread that also commits the
 * journal, where every request queued behind it waited. For the bench's 1,004 devices, in the same
 * runs of `node --import tsx tests/bench/latest-cost.ts`: 2.8–3.8 ms a call against 6.3–7.2.
 */
export function latestRowsJson(db: Db, scope: LatestScope, now: number): string {
  return kept(db, LATEST_SQL, 'pluck').get({
    now,
    device: scope.device ?? null,
    room: scope.room ?? null,
    measurement: scope.measurement ?? null,
  }) as string
}
