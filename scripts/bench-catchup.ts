// Time-series catch-up benchmark (not a test; issue 5's figure): InfluxDB (VictoriaMetrics here) was
// away for OUTAGE minutes while RATE readings/s kept arriving; it comes back. How fast does the
// backlog drain, and what happens to API latency meanwhile? The gateway runs as its own process;
// live MQTT ingest (QoS 1, mTLS) and API calls (20/s) continue throughout.
// Usage: npm run bench:catchup [-- --outage-minutes 10 --rate 1000]
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import mqtt from 'mqtt'
import pino from 'pino'
import { runCli } from '../gateway/src/cli/run.js'
import { JournalWriter } from '../gateway/src/store/journal.js'
import { openStore } from '../gateway/src/store/open.js'
import { freePort, httpsClient, spawnGateway } from './bench-support.js'

const { values } = parseArgs({ options: { 'outage-minutes': { type: 'string', default: '10' }, rate: { type: 'string', default: '1000' } } })
const OUTAGE_S = Number(values['outage-minutes']) * 60
const RATE = Number(values.rate)
const LIVE_DEVICES = 10
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? Math.round((s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number) * 100) / 100 : Number.NaN
}

const root = mkdtempSync(join(tmpdir(), 'carehub-catchup-'))
const dataDir = join(root, 'data')
const certDir = join(root, 'certs')
const children: ChildProcess[] = []
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL')
  rmSync(root, { recursive: true, force: true })
})
const io = {
  env: { CAREHUB_DATA_DIR: dataDir },
  cwd: root,
  stdout: () => {},
  stderr: (t: string) => void process.stderr.write(t),
  stdin: async () => 'long test passphrase 7',
  now: () => Date.now(),
}
for (let i = 0; i < LIVE_DEVICES; i++)
  if ((await runCli(['device', 'add', `live_${i}`, '--out', certDir], io)) !== 0) throw new Error('enrolment failed')
if ((await runCli(['user', 'add', 'bench', '--role', 'viewer', '--password-stdin'], io)) !== 0) throw new Error('user add failed')

// The backlog an outage leaves: OUTAGE_S × RATE readings from 100 devices, in the journal, not forwarded.
const backlog = OUTAGE_S * RATE
{
  const db = openStore({ path: join(dataDir, 'carehub.db'), log: pino({ level: 'silent' }), now: Date.now(), checkIntegrity: false })
  const writer = new JournalWriter(db)
  const start = Date.now() - OUTAGE_S * 1000
  for (let i = 0; i < backlog; i += 5000) {
    const batch = Array.from({ length: Math.min(5000, backlog - i) }, (_, k) => {
      const n = i + k
      const ts = start + Math.floor((n / RATE) * 1000)
      return {
        deviceId: `sim_${n % 100}`,
        measurement: 'climate',
        fields: { temp_c: 20 + (n % 50) / 10, humid_pct: n % 100 },
        tags: {},
        ts,
        tsFromReceipt: false,
        receivedAt: ts,
        source: 'mqtt' as const,
      }
    })
    writer.commit(batch, [])
  }
  db.close()
}
process.stderr.write(`backlog of ${backlog} readings written\n`)

const [httpPort, mqttPort, vmPort] = [await freePort(), await freePort(), await freePort()]
const configPath = join(root, 'gateway.yaml')
writeFileSync(
  configPath,
  `influx:\n  version: 2\n  url: http://127.0.0.1:${vmPort}\n  backoffMinMs: 500\n  backoffMaxMs: 2000\nmqtt:\n  connectBurst: 50\n`,
)
const gw = spawnGateway({ configPath, dataDir, httpPort, mqttPort, stdout: 'ignore' })
children.push(gw)
const ca = readFileSync(join(certDir, 'ca.crt'))
const call = httpsClient(httpPort, ca)
for (let i = 0; ; i++) {
  try {
    if ((await call('GET', '/health')).status === 200) break
  } catch {}
  if (i > 400) throw new Error('gateway did not start')
  await sleep(50)
}
const token = (
  JSON.parse((await call('POST', '/api/auth/login', { username: 'bench', password: 'long test passphrase 7' })).text) as { accessToken: string }
).accessToken
const metric = async (name: string) => {
  const text = (await call('GET', '/metrics')).text
  // A labelled counter has no sample until its first increment: absent means 0.
  return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? 0)
}

