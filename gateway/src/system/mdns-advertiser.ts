import type { NetworkInterfaceInfo } from 'node:os'
import { Bonjour } from 'bonjour-service'
import type { Logger } from 'pino'
import type { Service } from '../core/service.js'

export interface MdnsDeps {
  readonly enabled: boolean
  /** Only this interface address (tests: 127.0.0.1); default every interface — the library's default. */
  readonly interfaceAddress: string | undefined
  readonly name: () => string
  readonly txt: () => Record<string, string>
  readonly mqttPort: () => number
  readonly httpPort: () => number
  readonly interfaces: () => NodeJS.Dict<NetworkInterfaceInfo[]>
  readonly recheckMs: number
  readonly log: Logger
}

/** Service types ESP32 firmware and the panel browse for (CONTRACT "mDNS"). */
export const MDNS_TYPES = { broker: 'secure-mqtt', panel: 'carehub' } as const

/**
 * Advertises `_secure-mqtt._tcp` (the broker) and `_carehub._tcp` (the panel) with TXT records
 * carrying the gateway id, version, CA fingerprint (devices pin it) and ports. Re-announces when the
 * box's addresses change (DHCP renumbering), so sensors find it again without a restart.
 */
export class MdnsAdvertiser implements Service {
  readonly name = 'mdns'
  readonly #d: MdnsDeps
  #bonjour: Bonjour | undefined
  #timer: NodeJS.Timeout | undefined
  #addresses = ''

  constructor(deps: MdnsDeps) {
    this.#d = deps
  }

  async start(): Promise<void> {
    if (!this.#d.enabled) return
    const options = this.#d.interfaceAddress
      ? // multicast-dns binds the unicast address when only `interface` is given and then hears nothing
        // (dependencies notes §6): bind the group address too.
        { interface: this.#d.interfaceAddress, bind: '224.0.0.251' }
      : {}
    this.#bonjour = new Bonjour(options as never, (err: Error) => this.#d.log.warn({ err: err.message }, 'mDNS error'))
    this.#addresses = this.#signature()
    this.#publish(true)
    this.#timer = setInterval(() => {
      const now = this.#signature()
      if (now === this.#addresses) return
      this.#addresses = now
      this.#d.log.info('network addresses changed: re-announcing over mDNS')
      this.#bonjour?.unpublishAll(() => this.#publish(false))
    }, this.#d.recheckMs)
  }

  /**
   * Probe for name conflicts on the first announcement only (RFC 6762 §8.1): on a re-announcement the
   * names are already ours, and our own just-withdrawn records would otherwise read as a conflict.
   */
  #publish(probe: boolean): void {
    const txt = this.#d.txt()
    const common = { txt, probe, disableIPv6: this.#d.interfaceAddress !== undefined && !this.#d.interfaceAddress.includes(':') }
    for (const service of [
      this.#bonjour?.publish({ name: `${this.#d.name()} MQTT`, type: MDNS_TYPES.broker, port: this.#d.mqttPort(), ...common }),
      this.#bonjour?.publish({ name: `${this.#d.name()} panel`, type: MDNS_TYPES.panel, port: this.#d.httpPort(), ...common }),
    ]) {
      service?.on('error', (err: Error) => this.#d.log.warn({ err: err.message, name: service.name }, 'mDNS announcement failed'))
    }
    this.#d.log.info({ txt }, 'advertising over mDNS')
  }

  #signature(): string {
    return Object.values(this.#d.interfaces())
      .flat()
      .filter((i): i is NetworkInterfaceInfo => i !== undefined && !i.internal)
      .map((i) => i.address)
      .sort()
      .join(',')
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
    const bonjour = this.#bonjour
    this.#bonjour = undefined
    if (!bonjour) return
    await new Promise<void>((resolve) => bonjour.unpublishAll(() => resolve()))
    await new Promise<void>((resolve) => bonjour.destroy(() => resolve()))
  }
}
