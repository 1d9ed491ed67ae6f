// Percentiles and process figures (from /proc, so the server's own CPU is measured, not guessed).
import { readFileSync } from 'node:fs'
import type { Percentiles } from './result.js'

const round = (x: number) => (x >= 100 ? Math.round(x) : Math.round(x * 100) / 100)

export function percentiles(xs: readonly number[]): Percentiles {
  if (xs.length === 0) return { n: 0, p50: null, p90: null, p99: null, p999: null, max: null }
  const s = Float64Array.from(xs).sort()
  const q = (p: number) => round(s[Math.min(s.length - 1, Math.floor(p * s.length))] as number)
  return { n: s.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: round(s[s.length - 1] as number) }
}

const TICKS_PER_SECOND = 100 // USER_HZ on Linux

/** utime + stime of a process, in seconds (all its threads). */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND
  } catch {
    return Number.NaN // the process is gone (W4 kills the gateway): no CPU figure for that window
  }
}

/**
 * Bytes a process (all its threads) has caused to be written to storage (write_bytes of
 * /proc/<pid>/io, proc(5): counted when pages are dirtied), NaN once it is gone.
 */
export function writtenBytes(pid: number): number {
  try {
    return Number(/^write_bytes:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? Number.NaN)
  } catch {
    return Number.NaN
  }
}

export function rssMiB(pid: number): number {
  try {
    return Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024)
  } catch {
    return 0
  }
}

/** CPU and wall time over a window, for the server and for this (generator) process. */
export class Stopwatch {
  readonly #pid: number
  readonly #cpu0: number
  readonly #written0: number
  readonly #gen0 = process.cpuUsage()
  readonly #t0 = performance.now()

  constructor(pid: number) {
    this.#pid = pid
    this.#cpu0 = cpuSeconds(pid)
    this.#written0 = writtenBytes(pid)
  }

  read(): { seconds: number; serverCpuSeconds: number; serverCpuPct: number; generatorCpuPct: number; serverWrittenBytes: number } {
    const seconds = (performance.now() - this.#t0) / 1000
    const serverCpuSeconds = cpuSeconds(this.#pid) - this.#cpu0
    const serverWrittenBytes = writtenBytes(this.#pid) - this.#written0
    const gen = process.cpuUsage(this.#gen0)
    return {
      seconds,
      serverCpuSeconds,
      serverCpuPct: Math.round((serverCpuSeconds / seconds) * 100),
      generatorCpuPct: Math.round(((gen.user + gen.system) / 1e6 / seconds) * 100),
      serverWrittenBytes,
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