// Live load: LIVE_DEVICES mTLS clients publishing RATE/s in all, QoS 1; API calls at 20/s.
const clients = await Promise.all(
  Array.from({ length: LIVE_DEVICES }, (_, i) =>
    mqtt.connectAsync(`mqtts://127.0.0.1:${mqttPort}`, {
      ca,
      cert: readFileSync(join(certDir, `live_${i}.crt`)),
      key: readFileSync(join(certDir, `live_${i}.key`)),
      clientId: `live_${i}`,
      servername: 'localhost',
      reconnectPeriod: 0,
    }),
  ),
)
type Phase = 'down' | 'catchup' | 'after'
let phase = 'down' as Phase
const api: Record<Phase, number[]> = { down: [], catchup: [], after: [] }
let running = true
const live = (async () => {
  let n = 0
  const perTick = RATE / 100
  while (running) {
    const started = performance.now()
    for (let k = 0; k < perTick; k++, n++) {
      const c = clients[n % LIVE_DEVICES] as mqtt.MqttClient
      void c
        .publishAsync(`care/live_${n % LIVE_DEVICES}/climate`, JSON.stringify({ ts: Date.now(), fields: { temp_c: 21 + (n % 10) / 10 } }), { qos: 1 })
        .catch(() => {})
    }
    await sleep(Math.max(0, 10 - (performance.now() - started)))
  }
})()
const apiLoad = (async () => {
  const paths = ['/api/devices/live_1/series?measurement=climate&field=temp_c&range=1h', '/api/telemetry/query?preset=latest', '/api/devices']
  for (let i = 0; running; i++) {
    const started = performance.now()
    const res = await call('GET', paths[i % paths.length] as string, undefined, token)
    if (res.status !== 200) throw new Error(`API ${res.status}: ${res.text}`)
    api[phase].push(performance.now() - started)
    if (process.env.BENCH_TRACE && performance.now() - started > 200)
      process.stderr.write(`slow API ${Math.round(performance.now() - started)} ms at ${Math.round(started)} (${phase}) ${paths[i % paths.length]}\n`)
    await sleep(Math.max(0, 50 - (performance.now() - started)))
  }
})()

await sleep(15_000) // baseline: VictoriaMetrics down, live load on
const queueBefore = await metric('carehub_timeseries_queue_depth')
const vmDir = join(root, 'vm')
const vm = spawn(
  'victoria-metrics',
  [`-httpListenAddr=127.0.0.1:${vmPort}`, `-storageDataPath=${vmDir}`, '-retentionPeriod=1', '-dedup.minScrapeInterval=1ms'],
  { stdio: 'ignore' },
)
children.push(vm)
phase = 'catchup'
const catchStart = performance.now()
if (process.env.BENCH_TRACE) process.stderr.write(`catch-up starts at ${Math.round(catchStart)}\n`)
const forwardedStart = await metric('carehub_timeseries_points_forwarded_total')
let depth = queueBefore
while (depth > RATE * 2) {
  await sleep(250)
  depth = await metric('carehub_timeseries_queue_depth')
  if (performance.now() - catchStart > 600_000) throw new Error('catch-up took over 10 minutes')
}
const catchSeconds = (performance.now() - catchStart) / 1000
const forwarded = (await metric('carehub_timeseries_points_forwarded_total')) - forwardedStart
phase = 'after'
await sleep(10_000)
running = false
await Promise.all([live, apiLoad])
const loopP99 = await metric('nodejs_eventloop_lag_p99_seconds')
for (const c of clients) await c.endAsync()
gw.kill('SIGTERM')
await new Promise((r) => gw.once('exit', r))
vm.kill('SIGTERM')

const summary = (xs: number[]) => ({ n: xs.length, p50: pct(xs, 50), p95: pct(xs, 95), p99: pct(xs, 99), max: pct(xs, 100) })
const result = {
  outageMinutes: OUTAGE_S / 60,
  liveRate: RATE,
  backlogAtRecovery: queueBefore,
  catchUpSeconds: Math.round(catchSeconds * 10) / 10,
  catchUpPointsPerSecond: Math.round(forwarded / catchSeconds),
  apiMs: { vmDown: summary(api.down), duringCatchUp: summary(api.catchup), after: summary(api.after) },
  gatewayEventLoopP99Ms: Math.round(loopP99 * 1e5) / 100,
  node: process.version,
  cpu: /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1],
}
const row = (name: string, s: ReturnType<typeof summary>) => `| ${name} | ${s.n} | ${s.p50} | ${s.p95} | ${s.p99} | ${s.max} |`
process.stdout.write(
  `catch-up: ${result.backlogAtRecovery} points waiting, drained in ${result.catchUpSeconds} s = ${result.catchUpPointsPerSecond} points/s (live ${RATE}/s continuing)\n\n| API phase | requests | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|---|\n${row('sink down', result.apiMs.vmDown)}\n${row('during catch-up', result.apiMs.duringCatchUp)}\n${row('after', result.apiMs.after)}\n\n${JSON.stringify(result)}\n`,
)
process.exit(0)
