import { randomBytes } from 'node:crypto'
import type { Db } from './open.js'
import { getOrCreateSetting } from './settings.js'

/**
 * The box's stable id (mDNS TXT, the CA's name, idempotency keys): the configured one, else one
 * generated on first use and kept in the store — by whichever of the daemon or the CLI comes first.
 */
export function gatewayIdentity(db: Db, configured: string | undefined, now: number): string {
  return configured ?? getOrCreateSetting(db, 'gateway.id', () => `gw-${randomBytes(4).toString('hex')}`, now)
}
