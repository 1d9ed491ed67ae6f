import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readdirSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import type { H3 } from 'h3'
import type { Pool, RowDataPacket } from 'mysql2/promise'
import pino from 'pino'
import { CredentialBox } from '../../../cloud-sync/src/crypto/credential-box.js'
import { MIGRATIONS_DIR, type MigrationReport, migrate } from '../../../cloud-sync/src/db/migrate.js'
import { createPool } from '../../../cloud-sync/src/db/pool.js'
import { buildCloudApp } from '../../../cloud-sync/src/http/app.js'
import { signRequest } from '../../../cloud-sync/src/http/signature.js'
import { signRequest as gatewaySignRequest } from '../../../gateway/src/sync/cloud-client.js'
import { mariadbAvailable, startMariaDb } from '../../_support/mariadb.js'

/**
 * The cloud service (issue 8) against a real MariaDB: migrations, the installer's admin routes,
 * enrolment, signed gateway requests (signature / timestamp / replay), idempotent alert sync and
 * tenant isolation. The app is called in-process (app.request); every effect is checked in SQL.
 */

const available = mariadbAvailable()
const db = available ? await startMariaDb() : undefined

const ADMIN_TOKEN = randomBytes(32).toString('base64')
const box = new CredentialBox(randomBytes(32).toString('base64'))
const MAX_SKEW_MS = 300_000

let pool: Pool
let firstMigration: MigrationReport
let app: H3

function makeApp(now: () => number = () => Date.now()): H3 {
  return buildCloudApp({ pool, box, log: pino({ level: 'silent' }), adminToken: ADMIN_TOKEN, maxSkewMs: MAX_SKEW_MS, now })
}

interface Answer {
  readonly status: number
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers are checked field by field
  readonly json: any
}

async function answer(res: Response | Promise<Response>): Promise<Answer> {
  const r = await res
  const text = await r.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = text
  }
  return { status: r.status, json }
}

async function sql<T = RowDataPacket>(query: string, params: unknown[] = []): Promise<T[]> {
  const [rows] = await pool.query<RowDataPacket[]>(query, params)
  return rows as T[]
}

// ---- installer and enrolment ------------------------------------------------------------------

function adminPost(path: string, body: unknown, token: string | null = ADMIN_TOKEN, on: H3 = app): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (token !== null) headers.authorization = `Bearer ${token}`
  return answer(on.request(path, { method: 'POST', headers, body: JSON.stringify(body) }))
}

async function newHome(name = 'Home'): Promise<number> {
  const r = await adminPost('/v1/admin/homes', { name })
  assert.equal(r.status, 201, JSON.stringify(r.json))
  return r.json.id
}

async function newCode(homeId: number, ttlMinutes?: number, on: H3 = app): Promise<string> {
  const r = await adminPost(`/v1/admin/homes/${homeId}/enrolment-codes`, ttlMinutes === undefined ? {} : { ttlMinutes }, ADMIN_TOKEN, on)
  assert.equal(r.status, 201, JSON.stringify(r.json))
  return r.json.code
}

function enrol(code: string, gatewayId: string, on: H3 = app): Promise<Answer> {
  return answer(
    on.request('/v1/enrol', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code, gatewayId }) }),
  )
}

interface Gateway {
  readonly gatewayId: string
  readonly homeId: number
  readonly secret: string
}

let gatewayCounter = 0
const nextGatewayId = (prefix = 'gw') => `${prefix}-${++gatewayCounter}-${randomBytes(3).toString('hex')}`

/** A new home with one enrolled gateway. */
async function enrolledGateway(homeId?: number): Promise<Gateway> {
  const home = homeId ?? (await newHome(`Home ${gatewayCounter + 1}`))
  const r = await enrol(await newCode(home), nextGatewayId())
  assert.equal(r.status, 201, JSON.stringify(r.json))
  return r.json
}

// ---- signed gateway requests ------------------------------------------------------------------

const nowSeconds = () => String(Math.floor(Date.now() / 1000))

interface SignOptions {
  /** Seconds added to the current time for X-Timestamp. */
  readonly skewSeconds?: number
  readonly secret?: string
  readonly gatewayId?: string
  /** Sign this path+query instead of the one requested. */
  readonly signedPath?: string
  /** Sign this body instead of the one sent. */
  readonly signedBody?: string
  readonly timestamp?: string
}

/**
 * The signature is the replay key, so the same request signed twice in one second is a replay by
 * design; helpers that mean "a new request" step the timestamp back a second until it is unused.
 */
const usedSignatures = new Set<string>()

function signedInit(gw: Gateway, method: 'GET' | 'POST', path: string, body = '', o: SignOptions = {}): RequestInit {
  let ts = o.timestamp ?? String(Math.floor(Date.now() / 1000) + (o.skewSeconds ?? 0))
  const key = (t: string) => `${o.gatewayId ?? gw.gatewayId}|${o.secret ?? gw.secret}|${t}|${method} ${o.signedPath ?? path}|${o.signedBody ?? body}`
  if (o.timestamp === undefined) while (usedSignatures.has(key(ts))) ts = String(Number(ts) - 1)
  usedSignatures.add(key(ts))
  const signature = signRequest(o.secret ?? gw.secret, ts, method, o.signedPath ?? path, o.signedBody ?? body)
  return {
    method,
    headers: { 'content-type': 'application/json', 'x-gateway-id': o.gatewayId ?? gw.gatewayId, 'x-timestamp': ts, 'x-signature': signature },
    ...(method === 'POST' ? { body } : {}),
  }
}

function signed(gw: Gateway, method: 'GET' | 'POST', path: string, body = '', o: SignOptions = {}, on: H3 = app): Promise<Answer> {
  return answer(on.request(path, signedInit(gw, method, path, body, o)))
}

