import type { H3 } from 'h3'
import type { Pool, RowDataPacket } from 'mysql2/promise'
import { Counter, Gauge, Registry } from 'prom-client'
import { requireAdmin } from '../routes/admin.js'

/**
 * GET /metrics (Prometheus text, behind the admin token): requests by route and status, and what
 * the database says at scrape time — deliveries by status and channel, open alerts, boxes offline.
 * Every instance reports the same database figures; sum the request counters across instances.
 */
export function metricsRoutes(app: H3, deps: { pool: Pool; adminToken: string }): Counter<'method' | 'status'> {
  const registry = new Registry()
  const requests = new Counter({
    name: 'carehub_cloud_http_requests_total',
    help: 'Requests answered',
    labelNames: ['method', 'status'],
    registers: [registry],
  })
  const pool = deps.pool
  new Gauge({
    name: 'carehub_cloud_deliveries',
    help: 'Guardian notifications by status and channel',
    labelNames: ['status', 'kind'],
    registers: [registry],
    async collect() {
      const [rows] = await pool.query<RowDataPacket[]>('SELECT status, kind, count(*) AS n FROM deliveries GROUP BY status, kind')
      this.reset()
      for (const r of rows) this.set({ status: r.status, kind: r.kind }, Number(r.n))
    },
  })
  new Gauge({
    name: 'carehub_cloud_alerts_open',
    help: 'Alerts neither acknowledged nor resolved',
    registers: [registry],
    async collect() {
      const [rows] = await pool.query<RowDataPacket[]>("SELECT count(*) AS n FROM alerts WHERE status IN ('open', 'snoozed')")
      this.set(Number(rows[0]?.n ?? 0))
    },
  })
  new Gauge({
    name: 'carehub_cloud_gateways_offline',
    help: 'Gateways in an outage (no heartbeat)',
    registers: [registry],
    async collect() {
      const [rows] = await pool.query<RowDataPacket[]>('SELECT count(*) AS n FROM gateway_outages WHERE ended_at IS NULL')
      this.set(Number(rows[0]?.n ?? 0))
    },
  })
  app.get('/metrics', async (event) => {
    requireAdmin(event, deps.adminToken)
    return new Response(await registry.metrics(), { headers: { 'content-type': registry.contentType } })
  })
  return requests
}
