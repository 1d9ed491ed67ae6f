import type { Db } from './open.js'
import { kept } from './statements.js'

/**
 * Pins a journal entry so the disk budget never drops it (DESIGN invariant 3: events that raised an
 * alert are never dropped). The rules engine pins the reading behind every alert it raises;
 * retention still removes a pinned reading once it is older than raw retention and forwarded.
 */
export function pinReading(db: Db, seq: number, reason: string, now: number): void {
  kept(db, 'INSERT OR IGNORE INTO reading_pins (seq, reason, created_at) VALUES (?, ?, ?)').run(seq, reason, now)
}
