import { existsSync } from 'node:fs'
import type { HealthCheck } from '../core/service.js'

/**
 * A Raspberry Pi has no real-time clock: after a power cut it boots with a wrong time until NTP
 * syncs (security-reliability §0.9). Time-based credentials (TOTP, ASVS 6.5.8 "trusted time
 * source") must not be checked against such a clock. Trusted when the time is past this build's
 * date and, if configured, the NTP-synchronised flag file exists (systemd-timesyncd writes
 * /run/systemd/timesync/synchronized).
 */
export const BUILD_EARLIEST = Date.UTC(2026, 10, 1)

export interface ClockTrust {
  trusted(now: number): boolean
  readonly healthCheck: HealthCheck
}

export function clockTrust(o: { syncedFlagFile: string | undefined; now: () => number }): ClockTrust {
  const trusted = (now: number) => now >= BUILD_EARLIEST && (o.syncedFlagFile === undefined || existsSync(o.syncedFlagFile))
  return {
    trusted,
    healthCheck: {
      name: 'clock',
      critical: false,
      check: () =>
        trusted(o.now())
          ? { status: 'ok' }
          : { status: 'degraded', detail: 'the clock is not known to be synchronised: sign-in with one-time codes is refused until it is' },
    },
  }
}
