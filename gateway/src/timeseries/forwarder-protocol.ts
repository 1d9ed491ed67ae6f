import type { InfluxConfig } from '../config/history-schema.js'
import type { ServiceHealth } from '../core/service.js'
import type { SinkDeadLetter } from './forwarder-store.js'
import type { SinkFailureKind } from './sink.js'

/** What the forwarder worker starts with (forwarder-worker.ts). */
export interface ForwarderWorkerData {
  readonly path: string
  readonly influx: InfluxConfig
  readonly logLevel: string
}

export type ToForwarderWorker =
  | { readonly type: 'stop' }
  | { readonly type: 'reply'; readonly id: number; readonly value?: string | undefined; readonly error?: string }

/** Requests the worker waits on: the cursor moved in the journal's group commit, a secret read. */
export type ForwarderRequest =
  | { readonly type: 'advance'; readonly seq: number; readonly refused: readonly SinkDeadLetter[]; readonly now: number }
  | { readonly type: 'secret'; readonly name: string }

export type FromForwarderWorker =
  | { readonly type: 'request'; readonly id: number; readonly request: ForwarderRequest }
  | { readonly type: 'written'; readonly accepted: number; readonly refused: number; readonly seconds: number; readonly now: number }
  | { readonly type: 'failure'; readonly kind: SinkFailureKind }
  | { readonly type: 'health'; readonly health: ServiceHealth }
  /** A pino line (JSON) for the gateway's log. */
  | { readonly type: 'log'; readonly line: string }
