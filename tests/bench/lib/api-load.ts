// W6: the panel's real endpoints at a fixed rate (open loop: a slow answer does not slow the
// offered load, as a dashboard refreshing on a timer would not) beside whatever ingest runs.
import type { Percentiles } from './result.js'
import { percentiles } from './stats.js'

export interface ApiCaller {
  call(method: string, path: string): Promise<{ status: number; text: string }>
}

export class ApiLoad {
  readonly #paths: readonly string[]
  readonly #caller: ApiCaller
  #latencies: number[] = []
  /** The same latencies by endpoint, to say which one is slow. */
  #byPath = new Map<string, number[]>()
  #errors = 0
  /** What went wrong, by answer ("404 GET /api/…", "timeout …"), for the cell's notes. */
  #errorKinds = new Map<string, number>()
  #timer: NodeJS.Timeout | undefined
  #inFlight = new Set<Promise<void>>()
  #i = 0
  readonly rate: number

  /** `sampleDevice`: a device whose series the history query asks for. */
  constructor(caller: ApiCaller, sampleDevice: string, rate = 20) {
    this.#caller = caller
    this.rate = rate
    this.#paths = [
      '/api/telemetry/query?preset=latest',
      `/api/devices/${sampleDevice}/series?measurement=env&field=temp_c&range=1h&step=1m`,
      '/api/devices', // its first page (100 devices), as a panel asks for the list
      '/api/alerts?limit=50',
    ]
  }

  start(): void {
    clearInterval(this.#timer)
    this.#timer = setInterval(() => this.#fire(), 1000 / this.rate)
  }

  #fire(): void {
    const path = this.#paths[this.#i++ % this.#paths.length] as string
    const t0 = performance.now()
    const p = this.#caller.call('GET', path).then(
      (r) => {
        if (r.status === 200) {
          const ms = performance.now() - t0
          this.#latencies.push(ms)
          const endpoint = path.split('?')[0] as string
          const list = this.#byPath.get(endpoint) ?? []
          list.push(ms)
          this.#byPath.set(endpoint, list)
        } else this.#error(`${r.status} ${path.split('?')[0]}: ${r.text.slice(0, 120)}`)
      },
      (err: Error) => this.#error(`${path.split('?')[0]}: ${err.message}`),
    )
    this.#inFlight.add(p)
    void p.finally(() => this.#inFlight.delete(p))
  }

  #error(kind: string): void {
    this.#errors++
    this.#errorKinds.set(kind, (this.#errorKinds.get(kind) ?? 0) + 1)
  }

  /** Take the window's figures and start a new window (the load keeps running). */
  take(): Percentiles & { errors: number; rate: number; errorKinds: string[]; p99ByEndpoint: string[] } {
    const errorKinds = [...this.#errorKinds].map(([kind, n]) => `${n}× ${kind}`)
    const p99ByEndpoint = [...this.#byPath].map(([endpoint, ms]) => `${endpoint} ${Math.round(percentiles(ms).p99 ?? 0)} ms`)
    const out = { ...percentiles(this.#latencies), errors: this.#errors, rate: this.rate, errorKinds, p99ByEndpoint }
    this.#latencies = []
    this.#byPath = new Map()
    this.#errors = 0
    this.#errorKinds = new Map()
    return out
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
    await Promise.all(this.#inFlight)
  }
}
