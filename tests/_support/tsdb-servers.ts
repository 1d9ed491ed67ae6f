import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { fileTail, onPath, ServerProcess } from './server-process.js'
import { freePort } from './temp.js'

/**
 * Real time-series servers (Debian's victoria-metrics 1.79.5 and influxd 1.6.7) for tests, on
 * loopback only, each with a throw-away folder holding its data, config and log.
 *
 * Clean-up is module-level on purpose, not tempDir(): node:test runs an after() registered inside
 * a before() hook as soon as that hook ends, so a server started in before() would lose its data
 * folder at once. Here one after() registered when this module is imported (the file's root)
 * stops every server by PID and only then removes the folders; a process 'exit' handler SIGKILLs
 * whatever is left (--test-force-exit), and the daemons run under `setpriv --pdeathsig KILL`, so
 * even a test runner killed by `timeout` leaves no server behind.
 */

export interface TsdbServer {
  /** http://127.0.0.1:PORT */
  readonly url: string
  readonly port: number
  /** Data, config and `<name>.log` live here; kept across stop()/start(). */
  readonly dir: string
  readonly running: boolean
  /** Start again on the same port and data folder; resolves once the health endpoint answers. */
  start(): Promise<void>
  /** SIGTERM, wait for the exit; SIGKILL after 5 s. */
  stop(): Promise<void>
}

/** One line of /api/v1/export. */
export type VmSeries = { metric: Record<string, string>; values: number[]; timestamps: number[] }

export interface VmServer extends TsdbServer {
  /** Every sample of the series matching `match` (a series selector such as `{device="d1"}`). */
  exportSeries(match: string): Promise<VmSeries[]>
}

export type InfluxSeries = { name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }
/** /query's answer: one result per statement. */
export type InfluxResponse = { results: Array<{ statement_id: number; error?: string; series?: InfluxSeries[] }> }

export interface InfluxV1Server extends TsdbServer {
  /** InfluxQL with epoch=ms; throws on an HTTP error or on any statement's error. */
  query(db: string, q: string): Promise<InfluxResponse>
  createDatabase(db: string): Promise<void>
  /** Line protocol to /write (ms precision); throws unless 204. */
  write(db: string, lines: string, rp?: string): Promise<void>
}

const servers = new Set<Daemon>()
const dirs: string[] = []
after(async () => {
  await Promise.all([...servers].map((s) => s.stop()))
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** Which servers this machine can run; scripts/install-test-deps.sh installs both as root. */
export function tsdbAvailable(): { vm: boolean; influx: boolean } {
  return { vm: onPath('victoria-metrics'), influx: onPath('influxd') }
}

class Daemon {
  readonly url: string
  readonly #log: string
  readonly #process: ServerProcess

  constructor(
    readonly name: string,
    readonly port: number,
    readonly dir: string,
    argv: readonly string[],
    ready: { path: string; status: number },
  ) {
    this.url = `http://127.0.0.1:${port}`
    this.#log = join(dir, `${name}.log`)
    this.#process = new ServerProcess({
      name,
      argv,
      cwd: dir,
      output: this.#log,
      ready: async () => {
        const res = await fetch(this.url + ready.path, { signal: AbortSignal.timeout(2000) })
        await res.arrayBuffer()
        return res.status === ready.status
      },
      readyTimeoutMs: 20_000,
      stopTimeoutMs: 5000,
      logs: () => this.logTail(),
    })
    servers.add(this)
  }

  get running(): boolean {
    return this.#process.running
  }

  logTail(lines = 25): string {
    return fileTail(this.#log, lines)
  }

  start(): Promise<void> {
    return this.#process.start()
  }

  stop(): Promise<void> {
    return this.#process.stop()
  }
}

function freshDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  dirs.push(dir)
  return dir
}

async function http(method: 'GET' | 'POST', url: string, body?: string | URLSearchParams): Promise<string> {
  const res = await fetch(url, { method, body, signal: AbortSignal.timeout(15_000) })
  const text = await res.text()
  if (!res.ok) throw new Error(`${method} ${url} -> HTTP ${res.status}: ${text.slice(0, 500)}`)
  return text
}

/**
 * VictoriaMetrics 1.79.5, checked by experiment on this build:
 * - Accepted timestamps: from now − retentionPeriod to now + 2 days. The default retention (1 month)
 *   already refused a sample 32 days old; -retentionPeriod=100y accepts any past date. A sample more
 *   than 2 days ahead is refused. Refusals are SILENT: /write still answers 204, only the log warns
 *   ("too small/too big timestamp").
 * - Without dedup, a sample written twice (same series, same ms) is stored and exported twice, even
 *   after /internal/force_merge and a restart. With -dedup.minScrapeInterval=1ms /api/v1/export
 *   returns it once right after /internal/force_flush: dedup is applied at query time and when
 *   in-memory parts are flushed, so no force_merge is needed. For one ms with two values, the later
 *   write was the one kept; samples 1 ms apart are both kept.
 * - /api/v1/export without `end` stops at the current second, so a sample from this very second or
 *   from the near future is missing: exportSeries passes start=0 and end=now+3 days.
 * - graphite/influx/opentsdb listeners are off unless their -…ListenAddr flag is set; pprof is
 *   served on the HTTP listener, so loopback only.
 */
