import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { H3 } from 'h3'
import { toNodeHandler } from 'h3/node'
import type { Logger } from 'pino'
import { fromSystemError } from '../core/errors.js'
import type { HealthCheck, Service } from '../core/service.js'

export interface HttpsServerOptions {
  readonly app: H3
  readonly bind: string
  readonly port: number
  readonly tls: () => { certPem: string; keyPem: string }
  readonly requestTimeoutMs: number
  /** How long in-flight requests may finish after stop() before their sockets are cut. */
  readonly drainMs: number
  readonly log: Logger
}

/** The HTTPS listener of the panel and API (node:https + h3's Node adapter). */
export class HttpsServer implements Service {
  readonly name = 'http'
  readonly #o: HttpsServerOptions
  #server: Server | undefined

  constructor(options: HttpsServerOptions) {
    this.#o = options
  }

  /** The application, for in-process requests (tests). */
  get app(): H3 {
    return this.#o.app
  }

  /** The bound address (port 0 in tests resolves to a real port here). */
  get address(): AddressInfo | undefined {
    return (this.#server?.address() as AddressInfo | null) ?? undefined
  }

  readonly healthCheck: HealthCheck = {
    name: 'http',
    critical: true,
    check: () => (this.#server?.listening ? { status: 'ok' } : { status: 'down', detail: 'not listening' }),
  }

  /** Swap in a renewed certificate; existing connections keep theirs, new handshakes get the new one. */
  reloadTls(): void {
    const { certPem, keyPem } = this.#o.tls()
    this.#server?.setSecureContext({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' })
  }

  async start(): Promise<void> {
    const { certPem, keyPem } = this.#o.tls()
    const server = createServer(
      { cert: certPem, key: keyPem, minVersion: 'TLSv1.2', requestTimeout: this.#o.requestTimeoutMs, headersTimeout: 20_000 },
      toNodeHandler(this.#o.app),
    )
    server.keepAliveTimeout = 5_000
    server.on('tlsClientError', (err) => this.#o.log.debug({ err: err.message }, 'TLS handshake failed'))
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(fromSystemError(err, `HTTPS on ${this.#o.bind}:${this.#o.port}`)))
      server.listen(this.#o.port, this.#o.bind, () => resolve())
    })
    server.on('error', (err) => this.#o.log.error({ err }, 'HTTPS server error'))
    this.#server = server
  }

  /** Stop accepting, let in-flight requests finish (up to drainMs), then cut what is left. */
  async stop(): Promise<void> {
    const server = this.#server
    if (!server) return
    this.#server = undefined
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    server.closeIdleConnections()
    const timer = setTimeout(() => server.closeAllConnections(), this.#o.drainMs)
    await closed
    clearTimeout(timer)
  }
}
