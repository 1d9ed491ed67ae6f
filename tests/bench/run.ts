// `npm run bench`: issue 9's benchmark suite. The gateway (compiled, its own process) and Debian's
// Mosquitto (the reference) on loopback, driven by the same cheap generator over mTLS with the same
// certificates; W1–W7 interleaved per shape; the result as JSON + Markdown + a PNG chart in
// tests/bench/results/. Not a test: figures, not pass/fail (targets are reported, not asserted).
//   npm run bench [-- --quick] [--scale 0.5] [--only W1,W3] [--outage-minutes 10] [--w5-live-seconds 120]
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, release, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { AlertStream } from './lib/alert-stream.js'
import { ApiLoadThread } from './lib/api-load-thread.js'
import type { Server } from './lib/cell.js'
import type { BenchContext, BenchOptions } from './lib/context.js'
import { Recorder, SimDevice } from './lib/fleet.js'
import { GatewayTarget } from './lib/gateway-target.js'
import { freePorts } from './lib/ports.js'
import type { BenchResult } from './lib/result.js'
import { ensurePackages, mosquitto, mosquittoVersion, victoriaMetrics } from './lib/servers.js'
import { checkTargets } from './lib/targets.js'
import { writeChartPng } from './report/chart.js'
import { renderMarkdown } from './report/markdown.js'
import { reconnectStorm, sinkOutage } from './workloads/disruptions.js'
import { hostileTraffic } from './workloads/hostile.js'
import { designPoint, overload, saturation } from './workloads/steady.js'

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    scale: { type: 'string' },
    only: { type: 'string' },
    'outage-minutes': { type: 'string' },
    'w5-live-seconds': { type: 'string' },
    out: { type: 'string' },
  },
})
const quick = values.quick ?? false
const options: BenchOptions = {
  scale: Number(values.scale ?? (quick ? 0.25 : 1)),
  outageMinutes: Number(values['outage-minutes'] ?? (quick ? 2 : 10)),
  w5LiveSeconds: Number(values['w5-live-seconds'] ?? (quick ? 20 : 120)),
  only: values.only ? new Set(values.only.split(',').map((s) => s.trim().toUpperCase())) : null,
}
// W3's 1,000 devices (100 when W3 is not run) + W7's four hostile clients.
const FLEET = (!options.only || options.only.has('W3') ? 1000 : 100) + 4
const MAX_PACKET = 256 * 1024 // the gateway's default; Mosquitto gets the same

const startedAt = new Date()
// Now, not at the end: `npm run bench` has just built the gateway from this tree, and edits made
// while the run goes on are not in what it measures.
const commit = gitCommit()
const log = (line: string) => process.stderr.write(`[${((Date.now() - startedAt.getTime()) / 1000).toFixed(0).padStart(4)} s] ${line}\n`)
ensurePackages()
const root = mkdtempSync(join(tmpdir(), 'carehub-bench-'))
const [httpPort, mqttPort, vmPort, mosqPort] = (await freePorts(4)) as [number, number, number, number]

const vm = victoriaMetrics(join(root, 'vm'), vmPort)
await vm.start()
const gateway = new GatewayTarget({ root, devices: FLEET, httpPort, mqttPort, vmPort, maxPacketBytes: MAX_PACKET })
log(`enrolling ${FLEET} devices (a certificate each from the box's CA)`)
await gateway.prepare()
await gateway.start()
const tls = await gateway.serverTls()
const mosq = mosquitto({ dir: join(root, 'mosquitto'), port: mosqPort, caPath: join(gateway.certDir, 'ca.crt'), ...tls, maxPacketBytes: MAX_PACKET })
await mosq.start()
log(`gateway pid ${gateway.pid}, mosquitto pid ${mosq.pid}`)

const creds = Array.from({ length: FLEET }, (_, i) => gateway.credentials(i))
const gatewayServer: Server = {
  system: 'gateway',
  gateway,
  get pid() {
    return gateway.pid
  },
}
const mosquittoServer: Server = {
  system: 'mosquitto',
  gateway: null,
  get pid() {
    return mosq.pid
  },
}
const alerts = new AlertStream()
await alerts.open(httpPort, gateway.ca, gateway.token)
// On a thread of its own; started by each cell that measures the API (measureCell), stopped after it.
const api = new ApiLoadThread({ port: httpPort, caPem: gateway.ca.toString(), token: () => gateway.token, sampleDevice: gateway.deviceId(0) })
const ctx: BenchContext = {
  options,
  gateway,
  gatewayServer,
  mosquitto: mosq,
  mosquittoServer,
  gatewayFleet: creds.map((c) => new SimDevice(c, { port: mqttPort, ca: gateway.ca }, new Recorder())),
  mosquittoFleet: creds.map((c) => new SimDevice(c, { port: mosqPort, ca: gateway.ca }, new Recorder())),
  credentials: creds,
  vm,
  api,
  alerts,
  cells: [],
  log,
}

const workloads: Array<[string, (c: BenchContext) => Promise<void>]> = [
  ['W1', designPoint],
  ['W2', overload],
  ['W3', saturation],
  ['W4', reconnectStorm],
  ['W7', hostileTraffic],
  ['W5', sinkOutage], // last: it stops the gateway and leaves a backlog behind
]
for (const [id, run] of workloads) if (!options.only || options.only.has(id)) await run(ctx)

const tlsInfo = ctx.gatewayFleet.find((d) => d.tlsInfo)?.tlsInfo ?? { version: '?', cipher: '?' }
const finishedAt = new Date()
const result: BenchResult = {
  startedAt: startedAt.toISOString(),
  finishedAt: finishedAt.toISOString(),
  durationSeconds: Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000),
  options: { quick, scale: options.scale, outageMinutes: options.outageMinutes, w5LiveSeconds: options.w5LiveSeconds, only: values.only ?? 'all' },
  context: {
    cpuModel: cpus()[0]?.model ?? '?',
    cores: cpus().length,
    kernel: release(),
    node: process.version,
    mosquitto: mosquittoVersion(),
    commit,
    tlsVersion: tlsInfo.version,
    tlsCipher: tlsInfo.cipher,
    sqliteSynchronous: 'FULL (WAL)',
  },
  cells: ctx.cells,
  targets: checkTargets(ctx.cells),
}

await api.stop()
await api.close()
alerts.close()
for (const d of [...ctx.gatewayFleet, ...ctx.mosquittoFleet]) d.close()
await gateway.stop()
await mosq.stop()
await vm.stop()
rmSync(root, { recursive: true, force: true })

const outDir = values.out ?? new URL('./results/', import.meta.url).pathname
mkdirSync(outDir, { recursive: true })
const base = join(outDir, `${startedAt.toISOString().slice(0, 10)}${quick || options.only ? '-partial' : ''}`)
writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`)
const markdown = renderMarkdown(result)
writeFileSync(`${base}.md`, markdown)
await writeChartPng(result, `${base}.png`)
process.stdout.write(`${markdown}\nwritten: ${base}.json, .md, .png (${result.durationSeconds} s)\n`)
process.exit(0)

function gitCommit(): string {
  try {
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() ? '+changes' : ''
    return `${execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()}${dirty}`
  } catch {
    return readFileSync(new URL('../../.git/HEAD', import.meta.url), 'utf8').trim()
  }
}
