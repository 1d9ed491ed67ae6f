// Event → alert latency at a sustained MQTT load (issue 7; target p99 ≤ 10 ms at 1k msg/s).
// The compiled daemon on loopback; `devices` real MQTT/TLS clients publish QoS 1 readings at `rate`
// msg/s in total; a threshold rule per device fires on every 10th reading (and clears on the next).
// Two figures: the gateway's own (a reading's receipt → its alert stored and announced; the
// carehub_rules_alert_latency_seconds histogram) and end to end as a person sees it (the device's
// publish → the alert on the panel's SSE stream, through MQTT, the group commit, the engine, HTTPS).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import mqtt from 'mqtt'
import { runCli } from '../gateway/src/cli/run.js'
import { freePort, httpsClient, spawnGateway } from './bench-support.js'

const { values } = parseArgs({
  allowNegative: true,
  options: {
    rules: { type: 'boolean', default: true },
    devices: { type: 'string', default: '20' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '30' },
  },
})
const DEVICES = Number(values.devices)
const RATE = Number(values.rate)
const SECONDS = Number(values.seconds)

const root = mkdtempSync(join(tmpdir(), 'carehub-bench-rules-'))
const dataDir = join(root, 'data')
const certDir = join(root, 'certs')
const cli = (args: string[], stdin = '') =>
  runCli(args, {
    env: { CAREHUB_DATA_DIR: dataDir },
    cwd: root,
    stdout: () => {},
    stderr: (t: string) => void process.stderr.write(t),
    stdin: async () => stdin,
    now: () => Date.now(),
  })
for (let i = 0; i < DEVICES; i++) if ((await cli(['device', 'add', `dev_${i}`, '--out', certDir])) !== 0) throw new Error('enrolment failed')
if ((await cli(['user', 'add', 'bench', '--role', 'admin', '--password-stdin'], 'quiet harbour lantern 42\n')) !== 0)
  throw new Error('user add failed')

const rules = Array.from({ length: DEVICES }, (_, i) => ({
  id: `hot-${i}`,
  name: `Device ${i} hot`,
  when: { threshold: { device: `dev_${i}`, measurement: 'bench', field: 'temp_c', op: '>', value: 30 } },
  actions: [{ alert: { severity: 'warning', title: 'Hot' } }],
}))
// --no-rules: the same load without rules, for ingest's latency on its own.
writeFileSync(join(root, 'rules.yaml'), JSON.stringify({ rules: values.rules ? rules : [] }))
const [httpPort, mqttPort] = [await freePort(), await freePort()]
const configPath = join(root, 'gateway.yaml')
writeFileSync(
  configPath,
  `mqtt:\n  connectBurst: ${DEVICES * 2}\n  connectPerSecond: ${DEVICES}\n  maxConnectionsPerAddress: ${DEVICES * 2}\nauth:\n  apiBurst: 1000\n  apiPerSecond: 1000\nautomations:\n  rulesFile: rules.yaml\n`,
)
spawnGateway({ configPath, dataDir, httpPort, mqttPort })
const ca = readFileSync(join(certDir, 'ca.crt'))

const https = httpsClient(httpPort, ca)

let token = ''
for (let attempt = 0; !token; attempt++) {
  try {
    const r = await https('POST', '/api/auth/login', { username: 'bench', password: 'quiet harbour lantern 42' })
    if (r.status === 200) token = (JSON.parse(r.text) as { accessToken: string }).accessToken
  } catch {
    if (attempt > 200) throw new Error('the gateway did not come up')
  }
  if (!token) await new Promise((r) => setTimeout(r, 100))
}

// The panel's stream: when each alert arrives, by the mark the reading carried.
const sentAt = new Map<number, number>()
const endToEnd: number[] = []
await new Promise<void>((resolve) => {
  const req = request(
    { host: '127.0.0.1', port: httpPort, path: '/api/events', ca, servername: 'localhost', headers: { authorization: `Bearer ${token}` } },
    (res) => {
      let buffer = ''
      res.setEncoding('utf8').on('data', (chunk: string) => {
        buffer += chunk
        let end = buffer.indexOf('\n\n')
        while (end >= 0) {
          const message = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          end = buffer.indexOf('\n\n')
          if (!message.startsWith('event: alert')) continue
          const data = JSON.parse(message.slice(message.indexOf('data: ') + 6)) as {
            event: string
            alert: { detail: { trigger?: { fields?: { mark?: number } } } }
          }
          const mark = data.alert.detail.trigger?.fields?.mark
          const t = mark === undefined ? undefined : sentAt.get(mark)
          if (data.event === 'raised' && t !== undefined) endToEnd.push(performance.now() - t)
        }
      })
      resolve()
    },
  )
  req.end()
})

