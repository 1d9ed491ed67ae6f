// The shape of one `npm run bench` result (tests/bench/results/<date>.json). The Markdown table and
// the chart are rendered from this alone, so a result can be re-rendered later without re-running.

/** Latency percentiles in milliseconds (n = samples). NaN-free: an empty set has n = 0 and nulls. */
export interface Percentiles {
  readonly n: number
  readonly p50: number | null
  readonly p90: number | null
  readonly p99: number | null
  readonly p999: number | null
  readonly max: number | null
}

export type System = 'gateway' | 'mosquitto' | 'node-floor'
export type WorkloadId = 'W1' | 'W2' | 'W3' | 'W4' | 'W5' | 'W6' | 'W7'

export interface Shape {
  readonly devices: number
  readonly qos: 0 | 1
  /** open: a fixed offered rate; closed: a fixed number of messages in flight per device. */
  readonly mode: 'open' | 'closed'
  /** Open loop: messages per second offered in all. */
  readonly offeredRate?: number
  /** Closed loop: messages in flight per device. */
  readonly window?: number
  readonly seconds: number
}

export interface Cell {
  readonly workload: WorkloadId
  /** Short label, e.g. "W2 5×", "W3 N=100". */
  readonly label: string
  readonly system: System
  readonly shape: Shape
  readonly sent: number
  /** PUBACKs received (QoS 1) or messages written (QoS 0) in the measured window. */
  readonly acked: number
  /** Acknowledged messages per second over the measured window. */
  readonly ackedRate: number
  /** Readings the gateway committed per second (its own counter); null for Mosquitto. */
  readonly committedRate: number | null
  /** Acknowledged but not in the journal (must be 0); null where not checked (Mosquitto stores nothing). */
  readonly lost: number | null
  /** Journal entries beyond the first for one device sequence number (QoS 1 resends). */
  readonly duplicates: number | null
  /** publish → PUBACK (for the gateway PUBACK means committed with fsync). */
  readonly puback: Percentiles
  /** publish → the rule's alert on the panel's live stream (gateway only, where rules ran). */
  readonly publishToRule: Percentiles | null
  /** CPU seconds the server process used per acknowledged message, in microseconds. */
  readonly cpuUsPerMsg: number | null
  /** Server CPU as % of one core over the window. */
  readonly cpuPct: number
  /** Server resident memory at the end of the window, MiB. */
  readonly rssMiB: number
  /** Gateway event-loop delay p99 (ms) from its /metrics, beyond the 10 ms sampling interval; null for Mosquitto. */
  readonly eventLoopP99Ms: number | null
  /** Journal commit time p99 (ms, histogram bound) from /metrics, null for Mosquitto. */
  readonly commitP99Ms: number | null
  readonly generator: {
    /** The load generator's CPU as % of one core. */
    readonly cpuPct: number
    /** True when the generator was busy > 90 % of a core: the figures may be the generator's limit. */
    readonly bottleneck: boolean
  }
  /** W6: API calls during this cell (latest readings, a series query, devices, alerts) at a fixed rate. */
  readonly api: (Percentiles & { readonly errors: number; readonly rate: number }) | null
  /** Workload-specific figures (W4 reconnect time, W5 backlog and catch-up rate, W7 refusals …). */
  readonly extra: Readonly<Record<string, number | string | boolean | null>>
  readonly notes: readonly string[]
}

export interface TargetCheck {
  readonly metric: string
  readonly target: string
  readonly measured: string
  /** null: not measurable in this run (a cell missing or skipped). */
  readonly met: boolean | null
}

export interface BenchResult {
  readonly startedAt: string
  readonly finishedAt: string
  readonly durationSeconds: number
  readonly options: Readonly<Record<string, string | number | boolean>>
  readonly context: {
    readonly cpuModel: string
    readonly cores: number
    readonly kernel: string
    readonly node: string
    readonly mosquitto: string
    readonly commit: string
    readonly tlsVersion: string
    readonly tlsCipher: string
    readonly sqliteSynchronous: string
  }
  readonly cells: readonly Cell[]
  readonly targets: readonly TargetCheck[]
}
