// W4: every device reconnects at once under W1 (both servers), then the gateway is killed (SIGKILL)
// under W1 and restarted: nothing acknowledged may be lost; resends may duplicate.
// W5: the time-series sink is down for `outageMinutes` under W1, then back: queue growth, catch-up
// rate, API latency meanwhile.
import { measureCell } from '../lib/cell.js'
import { type BenchContext, scaled, useDevices } from '../lib/context.js'
import { connectAll, driveOpen, type SimDevice } from '../lib/fleet.js'
import { parseScrape, sum } from '../lib/prometheus-text.js'
import { sleep } from '../lib/stats.js'
import { prefillBacklog } from './backlog.js'

const DEVICES = 100
const RATE = 1000

async function reconnectAll(devices: readonly SimDevice[]): Promise<{ ms: number; failed: number }> {
  for (const d of devices) d.close()
  // All at once: as many handshakes in parallel as there are devices.
  return connectAll(devices, devices.length)
}

export async function reconnectStorm(ctx: BenchContext): Promise<void> {
  for (const [server, fleet] of [
    [ctx.gatewayServer, ctx.gatewayFleet],
    [ctx.mosquittoServer, ctx.mosquittoFleet],
  ] as const) {
    const devices = await useDevices(fleet, DEVICES)
    ctx.log(`W4 reconnect storm ${server.system}`)
    ctx.cells.push(
      await measureCell({
        workload: 'W4',
        label: 'W4 reconnect storm',
        server,
        devices,
        shape: { devices: DEVICES, qos: 1, mode: 'open', offeredRate: RATE, seconds: scaled(ctx, 20, 10) },
        warmupSeconds: 3,
        drive: () => driveOpen(devices, RATE),
        during: async () => {
          await sleep(3000)
          const { ms, failed } = await reconnectAll(devices)
          return { reconnectAllMs: Math.round(ms), reconnectFailed: failed }
        },
        notes: ['at 3 s into the window all 100 connections are cut and reconnect at once (full TLS handshakes); unacknowledged readings are resent'],
      }),
    )
  }
  const gw = ctx.gateway
  const devices = await useDevices(ctx.gatewayFleet, DEVICES)
  ctx.log('W4 crash and restart gateway')
  ctx.alerts.close()
  ctx.cells.push(
    await measureCell({
      workload: 'W4',
      label: 'W4 SIGKILL + restart',
      server: ctx.gatewayServer,
      devices,
      shape: { devices: DEVICES, qos: 1, mode: 'open', offeredRate: RATE, seconds: scaled(ctx, 25, 15) },
      warmupSeconds: 3,
      drive: () => driveOpen(devices, RATE),
      during: async () => {
        await sleep(3000)
        const killedAt = performance.now()
        await gw.kill()
        await gw.start()
        const up = performance.now()
        const { failed } = await connectAll(devices, devices.length)
        return {
          restartToApiMs: Math.round(up - killedAt),
          killToAllReconnectedMs: Math.round(performance.now() - killedAt),
          reconnectFailed: failed,
        }
      },
      notes: [
        'the gateway is SIGKILLed 3 s into the window and started again at once; devices reconnect and resend what was not acknowledged',
        'CPU figures are not comparable (two processes); lost counts acknowledged readings missing from the journal after the restart',
      ],
    }),
  )
  await ctx.alerts.open(gw.o.httpPort, gw.ca, gw.token)
}

export async function sinkOutage(ctx: BenchContext): Promise<void> {
  const gw = ctx.gateway
  const devices = await useDevices(ctx.gatewayFleet, DEVICES)
  const live = Math.min(ctx.options.w5LiveSeconds, ctx.options.outageMinutes * 60)
  const prefilled = ctx.options.outageMinutes * 60 - live
  ctx.log(`W5 sink outage: ${prefilled} s of backlog written while stopped, ${live} s live`)
  // The part of the outage not lived through: the gateway stops, the readings W1 would have
  // brought meanwhile go into its journal as they would have (not forwarded), it starts again.
  await ctx.vm.stop()
  for (const d of devices) d.close()
  ctx.alerts.close()
  await gw.stop()
  const backlog = prefillBacklog(gw, prefilled, RATE)
  await gw.start()
  await ctx.alerts.open(gw.o.httpPort, gw.ca, gw.token)
  // The backlog is folded into the rollups and seen by the rules after the start, in a burst a
  // live outage would have spread out: let that finish so the live window measures the outage.
  const lag = async () => sum(parseScrape(await gw.metrics()), 'carehub_rollup_lag_entries')
  for (let i = 0; i < 600 && (await lag()) > 10_000; i++) await sleep(250)
  await useDevices(ctx.gatewayFleet, DEVICES)
  const depth = async () => sum(parseScrape(await gw.metrics()), 'carehub_timeseries_queue_depth')
  const cell = await measureCell({
    workload: 'W5',
    label: 'W5 sink down (live part)',
    server: ctx.gatewayServer,
    devices,
    shape: { devices: DEVICES, qos: 1, mode: 'open', offeredRate: RATE, seconds: live },
    warmupSeconds: 2,
    drive: () => driveOpen(devices, RATE),
    api: ctx.api,
    during: async () => {
      const d0 = await depth()
      await sleep(live * 1000 - 500)
      const d1 = await depth()
      return { queueAtLiveStart: d0, queueAtRecovery: d1, queueGrowthPerSecond: Math.round((d1 - d0) / (live - 0.5)) }
    },
    notes: [
      `outage of ${ctx.options.outageMinutes} min: ${prefilled} s written to the journal while the gateway was stopped (${backlog} readings), ${live} s lived under W1`,
    ],
    settle: false, // the sink is still down: the next cell is its catch-up
  })
  ctx.cells.push(cell)
  const forwarded = async () => sum(parseScrape(await gw.metrics()), 'carehub_timeseries_points_forwarded_total')
  ctx.log('W5 sink back: catch-up')
  await ctx.vm.start()
  const f0 = await forwarded()
  const t0 = performance.now()
  let caughtUpAt = 0
  const catchUp = await measureCell({
    workload: 'W5',
    label: 'W5 catch-up',
    server: ctx.gatewayServer,
    devices,
    // The window lasts until the backlog is forwarded (`during` decides; the shape gets the real length).
    shape: { devices: DEVICES, qos: 1, mode: 'open', offeredRate: RATE, seconds: 1 },
    warmupSeconds: 0,
    drive: () => driveOpen(devices, RATE),
    api: ctx.api,
    during: async () => {
      while ((await depth()) > RATE * 2 && performance.now() - t0 < 120_000) await sleep(250)
      caughtUpAt = performance.now()
      const f1 = await forwarded()
      const seconds = (caughtUpAt - t0) / 1000
      return { catchUpSeconds: Math.round(seconds * 10) / 10, catchUpPointsPerSecond: Math.round((f1 - f0) / seconds), pointsForwarded: f1 - f0 }
    },
    notes: ['VictoriaMetrics back at the start of the window; W1 continues; API load 20 req/s'],
  })
  ctx.cells.push({ ...catchUp, shape: { ...catchUp.shape, seconds: Math.round((caughtUpAt - t0) / 100) / 10 } })
}
