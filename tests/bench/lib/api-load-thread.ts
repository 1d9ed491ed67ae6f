// The W6 API load on a thread of its own. In the generator's thread its timings included the
// generator's own event-loop delay (p99 14–17 ms in W3, measured): a request answered at once
// could be read late. Here the client's loop does nothing else, so the figures are the gateway's.
import { isMainThread, parentPort, type Worker, workerData } from 'node:worker_threads'
import { startModuleWorker } from '../../../gateway/src/system/module-worker.js'
import { ApiLoad } from './api-load.js'
import { httpsJson } from './https-json.js'

type Taken = ReturnType<ApiLoad['take']>
type Request = { id: number; op: 'start'; token: string } | { id: number; op: 'stop' | 'take' }
interface Setup {
  readonly port: number
  readonly caPem: string
  readonly sampleDevice: string
}

if (!isMainThread && parentPort) {
  const port = parentPort
  const setup = (workerData as { data: Setup }).data
  const ca = Buffer.from(setup.caPem)
  let token = ''
  const load = new ApiLoad({ call: (method, path) => httpsJson(setup.port, ca, method, path, undefined, token) }, setup.sampleDevice)
  port.on('message', async (r: Request) => {
    if (r.op === 'start') {
      token = r.token
      load.start()
      port.postMessage({ id: r.id })
    } else if (r.op === 'stop') {
      await load.stop()
      port.postMessage({ id: r.id })
    } else port.postMessage({ id: r.id, taken: load.take() })
  })
}

/** The bench's handle on the API load thread: start (with the gateway's current token), stop, take. */
export class ApiLoadThread {
  readonly #worker: Worker
  readonly #token: () => string
  readonly #waiting = new Map<number, (value: { taken?: Taken }) => void>()
  #next = 0

  constructor(o: Setup & { token: () => string }) {
    this.#token = o.token
    // The gateway's own way to start a TypeScript module on a thread (tsx registered there first).
    this.#worker = startModuleWorker(new URL(import.meta.url), { port: o.port, caPem: o.caPem, sampleDevice: o.sampleDevice } satisfies Setup, {})
    this.#worker.on('message', (m: { id: number; taken?: Taken }) => {
      this.#waiting.get(m.id)?.(m)
      this.#waiting.delete(m.id)
    })
    this.#worker.unref()
  }

  #ask(op: 'start' | 'stop' | 'take'): Promise<{ taken?: Taken }> {
    const id = this.#next++
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve)
      this.#worker.postMessage(op === 'start' ? { id, op, token: this.#token() } : { id, op })
    })
  }

  async start(): Promise<void> {
    await this.#ask('start')
  }

  async stop(): Promise<void> {
    await this.#ask('stop')
  }

  /** The window's figures; a new window starts (the load keeps running). */
  async take(): Promise<Taken> {
    return (await this.#ask('take')).taken as Taken
  }

  async close(): Promise<void> {
    await this.#worker.terminate()
  }
}
