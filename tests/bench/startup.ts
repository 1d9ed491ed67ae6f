// Start-up time benchmark (not a test): spawns the compiled daemon N times and measures from spawn
// to the READY=1 datagram on a fake NOTIFY_SOCKET — what systemd would see. Reports a cold start
// (empty data folder: CA, server certificate and schema created) and warm starts (existing data).
// Usage: npm run build && node --import tsx tests/bench/startup.ts [runs]
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createSocket } from 'unix-dgram'

const ENTRY = fileURLToPath(new URL('../../gateway/dist/main.js', import.meta.url))
const runs = Number(process.argv[2] ?? 10)

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

async function startOnce(dataDir: string, sockPath: string, received: { ready?: () => void }): Promise<number> {
  const port = await freePort()
  const started = performance.now()
  const readyAt = new Promise<number>((resolve) => {
    received.ready = () => resolve(performance.now())
  })
  const child = spawn(process.execPath, [ENTRY], {
    env: {
      PATH: process.env.PATH,
      CAREHUB_DATA_DIR: dataDir,
      CAREHUB_HTTP_PORT: String(port),
      CAREHUB_BIND: '127.0.0.1',
      NOTIFY_SOCKET: sockPath,
      CAREHUB_LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
  })
  const ms = (await readyAt) - started
  child.kill('SIGTERM')
  await new Promise((r) => child.once('exit', r))
  return ms
}

const dir = mkdtempSync(join(tmpdir(), 'carehub-bench-'))
const sockPath = join(dir, 'notify.sock')
const sock = createSocket('unix_dgram')
const received: { ready?: () => void } = {}
sock.on('message', (buf: Buffer) => {
  if (buf.toString().split('\n').includes('READY=1')) received.ready?.()
})
sock.bind(sockPath)

const cold: number[] = []
const warm: number[] = []
for (let i = 0; i < runs; i++) {
  const data = join(dir, `data-${i}`)
  cold.push(await startOnce(data, sockPath, received))
  warm.push(await startOnce(data, sockPath, received))
}
sock.close()
rmSync(dir, { recursive: true, force: true })

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN
  return { p50: Math.round(q(0.5)), p90: Math.round(q(0.9)), max: Math.round(s[s.length - 1] ?? Number.NaN) }
}
const result = { runs, node: process.version, coldStartMs: stats(cold), warmStartMs: stats(warm) }
process.stdout.write(`| start | p50 ms | p90 ms | max ms |\n|---|---|---|---|\n`)
process.stdout.write(`| cold (empty data folder) | ${result.coldStartMs.p50} | ${result.coldStartMs.p90} | ${result.coldStartMs.max} |\n`)
process.stdout.write(`| warm (existing data) | ${result.warmStartMs.p50} | ${result.warmStartMs.p90} | ${result.warmStartMs.max} |\n`)
process.stdout.write(`${JSON.stringify(result)}\n`)
