// What every workload gets: both servers, a fleet for each (same certificates, different port),
// the API load and the alert stream, and where its cells go.
import type { ServerProcess } from '../../_support/server-process.js'
import type { AlertStream } from './alert-stream.js'
import type { ApiLoadThread } from './api-load-thread.js'
import type { Server } from './cell.js'
import { type Credentials, connectAll, type SimDevice } from './fleet.js'
import type { GatewayTarget } from './gateway-target.js'
import type { Cell } from './result.js'

export interface BenchOptions {
  /** Multiplies every window (0.25 for a quick look; 1 is the shape). */
  readonly scale: number
  /** W5: minutes the sink is down in all, of which `w5LiveSeconds` live under W1. */
  readonly outageMinutes: number
  readonly w5LiveSeconds: number
  readonly only: ReadonlySet<string> | null
}

export interface BenchContext {
  readonly options: BenchOptions
  readonly gateway: GatewayTarget
  readonly gatewayServer: Server
  readonly mosquitto: ServerProcess
  readonly mosquittoServer: Server
  /** Index i is the same device (certificate) in both fleets. */
  readonly gatewayFleet: readonly SimDevice[]
  readonly mosquittoFleet: readonly SimDevice[]
  /** The fleet's certificates (index i = device i). */
  readonly credentials: readonly Credentials[]
  readonly vm: ServerProcess
  readonly api: ApiLoadThread
  readonly alerts: AlertStream
  readonly cells: Cell[]
  log(line: string): void
}

/** Exactly the first `n` devices of the fleet connected (others closed); returns them. */
export async function useDevices(fleet: readonly SimDevice[], n: number): Promise<SimDevice[]> {
  for (const d of fleet.slice(n)) if (d.connected) d.close()
  const wanted = fleet.slice(0, n)
  const { failed } = await connectAll(wanted.filter((d) => !d.connected))
  if (failed > 0) {
    const why = [...new Set(wanted.filter((d) => !d.connected).map((d) => d.lastConnectError))].slice(0, 3).join('; ')
    throw new Error(`${failed} of ${n} devices could not connect (${why})`)
  }
  return wanted
}

/** Seconds scaled by the run's option, at least `min`. */
export const scaled = (ctx: BenchContext, seconds: number, min = 5) => Math.max(min, Math.round(seconds * ctx.options.scale))