const heartbeat = (gw: Gateway, health: Record<string, unknown> = { ok: true }, o: SignOptions = {}) =>
  signed(gw, 'POST', '/v1/heartbeat', JSON.stringify({ at: Date.now(), health }), o)

// ---- alert events -----------------------------------------------------------------------------

type Kind = 'raised' | 'acknowledged' | 'resolved'
const STATUS: Record<Kind, string> = { raised: 'open', acknowledged: 'acknowledged', resolved: 'resolved' }
const T0 = 1_750_000_000_000

function alertEvent(seq: number, localId: number, kind: Kind, title = `No motion in the kitchen (${localId})`) {
  const raisedAt = T0 + localId * 1000
  const at = raisedAt + (kind === 'raised' ? 0 : kind === 'acknowledged' ? 30_000 : 60_000)
  return {
    seq,
    event: kind,
    at,
    actor: kind === 'acknowledged' ? 'anna' : null,
    alert: {
      id: localId,
      ruleId: 'no-motion',
      ruleName: 'No motion',
      deviceId: 'pir-kitchen',
      severity: 'critical',
      title,
      body: null,
      status: STATUS[kind],
      raisedAt,
      updatedAt: at,
      acknowledgedAt: kind === 'acknowledged' ? at : null,
      acknowledgedBy: kind === 'acknowledged' ? 'anna' : null,
    },
  }
}

/** 50 alerts raised (seq 1–50), then resolved (seq 51–100). */
function fiftyAlerts() {
  const events = []
  for (let i = 1; i <= 50; i++) events.push(alertEvent(i, i, 'raised'))
  for (let i = 1; i <= 50; i++) events.push(alertEvent(50 + i, i, 'resolved'))
  return events
}

const postEvents = (gw: Gateway, events: unknown[], o: SignOptions = {}) => signed(gw, 'POST', '/v1/sync/alerts', JSON.stringify({ events }), o)

/** Everything the service stored for one gateway, in a comparable form. */
async function snapshot(gatewayId: string) {
  const alerts = await sql('SELECT * FROM alerts WHERE gateway_id = ? ORDER BY id', [gatewayId])
  const events = await sql('SELECT e.* FROM alert_events e JOIN alerts a ON a.id = e.alert_id WHERE a.gateway_id = ? ORDER BY e.id', [gatewayId])
  return { alerts, events }
}

async function counts(gatewayId: string): Promise<{ alerts: number; events: number }> {
  const [a] = await sql<{ n: number }>('SELECT COUNT(*) AS n FROM alerts WHERE gateway_id = ?', [gatewayId])
  const [e] = await sql<{ n: number }>('SELECT COUNT(*) AS n FROM alert_events WHERE idempotency_key LIKE ?', [`g:${gatewayId}:%`])
  return { alerts: Number(a?.n), events: Number(e?.n) }
}

const health = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v)

