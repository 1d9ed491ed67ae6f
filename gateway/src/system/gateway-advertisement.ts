import type { NetworkInterfaceInfo } from 'node:os'
import type { Logger } from 'pino'
import type { Config } from '../config/schema.js'
import { MdnsAdvertiser } from './mdns-advertiser.js'

const isAnyAddress = (bind: string) => bind === '0.0.0.0' || bind === '::'
const isLoopbackAddress = (bind: string) => bind.startsWith('127.') || bind === '::1'

export interface AdvertisementDeps {
  readonly config: Readonly<Config>
  readonly version: string
  readonly gatewayId: () => string
  readonly caFingerprint: () => string
  /** The bound ports (a port of 0 in tests becomes the real one once listening). */
  readonly mqttPort: () => number
  readonly httpPort: () => number
  readonly interfaces: () => NodeJS.Dict<NetworkInterfaceInfo[]>
  readonly log: Logger
}

/**
 * What the box announces over mDNS (CONTRACT: `_secure-mqtt._tcp` and `_carehub._tcp`, TXT with the
 * gateway id, version and the CA fingerprint). Advertised where the listeners can be reached: a bind
 * to one address means that interface only; a loopback-only box advertises nothing on the LAN
 * (unless mdns.interface says otherwise).
 */
export function gatewayAdvertisement(d: AdvertisementDeps): MdnsAdvertiser {
  const { config } = d
  return new MdnsAdvertiser({
    interfaceAddress: config.mdns.interface ?? (isAnyAddress(config.bind) ? undefined : config.bind),
    enabled: config.mdns.enabled && (config.mdns.interface !== undefined || !isLoopbackAddress(config.bind)),
    name: () => `${config.gateway.name} ${d.gatewayId()}`,
    txt: () => ({
      gw: d.gatewayId(),
      v: d.version,
      ca: d.caFingerprint(),
      mqtt: String(d.mqttPort()),
      https: String(d.httpPort()),
      mtls: '1',
    }),
    mqttPort: d.mqttPort,
    httpPort: d.httpPort,
    interfaces: d.interfaces,
    recheckMs: 30_000,
    log: d.log,
  })
}
