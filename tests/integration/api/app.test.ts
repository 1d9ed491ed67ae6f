import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { buildApp } from '../../../gateway/src/api/app.js'
import { AuthService } from '../../../gateway/src/auth/auth-service.js'
import { ConfigSchema } from '../../../gateway/src/config/schema.js'
import { CarehubError } from '../../../gateway/src/core/errors.js'
import type { HealthCheck } from '../../../gateway/src/core/service.js'
import { RuleSet } from '../../../gateway/src/rules/rule-set.js'
import { openStore } from '../../../gateway/src/store/open.js'
import { openRollupDb } from '../../../gateway/src/store/rollup-db.js'
import { HealthRegistry } from '../../../gateway/src/system/health.js'
import { Metrics } from '../../../gateway/src/system/metrics.js'
import { RecentErrors } from '../../../gateway/src/system/recent-errors.js'
import { RecentLogs } from '../../../gateway/src/system/recent-logs.js'
import { captureLogger } from '../../_support/log-capture.js'
import { parsePrometheus } from '../../_support/prometheus.js'
import { tempDir } from '../../_support/temp.js'

/** A request as if it came from a loopback socket (h3 reads the client address from req.ip). */
function fromLoopback(path: string, init?: RequestInit): Request {
  const req = new Request(`http://localhost${path}`, init)
  Object.defineProperty(req, 'ip', { value: '127.0.0.1' })
  return req
}

function setup(options: { checks?: HealthCheck[] } = {}) {
  const { log, lines } = captureLogger()
  const dir = tempDir()
  const db = openStore({ path: join(dir, 'api.db'), log, now: Date.parse('2026-11-27T10:00:00Z'), checkIntegrity: false })
  const rollupDb = openRollupDb({
    path: join(dir, 'rollups.db'),
    journalPath: join(dir, 'api.db'),
    log,
    now: Date.parse('2026-11-27T10:00:00Z'),
    checkIntegrity: false,
  })
  const health = new HealthRegistry()
  for (const c of options.checks ?? [{ name: 'store', critical: true, check: () => ({ status: 'ok' as const }) }]) health.add(c)
  const metrics = new Metrics({})
  const app = buildApp({
    log,
    clock: { now: () => Date.parse('2026-11-27T10:00:30Z') },
    metrics,
    health,
    version: '9.9.9',
    startedAt: Date.parse('2026-11-27T10:00:00Z'),
    bodyLimitBytes: 4096,
    recentErrors: new RecentErrors(),
    gatewayId: () => 'gw-test',
    devices: { db: () => db, isSilent: () => false, clock: { now: () => Date.now() } },
    commands: () => {
      throw new Error('no device commands in this test')
    },
    ingestHa: {
      guard: () => {
        throw new Error('no webhook in this test')
      },
      ingest: () => {
        throw new Error('no webhook in this test')
      },
      maxStates: 10,
    },
    telemetry: { db: () => db, rollupDb: () => rollupDb, clock: { now: () => Date.now() }, history: ConfigSchema.parse({}).history, timeZone: 'UTC' },
    automations: {
      db: () => db,
      clock: { now: () => Date.now() },
      rules: () => new RuleSet(),
      reload: () => {},
      env: () => ({ timeZone: 'UTC', roomOf: () => null, devicesIn: () => [] }),
    },
    alerts: {
      db: () => db,
      clock: { now: () => Date.now() },
      announce: () => {},
      subscribe: () => () => {},
      streams: new Set(),
      reauthenticate: async () => {},
      heartbeatMs: 15_000,
    },
    // Never started: these tests send no tokens (tests/integration/api/auth.test.ts covers sign-in).
    auth: new AuthService({
      db: () => db,
      secrets: () => {
        throw new Error('no secrets in this test')
      },
      keyPath: '',
      issuer: () => 'carehub:gw-test',
      clock: { now: () => Date.now() },
      log,
      settings: { accessTtlMs: 600_000, refreshTtlMs: 86_400_000, sessionMaxMs: 86_400_000, graceMs: 10_000 },
      clockTrusted: () => true,
    }),
    recentLogs: new RecentLogs(),
    apiRateLimit: { burst: 100, perSecond: 10 },
  })
  return { app, lines, metrics, db }
}

describe('GET /health', () => {
  test('answers 200 with version and uptime, no auth', async () => {
    const { app } = setup()
    const res = await app.request('/health')
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), { status: 'ok', version: '9.9.9', uptimeSeconds: 30 })
  })
})

