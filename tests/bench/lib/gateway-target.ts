// The gateway under test: the compiled daemon (gateway/dist/main.js) as its own process on loopback,
// exactly as production starts it, with a throw-away data folder, N enrolled devices, a signed-in
// admin for the API load, one threshold rule per W1 device and VictoriaMetrics as its sink.
import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { runCli } from '../../../gateway/src/cli/run.js'
import { SecretBox } from '../../../gateway/src/secrets/secret-box.js'
import type { Credentials } from './fleet.js'
import { httpsJson } from './https-json.js'
import { sleep } from './stats.js'

const ENTRY = fileURLToPath(new URL('../../../gateway/dist/main.js', import.meta.url))
const PASSWORD = 'quiet harbour lantern 42'
/** Devices that carry a rule (W1's fleet); rules are capped at 500 per box. */
export const RULED_DEVICES = 100

export interface GatewayOptions {
  readonly root: string
  readonly devices: number
  readonly httpPort: number
  readonly mqttPort: number
  readonly vmPort: number
  readonly maxPacketBytes: number
}

export class GatewayTarget {
  readonly o: GatewayOptions
  readonly dataDir: string
  readonly certDir: string
  ca = Buffer.alloc(0)
  #proc: ChildProcess | null = null
  #token = ''

  constructor(o: GatewayOptions) {
    this.o = o
    this.dataDir = join(o.root, 'data')
    this.certDir = join(o.root, 'certs')
  }

  get pid(): number {
    return this.#proc?.pid ?? -1
  }

  deviceId = (i: number) => `bench_${String(i).padStart(4, '0')}`

  /** Enrol the fleet (the CLI a installer uses: a certificate per device from the box's CA), an admin and the rules. */
  async prepare(): Promise<void> {
    const cli = (args: string[], stdin = '') =>
      runCli(args, {
        env: { CAREHUB_DATA_DIR: this.dataDir },
        cwd: this.o.root,
        stdout: () => {},
        stderr: (t: string) => void process.stderr.write(t),
        stdin: async () => stdin,
        now: () => Date.now(),
      })
    for (let i = 0; i < this.o.devices; i++) {
      if ((await cli(['device', 'add', this.deviceId(i), '--out', this.certDir])) !== 0) throw new Error(`enrolling ${this.deviceId(i)} failed`)
    }
    if ((await cli(['user', 'add', 'bench', '--role', 'admin', '--password-stdin'], `${PASSWORD}\n`)) !== 0) throw new Error('user add failed')
    const rules = Array.from({ length: Math.min(RULED_DEVICES, this.o.devices) }, (_, i) => ({
      id: `hot-${i}`,
      name: `${this.deviceId(i)} too warm`,
      when: { threshold: { device: this.deviceId(i), measurement: 'env', field: 'temp_c', op: '>', value: 30 } },
      actions: [{ alert: { severity: 'warning', title: 'Too warm' } }],
    }))
    writeFileSync(join(this.o.root, 'rules.yaml'), JSON.stringify({ rules }))
    // Deviations from the embedded defaults, all because the whole fleet is one loopback address
    // and one API user: connect-rate and per-address limits, the API rate limit, and room for the
    // W7 hostile clients beside 1,000 devices. The sink is VictoriaMetrics (InfluxDB v2 write API).
    const n = this.o.devices + 100
    writeFileSync(
      join(this.o.root, 'gateway.yaml'),
      [
        'mqtt:',
        `  maxConnections: ${n}`,
        `  maxConnectionsPerAddress: ${n}`,
        `  connectBurst: ${n}`,
        `  connectPerSecond: ${n}`,
        `  maxPacketBytes: ${this.o.maxPacketBytes}`,
        'auth:',
        '  apiBurst: 10000',
        '  apiPerSecond: 10000',
        'influx:',
        '  version: 2',
        `  url: http://127.0.0.1:${this.o.vmPort}`,
        '  backoffMinMs: 500',
        '  backoffMaxMs: 2000',
        'automations:',
        '  rulesFile: rules.yaml',
        '',
      ].join('\n'),
    )
    this.ca = readFileSync(join(this.certDir, 'ca.crt'))
  }

  credentials(i: number): Credentials {
    const id = this.deviceId(i)
    return { id, cert: readFileSync(join(this.certDir, `${id}.crt`)), key: readFileSync(join(this.certDir, `${id}.key`)) }
  }

