// W1 design point, W2 overload (open loop), W3 saturation (closed loop); the gateway's cells carry
// the W6 API load (20 req/s of the panel's real endpoints), and W1 also the publish → rule latency.
// Each shape runs on the gateway, then on Mosquitto, with the same generator.
import { measureCell, type Server } from '../lib/cell.js'
import { type BenchContext, scaled, useDevices } from '../lib/context.js'
import { driveClosed, driveOpen, type SimDevice } from '../lib/fleet.js'
import { rssMiB, sleep } from '../lib/stats.js'

const W1_DEVICES = 100
const W1_RATE = 1000

function both(ctx: BenchContext): Array<{ server: Server; fleet: readonly SimDevice[] }> {
  return [
    { server: ctx.gatewayServer, fleet: ctx.gatewayFleet },
    { server: ctx.mosquittoServer, fleet: ctx.mosquittoFleet },
  ]
}

/** W1: 100 devices × 10 msg/s, QoS 1, 60 s. */
export async function designPoint(ctx: BenchContext): Promise<void> {
  for (const { server, fleet } of both(ctx)) {
    const devices = await useDevices(fleet, W1_DEVICES)
    const isGateway = server.system === 'gateway'
    ctx.log(`W1 ${server.system}`)
    ctx.cells.push(
      await measureCell({
        workload: 'W1',
        label: 'W1 design point',
        server,
        devices,
        shape: { devices: W1_DEVICES, qos: 1, mode: 'open', offeredRate: W1_RATE, seconds: scaled(ctx, 60) },
        warmupSeconds: 5,
        drive: () => driveOpen(devices, W1_RATE),
        api: isGateway ? ctx.api : null,
        alerts: isGateway ? ctx.alerts : null,
        // Every 10th reading of each device is above its rule's threshold: 100 alerts/s.
        hotEvery: isGateway ? 10 : 0,
        notes: isGateway ? ['every 10th reading per device fires its rule (100 alerts/s); API load 20 req/s (W6)'] : [],
      }),
    )
  }
}

/** W2: 5× and 10× W1, open loop: where does latency bend? */
export async function overload(ctx: BenchContext): Promise<void> {
  for (const factor of [5, 10]) {
    for (const { server, fleet } of both(ctx)) {
      const devices = await useDevices(fleet, W1_DEVICES)
      ctx.log(`W2 ${factor}× ${server.system}`)
      ctx.cells.push(
        await measureCell({
          workload: 'W2',
          label: `W2 ${factor}×`,
          server,
          devices,
          shape: { devices: W1_DEVICES, qos: 1, mode: 'open', offeredRate: W1_RATE * factor, seconds: scaled(ctx, 30) },
          warmupSeconds: 3,
          drive: () => driveOpen(devices, W1_RATE * factor),
          api: server.system === 'gateway' ? ctx.api : null,
        }),
      )
      await sleep(2000) // let the server settle before the next cell
    }
  }
}

/** W3: closed loop, 10 in flight per device, N = 1 / 10 / 100 / 1,000 devices. */
export async function saturation(ctx: BenchContext): Promise<void> {
  const WINDOW = 10
  for (const n of [1, 10, 100, 1000]) {
    for (const { server, fleet } of both(ctx)) {
      const devices = await useDevices(fleet, n)
      await sleep(1000)
      const idleRss = rssMiB(server.pid)
      ctx.log(`W3 N=${n} ${server.system}`)
      const cell = await measureCell({
        workload: 'W3',
        label: `W3 N=${n}`,
        server,
        devices,
        shape: { devices: n, qos: 1, mode: 'closed', window: WINDOW, seconds: scaled(ctx, 15) },
        warmupSeconds: 3,
        drive: () => driveClosed(devices, WINDOW),
        api: server.system === 'gateway' ? ctx.api : null,
      })
      ctx.cells.push({ ...cell, extra: { ...cell.extra, idleConnectedRssMiB: idleRss } })
      await sleep(2000)
    }
  }
  for (const { fleet } of both(ctx)) await useDevices(fleet, W1_DEVICES)
}
