// After a gateway cell's window, its background work (the forwarder's points, the rollup fold) may
// lag behind the ingest, by design: those threads run at a lower priority than the broker's and
// the API's (gateway/src/system/module-worker.ts, BACKGROUND_NICE), so under saturation they take
// what CPU is left and catch up afterwards. Waiting here until they have keeps that work out of
// the next cell (Mosquitto's too), and what it cost is reported with the cell that caused it.
import type { GatewayTarget } from './gateway-target.js'
import { parseScrape, type Scrape, sum } from './prometheus-text.js'
import { type Stopwatch, sleep } from './stats.js'

export interface Settled {
  /** Journal entries not yet forwarded to the sink / folded into the rollups when the window ended. */
  readonly forwarderBacklog: number
  readonly rollupBacklog: number
  /** Until both were 0; null when that took longer than the limit. */
  readonly seconds: number | null
  /** The gateway's CPU meanwhile. */
  readonly cpuSeconds: number
}

const FORWARDER_DEPTH = 'carehub_timeseries_queue_depth'
const ROLLUP_LAG = 'carehub_rollup_lag_entries'
const POLL_MS = 250

/**
 * `watch` started when the window ended (the catch-up may begin before this is called), `atEnd` is
 * the scrape taken then. The rollup fold runs every 5 s (history.rollupFlushMs), so its backlog is
 * never 0 under load and settling takes up to 5 s even when nothing fell behind.
 */
export async function settle(gw: GatewayTarget, watch: Stopwatch, atEnd: Scrape, limitSeconds = 180): Promise<Settled> {
  const behind = (s: Scrape) => sum(s, FORWARDER_DEPTH) + sum(s, ROLLUP_LAG)
  let done = behind(atEnd) === 0
  while (!done && watch.read().seconds < limitSeconds) {
    await sleep(POLL_MS)
    done = behind(parseScrape(await gw.metrics())) === 0
  }
  const w = watch.read()
  return {
    forwarderBacklog: sum(atEnd, FORWARDER_DEPTH),
    rollupBacklog: sum(atEnd, ROLLUP_LAG),
    seconds: done ? Math.round(w.seconds * 10) / 10 : null,
    cpuSeconds: w.serverCpuSeconds,
  }
}
