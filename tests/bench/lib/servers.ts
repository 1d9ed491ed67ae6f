// The real servers the benchmark runs beside the gateway, on loopback with throw-away folders,
// stopped by PID (tests/_support/server-process.ts): Mosquitto (the reference broker) and
// VictoriaMetrics (the gateway's time-series sink, which W5 takes away).
import { execFileSync } from 'node:child_process'
import { existsSync as exists, mkdirSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { connect } from 'node:net'
import { join } from 'node:path'
import { fileTail, onPath, ServerProcess } from '../../_support/server-process.js'

/** Debian packages the benchmark needs; installed when missing (as the test set-up does, root only). */
export function ensurePackages(): void {
  const need: Record<string, string> = { mosquitto: 'mosquitto', 'victoria-metrics': 'victoria-metrics' }
  const missing = Object.entries(need)
    .filter(([cmd]) => !onPath(cmd) && !exists(`/usr/sbin/${cmd}`))
    .map(([, pkg]) => pkg)
  // The chart's text: resvg draws no glyphs without a font on the machine.
  if (!exists('/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf')) missing.push('fonts-dejavu-core')
  if (missing.length === 0) return
  if (process.getuid?.() !== 0) throw new Error(`the benchmark needs ${missing.join(', ')} (apt-get install as root)`)
  process.stderr.write(`bench: apt-get install ${missing.join(' ')}\n`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env })
}

export function mosquittoVersion(): string {
  try {
    return /mosquitto version (\S+)/.exec(execFileSync('/usr/sbin/mosquitto', ['-h'], { encoding: 'utf8' }))?.[1] ?? '?'
  } catch (err) {
    // `mosquitto -h` exits 3 after printing its usage.
    const out = String((err as { stdout?: string }).stdout ?? '')
    return /mosquitto version (\S+)/.exec(out)?.[1] ?? '?'
  }
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1')
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })

/**
 * Mosquitto with the gateway's own server certificate and CA (same chain, same TLS 1.3 cipher), mTLS
 * required, pinned as issue 9 says: no persistence, `max_inflight_messages 0` (2.0.11 stalls at
 * QoS 1 otherwise), `set_tcp_nodelay true`, the same packet-size limit as the gateway.
 */
export function mosquitto(o: { dir: string; port: number; caPath: string; certPem: string; keyPem: string; maxPacketBytes: number }): ServerProcess {
  mkdirSync(o.dir, { recursive: true })
  writeFileSync(join(o.dir, 'server.crt'), o.certPem)
  writeFileSync(join(o.dir, 'server.key'), o.keyPem, { mode: 0o600 })
  const conf = [
    // Run as root, this would switch to the "mosquitto" user, which cannot read the throw-away folder.
    'user root',
    'per_listener_settings false',
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'max_inflight_messages 0',
    'set_tcp_nodelay true',
    `max_packet_size ${o.maxPacketBytes}`,
    'allow_anonymous false',
    `listener ${o.port} 127.0.0.1`,
    `cafile ${o.caPath}`,
    `certfile ${join(o.dir, 'server.crt')}`,
    `keyfile ${join(o.dir, 'server.key')}`,
    'require_certificate true',
    'use_identity_as_username true',
    '',
  ].join('\n')
  const confPath = join(o.dir, 'mosquitto.conf')
  writeFileSync(confPath, conf)
  const log = join(o.dir, 'mosquitto.log')
  return new ServerProcess({
    name: 'mosquitto',
    argv: ['/usr/sbin/mosquitto', '-c', confPath],
    cwd: o.dir,
    output: log,
    ready: () => portOpen(o.port),
    readyTimeoutMs: 10_000,
    stopTimeoutMs: 5_000,
    logs: () => fileTail(log),
  })
}

export function victoriaMetrics(dir: string, port: number): ServerProcess {
  mkdirSync(dir, { recursive: true })
  const log = join(dir, 'victoria-metrics.log')
  return new ServerProcess({
    name: 'victoria-metrics',
    argv: ['victoria-metrics', `-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${join(dir, 'data')}`, '-retentionPeriod=100y'],
    cwd: dir,
    output: log,
    ready: () =>
      new Promise((resolve) => {
        request({ host: '127.0.0.1', port, path: '/health' }, (res) => {
          res.resume()
          resolve(res.statusCode === 200)
        })
          .on('error', () => resolve(false))
          .end()
      }),
    readyTimeoutMs: 20_000,
    stopTimeoutMs: 10_000,
    logs: () => fileTail(log),
  })
}
