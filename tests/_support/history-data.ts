import type { FieldValue, Reading } from '../../gateway/src/core/reading.js'
import type { Gateway } from '../../gateway/src/gateway.js'
import { parsePrometheus } from './prometheus.js'

/** A climate reading of a virtual device, for tests that feed the journal directly. */
export function reading(deviceId: string, measurement: string, fields: Record<string, FieldValue>, ts: number): Reading {
  return { deviceId, measurement, fields, tags: {}, ts, tsFromReceipt: false, receivedAt: Date.now(), source: 'virtual' }
}

/**
 * Readings i ∈ [from, to) for `devices` devices, one every second from `t0`, with values derived
 * from i so any point can be checked: temp_c = 15 + (i % 1000) / 100, humid_pct = i % 100.
 * Submitted through the journal committer (the path MQTT ingest takes after parsing).
 */
export async function submitClimate(gateway: Gateway, t0: number, from: number, to: number, devices = 2): Promise<number> {
  const pending: Promise<number | null>[] = []
  for (let i = from; i < to; i++) {
    const device = `dev${i % devices}`
    pending.push(
      gateway.journal.submit({ reading: reading(device, 'climate', { temp_c: 15 + (i % 1000) / 100, humid_pct: i % 100 }, t0 + i * 1000) }),
    )
  }
  const seqs = await Promise.all(pending)
  return Math.max(...seqs.map((s) => s ?? 0))
}

export const expectedTemp = (i: number) => 15 + (i % 1000) / 100

export async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** One sample of the gateway's own /metrics, read in-process through its registry. */
export async function metricValue(gateway: Gateway, name: string, labels: Record<string, string> = {}): Promise<number> {
  const family = parsePrometheus(await gateway.metrics.registry.metrics()).find((f) => f.name === name)
  const sample = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
  return sample?.value === undefined ? Number.NaN : Number(sample.value)
}
