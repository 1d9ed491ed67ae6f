// "Latency vs load" chart of a bench result: hand-built SVG (no chart library to keep in step with),
// rasterised to PNG with resvg so the README can show it without a browser.

import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import type { BenchResult, Cell, System } from '../lib/result.js'
import { fmtDate } from './markdown.js'

const W = 960
const H = 540
const PLOT = { left: 80, top: 80, right: 730, bottom: 460 }
const FONT = 'DejaVu Sans, sans-serif'
// Log scale bounds: 0.1 ms is below any fsync'd PUBACK, 10 s is where a run has clearly failed.
const Y_MIN = 0.1
const Y_MAX = 10_000
const DECADES = Math.log10(Y_MAX / Y_MIN)
// Colour-blind-safe pair (Okabe–Ito blue and vermillion).
const COLOUR: Record<System, string> = { gateway: '#0072B2', mosquitto: '#D55E00', 'node-floor': '#009E73' }
const NAME: Record<System, string> = { gateway: 'Gateway', mosquitto: 'Mosquitto', 'node-floor': 'Bare Node TLS' }
// The latency-vs-load story is told by the steady-load workloads; W4–W7 measure other things.
const WORKLOADS = new Set(['W1', 'W2', 'W3'])
// TargetCheck carries the target only as text, so the reference lines are fixed here.
const REFERENCE_LINES = [{ ms: 5, label: 'W1 target: PUBACK p99 ≤ 5 ms' }]

type Stat = 'p50' | 'p99'
interface Series {
  readonly system: System
  readonly stat: Stat
  readonly points: readonly (readonly [number, number])[]
}

const tickFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 })

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

function num(v: number): string {
  return (Math.round(v * 10) / 10).toString()
}

/** Smallest 1/2/2.5/5 × 10^k step giving at most ~6 intervals, so the ticks are round numbers. */
function niceStep(max: number): number {
  const raw = max / 6
  const mag = 10 ** Math.floor(Math.log10(raw))
  const norm = raw / mag
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag
}

/** The latency-vs-load curve: W1 and W2, the same 100 devices at 1×, 5×, 10× the design rate (open loop). */
const onCurve = (c: Cell) =>
  c.shape.mode === 'open' && c.shape.devices === 100 && (c.workload === 'W1' || c.workload === 'W2') && !c.label.includes('+')

function seriesOf(cells: readonly Cell[], pick: (c: Cell) => boolean = onCurve): Series[] {
  const out: Series[] = []
  for (const system of ['gateway', 'mosquitto'] as const) {
    for (const stat of ['p50', 'p99'] as const) {
      const points = cells
        .filter((c) => c.system === system && WORKLOADS.has(c.workload) && c.puback.n > 0 && pick(c))
        .map((c) => [c.ackedRate, c.puback[stat]] as const)
        // null or 0 cannot be placed on a log axis, and a 0 msg/s cell carries no load information.
        .filter((pt): pt is readonly [number, number] => Number.isFinite(pt[0]) && pt[0] > 0 && typeof pt[1] === 'number' && pt[1] > 0)
        .sort((a, b) => a[0] - b[0])
      out.push({ system, stat, points })
    }
  }
  return out
}

