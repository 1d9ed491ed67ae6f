import { existsSync, readFileSync } from 'node:fs'
import { request } from 'node:https'
import { join } from 'node:path'
import { type StoreOverview, storeOverview } from '../store/overview.js'
import { PKI_DIR } from '../system/data-layout.js'
import type { HealthReport } from '../system/health.js'
import { runningDaemon } from '../system/instance-lock.js'
import type { RecentError } from '../system/recent-errors.js'
import { type CliContext, type CliIo, withStore } from './context.js'

interface Readiness extends HealthReport {
  readonly gateway?: { id: string; version: string; startedAt: string }
  readonly lastErrors?: readonly RecentError[]
}

export interface StatusReport {
  readonly dataDir: string
  readonly daemon: { readonly running: boolean; readonly pid: number | null; readonly since: string | null }
  readonly readiness: Readiness | null
  readonly readinessError: string | null
  readonly store: StoreOverview
}

/** `carehub status [--json]`: what runs, queue depths, last errors. Works with or without the daemon. */
export async function status(ctx: CliContext, io: CliIo, json: boolean): Promise<void> {
  const { config } = ctx
  const daemon = runningDaemon(config.dataDir)
  let readiness: Readiness | null = null
  let readinessError: string | null = null
  if (daemon) {
    try {
      readiness = await fetchReadiness(config.bind, config.http.port, join(config.dataDir, PKI_DIR, 'ca.crt'))
    } catch (err) {
      readinessError = (err as Error).message
    }
  }
  const store = await withStore(ctx, io.now(), storeOverview, { readOnly: true })
  const report: StatusReport = {
    dataDir: config.dataDir,
    daemon: { running: daemon !== null, pid: daemon?.pid ?? null, since: daemon ? new Date(daemon.startedAt).toISOString() : null },
    readiness,
    readinessError,
    store,
  }
  io.stdout(json ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report))
}

/** Ask the running daemon over loopback, trusting only the box's own CA. */
function fetchReadiness(bind: string, port: number, caPath: string): Promise<Readiness> {
  const host = bind === '0.0.0.0' ? '127.0.0.1' : bind === '::' ? '::1' : bind
  const ca = existsSync(caPath) ? readFileSync(caPath) : undefined
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/health/ready', ca, servername: 'localhost', timeout: 3000 }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
      })
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as Readiness)
        } catch {
          reject(new Error(`unexpected answer from https://${host}:${port}/health/ready (HTTP ${res.statusCode})`))
        }
      })
    })
    req.on('timeout', () => req.destroy(new Error(`no answer from https://${host}:${port}/health/ready within 3 s`)))
    req.on('error', reject)
    req.end()
  })
}

export function formatStatus(r: StatusReport): string {
  const lines: string[] = []
  const gw = r.readiness?.gateway
  if (r.daemon.running) {
    lines.push(
      `CareHub gateway ${gw?.id ?? ''} ${gw ? `v${gw.version} ` : ''}is running (pid ${r.daemon.pid}, since ${r.daemon.since})`.replace(/ +/g, ' '),
    )
  } else {
    lines.push('CareHub gateway is not running')
  }
  lines.push(`data folder: ${r.dataDir}`)
  if (r.readiness) {
    lines.push(`readiness: ${r.readiness.status}`)
    for (const [name, c] of Object.entries(r.readiness.checks)) {
      lines.push(`  ${name.padEnd(12)} ${c.status}${c.detail ? ` — ${c.detail}` : ''}${c.critical ? '' : ' (optional)'}`)
    }
  } else if (r.readinessError) {
    lines.push(`readiness: unknown — ${r.readinessError}`)
  }
  const s = r.store
  const users = Object.entries(s.users)
    .filter(([, n]) => n > 0)
    .map(([role, n]) => `${n} ${role}`)
  lines.push(
    `store: schema v${s.schemaVersion}; users: ${users.length ? users.join(', ') : 'none (add one: carehub user add)'}; devices: ${s.devices}`,
  )
  lines.push(`journal: last seq ${s.journal.lastSeq}`)
  lines.push(`queues: ${s.consumers.length ? s.consumers.map((c) => `${c.consumer} ${c.pending} pending`).join(', ') : 'no consumers yet'}`)
  const list = (o: Record<string, number>) =>
    Object.entries(o)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ') || 'none'
  lines.push(`rules: ${s.rules} enabled; alerts not resolved: ${list(s.alerts.unresolved)}; alert deliveries waiting: ${list(s.alerts.outbox)}`)
  lines.push(`dead letters: ${s.deadLetters.total}`)
  for (const d of s.deadLetters.last) lines.push(`  ${new Date(d.at).toISOString()} ${d.source}: ${d.reason}`)
  const errors = r.readiness?.lastErrors ?? []
  lines.push(`last errors: ${errors.length === 0 ? (r.daemon.running ? 'none' : 'unknown (not running)') : ''}`.trimEnd())
  for (const e of errors.slice(-5)) lines.push(`  ${e.at} ${e.module ?? '-'}: ${e.message}`)
  return `${lines.join('\n')}\n`
}
