// W1 design point, W2 overload (open loop), W3 saturation (closed loop); the gateway's cells carry
// the W6 API load (20 req/s of the panel's real endpoints), and W1 also the publish → rule latency.
// Each shape runs on the gateway, then on Mosquitto, with the same generator.
import { measureCell, type Server } from '../lib/cell.js'
import { type BenchContext, scaled, useDevices } from '../lib/context.js'
import { diskSyncFloor } from '../lib/disk-floor.js'
import { driveClosed, driveOpen, Recorder, SimDevice } from '../lib/fleet.js'
import { nodeTlsFloor, startFloorServer } from '../lib/node-floor.js'
import { freePort } from '../lib/ports.js'
import { rssMiB, sleep } from '../lib/stats.js'

const W1_DEVICES = 100
const W1_RATE = 1000

function both(ctx: BenchContext): Array<{ server: Server; fleet: readonly SimDevice[] }> {
  return [
    { server: ctx.gatewayServer, fleet: ctx.gatewayFleet },
    { server: ctx.mosquittoServer, fleet: ctx.mosquittoFleet },
  ]
}

/**
 * W1: 100 devices × 10 msg/s, QoS 1, 60 s, on both servers: PUBACK latency and CPU per message
 * with the gateway's rules evaluating every reading (none firing). Then, on the gateway only, the
 * same load with the panel's API at 20 req/s (W6) and every 50th reading of each device firing its
 * rule (20 alerts/s), for publish → rule latency.
 */
export async function designPoint(ctx: BenchContext): Promise<void> {
  for (const { server, fleet } of both(ctx)) {
    const devices = await useDevices(fleet, W1_DEVICES)
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
        notes: server.system === 'gateway' ? ['100 threshold rules evaluate every reading; none fires'] : [],
      }),
    )
  }
  await nodeFloor(ctx)
  const devices = await useDevices(ctx.gatewayFleet, W1_DEVICES)
  ctx.log('W1 gateway with API load and alerts')
  ctx.cells.push(
    await measureCell({
      workload: 'W1',
      label: 'W1 + API + alerts',
      server: ctx.gatewayServer,
      devices,
      shape: { devices: W1_DEVICES, qos: 1, mode: 'open', offeredRate: W1_RATE, seconds: scaled(ctx, 30) },
      warmupSeconds: 3,
      drive: () => driveOpen(devices, W1_RATE),
      api: ctx.api,
      alerts: ctx.alerts,
      hotEvery: 50,
      notes: ['W1 plus the API at 20 req/s (W6) and every 50th reading per device firing its rule, the devices staggered (20 alerts/s, evenly)'],
    }),
  )
}

/**
 * W1 on a bare Node.js TLS server that only acknowledges (node-floor.ts): what Node's TLS and
 * event loop cost per message before any broker, storage or rule work — the part of the CPU ratio
 * to Mosquitto that no design of the gateway in Node can remove.
 */
async function nodeFloor(ctx: BenchContext): Promise<void> {
  const floor = await startFloorServer({ port: await freePort(), ca: ctx.gateway.ca, ...(await ctx.gateway.serverTls()) })
  const fleet = ctx.credentials.slice(0, W1_DEVICES).map((c) => new SimDevice(c, { port: floor.port, ca: ctx.gateway.ca }, new Recorder()))
  try {
    const devices = await useDevices(fleet, W1_DEVICES)
    ctx.log('W1 node-floor')
    ctx.cells.push(
      await measureCell({
        workload: 'W1',
        label: 'W1 design point',
        server: { system: 'node-floor', pid: floor.pid, gateway: null },
        devices,
        shape: { devices: W1_DEVICES, qos: 1, mode: 'open', offeredRate: W1_RATE, seconds: scaled(ctx, 30) },
        warmupSeconds: 3,
        drive: () => driveOpen(devices, W1_RATE),
        // Meanwhile (this server writes nothing): the disk's own fdatasync times, beside the gateway's data.
        during: () => diskSyncFloor(ctx.gateway.dataDir, scaled(ctx, 30) - 1),
        notes: [
          'a bare Node.js TLS server answering CONNECT, PUBLISH (PUBACK) and PINGREQ only: no MQTT broker, storage or rules',
          'disk*: 4 KiB appends each fdatasync’d, every 2 ms, in the gateway’s data folder’s filesystem, during this cell',
        ],
      }),
    )
  } finally {
    for (const d of fleet) d.close()
    floor.stop()
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

/**
 * Memory with 1,000 devices connected at a home's pace (one reading each every 10 s), measured on a
 * freshly started gateway: heap grown by earlier saturation cells would otherwise be counted.
 */
async function fleetMemory(ctx: BenchContext): Promise<void> {
  const N = 1000
  const RATE = 100
  ctx.alerts.close()
  await ctx.gateway.stop()
  await ctx.gateway.start()
  await ctx.alerts.open(ctx.gateway.o.httpPort, ctx.gateway.ca, ctx.gateway.token)
  for (const { server, fleet } of both(ctx)) {
    for (const d of fleet) d.close()
    const devices = await useDevices(fleet, N)
    ctx.log(`W3 1,000 devices at 0.1 msg/s ${server.system}`)
    const cell = await measureCell({
      workload: 'W3',
      label: 'W3 N=1000 at 0.1 msg/s',
      server,
      devices,
      shape: { devices: N, qos: 1, mode: 'open', offeredRate: RATE, seconds: scaled(ctx, 30, 10) },
      warmupSeconds: 5,
      drive: () => driveOpen(devices, RATE),
      notes: server.system === 'gateway' ? ['gateway restarted just before, so earlier cells’ heap growth is not counted'] : [],
    })
    ctx.cells.push(cell)
  }
  // The same 1,000 mTLS connections held by a bare Node.js TLS server: the floor under the gateway.
  for (const d of ctx.gatewayFleet) d.close()
  const floor = await nodeTlsFloor({
    port: await freePort(),
    ca: ctx.gateway.ca,
    ...(await ctx.gateway.serverTls()),
    creds: ctx.credentials.slice(0, N),
  })
  const gatewayCell = ctx.cells.findLast((c) => c.label === 'W3 N=1000 at 0.1 msg/s' && c.system === 'gateway')
  if (gatewayCell) Object.assign(gatewayCell.extra, { nodeTlsFloorIdleRssMiB: floor.idleRssMiB, nodeTlsFloorRssMiB: floor.connectedRssMiB })
}

/** W3: closed loop, 10 in flight per device, N = 1 / 10 / 100 / 1,000 devices. */
export async function saturation(ctx: BenchContext): Promise<void> {
  const WINDOW = 10
  await fleetMemory(ctx)
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
