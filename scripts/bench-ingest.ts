import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type TLSSocket } from 'node:tls'
import { parseArgs } from 'node:util'
import mqttPacket from 'mqtt-packet'
import { runCli } from '../gateway/src/cli/run.js'
import { freePort, spawnGateway } from './bench-support.js'

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '100' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '30' },
    window: { type: 'string', default: '8' },
  },
})
const DEVICES = Number(values.devices)
const RATE = Number(values.rate)
const SECONDS = Number(values.seconds)
const WINDOW = Number(values.window)

function cpuOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(f[11]) + Number(f[12])) / 100 // utime + stime, clock ticks (100/s) → seconds
}
const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024

interface Device {
  id: string
  socket: TLSSocket
  seq: number
  sentAt: Map<number, bigint>
  nextId: number
}

const root = mkdtempSync(join(tmpdir(), 'carehub-bench-'))
const dataDir = join(root, 'data')
const certDir = join(root, 'certs')
const io = {
  env: { CAREHUB_DATA_DIR: dataDir },
  cwd: root,
  stdout: () => {},
  stderr: (t: string) => void process.stderr.write(t),
  stdin: async () => '',
  now: () => Date.now(),
}
for (let i = 0; i < DEVICES; i++) {
  if ((await runCli(['device', 'add', `bench_${i}`, '--out', certDir], io)) !== 0) throw new Error('enrolment failed')
}
const [httpPort, mqttPort] = [await freePort(), await freePort()]
// Every simulated device connects from 127.0.0.1: lift the per-address connect rate for the run.
const configPath = join(root, 'gateway.yaml')
writeFileSync(configPath, `mqtt:\n  connectBurst: ${DEVICES * 2}\n  connectPerSecond: ${DEVICES}\n  maxConnectionsPerAddress: ${DEVICES * 2}\n`)
const gw = spawnGateway({ configPath, dataDir, httpPort, mqttPort })
const gwPid = gw.pid as number
process.stderr.write(`enrolled ${DEVICES} devices; gateway pid ${gwPid}\n`)
const ca = readFileSync(join(certDir, 'ca.crt'))
let latencies: number[] = []
const trace: Array<[number, number]> = []

async function open(id: string): Promise<Device> {
  for (let attempt = 0; ; attempt++) {
    try {
      const socket = connect({
        host: '127.0.0.1',
        port: mqttPort,
        ca,
        cert: readFileSync(join(certDir, `${id}.crt`)),
        key: readFileSync(join(certDir, `${id}.key`)),
        servername: 'localhost',
      })
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve)
        socket.once('error', reject)
      })
      socket.setNoDelay(true)
      const device: Device = { id, socket, seq: 0, sentAt: new Map(), nextId: 1 }
      const parser = mqttPacket.parser({ protocolVersion: 4 })
      const connack = new Promise<void>((resolve, reject) => {
        parser.on('packet', (p) => {
          if (p.cmd === 'connack') return p.returnCode === 0 ? resolve() : reject(new Error(`CONNACK ${p.returnCode}`))
          if (p.cmd === 'puback' && p.messageId !== undefined) {
            const t = device.sentAt.get(p.messageId)
            if (t !== undefined) {
              latencies.push(Number(process.hrtime.bigint() - t) / 1e6)
              if (process.env.BENCH_TRACE) trace.push([Math.round(performance.now()), Number(process.hrtime.bigint() - t) / 1e6])
              device.sentAt.delete(p.messageId)
            }
          }
        })
      })
      socket.on('data', (d: Buffer) => parser.parse(d))
      socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: id, clean: true, keepalive: 60 }))
      await connack
      return device
    } catch (err) {
      if (attempt > 100) throw err
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}

function send(d: Device): void {
  const messageId = d.nextId
  d.nextId = (d.nextId % 65535) + 1
  d.seq++
  // ~200-byte JSON reading with a per-device sequence number.
  const payload = JSON.stringify({
    ts: Date.now(),
    fields: { temp_c: 21.5, humid_pct: 40.2, battery_pct: 87, rssi_dbm: -61 },
    tags: { room: 'kitchen', fw: '1.4.2', seq: String(d.seq).padStart(9, '0') },
  })
  d.sentAt.set(messageId, process.hrtime.bigint())
  d.socket.write(mqttPacket.generate({ cmd: 'publish', topic: `care/${d.id}/climate`, payload, qos: 1, messageId, retain: false, dup: false }))
}

const devices = await Promise.all(Array.from({ length: DEVICES }, (_, i) => open(`bench_${i}`)))

function pct(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b)
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN
  const r = (x: number) => Math.round(x * 100) / 100
  return { n: s.length, p50: r(q(0.5)), p90: r(q(0.9)), p99: r(q(0.99)), p999: r(q(0.999)), max: r(s.at(-1) ?? Number.NaN) }
}

async function measure<T>(run: () => Promise<T>) {
  latencies = []
  const cpu0 = cpuOf(gwPid)
  const gen0 = process.cpuUsage()
  const t0 = performance.now()
  await run()
  const wall = (performance.now() - t0) / 1000
  const gen = process.cpuUsage(gen0)
  const gwCpu = cpuOf(gwPid) - cpu0
  return {
    wall,
    acked: latencies.length,
    rate: Math.round(latencies.length / wall),
    latencyMs: pct(latencies),
    gatewayCpuPct: Math.round((gwCpu / wall) * 100),
    gatewayCpuUsPerMsg: Math.round((gwCpu * 1e6) / Math.max(1, latencies.length)),
    generatorCpuPct: Math.round(((gen.user + gen.system) / 1e6 / wall) * 100),
    gatewayRssMiB: Math.round(rssOf(gwPid)),
  }
}

