// One measured cell: a workload shape against one server (the gateway or Mosquitto), with a
// warm-up that is not counted, then a window whose figures become a `Cell` of the result.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { AlertStream } from './alert-stream.js'
import type { ApiLoadThread } from './api-load-thread.js'
import { diskSyncFloor } from './disk-floor.js'
import { drain, Recorder, type SimDevice } from './fleet.js'
import type { GatewayTarget } from './gateway-target.js'
import { histogramAbove, histogramQuantile, parseScrape, type Scrape, sum } from './prometheus-text.js'
import type { Cell, Shape, System, WorkloadId } from './result.js'
import { settle } from './settle.js'
import { percentiles, rssMiB, Stopwatch, sleep } from './stats.js'

export interface Server {
  readonly system: System
  readonly pid: number
  /** Present for the gateway: its metrics, journal and API. */
  readonly gateway: GatewayTarget | null
}

export interface CellSpec {
  readonly workload: WorkloadId
  readonly label: string
  readonly server: Server
  readonly devices: readonly SimDevice[]
  readonly shape: Shape
  readonly warmupSeconds: number
  /** Starts the load; returns what stops it. */
  readonly drive: () => () => void
  readonly api?: ApiLoadThread | null
  readonly alerts?: AlertStream | null
  readonly hotEvery?: number
  /** Runs during the window (after warm-up), e.g. a reconnect storm; its result goes to `extra`. */
  readonly during?: () => Promise<Record<string, number | string | boolean | null>>
  readonly notes?: readonly string[]
  /** False when the gateway's background work cannot catch up after this cell (W5: the sink is down). */
  readonly settle?: boolean
}

const GENERATOR_BOTTLENECK_PCT = 90
const DISK_PROBE_SECONDS = 2
/** prom-client's default metric: a restarted process reports another start time. */
const START_TIME = 'process_start_time_seconds'

/** A counter's increase over the window; null when it went down (a restart inside the window, W4). */
function counterDelta(before: Scrape, after: Scrape, name: string): number | null {
  const d = sum(after, name) - sum(before, name)
  return d < 0 ? null : d
}

/** A histogram's +Inf bucket as text (JSON has no Infinity): above its top bound. */
const beyondTop = (v: number | null, top: number): number | string | null => (v === Number.POSITIVE_INFINITY ? `>${top}` : v)

const ratio = (a: number | null, b: number | null): number | null => (a === null || !b ? null : Math.round((a / b) * 10) / 10)

async function scrape(server: Server): Promise<Scrape | null> {
  return server.gateway ? parseScrape(await server.gateway.metrics()) : null
}