const clients = await Promise.all(
  Array.from({ length: DEVICES }, (_, i) =>
    mqtt.connectAsync(
      `mqtts://127.0.0.1:${mqttPort}`,
      {
        ca,
        cert: readFileSync(join(certDir, `dev_${i}.crt`)),
        key: readFileSync(join(certDir, `dev_${i}.key`)),
        servername: 'localhost',
        clientId: `dev_${i}`,
        reconnectPeriod: 0,
      },
      false,
    ),
  ),
)

async function metric(name: string): Promise<string> {
  const r = await https('GET', '/metrics', undefined, token)
  return r.text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n')
}

let mark = 0
// Ingest's own share: publish → PUBACK (the reading committed), for every reading.
const pubacks: number[] = []
const perDevice = new Map<number, number>()
const started = performance.now()
const total = RATE * SECONDS
let sent = 0
await new Promise<void>((resolve) => {
  const tick = setInterval(() => {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * RATE))
    for (; sent < due; sent++) {
      const d = sent % DEVICES
      const n = perDevice.get(d) ?? 0
      perDevice.set(d, n + 1)
      const m = ++mark
      const hot = n % 10 === 9
      if (hot) sentAt.set(m, performance.now())
      const t0 = performance.now()
      clients[d]?.publish(`care/dev_${d}/bench`, JSON.stringify({ fields: { temp_c: hot ? 31 : 20, mark: m } }), { qos: 1 }, () =>
        pubacks.push(performance.now() - t0),
      )
    }
    if (sent >= total) {
      clearInterval(tick)
      resolve()
    }
  }, 5)
})
await new Promise((r) => setTimeout(r, 2000))
const wall = (performance.now() - started) / 1000

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return Math.round((s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN) * 100) / 100
}
const histogram = await metric('carehub_rules_alert_latency_seconds_bucket')
const buckets = histogram
  .split('\n')
  .map((l) => /le="([^"]+)"} (\d+)/.exec(l))
  .filter((m): m is RegExpExecArray => m !== null)
  .map((m) => ({ le: m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]), n: Number(m[2]) }))
const count = buckets.at(-1)?.n ?? 0
const bucketOf = (p: number) => buckets.find((b) => b.n >= p * count)?.le ?? Number.NaN
const result = {
  devices: DEVICES,
  offeredRate: RATE,
  seconds: SECONDS,
  readingsSent: total,
  alertsExpected: sentAt.size,
  gateway: {
    alerts: count,
    p50UpToMs: bucketOf(0.5) * 1000,
    p99UpToMs: bucketOf(0.99) * 1000,
    note: 'histogram bucket bounds: the p-th alert took at most this long from receipt to stored + announced',
  },
  puback: { n: pubacks.length, p50Ms: pct(pubacks, 0.5), p90Ms: pct(pubacks, 0.9), p99Ms: pct(pubacks, 0.99), maxMs: pct(pubacks, 1) },
  endToEnd: { alerts: endToEnd.length, p50Ms: pct(endToEnd, 0.5), p90Ms: pct(endToEnd, 0.9), p99Ms: pct(endToEnd, 0.99), maxMs: pct(endToEnd, 1) },
  wallSeconds: Math.round(wall * 10) / 10,
}
const rows = [
  ['', 'alerts', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
  ['gateway (receipt → stored + announced)', String(count), `≤ ${result.gateway.p50UpToMs}`, '', `≤ ${result.gateway.p99UpToMs}`, ''],
  ['end to end (publish → SSE)', String(endToEnd.length), ...[0.5, 0.9, 0.99, 1].map((p) => String(pct(endToEnd, p)))],
  ['ingest alone (publish → PUBACK)', String(pubacks.length), ...[0.5, 0.9, 0.99, 1].map((p) => String(pct(pubacks, p)))],
]
process.stdout.write(`${rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(42) : c.padStart(9))).join('')).join('\n')}\n`)
process.stdout.write(`\n${JSON.stringify(result)}\n`)
process.exit(0)
