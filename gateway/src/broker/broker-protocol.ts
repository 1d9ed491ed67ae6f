import type { NormalizeLimits } from '../normalize/mqtt-reading.js'
import type { MqttPublish } from '../sources/mqtt/classify-publish.js'
import type { BrokerSettings } from './broker-service.js'
import type { DeviceSession } from './device-session.js'

/** The broker's server certificate and the CA its clients must chain to (PEM). */
export interface BrokerTls {
  readonly certPem: string
  readonly keyPem: string
  readonly caPem: string
}

/** What the broker worker starts with (broker-worker.ts). */
export interface BrokerWorkerData {
  readonly settings: BrokerSettings
  readonly persistenceDir: string
  /** The store, opened read-only there: certificates are checked on connect and swept for revocation. */
  readonly storePath: string
  readonly tls: BrokerTls
  readonly limits: NormalizeLimits
  readonly revocationIntervalMs: number
  readonly logLevel: string
}

export type ToBrokerWorker =
  /** The publishes of these ids are stored (or handled): acknowledge them; `failed` ones close their connection. */
  | { readonly type: 'settled'; readonly ok: readonly number[]; readonly failed: ReadonlyArray<readonly [id: number, message: string]> }
  /** A publish from the box itself (a command, retained configuration). */
  | {
      readonly type: 'publish'
      readonly id: number
      readonly topic: string
      readonly payload: string | Uint8Array
      readonly qos: 0 | 1
      readonly retain: boolean
    }
  | { readonly type: 'tls'; readonly tls: BrokerTls }
  | { readonly type: 'stop' }

/** A publish from a device, classified in the worker, waiting for the gateway to store it. */
export interface InboundPublish {
  readonly id: number
  readonly publish: MqttPublish
}

export type FromBrokerWorker =
  | { readonly type: 'ready'; readonly port: number }
  /** Start-up failed: the error as the catalogue names it (core/errors.ts), rebuilt on the other side. */
  | { readonly type: 'failed'; readonly code: string; readonly message: string }
  | { readonly type: 'publishes'; readonly items: readonly InboundPublish[] }
  | { readonly type: 'session'; readonly event: 'connected' | 'disconnected'; readonly session: DeviceSession }
  | { readonly type: 'refused'; readonly reason: string }
  | { readonly type: 'published'; readonly id: number; readonly error?: string }
  /** A pino line (JSON) for the gateway's log. */
  | { readonly type: 'log'; readonly line: string }