describe('GET /health/ready', () => {
  test('200 when every check is ok', async () => {
    const { app } = setup()
    const res = await app.request('/health/ready')
    assert.equal(res.status, 200)
    const body = (await res.json()) as { status: string; checks: Record<string, { status: string }>; lastErrors?: unknown }
    assert.equal(body.status, 'ok')
    assert.equal(body.checks.store?.status, 'ok')
    assert.equal(body.lastErrors, undefined, 'non-loopback callers do not see error lines')
  })

  test('503 when a critical part is down, with its reason', async () => {
    const { app } = setup({
      checks: [
        { name: 'store', critical: true, check: () => ({ status: 'down', detail: 'not open' }) },
        { name: 'influx', critical: false, check: () => ({ status: 'ok' }) },
      ],
    })
    const res = await app.request('/health/ready')
    assert.equal(res.status, 503)
    const body = (await res.json()) as { status: string; checks: Record<string, { status: string; detail?: string }> }
    assert.equal(body.status, 'down')
    assert.equal(body.checks.store?.detail, 'not open')
  })

  test('200 "degraded" when only an optional upstream is down (degrade, do not die)', async () => {
    const { app } = setup({
      checks: [
        { name: 'store', critical: true, check: () => ({ status: 'ok' }) },
        { name: 'influx', critical: false, check: () => ({ status: 'down', detail: 'connection refused' }) },
      ],
    })
    const res = await app.request('/health/ready')
    assert.equal(res.status, 200)
    assert.equal(((await res.json()) as { status: string }).status, 'degraded')
  })

  test('a check that throws counts as down', async () => {
    const { app } = setup({
      checks: [
        {
          name: 'store',
          critical: true,
          check: () => {
            throw new Error('database is locked')
          },
        },
      ],
    })
    const res = await app.request('/health/ready')
    assert.equal(res.status, 503)
    assert.match(JSON.stringify(await res.json()), /database is locked/)
  })
})

describe('request ids, errors and access log', () => {
  test('every response carries a request id, generated or echoed when safe', async () => {
    const { app } = setup()
    const generated = (await app.request('/health')).headers.get('x-request-id')
    assert.match(generated ?? '', /^[0-9a-f-]{36}$/)
    const echoed = await app.request('/health', { headers: { 'x-request-id': 'panel-42.a' } })
    assert.equal(echoed.headers.get('x-request-id'), 'panel-42.a')
    const unsafe = await app.request('/health', { headers: { 'x-request-id': 'evil\u0007 id with spaces' } })
    assert.match(unsafe.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/)
  })

  test('404 is problem+json with the stable code and the same request id as the header', async () => {
    const { app } = setup()
    const res = await app.request('/no/such/thing')
    assert.equal(res.status, 404)
    assert.equal(res.headers.get('content-type'), 'application/problem+json')
    const body = (await res.json()) as { code: string; requestId: string; status: number }
    assert.equal(body.code, 'CAREHUB_ERR_NOT_FOUND')
    assert.equal(body.status, 404)
    assert.equal(body.requestId, res.headers.get('x-request-id'))
  })

  test('catalogue errors map to their HTTP status; 5xx details stay in the log', async () => {
    const { app, lines } = setup()
    app.get('/conflict', () => {
      throw new CarehubError('CAREHUB_ERR_CONFLICT', 'a user named "alice" already exists')
    })
    app.get('/boom', () => {
      throw new Error('secret internals: /var/lib/x')
    })
    const conflict = await app.request('/conflict')
    assert.equal(conflict.status, 409)
    const c = (await conflict.json()) as { code: string; detail: string }
    assert.equal(c.code, 'CAREHUB_ERR_CONFLICT')
    assert.match(c.detail, /alice/)

    const boom = await app.request('/boom')
    assert.equal(boom.status, 500)
    const b = (await boom.json()) as { code: string; detail: string; requestId: string }
    assert.equal(b.code, 'CAREHUB_ERR_INTERNAL')
    assert.doesNotMatch(b.detail, /secret internals/)
    const logged = lines().find((l) => l.msg === 'request error' && l.reqId === b.requestId)
    assert.ok(logged, 'the error is logged with the request id')
    assert.match(JSON.stringify(logged), /secret internals/)
  })

  test('one access-log line per request with id, route and status', async () => {
    const { app, lines } = setup()
    const res = await app.request('/health')
    const id = res.headers.get('x-request-id')
    const line = lines().find((l) => l.msg === 'request' && l.reqId === id)
    assert.ok(line)
    assert.equal(line.route, '/health')
    assert.equal(line.status, 200)
    assert.equal(line.module, undefined)
  })

  test('a body larger than the limit is refused with 413 before a handler reads it', async () => {
    const { app } = setup()
    const res = await app.request('/health', { method: 'POST', body: 'x'.repeat(5000), headers: { 'content-length': '5000' } })
    assert.equal(res.status, 413)
  })
})

describe('GET /metrics', () => {
  test('a non-loopback caller without a token is asked to sign in (401, WWW-Authenticate: Bearer)', async () => {
    const { app } = setup()
    const res = await app.request('/metrics')
    assert.equal(res.status, 401)
    assert.equal(res.headers.get('www-authenticate'), 'Bearer')
    assert.match(((await res.json()) as { detail: string }).detail, /Authorization: Bearer/)
  })

  test('Prometheus text that an independent parser reads, with process, event-loop and HTTP metrics', async () => {
    const { app } = setup()
    await app.request('/health')
    const res = await app.request(fromLoopback('/metrics'))
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
    const text = await res.text()
    const families = parsePrometheus(text)
    const byName = new Map(families.map((f) => [f.name, f]))
    assert.ok(byName.has('process_resident_memory_bytes'))
    assert.ok(byName.has('nodejs_eventloop_lag_p99_seconds'))
    const http = byName.get('carehub_http_request_duration_seconds')
    assert.equal(http?.type, 'HISTOGRAM')
    // The parser drops histogram labels when `le` comes first (prom-client's order), so read the count line itself.
    assert.match(text, /^carehub_http_request_duration_seconds_count\{method="GET",route="\/health",status="200"\} 1$/m)
  })
})