export async function measureCell(spec: CellSpec): Promise<Cell> {
  const { server, devices } = spec
  const gw = server.gateway
  const afterSeq = gw ? gw.lastSeq() : 0
  let recorder = new Recorder()
  devices.forEach((d, i) => {
    d.recorder = recorder
    d.hotEvery = spec.hotEvery ?? 0
    d.hotPhase = d.hotEvery > 0 ? i % d.hotEvery : 0
  })
  // The disk just before the load (disk-floor.ts, 2 s; the gateway idle but for its background
  // work): this VM's disk has slow periods in which its syncs alone take 10-100 times longer, and a
  // cell's latency figures follow them.
  const disk = gw ? await diskSyncFloor(gw.dataDir, DISK_PROBE_SECONDS) : null
  // The API load runs only in the cells that ask for it: its CPU must not count against the others'
  // messages (W1's CPU ratio to Mosquitto is about MQTT alone).
  await spec.api?.start()
  const stop = spec.drive()
  await sleep(spec.warmupSeconds * 1000)
  // The window starts: fresh recorder, a metrics scrape (which also resets the gateway's event-loop
  // delay histogram), the API figures so far dropped.
  recorder = new Recorder()
  for (const d of devices) d.recorder = recorder
  if (spec.alerts) {
    spec.alerts.recorder = recorder
    spec.alerts.latencies = []
  }
  await spec.api?.take()
  const scrapedBefore = await scrape(server)
  const watch = new Stopwatch(server.pid)
  // The generator's own event loop: PUBACKs are timed there, so its delay bounds how much of a
  // PUBACK figure may be the generator's (the API client has a thread of its own: api-load-thread).
  const generatorLoop = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS })
  generatorLoop.enable()
  const [extra] = await Promise.all([spec.during?.() ?? Promise.resolve({}), sleep(spec.shape.seconds * 1000)])
  stop()
  const unacked = await drain(devices, 5000)
  const w = watch.read()
  const afterWindow = new Stopwatch(server.pid) // the background catch-up (settle.ts) starts now
  generatorLoop.disable()
  const generatorLoopP99Ms = loopDelayMs(generatorLoop.percentile(99) / 1e9)
  await sleep(spec.alerts ? 300 : 0) // the last alerts on the live stream
  const rss = rssMiB(server.pid)
  const scraped = await scrape(server)
  // A gateway restarted inside the window (W4) counts from zero again: its deltas are then the
  // restarted process's own counts since it started, not after minus before (which went negative).
  const restarted = scrapedBefore !== null && scraped !== null && sum(scraped, START_TIME) !== sum(scrapedBefore, START_TIME)
  const before = restarted ? (new Map() as Scrape) : scrapedBefore
  const after = scraped
  await spec.api?.stop()
  const taken = spec.api ? await spec.api.take() : null
  const settled = gw && after && spec.settle !== false ? await settle(gw, afterWindow, after) : null
  const api = taken && {
    n: taken.n,
    p50: taken.p50,
    p90: taken.p90,
    p99: taken.p99,
    p999: taken.p999,
    max: taken.max,
    errors: taken.errors,
    rate: taken.rate,
  }
  for (const d of devices) d.hotEvery = 0
  const journal = gw ? gw.checkJournal(afterSeq, recorder.acked) : null
  const committed = before && after ? sum(after, 'carehub_journal_committed_total') - sum(before, 'carehub_journal_committed_total') : null
  const ms = (seconds: number | null) => (seconds === null ? null : seconds * 1000)
  const bound = (name: string) => (before && after ? ms(histogramQuantile(before, after, name, 0.99)) : null)
  const notes = [...(spec.notes ?? [])]
  if (restarted) notes.push("the gateway restarted in the window: its own counters and histograms cover only the restarted process's part")
  if (unacked > 0) notes.push(`${unacked} messages were still unacknowledged 5 s after the load stopped`)
  if (taken && taken.errors > 0) notes.push(`API errors: ${taken.errorKinds.join('; ')}`)
  if (taken && taken.n > 0) notes.push(`API p99 by endpoint: ${taken.p99ByEndpoint.join(', ')}`)
  if (w.generatorCpuPct > GENERATOR_BOTTLENECK_PCT) notes.push(`the generator used ${w.generatorCpuPct} % of a core: figures may be its limit`)
  return {
    workload: spec.workload,
    label: spec.label,
    system: server.system,
    shape: spec.shape,
    sent: recorder.sent,
    acked: recorder.ackCount,
    ackedRate: Math.round(recorder.ackCount / w.seconds),
    committedRate: committed === null || committed < 0 || restarted ? null : Math.round(committed / w.seconds),
    lost: journal ? journal.lost : null,
    duplicates: journal ? journal.duplicates : null,
    puback: percentiles(recorder.puback),
    publishToRule: spec.alerts ? percentiles(spec.alerts.latencies) : null,
    cpuUsPerMsg: recorder.ackCount > 0 && Number.isFinite(w.serverCpuSeconds) ? Math.round((w.serverCpuSeconds * 1e6) / recorder.ackCount) : null,
    cpuPct: Number.isFinite(w.serverCpuPct) ? w.serverCpuPct : 0,
    rssMiB: rss,
    eventLoopP99Ms: after ? loopDelayMs(sum(after, 'nodejs_eventloop_lag_p99_seconds')) : null,
    commitP99Ms: bound('carehub_journal_commit_seconds'),
    generator: { cpuPct: w.generatorCpuPct, bottleneck: w.generatorCpuPct > GENERATOR_BOTTLENECK_PCT },
    api,
    extra: {
      ...extra,
      ...(journal ? { journalEntries: journal.entries } : {}),
      ...(disk ? { diskBeforeP99Ms: disk.diskSyncP99Ms ?? null, diskBeforeMaxMs: disk.diskSyncMaxMs ?? null } : {}),
      generatorLoopP99Ms,
      ...(settled
        ? {
            forwarderBacklogAtEnd: settled.forwarderBacklog,
            rollupBacklogAtEnd: settled.rollupBacklog,
            settleSeconds: settled.seconds,
            // The window's CPU and the catch-up's, per message: what this load would cost if held.
            sustainedCpuUsPerMsg:
              recorder.ackCount > 0 && Number.isFinite(w.serverCpuSeconds) && settled.seconds !== null
                ? Math.round(((w.serverCpuSeconds + settled.cpuSeconds) * 1e6) / recorder.ackCount)
                : null,
          }
        : {}),
      // What the disk (an SD card on a Pi) is asked to write per acknowledged message: the WAL's
      // whole 4 KiB pages per commit, checkpoints, rollups, the broker's LevelDB.
      ...(recorder.ackCount > 0 && Number.isFinite(w.serverWrittenBytes)
        ? { writtenKiBPerMsg: Math.round((w.serverWrittenBytes / 1024 / recorder.ackCount) * 10) / 10 }
        : {}),
      ...(before && after
        ? {
            walSyncP99Ms: bound('carehub_journal_sync_seconds'),
            // One slow sync holds every PUBACK waiting for it: the largest, as a bucket's upper bound
            // (1000: between 250 ms and 1 s; '>1000': longer).
            walSyncMaxMs: beyondTop(ms(histogramQuantile(before, after, 'carehub_journal_sync_seconds', 1)), 1000),
            // Syncs long enough to hold PUBACKs past the W1 target, and the long stalls.
            walSyncsOver10Ms: histogramAbove(before, after, 'carehub_journal_sync_seconds', 0.01),
            walSyncsOver100Ms: histogramAbove(before, after, 'carehub_journal_sync_seconds', 0.1),
            journalLockBusy: counterDelta(before, after, 'carehub_journal_lock_busy_total'),
            // Transactions that held the event loop over 100 ms: SQLite's safety-net checkpoint
            // (below) runs inside one, so 0 here means it never did.
            commitsOver100Ms: histogramAbove(before, after, 'carehub_journal_commit_seconds', 0.1),
            // The WAL's largest size in the window (upper bucket bound): at 20,000 frames SQLite's safety-net checkpoint runs on the event loop.
            walFramesMax: histogramQuantile(before, after, 'carehub_store_wal_frames', 1),
            // RESTART checkpoints (wal-checkpointer.ts) and how long journal commits waited on each (bucket bound).
            walRestarts: counterDelta(before, after, 'carehub_store_wal_restarts_total'),
            walRestartMaxMs: ms(histogramQuantile(before, after, 'carehub_store_wal_restart_seconds', 1)),
            // Receive → alert stored and announced, inside the gateway (bucket bounds): the rest of
            // publish → rule is the device's send, the panel stream's write and the client's read.
            ...(spec.alerts
              ? {
                  alertAnnouncedP50Ms: ms(histogramQuantile(before, after, 'carehub_rules_alert_latency_seconds', 0.5)),
                  alertAnnouncedP99Ms: bound('carehub_rules_alert_latency_seconds'),
                }
              : {}),
            // Readings and dead letters per journal transaction: what each commit's fixed cost is spread over.
            itemsPerCommit: ratio(
              counterDelta(before, after, 'carehub_journal_batch_size_sum'),
              counterDelta(before, after, 'carehub_journal_batch_size_count'),
            ),
          }
        : {}),
    },
    notes,
  }
}

/**
 * Both loop-delay figures (the generator's here, the gateway's from prom-client, whose precision is
 * set to the same 10 ms in system/metrics.ts) come from monitorEventLoopDelay, which records the
 * whole interval between its timer's runs, sampling interval included: an idle process reads p50
 * 10.1 and p99 12.4 ms. The delay is what lies beyond the interval.
 */
const LOOP_SAMPLE_MS = 10
function loopDelayMs(seconds: number): number {
  return Math.max(0, Math.round((seconds * 1000 - LOOP_SAMPLE_MS) * 100) / 100)
}