export async function startVictoriaMetrics(opts: { dedup?: boolean } = {}): Promise<VmServer> {
  const dir = freshDir('carehub-vm-')
  const port = await freePort()
  const argv = [
    'victoria-metrics',
    `-httpListenAddr=127.0.0.1:${port}`,
    `-storageDataPath=${join(dir, 'data')}`,
    '-retentionPeriod=100y',
    // Tests backfill old timestamps and then query: no response cache, no 30 s hiding of fresh points.
    '-search.disableCache',
    '-search.latencyOffset=0s',
    ...(opts.dedup ? ['-dedup.minScrapeInterval=1ms'] : []),
  ]
  const d = new Daemon('victoria-metrics', port, dir, argv, { path: '/health', status: 200 })
  await d.start()
  return Object.assign(d, {
    async exportSeries(match: string): Promise<VmSeries[]> {
      // Fresh rows sit in memory for ~1 s before a search sees them; force_flush (present in 1.79) makes them visible now.
      await http('GET', `${d.url}/internal/force_flush`)
      const q = new URLSearchParams({ 'match[]': match, start: '0', end: String(Math.ceil(Date.now() / 1000) + 3 * 86_400) })
      const lines = (await http('GET', `${d.url}/api/v1/export?${q}`)).split('\n').filter((l) => l.trim() !== '')
      return lines.map((l) => JSON.parse(l) as VmSeries).sort((a, b) => JSON.stringify(a.metric).localeCompare(JSON.stringify(b.metric)))
    },
  })
}

/** influxd 1.6.7 with every listener but HTTP (and its loopback RPC port) off, no phoning home. */
export async function startInfluxV1(): Promise<InfluxV1Server> {
  const dir = freshDir('carehub-influx-')
  const port = await freePort()
  const rpcPort = await freePort()
  const config = join(dir, 'influxdb.conf')
  const off = (section: string) => `${section}\n  enabled = false`
  const toml = [
    'reporting-disabled = true',
    `bind-address = "127.0.0.1:${rpcPort}"`, // the RPC (backup/restore) port, default 127.0.0.1:8088
    `[meta]\n  dir = "${join(dir, 'meta')}"`,
    `[data]\n  dir = "${join(dir, 'data')}"\n  wal-dir = "${join(dir, 'wal')}"\n  query-log-enabled = false`,
    '[monitor]\n  store-enabled = false',
    `[http]\n  enabled = true\n  bind-address = "127.0.0.1:${port}"\n  log-enabled = false`,
    '[logging]\n  suppress-logo = true',
    ...['[ifql]', '[[graphite]]', '[[collectd]]', '[[opentsdb]]', '[[udp]]'].map(off),
  ]
  writeFileSync(config, `${toml.join('\n')}\n`)
  const d = new Daemon('influxd', port, dir, ['influxd', '-config', config], { path: '/ping', status: 204 })
  await d.start()
  const query = async (db: string, q: string): Promise<InfluxResponse> => {
    const params = new URLSearchParams({ db, epoch: 'ms', q })
    // Reads go as GET; anything that writes (CREATE, SELECT … INTO, …) is a POST (1.x warns otherwise),
    // with the statements in a form body rather than the URL: a whole setup file is over 10 kB.
    const readOnly = /^\s*(SELECT|SHOW)\b/i.test(q) && !/\bINTO\b/i.test(q)
    const text = readOnly ? await http('GET', `${d.url}/query?${params}`) : await http('POST', `${d.url}/query`, params)
    const res = JSON.parse(text) as InfluxResponse & { error?: string }
    const failed = res.error ?? res.results?.find((r) => r.error)?.error
    if (failed) throw new Error(`InfluxQL failed: ${failed}\n  query: ${q}`)
    return res
  }
  return Object.assign(d, {
    query,
    async createDatabase(db: string) {
      await query(db, `CREATE DATABASE "${db.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`)
    },
    async write(db: string, lines: string, rp?: string) {
      const params = new URLSearchParams({ db, precision: 'ms', ...(rp ? { rp } : {}) })
      await http('POST', `${d.url}/write?${params}`, lines)
    },
  })
}

/** The rows of one statement's series as objects: columns plus tags plus `name` (the measurement). */
export function influxRows(res: InfluxResponse, statement = 0): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = []
  for (const s of res.results[statement]?.series ?? []) {
    for (const v of s.values) out.push({ name: s.name, ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, v[i]])) })
  }
  return out
}
