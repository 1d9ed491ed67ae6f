// Issue 9's targets, checked against the cells of one run (this 2-core machine, QoS 1, mTLS,
// 100 devices unless said). A target whose cell did not run is reported as not measured (null).
import type { Cell, TargetCheck } from './result.js'

const find = (cells: readonly Cell[], label: string, system: Cell['system'] = 'gateway') =>
  cells.find((c) => c.label === label && c.system === system)

const fmt = (x: number | null | undefined, unit: string) => (x === null || x === undefined ? '–' : `${x.toLocaleString('en-US')} ${unit}`)

export function checkTargets(cells: readonly Cell[]): TargetCheck[] {
  const out: TargetCheck[] = []
  const add = (metric: string, target: string, measured: string, met: boolean | null) => out.push({ metric, target, measured, met })

  const w3 = find(cells, 'W3 N=100')
  add(
    'durable ingest ceiling (W3 N=100, PUBACK after the fsync’d commit)',
    '≥ 20,000 msg/s',
    fmt(w3?.ackedRate, 'msg/s'),
    w3 ? w3.ackedRate >= 20_000 : null,
  )

  const w1 = find(cells, 'W1 design point')
  const p99 = w1?.puback.p99 ?? null
  add('W1 PUBACK p99 (durable)', '≤ 5 ms', fmt(p99, 'ms'), p99 === null ? null : p99 <= 5)

  const m1 = find(cells, 'W1 design point', 'mosquitto')
  const ratio = w1?.cpuUsPerMsg && m1?.cpuUsPerMsg ? Math.round((w1.cpuUsPerMsg / m1.cpuUsPerMsg) * 100) / 100 : null
  // The floor: a bare Node TLS server that only acknowledges, same load (node-floor.ts).
  const f1 = find(cells, 'W1 design point', 'node-floor')
  const floor =
    f1?.cpuUsPerMsg && m1?.cpuUsPerMsg
      ? `; bare Node TLS floor ${f1.cpuUsPerMsg} µs = ${Math.round((f1.cpuUsPerMsg / m1.cpuUsPerMsg) * 100) / 100}×`
      : ''
  add(
    'W1 CPU per message vs Mosquitto',
    '≤ 1.5×',
    ratio === null ? '–' : `${ratio}× (${w1?.cpuUsPerMsg} vs ${m1?.cpuUsPerMsg} µs/msg${floor})`,
    ratio === null ? null : ratio <= 1.5,
  )

  const w3api = w3?.api?.p99 ?? null
  const worstW3 = Math.max(...cells.filter((c) => c.workload === 'W3' && c.api?.p99 != null).map((c) => c.api?.p99 as number))
  add(
    'API p99 during W3 saturation (N=100; worst N in brackets)',
    '≤ 50 ms',
    w3api === null ? '–' : `${w3api} ms (${Number.isFinite(worstW3) ? worstW3 : '–'} ms)`,
    w3api === null ? null : w3api <= 50,
  )

  const catchUp = find(cells, 'W5 catch-up')
  const rate = typeof catchUp?.extra.catchUpPointsPerSecond === 'number' ? catchUp.extra.catchUpPointsPerSecond : null
  add('W5 catch-up rate', '≥ 50,000 points/s', fmt(rate, 'points/s'), rate === null ? null : rate >= 50_000)
  const apiCatch = catchUp?.api?.p99 ?? null
  const apiW1 = find(cells, 'W1 + API + alerts')?.api?.p99 ?? null
  // "Unchanged": within 2× or 10 ms of W1's, whichever is more lenient (p99 of ~1,000 calls is noisy).
  add(
    'API p99 during W5 catch-up vs W1',
    'unchanged (≤ max(2 × W1, W1 + 10 ms))',
    `${fmt(apiCatch, 'ms')} vs ${fmt(apiW1, 'ms')}`,
    apiCatch === null || apiW1 === null ? null : apiCatch <= Math.max(2 * apiW1, apiW1 + 10),
  )

  const w1Busy = find(cells, 'W1 + API + alerts')
  const rule = w1Busy?.publishToRule?.p99 ?? null
  add('publish → rule action p99 at W1 (alert on the panel stream)', '≤ 10 ms', fmt(rule, 'ms'), rule === null ? null : rule <= 10)

  const home = find(cells, 'W3 N=1000 at 0.1 msg/s')
  const n1000 = find(cells, 'W3 N=1000')
  add(
    'RSS with 1,000 connected devices (at 0.1 msg/s each; under W3 saturation in brackets)',
    '≤ 120 MB',
    home ? `${home.rssMiB} MiB (${n1000?.rssMiB ?? '–'} MiB)` : '–',
    home ? home.rssMiB * 1.048576 <= 120 : null, // MiB → MB
  )

  const checked = cells.filter((c) => c.system === 'gateway' && c.lost !== null)
  const lost = checked.reduce((n, c) => n + (c.lost ?? 0), 0)
  add('acknowledged readings lost (every gateway cell, incl. SIGKILL)', '0', `${lost} in ${checked.length} cells`, checked.length ? lost === 0 : null)
  return out
}