// W1: open loop, RATE msg/s spread over the devices. The first 3 s warm up (TLS sessions, JIT, the
// first commit of each device) and are reported apart; then SECONDS are measured.
const interval = (1000 * DEVICES) / RATE
const timers: NodeJS.Timeout[] = devices.map((d, i) =>
  setTimeout(() => {
    timers[i] = setInterval(() => send(d), interval)
  }, Math.random() * interval),
)
const warmup = await measure(() => new Promise((r) => setTimeout(r, 3000)))
const open1 = await measure(async () => {
  await new Promise((r) => setTimeout(r, SECONDS * 1000))
  for (const t of timers) clearInterval(t)
  await new Promise((r) => setTimeout(r, 500)) // let the last acknowledgements arrive
})

// Saturation: closed loop, WINDOW messages in flight per device, 10 s.
const closed = await measure(async () => {
  let running = true
  for (const d of devices) {
    const top = () => {
      while (running && d.sentAt.size < WINDOW) send(d)
    }
    d.socket.on('data', () => setImmediate(top))
    top()
  }
  await new Promise((r) => setTimeout(r, 10_000))
  running = false
  await new Promise((r) => setTimeout(r, 500))
})

if (process.env.BENCH_TRACE) {
  const slow = trace.filter(([, ms]) => ms > 100)
  process.stderr.write(`slow acks: ${slow.length}; first at ${slow[0]?.[0]}, last at ${slow.at(-1)?.[0]}; trace start ${trace[0]?.[0]}\n`)
  const buckets = new Map<number, number>()
  for (const [t] of slow) buckets.set(Math.floor(t / 1000), (buckets.get(Math.floor(t / 1000)) ?? 0) + 1)
  process.stderr.write(`slow per second: ${JSON.stringify([...buckets])}\n`)
}
// The gateway's own view: journal commit (fsync) times and event-loop delay, from its /metrics.
const metricsText = await new Promise<string>((resolve, reject) => {
  import('node:https').then(({ get }) =>
    get({ host: '127.0.0.1', port: httpPort, path: '/metrics', ca, servername: 'localhost' }, (res) => {
      let body = ''
      res.on('data', (c) => {
        body += c
      })
      res.on('end', () => resolve(body))
    }).on('error', reject),
  )
})
const metric = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(metricsText)?.[1] ?? Number.NaN)
const commitBuckets = [...metricsText.matchAll(/^carehub_journal_commit_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)].map(
  (m) => [m[1], Number(m[2])] as const,
)
const commits = metric('carehub_journal_commit_seconds_count')
const gatewayView = {
  journalCommits: commits,
  journalCommitMeanMs: Math.round((metric('carehub_journal_commit_seconds_sum') / commits) * 1e5) / 100,
  journalCommitsOver10ms: commits - (commitBuckets.find(([le]) => le === '0.01')?.[1] ?? Number.NaN),
  journalCommitsOver100ms: commits - (commitBuckets.find(([le]) => le === '0.1')?.[1] ?? Number.NaN),
  eventLoopLagP99Ms: Math.round(metric('nodejs_eventloop_lag_p99_seconds') * 1e5) / 100,
  eventLoopLagMaxMs: Math.round(metric('nodejs_eventloop_lag_max_seconds') * 1e5) / 100,
}
process.stderr.write(`gateway view: ${JSON.stringify(gatewayView)}\n`)

for (const d of devices) d.socket.destroy()
gw.kill('SIGTERM')
await new Promise((r) => gw.once('exit', r))
rmSync(root, { recursive: true, force: true })

const cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]
const result = {
  devices: DEVICES,
  node: process.version,
  cpu: cpuModel,
  warmup: { seconds: 3, ...warmup },
  openLoop: { targetRate: RATE, seconds: SECONDS, ...open1 },
  closedLoop: { windowPerDevice: WINDOW, ...closed },
}
const row = (name: string, r: typeof open1) =>
  `| ${name} | ${r.rate} | ${r.latencyMs.p50} | ${r.latencyMs.p99} | ${r.latencyMs.p999} | ${r.latencyMs.max} | ${r.gatewayCpuPct}% | ${r.gatewayCpuUsPerMsg} | ${r.generatorCpuPct}% | ${r.gatewayRssMiB} |`
process.stdout.write(
  `| run | acked msg/s | PUBACK p50 ms | p99 ms | p99.9 ms | max ms | gateway CPU | CPU µs/msg | generator CPU | gateway RSS MiB |\n|---|---|---|---|---|---|---|---|---|---|\n${row(`warm-up (first 3 s, not the figure)`, warmup)}\n${row(`open loop ${RATE}/s, ${DEVICES} devices, QoS 1, mTLS`, open1)}\n${row(`closed loop, ${WINDOW} in flight × ${DEVICES}`, closed)}\n`,
)
if (open1.generatorCpuPct > 80 || closed.generatorCpuPct > 80)
  process.stdout.write('WARNING: the generator was near a full core; figures may be generator-bound\n')
process.stdout.write(`${JSON.stringify(result)}\n`)
