// Renders one bench result as GitHub-flavoured Markdown for the README and for PR descriptions.
// Everything comes from the BenchResult alone, so an old result JSON re-renders identically.

import type { BenchResult, Cell, Percentiles, System, TargetCheck } from '../lib/result.js'

const DASH = '–'
// A fixed locale: the report must not change with the machine's LANG.
const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })
const SYSTEM_ORDER: Record<System, number> = { gateway: 0, mosquitto: 1, 'node-floor': 2 }

/** Escapes text placed in a table cell or a bullet: `|` would split the cell, the rest would turn into emphasis or HTML. */
export function md(text: string): string {
  return text
    .replace(/\r?\n/g, ' ')
    .replace(/[\\`*_[\]<>|]/g, (c) => `\\${c}`)
    .trim()
}

function isNum(v: number | null | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v)
}

/** Rates and counts: integers with thousands separators. */
export function fmtInt(v: number | null | undefined): string {
  return isNum(v) ? intFmt.format(v) : DASH
}

/** Latencies: two decimals below 10 ms (sub-ms differences matter there), integers above. */
export function fmtMs(v: number | null | undefined): string {
  if (!isNum(v)) return DASH
  if (v === 0) return '0'
  // Below 0.01 two decimals would print 0.00, which reads as "free"; keep two significant digits instead.
  if (Math.abs(v) < 0.01) return String(Number(v.toPrecision(2)))
  return Math.abs(v) < 10 ? v.toFixed(2) : intFmt.format(v)
}

/** CPU µs/msg, CPU % and MiB: one decimal is all a reader compares, integers once it is noise. */
export function fmt1(v: number | null | undefined): string {
  if (!isNum(v)) return DASH
  return Math.abs(v) < 100 ? v.toFixed(1) : intFmt.format(v)
}

/** Free-form figures (extras): counts stay integers, others get more precision the smaller they are. */
export function fmtNum(v: number | null | undefined): string {
  if (!isNum(v)) return DASH
  const a = Math.abs(v)
  if (Number.isInteger(v) || a >= 100) return intFmt.format(v)
  return a < 10 ? v.toFixed(2) : v.toFixed(1)
}

function fmtRatio(num: number | null, den: number | null): string {
  if (!isNum(num) || !isNum(den) || den === 0) return DASH
  return `${(num / den).toFixed(2)}×`
}

/** UTC to the minute: runs are told apart by date, and the machine's time zone must not change the report. Shared with the chart. */
export function fmtDate(iso: string): string {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`
}

/** `align` has one letter per column, l, c or r: numbers are right-aligned so magnitudes line up. */
function table(head: readonly string[], rows: readonly (readonly string[])[], align: string): string {
  const rule = head.map((_, i) => (align[i] === 'r' ? '---:' : align[i] === 'c' ? ':---:' : '---'))
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`
  return [line(head), line(rule), ...rows.map(line)].join('\n')
}

function mode(c: Cell): string {
  const s = c.shape
  const m = s.mode === 'open' ? `open ${fmtInt(s.offeredRate)}/s` : `closed w=${fmtInt(s.window)}`
  // QoS 1 is the norm in this suite; only call out the exception.
  return s.qos === 0 ? `${m}, QoS 0` : m
}

function lostDup(c: Cell): string {
  if (c.lost === null && c.duplicates === null) return DASH
  // Any loss breaks the durability promise, so make it stand out.
  const lost = isNum(c.lost) && c.lost > 0 ? `**${fmtInt(c.lost)}**` : fmtInt(c.lost)
  return `${lost} / ${fmtInt(c.duplicates)}`
}

function generator(c: Cell): string {
  const pct = fmt1(c.generator.cpuPct)
  return c.generator.bottleneck ? `${pct} ⚠` : pct
}

function p(x: Percentiles | null, key: 'p50' | 'p90' | 'p99' | 'p999' | 'max'): number | null {
  return x && x.n > 0 ? x[key] : null
}

/** Groups by workload (W1…W7), then keeps the run's order of labels with the gateway row above Mosquitto's. */
function ordered(cells: readonly Cell[]): Map<string, Cell[]> {
  const labelOrder = new Map<string, number>()
  for (const c of cells) if (!labelOrder.has(c.label)) labelOrder.set(c.label, labelOrder.size)
  const sorted = [...cells].sort(
    (a, b) =>
      a.workload.localeCompare(b.workload, 'en', { numeric: true }) ||
      (labelOrder.get(a.label) ?? 0) - (labelOrder.get(b.label) ?? 0) ||
      SYSTEM_ORDER[a.system] - SYSTEM_ORDER[b.system],
  )
  const groups = new Map<string, Cell[]>()
  for (const c of sorted) groups.set(c.workload, [...(groups.get(c.workload) ?? []), c])
  return groups
}

function contextLine(r: BenchResult): string {
  const c = r.context
  const parts = [
    `CPU ${c.cpuModel} (${c.cores} cores)`,
    `kernel ${c.kernel}`,
    `Node ${c.node}`,
    `Mosquitto ${c.mosquitto}`,
    `TLS ${c.tlsVersion} ${c.tlsCipher}`,
    `SQLite synchronous=${c.sqliteSynchronous}`,
    `commit ${c.commit}`,
  ]
  return parts.map(md).join(' · ')
}

function optionsLine(r: BenchResult): string {
  const opts = Object.entries(r.options).map(([k, v]) => `${k}=${String(v)}`)
  const took = `${fmtInt(r.durationSeconds)} s`
  return md(opts.length > 0 ? `Run took ${took}; options: ${opts.join(', ')}` : `Run took ${took}`)
}

function targetsSection(targets: readonly TargetCheck[]): string {
  if (targets.length === 0) return '_No targets were checked in this run._'
  const met = (m: boolean | null) => (m === null ? DASH : m ? '✅' : '❌')
  return table(
    ['Metric', 'Target', 'Measured', 'Met'],
    targets.map((t) => [md(t.metric), md(t.target), md(t.measured), met(t.met)]),
    'lllc',
  )
}

// One entry per column, title beside its value, so a column cannot drift out of step with its header.
const WORKLOAD_COLUMNS: readonly (readonly [title: string, align: 'l' | 'r', value: (c: Cell) => string])[] = [
  ['Label', 'l', (c) => md(c.label)],
  ['System', 'l', (c) => c.system],
  ['Devices', 'r', (c) => fmtInt(c.shape.devices)],
  ['Mode', 'l', (c) => md(mode(c))],
  ['Acked msg/s', 'r', (c) => fmtInt(c.ackedRate)],
  ['Committed msg/s', 'r', (c) => fmtInt(c.committedRate)],
  ['PUBACK p50 ms', 'r', (c) => fmtMs(p(c.puback, 'p50'))],
  ['p99 ms', 'r', (c) => fmtMs(p(c.puback, 'p99'))],
  ['p99.9 ms', 'r', (c) => fmtMs(p(c.puback, 'p999'))],
  ['max ms', 'r', (c) => fmtMs(p(c.puback, 'max'))],
  ['Publish→rule p99 ms', 'r', (c) => fmtMs(p(c.publishToRule, 'p99'))],
  ['CPU µs/msg', 'r', (c) => fmt1(c.cpuUsPerMsg)],
  ['CPU %', 'r', (c) => fmt1(c.cpuPct)],
  ['RSS MiB', 'r', (c) => fmt1(c.rssMiB)],
  ['Event loop p99 ms', 'r', (c) => fmtMs(c.eventLoopP99Ms)],
  ['Lost / dup', 'r', lostDup],
  ['Generator CPU %', 'r', generator],
]

/** What each workload is, so the report reads on its own (issue 9's definitions). */
const WORKLOADS: Readonly<Record<string, string>> = {
  W1: 'design point — 100 devices × 10 msg/s, QoS 1, open loop',
  W2: 'overload — 5× and 10× W1, open loop: where latency bends',
  W3: 'saturation — closed loop, 10 in flight per device, N = 1 / 10 / 100 / 1,000 devices',
  W4: 'reconnect storm under W1, then the gateway killed (SIGKILL) and restarted under W1',
  W5: 'time-series sink down under W1, then back: queue growth, catch-up, API latency',
  W7: 'hostile traffic beside W1: invalid JSON, wrong topics, oversized packets, a frozen subscriber',
}

function workloadSection(workload: string, cells: readonly Cell[]): string {
  const head = WORKLOAD_COLUMNS.map(([title]) => title)
  const rows = cells.map((c) => WORKLOAD_COLUMNS.map(([, , value]) => value(c)))
  const align = WORKLOAD_COLUMNS.map(([, a]) => a).join('')
  const title = WORKLOADS[workload] ? `${workload} ${WORKLOADS[workload]}` : workload
  return `### ${md(title)}\n\n${table(head, rows, align)}`
}

function comparisonSection(groups: Map<string, Cell[]>): string {
  const rows: string[][] = []
  for (const [workload, cells] of groups) {
    const labels = [...new Set(cells.map((c) => c.label))]
    for (const label of labels) {
      const gw = cells.find((c) => c.label === label && c.system === 'gateway')
      const mq = cells.find((c) => c.label === label && c.system === 'mosquitto')
      if (!gw || !mq) continue
      rows.push([
        md(workload),
        md(label),
        fmtRatio(gw.cpuUsPerMsg, mq.cpuUsPerMsg),
        fmtRatio(gw.ackedRate, mq.ackedRate),
        fmtMs(p(gw.puback, 'p99')),
        fmtMs(p(mq.puback, 'p99')),
      ])
    }
  }
  if (rows.length === 0) return '_No workload ran against both systems._'
  const head = [
    'Workload',
    'Label',
    'CPU µs/msg gateway ÷ Mosquitto',
    'Acked msg/s gateway ÷ Mosquitto',
    'PUBACK p99 gateway ms',
    'PUBACK p99 Mosquitto ms',
  ]
  return `${table(head, rows, 'llrrrr')}\n\n_A CPU ratio above 1 means the gateway spends more CPU per message; a throughput ratio below 1 means it acknowledged fewer._`
}

function apiSection(cells: readonly Cell[]): string {
  const rows = cells.flatMap((c) => {
    const a = c.system === 'gateway' ? c.api : null
    if (!a) return []
    return [
      [md(c.label), fmtInt(a.rate), fmtInt(a.n), fmtInt(a.errors), fmtMs(p(a, 'p50')), fmtMs(p(a, 'p90')), fmtMs(p(a, 'p99')), fmtMs(p(a, 'max'))],
    ]
  })
  if (rows.length === 0) return '_No API load was applied in this run._'
  return table(['Cell', 'Rate req/s', 'n', 'Errors', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'], rows, 'lrrrrrrr')
}

function extraValue(v: number | string | boolean | null): string {
  if (v === null) return DASH
  if (typeof v === 'number') return fmtNum(v)
  return md(String(v))
}

function extrasSection(cells: readonly Cell[]): string {
  // Cells with notes but no extras are listed too: a note (e.g. why a cell was cut short) must not vanish.
  const lines: string[] = []
  for (const c of cells) {
    const extras = Object.entries(c.extra)
    if (extras.length === 0 && c.notes.length === 0) continue
    const kv = extras.map(([k, v]) => `${md(k)} = ${extraValue(v)}`).join(', ')
    lines.push(`- **${md(c.label)}** (${c.system})${kv ? `: ${kv}` : ''}`)
    for (const n of c.notes) lines.push(`  - ${md(n)}`)
  }
  return lines.length > 0 ? lines.join('\n') : '_No workload-specific figures in this run._'
}

export function renderMarkdown(r: BenchResult): string {
  const groups = ordered(r.cells)
  const sorted = [...groups.values()].flat()
  const parts = [
    `# CareHub benchmark — ${fmtDate(r.startedAt)}`,
    contextLine(r),
    optionsLine(r),
    '## Targets',
    targetsSection(r.targets),
    '## Per workload',
    ...(groups.size > 0 ? [...groups].map(([w, cells]) => workloadSection(w, cells)) : ['_No cells in this run._']),
    '## Gateway vs Mosquitto',
    comparisonSection(groups),
    '## API under load (W6)',
    apiSection(sorted),
    '## Workload extras',
    extrasSection(sorted),
  ]
  return `${parts.join('\n\n')}\n`
}