export function renderChartSvg(r: BenchResult): string {
  const series = seriesOf(r.cells)
  // W3's closed-loop cells are points of their own (a ceiling each, not a point on the curve).
  const saturation = r.cells.filter((c) => c.workload === 'W3' && c.shape.mode === 'closed' && c.puback.p99 !== null && c.ackedRate > 0)
  const maxX = Math.max(0, ...series.flatMap((s) => s.points.map((pt) => pt[0])), ...saturation.map((c) => c.ackedRate))
  // 5 % headroom so the right-most point does not sit on the frame; an empty chart still gets a sane axis.
  const span = maxX > 0 ? maxX * 1.05 : 1000
  const step = niceStep(span)
  const xMax = Math.ceil(span / step) * step
  const pw = PLOT.right - PLOT.left
  const ph = PLOT.bottom - PLOT.top
  const sx = (x: number) => PLOT.left + (x / xMax) * pw
  // Values outside 0.1…10,000 ms are pinned to the edge rather than dropped, so an outlier still shows.
  const sy = (ms: number) => PLOT.bottom - (Math.log10(Math.min(Y_MAX, Math.max(Y_MIN, ms)) / Y_MIN) / DECADES) * ph

  const o: string[] = []
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${FONT}">`)
  o.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`)
  o.push(`<text x="${PLOT.left}" y="32" font-size="20" font-weight="bold" fill="#222">PUBACK latency vs load (QoS 1, mTLS)</text>`)
  o.push(`<text x="${PLOT.left}" y="56" font-size="13" fill="#555">${esc(`${r.context.cpuModel} · ${fmtDate(r.startedAt)}`)}</text>`)

  // Gridlines first so data draws over them: minor (2…9) per decade faint, decades stronger and labelled.
  for (let d = 0; d <= DECADES; d++) {
    const v = Y_MIN * 10 ** d
    const y = num(sy(v))
    o.push(`<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${y}" y2="${y}" stroke="#c8c8c8"/>`)
    o.push(`<text x="${PLOT.left - 8}" y="${y}" dy="4" font-size="12" text-anchor="end" fill="#333">${tickFmt.format(v)}</text>`)
    for (let m = 2; m <= 9 && d < DECADES; m++) {
      const ym = num(sy(v * m))
      o.push(`<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${ym}" y2="${ym}" stroke="#eeeeee"/>`)
    }
  }
  for (let x = 0; x <= xMax + step / 2; x += step) {
    const px = num(sx(x))
    o.push(`<line x1="${px}" x2="${px}" y1="${PLOT.top}" y2="${PLOT.bottom}" stroke="#eeeeee"/>`)
    o.push(`<text x="${px}" y="${PLOT.bottom + 20}" font-size="12" text-anchor="middle" fill="#333">${tickFmt.format(x)}</text>`)
  }
  o.push(`<rect x="${PLOT.left}" y="${PLOT.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`)
  o.push(
    `<text x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 46}" font-size="14" text-anchor="middle" fill="#222">Acknowledged messages per second</text>`,
  )
  const yMid = (PLOT.top + PLOT.bottom) / 2
  o.push(
    `<text x="24" y="${yMid}" font-size="14" text-anchor="middle" fill="#222" transform="rotate(-90 24 ${yMid})">PUBACK latency (ms, log scale)</text>`,
  )

  // The label gets a white halo so a data line running through it stays readable.
  for (const ref of REFERENCE_LINES) {
    const y = num(sy(ref.ms))
    o.push(`<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${y}" y2="${y}" stroke="#2e7d32" stroke-width="1.5" stroke-dasharray="2 3"/>`)
    o.push(
      `<text x="${PLOT.right - 6}" y="${y}" dy="-5" font-size="12" text-anchor="end" fill="#2e7d32" stroke="#ffffff" stroke-width="3" paint-order="stroke">${esc(ref.label)}</text>`,
    )
  }

  for (const s of series) {
    if (s.points.length === 0) continue
    const colour = COLOUR[s.system]
    const dash = s.stat === 'p99' ? ' stroke-dasharray="7 4"' : ''
    const pts = s.points.map(([x, y]) => `${num(sx(x))},${num(sy(y))}`).join(' ')
    o.push(`<polyline points="${pts}" fill="none" stroke="${colour}" stroke-width="2"${dash}/>`)
    // p50 markers filled, p99 hollow: the two stay distinguishable where the lines cross.
    const fill = s.stat === 'p50' ? colour : '#ffffff'
    for (const [x, y] of s.points) {
      o.push(`<circle cx="${num(sx(x))}" cy="${num(sy(y))}" r="3.5" fill="${fill}" stroke="${colour}" stroke-width="1.5"/>`)
    }
  }
  for (const c of saturation) {
    const colour = COLOUR[c.system]
    const x = num(sx(c.ackedRate))
    const y = sy(c.puback.p99 as number)
    o.push(`<rect x="${num(Number(x) - 4)}" y="${num(y - 4)}" width="8" height="8" fill="#ffffff" stroke="${colour}" stroke-width="1.5"/>`)
    o.push(`<text x="${num(Number(x) + 7)}" y="${num(y + 4)}" font-size="10" fill="${colour}" font-family="${FONT}">N=${c.shape.devices}</text>`)
  }
  if (series.every((s) => s.points.length === 0)) {
    o.push(
      `<text x="${(PLOT.left + PLOT.right) / 2}" y="${yMid}" font-size="16" text-anchor="middle" fill="#888">No W1–W3 cells with PUBACK latencies in this result</text>`,
    )
  }

  // Legend to the right of the plot, outside it, so it never hides data.
  const lx = PLOT.right + 24
  series.forEach((s, i) => {
    const y = PLOT.top + 14 + i * 24
    const colour = COLOUR[s.system]
    const dash = s.stat === 'p99' ? ' stroke-dasharray="7 4"' : ''
    const fill = s.stat === 'p50' ? colour : '#ffffff'
    o.push(`<line x1="${lx}" x2="${lx + 32}" y1="${y}" y2="${y}" stroke="${colour}" stroke-width="2"${dash}/>`)
    o.push(`<circle cx="${lx + 16}" cy="${y}" r="3.5" fill="${fill}" stroke="${colour}" stroke-width="1.5"/>`)
    o.push(`<text x="${lx + 40}" y="${y}" dy="4" font-size="13" fill="#222">${NAME[s.system]} ${s.stat}</text>`)
  })
  o.push(`<text x="${lx}" y="${PLOT.top + 14 + series.length * 24 + 8}" font-size="11" fill="#666">Lines: W1, W2 at 1×, 5×, 10×</text>`)
  o.push(`<text x="${lx}" y="${PLOT.top + 14 + series.length * 24 + 24}" font-size="11" fill="#666">□ W3 closed loop, p99</text>`)
  o.push('</svg>')
  return `${o.join('\n')}\n`
}

// Debian's fonts-dejavu-core puts them here; named explicitly so the PNG does not depend on fontconfig's pick.
const DEJAVU = ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf']

export async function writeChartPng(r: BenchResult, path: string): Promise<void> {
  // Imported lazily: resvg is a native addon, and the SVG/Markdown side must keep working where it is missing.
  const { renderAsync } = await import('@resvg/resvg-js')
  const image = await renderAsync(renderChartSvg(r), {
    background: '#ffffff',
    fitTo: { mode: 'original' },
    font: {
      fontFiles: DEJAVU.filter((f) => existsSync(f)),
      // Without DejaVu (fonts-dejavu-core not installed) fall back to whatever sans the system has.
      loadSystemFonts: true,
      defaultFontFamily: 'DejaVu Sans',
      sansSerifFamily: 'DejaVu Sans',
    },
  })
  await writeFile(path, image.asPng())
}
