import type { NetworkInterfaceInfo } from 'node:os'
import type { Logger } from 'pino'
import type { Config } from '../config/schema.js'
import type { Clock } from '../core/clock.js'
import { CarehubError } from '../core/errors.js'
import type { Service } from '../core/service.js'
import type { SecretBox } from '../secrets/secret-box.js'
import { LocalCa } from './local-ca.js'
import { ensureServerCertificate, type ServerTls } from './server-certificate.js'
import { serverNames } from './server-names.js'

export interface PkiDeps {
  readonly dir: string
  readonly config: Config['pki']
  readonly clock: Clock
  readonly log: Logger
  readonly secrets: () => SecretBox
  readonly gatewayId: () => string
  readonly host: { readonly hostname: string; readonly interfaces: () => NodeJS.Dict<NetworkInterfaceInfo[]> }
}

/** The box's CA and the server certificate HTTPS (and later MQTT) present, ready after start. */
export class PkiService implements Service {
  readonly name = 'pki'
  readonly #d: PkiDeps
  #ca: LocalCa | undefined
  #server: ServerTls | undefined

  constructor(deps: PkiDeps) {
    this.#d = deps
  }

  get ca(): LocalCa {
    if (!this.#ca) throw new CarehubError('CAREHUB_ERR_PKI', 'the CA is not loaded yet')
    return this.#ca
  }

  get serverTls(): ServerTls {
    if (!this.#server) throw new CarehubError('CAREHUB_ERR_PKI', 'the server certificate is not loaded yet')
    return this.#server
  }

  async start(): Promise<void> {
    const { dir, config, clock, log } = this.#d
    this.#ca = await LocalCa.loadOrCreate({
      dir,
      secrets: this.#d.secrets(),
      gatewayId: this.#d.gatewayId(),
      validityDays: config.caValidityDays,
      now: clock.now(),
    })
    await this.refresh()
    log.info({ caFingerprint: this.#ca.fingerprint }, 'local CA ready')
  }

  /**
   * Re-check the server certificate (expiry window, new names or addresses) and re-issue it when
   * needed. Returns the reason it was renewed, or null. Listeners then reload it (reloadTls).
   */
  async refresh(): Promise<string | null> {
    const { dir, config, clock, log } = this.#d
    const now = clock.now()
    const secrets = this.#d.secrets()
    const names = serverNames(this.#d.host.hostname, this.#d.host.interfaces(), config.extraSubjectAltNames)
    const result = await ensureServerCertificate({
      dir,
      ca: this.ca,
      secrets,
      names,
      commonName: this.#d.host.hostname.toLowerCase(),
      validityDays: config.serverCertValidityDays,
      renewBeforeDays: config.serverCertRenewBeforeDays,
      now,
      log,
    })
    this.#server = result
    return result.renewed
  }

  async stop(): Promise<void> {}
}
