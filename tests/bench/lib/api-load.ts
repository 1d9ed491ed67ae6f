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
      '/api/devices',
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
        if (r.status === 200) this.#latencies.push(performance.now() - t0)
        else this.#error(`${r.status} ${path.split('?')[0]}: ${r.text.slice(0, 120)}`)
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
  take(): Percentiles & { errors: number; rate: number; errorKinds: string[] } {
    const errorKinds = [...this.#errorKinds].map(([kind, n]) => `${n}× ${kind}`)
    const out = { ...percentiles(this.#latencies), errors: this.#errors, rate: this.rate, errorKinds }
    this.#latencies = []
    this.#errors = 0
    this.#errorKinds = new Map()
    return out
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
    await Promise.all(this.#inFlight)
  }
}