  async start(): Promise<void> {
    // BENCH_GATEWAY_NODE_ARGS: extra node flags for a profiling run (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof).
    const nodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean)
    const logFd = process.env.BENCH_GATEWAY_LOG ? openSync(process.env.BENCH_GATEWAY_LOG, 'a') : null
    this.#proc = spawn(process.execPath, [...nodeArgs, ENTRY], {
      env: {
        PATH: process.env.PATH,
        CAREHUB_CONFIG: join(this.o.root, 'gateway.yaml'),
        CAREHUB_DATA_DIR: this.dataDir,
        CAREHUB_HTTP_PORT: String(this.o.httpPort),
        CAREHUB_MQTT_PORT: String(this.o.mqttPort),
        CAREHUB_BIND: '127.0.0.1',
        CAREHUB_MDNS: 'off',
        CAREHUB_LOG_LEVEL: 'warn',
      },
      // BENCH_GATEWAY_LOG=<file>: keep the gateway's log (warnings and up: slow commits, stalls) for a run worth explaining.
      stdio: ['ignore', logFd ?? 'ignore', 'inherit'],
    })
    if (logFd !== null) closeSync(logFd) // the child has its own copy
    const proc = this.#proc
    process.on('exit', () => proc.kill('SIGKILL'))
    for (let i = 0; ; i++) {
      try {
        const r = await this.call('POST', '/api/auth/login', { username: 'bench', password: PASSWORD }, false)
        if (r.status === 200) {
          this.#token = (JSON.parse(r.text) as { accessToken: string }).accessToken
          return
        }
      } catch {}
      if (proc.exitCode !== null || i > 600) throw new Error('the gateway did not come up')
      await sleep(100)
    }
  }

  /** SIGTERM and wait (a clean stop commits what is queued). */
  async stop(): Promise<void> {
    const proc = this.#proc
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return
    const exited = new Promise((r) => proc.once('exit', r))
    proc.kill('SIGTERM')
    await exited
  }

  /** SIGKILL: a power cut, as far as the process can tell. */
  async kill(): Promise<void> {
    const proc = this.#proc
    if (!proc || proc.exitCode !== null) return
    const exited = new Promise((r) => proc.once('exit', r))
    proc.kill('SIGKILL')
    await exited
  }

  get token(): string {
    return this.#token
  }

  call(method: string, path: string, body?: unknown, auth = true) {
    return httpsJson(this.o.httpPort, this.ca, method, path, body, auth ? this.#token : undefined)
  }

  async metrics(): Promise<string> {
    return (await this.call('GET', '/metrics')).text
  }

  /** The server certificate and its key (decrypted with the box's identity), for Mosquitto. */
  async serverTls(): Promise<{ certPem: string; keyPem: string }> {
    const box = await SecretBox.open(join(this.dataDir, 'secrets'))
    return {
      certPem: readFileSync(join(this.dataDir, 'pki', 'server.crt'), 'utf8'),
      keyPem: await box.readFile(join(this.dataDir, 'pki', 'server.key.age')),
    }
  }

  /** A read-only look at the journal (WAL: readers never block the gateway's writer). */
  journal<T>(fn: (db: Database.Database) => T): T {
    const db = new Database(join(this.dataDir, 'carehub.db'), { readonly: true, fileMustExist: true })
    try {
      return fn(db)
    } finally {
      db.close()
    }
  }

  lastSeq(): number {
    return this.journal((db) => (db.prepare('SELECT coalesce(max(seq), 0) AS s FROM readings').get() as { s: number }).s)
  }

  /**
   * Every acknowledged (device, seq) must be in the journal (lost = acked but absent); an entry
   * journaled more than once for one device seq is a duplicate (a QoS 1 resend whose PUBACK was lost).
   */
  checkJournal(afterSeq: number, acked: ReadonlyMap<string, readonly number[]>): { lost: number; duplicates: number; entries: number } {
    const counts = new Map<string, number>()
    let entries = 0
    this.journal((db) => {
      const rows = db
        .prepare("SELECT device_id AS d, json_extract(fields, '$.seq') AS s FROM readings WHERE seq > ? AND device_id LIKE 'bench\\_%' ESCAPE '\\'")
        .raw()
        .iterate(afterSeq) as IterableIterator<[string, number]>
      for (const [d, s] of rows) {
        const k = `${d}:${s}`
        counts.set(k, (counts.get(k) ?? 0) + 1)
        entries++
      }
    })
    let lost = 0
    let duplicates = 0
    for (const [device, seqs] of acked) for (const s of seqs) if (!counts.has(`${device}:${s}`)) lost++
    for (const c of counts.values()) if (c > 1) duplicates += c - 1
    return { lost, duplicates, entries }
  }
}