describe('cloud service on a real MariaDB (cloud-sync/src)', {
  skip: !available && 'mariadb-server is not installed, or not running as root (scripts/install-test-deps.sh installs it as root)',
}, () => {
  before(async () => {
    if (!db) return
    await db.createDatabase('cloud', 'cloud_service', randomBytes(12).toString('hex'))
    firstMigration = await migrate(db.url('cloud'))
    pool = createPool(db.url('cloud'))
    app = makeApp()
  })
  after(async () => {
    await pool?.end()
  })

  describe('migrations', () => {
    test('the first run applies every migration file in order, a second applies nothing, and the tables exist', async () => {
      const files = readdirSync(MIGRATIONS_DIR)
        .filter((f) => /^\d{3}-.+\.sql$/.test(f))
        .sort()
      const latest = Number(files.at(-1)?.slice(0, 3))
      assert.deepEqual(firstMigration, { from: 0, to: latest, applied: files })
      assert.deepEqual(await migrate(db?.url('cloud') ?? ''), { from: latest, to: latest, applied: [] })
      const rows = await sql<{ version: number; name: string }>('SELECT version, name FROM schema_migrations ORDER BY version')
      assert.deepEqual(
        rows.map((r) => ({ ...r })),
        files.map((name) => ({ version: Number(name.slice(0, 3)), name })),
      )
      const tables = await sql<{ t: string }>('SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1')
      for (const t of ['alert_events', 'alerts', 'enrolment_codes', 'gateways', 'homes', 'request_nonces', 'schema_migrations'])
        assert.ok(
          tables.some((r) => r.t === t),
          `table ${t}`,
        )
    })

    test('a database with a newer schema version than the files is refused, and left as it was', async () => {
      assert.ok(db)
      await db.createDatabase('cloud_newer', 'cloud_newer', randomBytes(12).toString('hex'))
      const url = db.url('cloud_newer')
      await migrate(url)
      const before = await db.admin('SELECT COUNT(*) AS n FROM cloud_newer.schema_migrations')
      await db.admin("INSERT INTO cloud_newer.schema_migrations (version, name, applied_at) VALUES (999, '999-from-the-future.sql', 0)")
      await assert.rejects(migrate(url), /schema version 999, this service knows only up to \d+/)
      const n = Number(before.split('\n')[1]) + 1
      assert.equal(await db.admin('SELECT COUNT(*) AS n FROM cloud_newer.schema_migrations'), `n\n${n}\n`, 'nothing recorded by the refused run')
      // The refusal left the migration lock free: a later run (here, again refused) does not wait 60 s for it.
      const started = Date.now()
      await assert.rejects(migrate(url), /schema version 999/)
      assert.ok(Date.now() - started < 5000)
    })
  })

  describe('admin routes', () => {
    test('creating a home needs the admin token', async () => {
      for (const token of [null, '', 'wrong-token', `${ADMIN_TOKEN}x`]) {
        const r = await adminPost('/v1/admin/homes', { name: 'Nope' }, token)
        assert.equal(r.status, 401, `token ${JSON.stringify(token)}`)
        assert.equal(r.json.code, 'CLOUD_ERR_UNAUTHENTICATED')
      }
      const basic = await answer(
        app.request('/v1/admin/homes', {
          method: 'POST',
          headers: { authorization: `Basic ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
          body: '{"name":"x"}',
        }),
      )
      assert.equal(basic.status, 401)
      const [{ n }] = (await sql<{ n: number }>("SELECT COUNT(*) AS n FROM homes WHERE name IN ('Nope', 'x')")) as [{ n: number }]
      assert.equal(Number(n), 0, 'no home was created by a refused request')

      const ok = await adminPost('/v1/admin/homes', { name: 'Oak Street' })
      assert.equal(ok.status, 201)
      assert.equal(ok.json.name, 'Oak Street')
      assert.ok(Number.isInteger(ok.json.id) && ok.json.id > 0)
      const rows = await sql('SELECT name FROM homes WHERE id = ?', [ok.json.id])
      assert.equal(rows[0]?.name, 'Oak Street')

      const bad = await adminPost('/v1/admin/homes', { name: '' })
      assert.equal(bad.status, 400)
    })

    test('an enrolment code needs the admin token and an existing home; only its hash is stored', async () => {
      const home = await newHome('Elm Road')
      for (const token of [null, 'wrong-token']) {
        const r = await adminPost(`/v1/admin/homes/${home}/enrolment-codes`, {}, token)
        assert.equal(r.status, 401)
        assert.equal(r.json.code, 'CLOUD_ERR_UNAUTHENTICATED')
      }
      const unknown = await adminPost('/v1/admin/homes/987654321/enrolment-codes', {})
      assert.equal(unknown.status, 404)
      assert.equal(unknown.json.code, 'CLOUD_ERR_NOT_FOUND')

      const before = Date.now()
      const r = await adminPost(`/v1/admin/homes/${home}/enrolment-codes`, {})
      assert.equal(r.status, 201)
      assert.equal(r.json.homeId, home)
      assert.match(r.json.code, /^[A-Za-z0-9_-]{22}$/)
      assert.ok(r.json.expiresAt >= before + 60 * 60_000 && r.json.expiresAt <= Date.now() + 60 * 60_000, 'default TTL 60 min')
      const stored = await sql<{ code_hash: string }>('SELECT code_hash FROM enrolment_codes WHERE home_id = ?', [home])
      assert.equal(stored.length, 1)
      assert.match(stored[0]?.code_hash ?? '', /^[0-9a-f]{64}$/)
      assert.notEqual(stored[0]?.code_hash, r.json.code)

      const tooShort = await adminPost(`/v1/admin/homes/${home}/enrolment-codes`, { ttlMinutes: 1 })
      assert.equal(tooShort.status, 400)
    })

    test('a non-numeric home id is answered 404 (not a server error)', {}, async () => {
      const r = await adminPost('/v1/admin/homes/abc/enrolment-codes', {})
      assert.equal(r.status, 404, JSON.stringify(r.json))
    })
  })

  describe('enrolment', () => {
    test('a code gives {gatewayId, homeId, secret} once; the secret is stored encrypted', async () => {
      const home = await newHome('Birch Lane')
      const code = await newCode(home)
      const id = nextGatewayId('box')
      const r = await enrol(code, id)
      assert.equal(r.status, 201, JSON.stringify(r.json))
      assert.deepEqual(Object.keys(r.json).sort(), ['gatewayId', 'homeId', 'secret'])
      assert.equal(r.json.gatewayId, id)
      assert.equal(r.json.homeId, home)
      assert.match(r.json.secret, /^[A-Za-z0-9_-]{43}$/, '256 bits, base64url')

      const again = await enrol(code, id)
      assert.equal(again.status, 410)
      assert.equal(again.json.code, 'CLOUD_ERR_CODE_INVALID')
      const other = await enrol(code, nextGatewayId('box'))
      assert.equal(other.status, 410, 'not for another gateway either')
      const unknown = await enrol(randomBytes(16).toString('base64url'), id)
      assert.equal(unknown.status, 410)

      const [row] = await sql<{ home_id: number; secret_enc: Buffer; enrolled_at: number; revoked_at: number | null }>(
        'SELECT home_id, secret_enc, enrolled_at, revoked_at FROM gateways WHERE id = ?',
        [id],
      )
      assert.ok(row)
      assert.equal(row.home_id, home)
      assert.equal(row.revoked_at, null)
      assert.ok(Buffer.isBuffer(row.secret_enc))
      const secret: string = r.json.secret
      assert.equal(row.secret_enc.includes(Buffer.from(secret)), false, 'the secret text is not in secret_enc')
      assert.equal(row.secret_enc.includes(Buffer.from(secret, 'base64url')), false, 'nor its decoded bytes')
      assert.equal(row.secret_enc.toString('latin1').includes(secret.slice(0, 12)), false)
      assert.equal(box.open(row.secret_enc), secret, 'it is the secret, sealed under the service key')
      const [used] = await sql('SELECT used_at, used_by FROM enrolment_codes WHERE home_id = ?', [home])
      assert.equal(used?.used_by, id)
      assert.ok(Number(used?.used_at) > 0)

      assert.equal((await heartbeat(r.json)).status, 200, 'the credential works')
    })

    test('an expired code is refused (TTL 5 min, service clock 10 min later)', async () => {
      const home = await newHome('Ash Court')
      const code = await newCode(home, 5)
      const later = makeApp(() => Date.now() + 10 * 60_000)
      const r = await enrol(code, nextGatewayId('box'), later)
      assert.equal(r.status, 410)
      assert.equal(r.json.code, 'CLOUD_ERR_CODE_INVALID')
      const rows = await sql('SELECT id FROM gateways WHERE home_id = ?', [home])
      assert.equal(rows.length, 0, 'no gateway enrolled')
    })

    test('re-enrolling the same gateway id in its home with a new code rotates the secret', async () => {
      const first = await enrolledGateway()
      assert.equal((await heartbeat(first)).status, 200)
      const second = await enrol(await newCode(first.homeId), first.gatewayId)
      assert.equal(second.status, 201, JSON.stringify(second.json))
      assert.equal(second.json.homeId, first.homeId)
      assert.notEqual(second.json.secret, first.secret)

      const old = await heartbeat(first)
      assert.equal(old.status, 401, 'the old secret no longer signs')
      assert.equal(old.json.code, 'CLOUD_ERR_SIGNATURE')
      assert.equal((await heartbeat(second.json)).status, 200)
      const rows = await sql('SELECT home_id FROM gateways WHERE id = ?', [first.gatewayId])
      assert.equal(rows.length, 1)
      assert.equal(rows[0]?.home_id, first.homeId)
    })

    test('the same gateway id in another home is refused (409) and changes nothing', async () => {
      const a = await enrolledGateway()
      const otherHome = await newHome('Someone else')
      const code = await newCode(otherHome)
      const r = await enrol(code, a.gatewayId)
      assert.equal(r.status, 409)
      assert.equal(r.json.code, 'CLOUD_ERR_CONFLICT')
      const [row] = await sql<{ home_id: number; secret_enc: Buffer }>('SELECT home_id, secret_enc FROM gateways WHERE id = ?', [a.gatewayId])
      assert.equal(row?.home_id, a.homeId)
      assert.equal(row && box.open(row.secret_enc), a.secret)
      assert.equal((await heartbeat(a)).status, 200, "A's credential still works")
      const [codeRow] = await sql('SELECT used_at FROM enrolment_codes WHERE home_id = ?', [otherHome])
      assert.equal(codeRow?.used_at, null, 'the refused enrolment did not use up the code (rolled back)')
    })

    test('one code used by two boxes at once enrols exactly one', async () => {
      const home = await newHome('Race Row')
      const code = await newCode(home)
      const results = await Promise.all([enrol(code, nextGatewayId('race')), enrol(code, nextGatewayId('race'))])
      assert.deepEqual(results.map((r) => r.status).sort(), [201, 410])
      const rows = await sql('SELECT id FROM gateways WHERE home_id = ?', [home])
      assert.equal(rows.length, 1)
    })
  })

  describe('signed gateway requests', () => {
    let gw: Gateway
    before(async () => {
      gw = await enrolledGateway()
    })

    test('the gateway uploader signs exactly as the service verifies (the two copies are in step)', async () => {
      const body = JSON.stringify({ at: 1, health: { uptime: 5, note: 'ünïcode ✓' } })
      for (const [method, path, b] of [
        ['POST', '/v1/heartbeat', body],
        ['GET', '/v1/sync/alerts/7?since=3&x=%20y', ''],
        ['get', '/v1/sync/alerts/7', ''],
      ] as const) {
        assert.equal(gatewaySignRequest(gw.secret, '1750000000', method, path, b), signRequest(gw.secret, '1750000000', method, path, b))
      }
      const ts = nowSeconds()
      const r = await answer(
        app.request('/v1/heartbeat', {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-gateway-id': gw.gatewayId,
            'x-timestamp': ts,
            'x-signature': gatewaySignRequest(gw.secret, ts, 'POST', '/v1/heartbeat', body),
          },
          body,
        }),
      )
      assert.equal(r.status, 200, JSON.stringify(r.json))
    })

    test('a good signature is accepted, also a few minutes off; wrong secret and unknown gateway get the same 401', async () => {
      assert.equal((await heartbeat(gw)).status, 200)
      assert.equal((await heartbeat(gw, {}, { skewSeconds: -240 })).status, 200, '4 min behind is inside the window')
      assert.equal((await heartbeat(gw, {}, { skewSeconds: 240 })).status, 200, '4 min ahead is inside the window')

      const wrong = await heartbeat(gw, {}, { secret: randomBytes(32).toString('base64url') })
      const unknown = await heartbeat(gw, {}, { gatewayId: 'no-such-gateway' })
      for (const r of [wrong, unknown]) {
        assert.equal(r.status, 401)
        assert.equal(r.json.code, 'CLOUD_ERR_SIGNATURE')
      }
      assert.equal(wrong.json.detail, unknown.json.detail, 'nothing to learn by probing gateway ids')
    })

    test('missing or malformed authentication headers are refused', async () => {
      const body = JSON.stringify({ at: 1, health: {} })
      const post = (headers: Record<string, string>) =>
        answer(app.request('/v1/heartbeat', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body }))
      const good = signedInit(gw, 'POST', '/v1/heartbeat', body).headers as Record<string, string>
      const none = await post({})
      assert.equal(none.status, 401)
      assert.equal(none.json.code, 'CLOUD_ERR_UNAUTHENTICATED')
      const noTs = await post({ ...good, 'x-timestamp': '' })
      assert.equal(noTs.status, 401)
      assert.equal(noTs.json.code, 'CLOUD_ERR_TIMESTAMP')
      const msTs = await post({ ...good, 'x-timestamp': String(Date.now()) })
      assert.equal(msTs.status, 401)
      assert.equal(msTs.json.code, 'CLOUD_ERR_TIMESTAMP')
      const badSig = await post({ ...good, 'x-signature': 'deadbeef' })
      assert.equal(badSig.status, 401)
      assert.equal(badSig.json.code, 'CLOUD_ERR_SIGNATURE')
      const upper = await post({ ...good, 'x-signature': (good['x-signature'] ?? '').toUpperCase().replace('SHA256=', 'sha256=') })
      assert.equal(upper.status, 401)
    })

    test('a timestamp 10 min old or 10 min ahead is refused with CLOUD_ERR_TIMESTAMP', async () => {
      for (const skewSeconds of [-600, 600]) {
        const r = await heartbeat(gw, {}, { skewSeconds })
        assert.equal(r.status, 401, `skew ${skewSeconds}`)
        assert.equal(r.json.code, 'CLOUD_ERR_TIMESTAMP')
        assert.match(r.json.detail, skewSeconds < 0 ? /behind/ : /ahead of/)
      }
    })

    test('the exact same request twice: the second is a replay (409)', async () => {
      const body = JSON.stringify({ at: 1, health: { n: 1 } })
      const init = signedInit(gw, 'POST', '/v1/heartbeat', body)
      const first = await answer(app.request('/v1/heartbeat', init))
      assert.equal(first.status, 200)
      const second = await answer(app.request('/v1/heartbeat', init))
      assert.equal(second.status, 409)
      assert.equal(second.json.code, 'CLOUD_ERR_REPLAY')
      // Replays are remembered by the shared table, so another service instance refuses it too.
      const third = await answer(makeApp().request('/v1/heartbeat', init))
      assert.equal(third.status, 409)
      assert.equal(third.json.code, 'CLOUD_ERR_REPLAY')
    })

    test('a body changed after signing is refused', async () => {
      const signedBody = JSON.stringify({ at: 1, health: { ok: true } })
      const sent = JSON.stringify({ at: 1, health: { ok: false } })
      const r = await signed(gw, 'POST', '/v1/heartbeat', sent, { signedBody })
      assert.equal(r.status, 401)
      assert.equal(r.json.code, 'CLOUD_ERR_SIGNATURE')
    })

    test('a signed GET cannot be replayed against another path, query or method', async () => {
      assert.equal((await postEvents(gw, [alertEvent(1, 1, 'raised'), alertEvent(2, 2, 'raised')])).status, 200)
      const good = await signed(gw, 'GET', '/v1/sync/alerts/1')
      assert.equal(good.status, 200, JSON.stringify(good.json))
      assert.equal(good.json.id, 1)

      const init = signedInit(gw, 'GET', '/v1/sync/alerts/1')
      for (const path of ['/v1/sync/alerts/2', '/v1/sync/alerts/1?x=1']) {
        const r = await answer(app.request(path, init))
        assert.equal(r.status, 401, path)
        assert.equal(r.json.code, 'CLOUD_ERR_SIGNATURE')
      }
      const asPost = await answer(app.request('/v1/heartbeat', { ...signedInit(gw, 'GET', '/v1/heartbeat'), method: 'POST', body: '' }))
      assert.equal(asPost.status, 401, 'a GET signature does not sign a POST')
    })
  })

  describe('POST /v1/sync/alerts', () => {
    test('100 events for 50 alerts land once; the same batch again changes nothing', async () => {
      const gw = await enrolledGateway()
      const events = fiftyAlerts()
      const r = await postEvents(gw, events)
      assert.equal(r.status, 200, JSON.stringify(r.json))
      assert.deepEqual(r.json, { accepted: 100, duplicates: 0, lastSeq: 100 })

      assert.deepEqual(await counts(gw.gatewayId), { alerts: 50, events: 100 })
      const alerts = await sql('SELECT * FROM alerts WHERE gateway_id = ? ORDER BY local_id', [gw.gatewayId])
      alerts.forEach((a, i) => {
        assert.equal(a.local_id, i + 1)
        assert.equal(a.home_id, gw.homeId)
        assert.equal(a.status, 'resolved')
        assert.equal(a.source_seq, 51 + i)
        assert.equal(a.severity, 'critical')
        assert.equal(a.raised_at, T0 + (i + 1) * 1000)
        assert.equal(a.updated_at, T0 + (i + 1) * 1000 + 60_000)
      })
      // Stored in the outbox order, each with its idempotency key and the home of the gateway.
      const stored = (await snapshot(gw.gatewayId)).events
      // g:<gateway>:<enrolment epoch>:<seq>
      assert.ok(stored.every((e) => new RegExp(`^g:${gw.gatewayId}:\\d+:\\d+$`).test(e.idempotency_key)))
      assert.deepEqual(
        stored.map((e) => e.idempotency_key.replace(/:\d+:(\d+)$/, ':$1')),
        events.map((e) => `g:${gw.gatewayId}:${e.seq}`),
      )
      assert.ok(stored.every((e) => e.home_id === gw.homeId && e.origin === 'gateway'))

      const before = await snapshot(gw.gatewayId)
      const again = await postEvents(gw, events) // re-signed: a new timestamp, so not a replay
      assert.equal(again.status, 200, JSON.stringify(again.json))
      assert.deepEqual(again.json, { accepted: 0, duplicates: 100, lastSeq: 100 })
      assert.deepEqual(await snapshot(gw.gatewayId), before, 'no row added or changed')

      // An overlapping retry (seq 91–110): the first ten are duplicates, the rest are new.
      const overlap = [...events.slice(90), ...Array.from({ length: 10 }, (_, i) => alertEvent(101 + i, 51 + i, 'raised'))]
      const r3 = await postEvents(gw, overlap)
      assert.deepEqual(r3.json, { accepted: 10, duplicates: 10, lastSeq: 110 })
      assert.deepEqual(await counts(gw.gatewayId), { alerts: 60, events: 110 })
    })

    test('the same batch sent twice at once (a retry racing the original) still lands once', async () => {
      const gw = await enrolledGateway()
      const events = fiftyAlerts()
      const [a, b] = await Promise.all([postEvents(gw, events), postEvents(gw, events)])
      assert.equal(a.status, 200, JSON.stringify(a.json))
      assert.equal(b.status, 200, JSON.stringify(b.json))
      assert.equal(a.json.accepted + b.json.accepted, 100)
      assert.equal(a.json.duplicates + b.json.duplicates, 100)
      assert.deepEqual(await counts(gw.gatewayId), { alerts: 50, events: 100 })
    })

    test('out of order: the alert row keeps the state of the highest seq', async () => {
      const gw = await enrolledGateway()
      // Across batches: the resolution (seq 12) arrives before the raise (seq 11).
      assert.deepEqual((await postEvents(gw, [alertEvent(12, 1, 'resolved', 'resolved title')])).json, { accepted: 1, duplicates: 0, lastSeq: 12 })
      assert.deepEqual((await postEvents(gw, [alertEvent(11, 1, 'raised', 'raised title')])).json, { accepted: 1, duplicates: 0, lastSeq: 11 })
      // Within one batch: listed highest first.
      const r = await postEvents(gw, [alertEvent(23, 2, 'resolved'), alertEvent(22, 2, 'acknowledged'), alertEvent(21, 2, 'raised')])
      assert.deepEqual(r.json, { accepted: 3, duplicates: 0, lastSeq: 23 })
      // An acknowledgement (seq 13) after the row is already at 12 moves it on.
      assert.equal((await postEvents(gw, [alertEvent(13, 1, 'acknowledged', 'acked title')])).status, 200)

      const rows = await sql(
        'SELECT local_id, status, title, source_seq, updated_at, acknowledged_by FROM alerts WHERE gateway_id = ? ORDER BY local_id',
        [gw.gatewayId],
      )
      assert.deepEqual(
        rows.map((x) => ({ ...x })),
        [
          { local_id: 1, status: 'acknowledged', title: 'acked title', source_seq: 13, updated_at: T0 + 1000 + 30_000, acknowledged_by: 'anna' },
          {
            local_id: 2,
            status: 'resolved',
            title: 'No motion in the kitchen (2)',
            source_seq: 23,
            updated_at: T0 + 2000 + 60_000,
            acknowledged_by: null,
          },
        ],
      )
      // And a late raise (seq 11 again, re-sent) after all that changes nothing.
      assert.deepEqual((await postEvents(gw, [alertEvent(11, 1, 'raised', 'raised title')])).json, { accepted: 0, duplicates: 1, lastSeq: 11 })
      const g = await signed(gw, 'GET', '/v1/sync/alerts/1')
      assert.equal(g.status, 200)
      assert.equal(g.json.status, 'acknowledged')
      assert.equal(g.json.sourceSeq, 13)
      assert.equal(g.json.events.length, 3)
    })

    test("GET /v1/sync/alerts/:localId lists an alert's events in the gateway's order (seq), not arrival order", {}, async () => {
      const gw = await enrolledGateway()
      await postEvents(gw, [alertEvent(2, 1, 'resolved')])
      await postEvents(gw, [alertEvent(1, 1, 'raised')])
      const g = await signed(gw, 'GET', '/v1/sync/alerts/1')
      assert.deepEqual(
        g.json.events.map((e: { event: string }) => e.event),
        ['raised', 'resolved'],
      )
    })

    test('a malformed batch is refused with 400 and writes nothing', async () => {
      const gw = await enrolledGateway()
      const badSeverity = fiftyAlerts().slice(0, 10)
      badSeverity[9] = { ...alertEvent(10, 10, 'raised'), alert: { ...alertEvent(10, 10, 'raised').alert, severity: 'catastrophic' } }
      const r1 = await postEvents(gw, badSeverity)
      assert.equal(r1.status, 400)
      assert.equal(r1.json.code, 'CLOUD_ERR_VALIDATION')
      assert.ok(Array.isArray(r1.json.issues))
      assert.ok(
        r1.json.issues.some((i: { path: unknown[] }) => i.path.join('.') === 'events.9.alert.severity'),
        JSON.stringify(r1.json.issues),
      )

      const tooMany = Array.from({ length: 501 }, (_, i) => alertEvent(i + 1, i + 1, 'raised'))
      const r2 = await postEvents(gw, tooMany)
      assert.equal(r2.status, 400)
      assert.ok(Array.isArray(r2.json.issues) && r2.json.issues.length > 0)

      const r3 = await signed(gw, 'POST', '/v1/sync/alerts', '{"events": [')
      assert.equal(r3.status, 400)
      assert.equal(r3.json.code, 'CLOUD_ERR_VALIDATION')

      const r4 = await postEvents(gw, [])
      assert.equal(r4.status, 400)
      const r5 = await signed(gw, 'POST', '/v1/sync/alerts', JSON.stringify({ events: [alertEvent(1, 1, 'raised')], homeId: 1 }))
      assert.equal(r5.status, 400, 'the home comes from the credential, never from the body')
      const r6 = await postEvents(gw, [{ ...alertEvent(1, 1, 'raised'), seq: 0 }])
      assert.equal(r6.status, 400)

      assert.deepEqual(await counts(gw.gatewayId), { alerts: 0, events: 0 })
      // 500 events is the limit, and is accepted.
      const max = await postEvents(gw, tooMany.slice(0, 500))
      assert.deepEqual(max.json, { accepted: 500, duplicates: 0, lastSeq: 500 })
    })

    test('a database failure in the middle of a batch rolls the whole batch back', async () => {
      const gw = await enrolledGateway()
      await pool.query(
        `CREATE TRIGGER test_fail_on_boom BEFORE INSERT ON alert_events FOR EACH ROW
         IF NEW.event = 'boom' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'boom'; END IF`,
      )
      try {
        const events = [...fiftyAlerts().slice(0, 20), { ...alertEvent(21, 21, 'raised'), event: 'boom' }]
        const r = await postEvents(gw, events)
        assert.equal(r.status, 500)
        assert.equal(r.json.code, 'CLOUD_ERR_INTERNAL')
        assert.doesNotMatch(JSON.stringify(r.json), /boom|SQL|alert_events/, 'no database detail in the answer')
        assert.deepEqual(await counts(gw.gatewayId), { alerts: 0, events: 0 }, 'the first 20 events were rolled back')
      } finally {
        await pool.query('DROP TRIGGER IF EXISTS test_fail_on_boom')
      }
      const retry = await postEvents(gw, fiftyAlerts().slice(0, 20))
      assert.deepEqual(retry.json, { accepted: 20, duplicates: 0, lastSeq: 20 })
    })
  })

  describe('tenant isolation', () => {
    let a: Gateway
    let b: Gateway
    before(async () => {
      a = await enrolledGateway()
      b = await enrolledGateway()
      assert.notEqual(a.homeId, b.homeId)
      const r = await postEvents(a, [alertEvent(1, 1, 'raised', 'A one'), alertEvent(2, 2, 'raised', 'A two'), alertEvent(3, 1, 'resolved', 'A one')])
      assert.equal(r.status, 200)
    })

    test("GET /v1/sync/alerts/:localId: B cannot read A's alert", async () => {
      const mine = await signed(a, 'GET', '/v1/sync/alerts/1')
      assert.equal(mine.status, 200)
      assert.equal(mine.json.title, 'A one')
      for (const id of [1, 2]) {
        const theirs = await signed(b, 'GET', `/v1/sync/alerts/${id}`)
        assert.equal(theirs.status, 404)
        assert.equal(theirs.json.code, 'CLOUD_ERR_NOT_FOUND')
      }
    })

    test("POST /v1/sync/alerts: B's events with A's local ids and seqs make B's own rows; A's are untouched", async () => {
      const aBefore = await snapshot(a.gatewayId)
      const r = await postEvents(b, [alertEvent(1, 1, 'raised', 'B one'), alertEvent(2, 2, 'raised', 'B two'), alertEvent(3, 2, 'resolved', 'B two')])
      assert.deepEqual(r.json, { accepted: 3, duplicates: 0, lastSeq: 3 }, 'not mistaken for duplicates of A')
      assert.deepEqual(await snapshot(a.gatewayId), aBefore)

      const rows = await sql(
        'SELECT gateway_id, home_id, local_id, title, status FROM alerts WHERE gateway_id IN (?, ?) ORDER BY gateway_id = ?, local_id',
        [a.gatewayId, b.gatewayId, b.gatewayId],
      )
      assert.deepEqual(
        rows.map((x) => ({ ...x })),
        [
          { gateway_id: a.gatewayId, home_id: a.homeId, local_id: 1, title: 'A one', status: 'resolved' },
          { gateway_id: a.gatewayId, home_id: a.homeId, local_id: 2, title: 'A two', status: 'open' },
          { gateway_id: b.gatewayId, home_id: b.homeId, local_id: 1, title: 'B one', status: 'open' },
          { gateway_id: b.gatewayId, home_id: b.homeId, local_id: 2, title: 'B two', status: 'resolved' },
        ],
      )
      const events = await sql(
        'SELECT a.gateway_id, a.home_id AS alert_home, e.home_id AS event_home, e.idempotency_key FROM alert_events e JOIN alerts a ON a.id = e.alert_id WHERE a.gateway_id IN (?, ?)',
        [a.gatewayId, b.gatewayId],
      )
      assert.equal(events.length, 6)
      for (const e of events) {
        const owner = e.gateway_id === a.gatewayId ? a : b
        assert.equal(e.alert_home, owner.homeId)
        assert.equal(e.event_home, owner.homeId)
        assert.match(e.idempotency_key, new RegExp(`^g:${owner.gatewayId}:\\d+:\\d+$`))
      }
      const theirs = await signed(b, 'GET', '/v1/sync/alerts/1')
      assert.equal(theirs.json.title, 'B one')
      assert.equal(theirs.json.events.length, 1)
      assert.equal((await signed(a, 'GET', '/v1/sync/alerts/1')).json.events.length, 2)
    })

    test("POST /v1/heartbeat: B's heartbeat updates only B's gateways row", async () => {
      assert.equal((await heartbeat(a, { who: 'a' })).status, 200)
      const [aBefore] = await sql('SELECT last_seen_at, last_health FROM gateways WHERE id = ?', [a.gatewayId])
      await new Promise((r) => setTimeout(r, 5))
      assert.equal((await heartbeat(b, { who: 'b' })).status, 200)
      const [aAfter] = await sql('SELECT last_seen_at, last_health FROM gateways WHERE id = ?', [a.gatewayId])
      const [bAfter] = await sql('SELECT last_seen_at, last_health FROM gateways WHERE id = ?', [b.gatewayId])
      assert.deepEqual({ ...aAfter }, { ...aBefore })
      assert.deepEqual(health(aAfter?.last_health), { who: 'a' })
      assert.deepEqual(health(bAfter?.last_health), { who: 'b' })
      assert.ok(Number(bAfter?.last_seen_at) > Number(aAfter?.last_seen_at))
    })
  })

  describe('POST /v1/heartbeat', () => {
    test("updates the gateway's last_seen_at and last_health", async () => {
      let clock = 1_800_000_000_000
      const gw = await enrolledGateway()
      const [fresh] = await sql('SELECT last_seen_at, last_health FROM gateways WHERE id = ?', [gw.gatewayId])
      assert.equal(fresh?.last_seen_at, null)
      assert.equal(fresh?.last_health, null)

      // A service whose clock is the fake one, with signatures made for that clock.
      const svc = makeApp(() => clock)
      const ts = () => ({ timestamp: String(Math.floor(clock / 1000)) })
      const send = (h: Record<string, unknown>) => signed(gw, 'POST', '/v1/heartbeat', JSON.stringify({ at: clock, health: h }), ts(), svc)

      const h1 = { uptimeS: 3600, disk: { freePct: 71 }, broker: 'ok', alertsOpen: 2 }
      const r1 = await send(h1)
      assert.equal(r1.status, 200, JSON.stringify(r1.json))
      assert.deepEqual(r1.json, { serverTime: clock })
      let [row] = await sql('SELECT last_seen_at, last_health FROM gateways WHERE id = ?', [gw.gatewayId])
      assert.equal(row?.last_seen_at, clock)
      assert.deepEqual(health(row?.last_health), h1)

      clock += 60_000
      const h2 = { uptimeS: 3660, disk: { freePct: 70 }, broker: 'down' }
      assert.equal((await send(h2)).status, 200)
      ;[row] = await sql('SELECT last_seen_at, last_health FROM gateways WHERE id = ?', [gw.gatewayId])
      assert.equal(row?.last_seen_at, clock)
      assert.deepEqual(health(row?.last_health), h2)

      const bad = await signed(gw, 'POST', '/v1/heartbeat', JSON.stringify({ at: clock, health: 'fine' }), ts(), svc)
      assert.equal(bad.status, 400)
      assert.equal(bad.json.code, 'CLOUD_ERR_VALIDATION')
      ;[row] = await sql('SELECT last_seen_at FROM gateways WHERE id = ?', [gw.gatewayId])
      assert.equal(row?.last_seen_at, clock)
    })
  })

  test('GET /v1/sync/alerts/:localId with a non-numeric id is answered 404 (not a server error)', {}, async () => {
    const gw = await enrolledGateway()
    const r = await signed(gw, 'GET', '/v1/sync/alerts/abc')
    assert.equal(r.status, 404, JSON.stringify(r.json))
  })

  describe('X-Nonce', () => {
    test('two identical requests in the same second are two requests with different nonces, a replay with the same one', async () => {
      const gw = await enrolledGateway()
      const send = (nonce: string) => {
        const ts = String(Math.floor(Date.now() / 1000))
        const body = JSON.stringify({ at: Date.now(), health: { status: 'ok' } })
        return app.request('/v1/heartbeat', {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-gateway-id': gw.gatewayId,
            'x-timestamp': ts,
            'x-nonce': nonce,
            'x-signature': signRequest(gw.secret, ts, 'POST', '/v1/heartbeat', body, nonce),
          },
          body,
        })
      }
      // The same second, the same body: distinct nonces make distinct requests…
      const [a, b] = await Promise.all([send('nonce-aaaaaaaaaaaaaaaa'), send('nonce-bbbbbbbbbbbbbbbb')])
      assert.deepEqual([a.status, b.status], [200, 200])
      // …the same nonce again is the same request.
      const again = await send('nonce-aaaaaaaaaaaaaaaa')
      assert.ok(again.status === 409 || again.status === 200, String(again.status))
      if (again.status === 200) return // the second ticked over between the sends: a new timestamp, a new request
      assert.equal(((await again.json()) as { code: string }).code, 'CLOUD_ERR_REPLAY')
      // A malformed nonce is refused; the box's copy of the signing function agrees with the service's.
      assert.equal((await send('short')).status, 401)
      assert.equal(
        gatewaySignRequest('s', '1', 'GET', '/p?q=1', '', 'nonce-cccccccccccccccc'),
        signRequest('s', '1', 'GET', '/p?q=1', '', 'nonce-cccccccccccccccc'),
      )
    })
  })

  describe('a reinstalled box (enrolled again, counting from 1 again)', () => {
    test('its new alerts are new, not duplicates of the old enrolment’s; the cloud’s changes start afresh for it', async () => {
      const gw = await enrolledGateway()
      assert.equal((await postEvents(gw, [alertEvent(1, 1, 'raised', 'Fall in the bathroom')])).status, 200)
      // Reinstalled: same gateway id, new code, new secret; the box's ids start at 1 again.
      const again = await enrol(await newCode(gw.homeId), gw.gatewayId)
      assert.equal(again.status, 201, JSON.stringify(again.json))
      const gw2: Gateway = again.json
      const r = await postEvents(gw2, [alertEvent(1, 1, 'raised', 'Smoke in the kitchen')])
      assert.equal(r.status, 200, JSON.stringify(r.json))
      assert.deepEqual({ accepted: r.json.accepted, duplicates: r.json.duplicates }, { accepted: 1, duplicates: 0 })
      const titles = await sql<{ title: string }>('SELECT title FROM alerts WHERE gateway_id = ? ORDER BY id', [gw.gatewayId])
      assert.deepEqual(
        titles.map((t) => t.title),
        ['Fall in the bathroom', 'Smoke in the kitchen'],
      )
      // The reinstalled box reads its own alert 1 — the new one.
      const mine = await signed(gw2, 'GET', '/v1/sync/alerts/1')
      assert.equal(mine.json.title, 'Smoke in the kitchen')
    })
  })
})
