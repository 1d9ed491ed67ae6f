import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import pino from 'pino'
import { Registry } from 'prom-client'
import { InfluxSchema } from '../../../gateway/src/config/history-schema.js'
import { JournalWriter } from '../../../gateway/src/store/journal.js'
import { JournalCommitter } from '../../../gateway/src/store/journal-committer.js'
import { openStore } from '../../../gateway/src/store/open.js'
import { ForwarderHost } from '../../../gateway/src/timeseries/forwarder-host.js'
import { reading, waitFor } from '../../_support/history-data.js'
import { captureLogger } from '../../_support/log-capture.js'
import { tempDir } from '../../_support/temp.js'
import { backgroundThreads, newBackgroundThread } from '../../_support/thread-nice.js'
import { startVictoriaMetrics, tsdbAvailable } from '../../_support/tsdb-servers.js'

const HOUR = 3_600_000

/** A store, its journal committer (WAL syncs held by the test when asked) and a forwarder host writing to `url`. */
function setup(url: string, o: { holdSyncs?: boolean; workerModule?: URL } = {}) {
  const { log, lines } = captureLogger('debug')
  const db = openStore({ path: join(tempDir(), 'carehub.db'), log, now: Date.now(), checkIntegrity: false })
  const writer = new JournalWriter(db)
  const held: Array<(err: Error | null) => void> = []
  const journal = new JournalCommitter({
    writer: () => writer,
    clock: { now: () => Date.now() },
    log: pino({ level: 'silent' }),
    registry: new Registry(),
    maxBatch: 1000,
    maxPending: 10_000,
    ...(o.holdSyncs ? { syncWal: (done: (err: Error | null) => void) => void held.push(done) } : {}),
  })
  const registry = new Registry()
  const host = new ForwarderHost({
    db: () => db,
    influx: InfluxSchema.parse({ version: 2, url, pollMs: 20, backoffMinMs: 50, backoffMaxMs: 400 }),
    clock: { now: () => Date.now() },
    log,
    registry,
    secret: async () => undefined,
    write: (fn) => journal.write(fn),
    ...(o.workerModule ? { workerModule: o.workerModule } : {}),
  })
  const t0 = Math.floor(Date.now() / 1000) * 1000 - HOUR
  const seed = (n: number, from = 0) =>
    writer.commit(
      Array.from({ length: n }, (_, k) => reading(`dev${k % 2}`, 'climate', { temp_c: from + k }, t0 + (from + k) * 1000)),
      [],
    )
  const stored = () => db.prepare("SELECT seq FROM cursors WHERE consumer = 'timeseries:influx-v2'").pluck().get() as number | undefined
  return {
    db,
    journal,
    host,
    held,
    lines,
    registry,
    seed,
    stored,
    async stop() {
      await host.stop()
      for (const done of held.splice(0)) done(null)
      await journal.stop()
      db.close()
    },
  }
}

describe('the forwarder in its worker thread (real VictoriaMetrics)', { skip: !tsdbAvailable().vm && 'victoria-metrics is not installed' }, () => {
  test('its cursor moves in the journal’s group commit, and the host reports it only once that is durable', async () => {
    const vm = await startVictoriaMetrics()
    const s = setup(vm.url, { holdSyncs: true })
    const lowered = backgroundThreads()
    try {
      const last = s.seed(50).at(-1) as number
      await s.journal.start()
      await s.host.start()
      // A catch-up must not take the CPU from the broker and the API (module-worker.ts).
      if (process.platform === 'linux') await waitFor('the forwarder’s thread at BACKGROUND_NICE', () => newBackgroundThread(lowered))
      await waitFor('the batch sent and its cursor committed', () => s.stored() === last && s.held.length === 1)
      assert.equal(s.host.cursor, 0, 'in the -wal file but not synced: not reported')
      s.held.shift()?.(null)
      await waitFor('the cursor reported', () => s.host.cursor === last)
      const text = await s.registry.metrics()
      assert.match(text, /carehub_timeseries_points_forwarded_total\{sink="influx-v2"\} 50/, 'the worker’s figures are on this registry')
      assert.match(text, /carehub_timeseries_queue_depth\{sink="influx-v2"\} 0/)
      const series = await vm.exportSeries('{__name__="climate_temp_c"}')
      assert.equal(
        series.reduce((n, x) => n + x.values.length, 0),
        50,
      )
    } finally {
      await s.stop()
      await vm.stop()
    }
  })

  test('an outage shows in health and in the log (the worker’s lines, through this logger), and ends', async () => {
    const vm = await startVictoriaMetrics()
    await vm.stop()
    const s = setup(vm.url)
    try {
      const last = s.seed(10).at(-1) as number
      await s.journal.start()
      await s.host.start()
      await waitFor('degraded', () => (s.host.healthCheck.check() as { status: string }).status === 'degraded')
      const warning = s.lines().find((l) => l.msg === 'cannot write to the time-series server; readings are kept and retried')
      assert.equal(warning?.level, 'warn', 'a warning, as the worker logged it')
      await vm.start()
      // The host moves its cursor when the journal has it; the worker's word on health follows.
      await waitFor('caught up and healthy', () => s.host.cursor === last && (s.host.healthCheck.check() as { status: string }).status === 'ok')
    } finally {
      await s.stop()
      await vm.stop()
    }
  })

  test('a worker that dies is started again with a backoff, logs once until it delivers, shows in health, and resumes from the stored cursor', async () => {
    const vm = await startVictoriaMetrics()
    const s = setup(vm.url, { workerModule: new URL('../../_support/flaky-forwarder-worker.ts', import.meta.url) })
    const stoppedLines = () => s.lines().filter((l) => l.msg === 'the time-series forwarder stopped unexpectedly; it is started again')
    try {
      const first = s.seed(20).at(-1) as number
      await s.journal.start()
      await s.host.start()
      // Starts 1 and 2 die while loading: one error, then quiet until it delivers.
      await waitFor('forwarded by the third worker', () => s.host.cursor === first, 15_000)
      assert.deepEqual(
        stoppedLines().map((l) => l.level),
        ['error', 'debug'],
      )
      // The third exits after its delivery: a new episode, logged again; health says so until the next delivery.
      await waitFor('the third worker gone', () => stoppedLines().length === 3, 10_000)
      assert.equal(stoppedLines()[2]?.level, 'error')
      assert.equal((s.host.healthCheck.check() as { status: string }).status, 'degraded')
      const last = s.seed(20, 20).at(-1) as number
      await waitFor(
        'the rest forwarded by the fourth, and health ok',
        () => s.host.cursor === last && (s.host.healthCheck.check() as { status: string }).status === 'ok',
        15_000,
      )
      const series = await vm.exportSeries('{__name__="climate_temp_c"}')
      assert.equal(
        series.reduce((n, x) => n + x.values.length, 0),
        40,
        'each point once: the fourth worker began at the stored cursor',
      )
    } finally {
      await s.stop()
      await vm.stop()
    }
  })
})
