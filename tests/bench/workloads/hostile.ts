// W7: W1's 100 devices keep publishing while four enrolled but hostile clients misbehave:
// invalid JSON at 1 % of the traffic, publishes to another device's topic, packets over the size
// limit, and a subscriber that stops reading (plus, on the gateway, a panel stream that stops
// reading). What must hold: the good devices' latency and zero loss; each refusal counted.
import { measureCell, type Server } from '../lib/cell.js'
import { type BenchContext, scaled, useDevices } from '../lib/context.js'
import { connectAll, driveOpen, type SimDevice } from '../lib/fleet.js'
import { publishFrame, publishHeader } from '../lib/mqtt-frames.js'
import { parseScrape, type Scrape, sum } from '../lib/prometheus-text.js'
import { rssMiB, sleep } from '../lib/stats.js'
import { type FrozenStream, frozenEventStream } from './frozen-stream.js'

const GOOD = 100
const RATE = 1000

interface Hostiles {
  readonly invalid: SimDevice
  readonly wrongTopic: SimDevice
  readonly oversized: SimDevice
  readonly frozen: SimDevice
}

/** The four hostile clients are the fleet's last four devices (enrolled like the others). */
function hostiles(fleet: readonly SimDevice[]): Hostiles {
  const [invalid, wrongTopic, oversized, frozen] = fleet.slice(-4) as [SimDevice, SimDevice, SimDevice, SimDevice]
  return { invalid, wrongTopic, oversized, frozen }
}

async function misbehave(h: Hostiles, server: Server, seconds: number, victim: string) {
  let invalidSent = 0
  let wrongTopicSent = 0
  let oversizedSent = 0
  const until = performance.now() + seconds * 1000
  await connectAll([h.frozen])
  // Mosquitto lets any client subscribe to everything (no ACL configured, as shipped); the gateway
  // lets a device subscribe only to its own command topic, so its frozen subscriber gets nothing.
  h.frozen.subscribe(server.system === 'mosquitto' ? 'care/#' : `care/${h.frozen.id}/cmd/#`)
  await sleep(100)
  h.frozen.socket?.pause()
  const rss0 = rssMiB(server.pid)
  const invalidLoop = (async () => {
    while (performance.now() < until) {
      if (!h.invalid.connected) await connectAll([h.invalid], 1)
      // 10 msg/s = 1 % of W1's 1,000: a truncated JSON body on the device's own topic.
      h.invalid.socket?.write(publishFrame(`care/${h.invalid.id}/env`, Buffer.from('{"fields":{"temp_c":21.5,'), 1, (invalidSent % 65535) + 1))
      invalidSent++
      await sleep(100)
    }
  })()
  const abuseLoop = async (d: SimDevice, write: (d: SimDevice) => void, count: () => void) => {
    while (performance.now() < until) {
      if (!d.connected) await connectAll([d], 1)
      write(d)
      count()
      await sleep(500)
    }
  }
  await Promise.all([
    invalidLoop,
    abuseLoop(
      h.wrongTopic,
      (d) => d.socket?.write(publishFrame(`care/${victim}/env`, Buffer.from('{"fields":{"temp_c":99}}'), 1, 7)),
      () => wrongTopicSent++,
    ),
    abuseLoop(
      h.oversized,
      (d) => {
        d.socket?.write(publishHeader(8 * 1024 * 1024))
        d.socket?.write(Buffer.alloc(64 * 1024, 0x41))
      },
      () => oversizedSent++,
    ),
  ])
  const frozenRssGrowth = rssMiB(server.pid) - rss0
  h.frozen.close()
  return {
    invalidJsonSent: invalidSent,
    wrongTopicSent,
    wrongTopicCut: h.wrongTopic.disconnects,
    oversizedSent,
    oversizedCut: h.oversized.disconnects,
    frozenSubscriberRssGrowthMiB: frozenRssGrowth,
  }
}

export async function hostileTraffic(ctx: BenchContext): Promise<void> {
  for (const [server, fleet] of [
    [ctx.gatewayServer, ctx.gatewayFleet],
    [ctx.mosquittoServer, ctx.mosquittoFleet],
  ] as const) {
    const devices = await useDevices(fleet, GOOD)
    const h = hostiles(fleet)
    for (const d of Object.values(h)) d.disconnects = 0
    const seconds = scaled(ctx, 30, 10)
    const isGateway = server.system === 'gateway'
    const seen: { before?: Scrape; sse?: FrozenStream } = {}
    ctx.log(`W7 hostile ${server.system}`)
    const cell = await measureCell({
      workload: 'W7',
      label: 'W7 hostile traffic',
      server,
      devices,
      shape: { devices: GOOD, qos: 1, mode: 'open', offeredRate: RATE, seconds },
      warmupSeconds: 3,
      drive: () => driveOpen(devices, RATE),
      alerts: isGateway ? ctx.alerts : null,
      hotEvery: isGateway ? 10 : 0,
      during: async () => {
        if (isGateway) {
          seen.before = parseScrape(await ctx.gateway.metrics())
          seen.sse = await frozenEventStream(ctx.gateway)
        }
        return misbehave(h, server, seconds - 1, devices[0]?.id ?? 'none')
      },
      notes: [
        'good devices: W1; hostile: invalid JSON 10/s, wrong-topic and oversized publishes 2/s each (reconnecting when cut), a subscriber that stops reading',
        ...(isGateway ? ['every 10th good reading fires a rule, so a panel stream that stops reading has alerts piling up'] : []),
      ],
    })
    const extra: Record<string, number | string | boolean | null> = { ...cell.extra }
    if (seen.before) {
      const after = parseScrape(await ctx.gateway.metrics())
      extra.mqttRefusedCounted = sum(after, 'carehub_mqtt_refused_total') - sum(seen.before, 'carehub_mqtt_refused_total')
      extra.ingestRejectedCounted = sum(after, 'carehub_ingest_rejected_total') - sum(seen.before, 'carehub_ingest_rejected_total')
    }
    if (seen.sse) {
      extra.frozenPanelStreamCut = await seen.sse.cut()
      seen.sse.close()
    }
    ctx.cells.push({ ...cell, extra })
  }
}
