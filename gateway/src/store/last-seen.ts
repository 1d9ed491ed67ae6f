/**
 * A device's last-seen time without a write per reading. Every journal commit used to update the
 * reporting device's row: 1.3 of the ~7 WAL pages a commit writes at bench W1 (read from the live
 * -wal with dbstat), which an SD card pays for and every checkpoint copies again. The column now
 * moves at most once a step per device, and readers take the newest of it and the receive time of
 * the device's latest readings (`latest_readings`, kept in the same commit), which is exact. The
 * column alone matters only once those readings are purged, weeks later, when a step is noise.
 */
export const LAST_SEEN_STEP_MS = 60_000

/** SQL for the exact last-seen time (0: never) of the devices row aliased `d`. */
export const LAST_SEEN_SQL = `max(coalesce(d.last_seen_at, 0), coalesce((SELECT max(r.received_at) FROM latest_readings l
  JOIN readings r ON r.seq = l.seq WHERE l.device_id = d.id), 0))`

/** Which last-seen times a commit writes: a device's first in this process, then one a step. */
export class LastSeenSteps {
  readonly #written = new Map<string, number>()
  readonly #stepMs: number

  constructor(stepMs = LAST_SEEN_STEP_MS) {
    this.#stepMs = stepMs
  }

  /**
   * Whether to write `at` for `deviceId` now. Counted as written even if the transaction then rolls
   * back: the column lags a step more, which readers never see (LAST_SEEN_SQL).
   */
  due(deviceId: string, at: number): boolean {
    const written = this.#written.get(deviceId)
    if (written !== undefined && at - written < this.#stepMs) return false
    this.#written.set(deviceId, at)
    return true
  }
}
