import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { after, describe, test } from 'node:test'
import { toNodeHandler } from 'h3/node'
import type { Pool, RowDataPacket } from 'mysql2/promise'
import pino from 'pino'
import { CredentialBox } from '../../../cloud-sync/src/crypto/credential-box.js'
import { migrate } from '../../../cloud-sync/src/db/migrate.js'
import { createPool } from '../../../cloud-sync/src/db/pool.js'
import { buildCloudApp } from '../../../cloud-sync/src/http/app.js'
import { runCli } from '../../../gateway/src/cli/run.js'
import { api } from '../../_support/api-client.js'
import { startGateway } from '../../_support/gateway-harness.js'
import { reading, waitFor } from '../../_support/history-data.js'
import { mariadbAvailable, startMariaDb } from '../../_support/mariadb.js'
import { freePort } from '../../_support/temp.js'

/**
 * The edge uploader against the real cloud service on a real MariaDB (issue 8): the box raises 100
 * alerts while the cloud is down; when it comes back all 100 reach MySQL in order, once; a gateway
 * stopped in the middle of sending resends nothing twice.
 */
describe('cloud sync: offline, then online', { skip: !mariadbAvailable() && 'mariadbd is not installed (scripts/install-test-deps.sh)' }, () => {
  test('100 alerts raised while the cloud is down arrive in order, exactly once — also across a stop mid-batch', async () => {
    const db = await startMariaDb()
    await db.createDatabase('carehub_cloud', 'cloud', 'cloud-password-1')
    const url = db.url('carehub_cloud')
    await migrate(url)
    const pool: Pool = createPool(url)
    after(() => pool.end())
    const adminToken = randomBytes(32).toString('base64')
    const app = buildCloudApp({
      pool,
      box: new CredentialBox(randomBytes(32).toString('base64')),
      log: pino({ level: 'silent' }),
      adminToken,
      maxSkewMs: 300_000,
      now: () => Date.now(),
    })
    const port = await freePort()
    let server: Server | undefined
    // Lose the answer to one batch after the service committed it (a connection cut on the way back):
    // the box must resend, and the service must recognise the resend.
    let dropAnswers = 0
    let devicePosts = 0
    const handler = toNodeHandler(app)
    const cloudUp = () =>
      new Promise<void>(
        (resolve) =>
          (server = createServer((req, res) => {
            if (req.url === '/v1/sync/devices') devicePosts++
            if (req.url === '/v1/sync/alerts' && dropAnswers > 0) {
              dropAnswers--
              res.end = (() => {
                res.socket?.destroy()
                return res
              }) as unknown as typeof res.end
            }
            return handler(req, res)
          }).listen(port, '127.0.0.1', () => resolve())),
      )
    const cloudDown = () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
    after(cloudDown)
    const base = `http://127.0.0.1:${port}`

    // The installer: a home and a one-time code (the service is up for this).
    await cloudUp()
    const admin = (path: string, body: unknown) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    const home = (await (await admin('/v1/admin/homes', { name: 'Mum' })).json()) as { id: number }
    const { code } = (await (await admin(`/v1/admin/homes/${home.id}/enrolment-codes`, {})).json()) as { code: string }

    const h = await startGateway({ cloud: { batchSize: 30, backoffMinMs: 100, backoffMaxMs: 1000, heartbeatSeconds: 10 } })
    let out = ''
    let err = ''
    const code0 = await runCli(['cloud', 'enroll', base, code], {
      env: { CAREHUB_DATA_DIR: h.dataDir },
      cwd: h.dataDir,
      stdout: (t) => {
        out += t
      },
      stderr: (t) => {
        err += t
      },
      stdin: async () => '',
      now: () => Date.now(),
    })
    assert.equal(code0, 0, err)
    assert.match(out, new RegExp(`enrolled as gateway ${h.gateway.gatewayId} of home ${home.id}`))

    // The cloud goes away; the box raises 100 alerts meanwhile (a rule firing on each rising edge).
    await cloudDown()
    await h.addUser('anna', 'caregiver')
    const t = (await h.login('anna')).accessToken
    const rule = {
      id: 'button',
      name: 'Call button',
      when: { change: { device: 'button', measurement: 'event', field: 'pressed', to: true } },
      actions: [{ alert: { severity: 'warning', title: 'Call button pressed' } }],
    }
    assert.equal((await api(h, 'POST', '/api/automations', rule, t)).status, 201)
    for (let i = 0; i < 200; i++) await h.gateway.journal.submit({ reading: reading('button', 'event', { pressed: i % 2 === 1 }, Date.now()) })
    const local = () => h.gateway.store.db.prepare("SELECT count(*) FROM alerts WHERE rule_id = 'button'").pluck().get() as number
    await waitFor('100 alerts on the box', () => local() === 100, 10_000)
    const pending = () =>
      h.gateway.store.db.prepare("SELECT count(*) FROM alert_deliveries WHERE channel = 'cloud' AND status = 'pending'").pluck().get() as number
    assert.equal(pending(), 100, 'kept in the outbox while the cloud is down')
    await waitFor('the box to notice', async () => {
      const ready = (await api(h, 'GET', '/health/ready')).body as { checks: Record<string, { status: string }> }
      return ready.checks.cloud?.status === 'degraded'
    })

    // Back online: the answer to the first batch is lost; later the gateway is restarted mid-way.
    dropAnswers = 1
    await cloudUp()
    const stored = async () => {
      const [rows] = await pool.query<RowDataPacket[]>("SELECT count(*) AS n FROM alert_events WHERE event = 'raised'")
      return Number((rows[0] as { n: number }).n)
    }
    await waitFor('the first batch in MySQL', async () => (await stored()) >= 30, 15_000)
    const h2 = await h.restart()
    await waitFor('all 100 in MySQL', async () => (await stored()) >= 100, 20_000)
    await waitFor(
      'the outbox empty',
      () =>
        (h2.gateway.store.db
          .prepare("SELECT count(*) FROM alert_deliveries WHERE channel = 'cloud' AND status = 'pending'")
          .pluck()
          .get() as number) === 0,
    )

    const [events] = await pool.query<RowDataPacket[]>(
      "SELECT e.idempotency_key AS k, a.local_id AS localId, a.gateway_id AS gw, a.home_id AS home FROM alert_events e JOIN alerts a ON a.id = e.alert_id WHERE e.event = 'raised' ORDER BY e.id",
    )
    assert.equal(events.length, 100, 'each alert exactly once')
    const seqs = events.map((e) => Number(String(e.k).split(':').at(-1)))
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
      'in the order the box raised them',
    )
    const localIds = events.map((e) => Number(e.localId))
    assert.deepEqual(
      localIds,
      [...localIds].sort((a, b) => a - b),
    )
    assert.ok(events.every((e) => e.gw === h2.gateway.gatewayId && Number(e.home) === home.id))
    const [alerts] = await pool.query<RowDataPacket[]>('SELECT count(*) AS n FROM alerts')
    assert.equal(Number((alerts[0] as { n: number }).n), 100)
    assert.equal(dropAnswers, 0, 'an answer was lost on the way and the batch was sent again')

    // The lifecycle follows: an acknowledgement at home reaches the cloud's alert row.
    const first = localIds[0] as number
    assert.equal((await api(h2, 'POST', `/api/alerts/${first}/ack`, undefined, (await h2.login('anna')).accessToken)).status, 200)
    await waitFor('the acknowledgement in MySQL', async () => {
      const [rows] = await pool.query<RowDataPacket[]>('SELECT status, acknowledged_by AS who FROM alerts WHERE local_id = ?', [first])
      return (rows[0] as { status: string } | undefined)?.status === 'acknowledged'
    })
    // The heartbeat tells the cloud the box is alive, with its health.
    const [gw] = await pool.query<RowDataPacket[]>('SELECT last_seen_at AS seen, last_health AS health FROM gateways')
    assert.ok(Number((gw[0] as { seen: number }).seen) > 0)
    assert.match(String((gw[0] as { health: { status?: string } | null }).health?.status), /^(ok|degraded)$/)
    // The critical fallback would not run now: the cloud has the alert.
    assert.equal(h2.gateway.rules.cloud.hasAlert(first), true)

    // Device metadata follows the alerts: a device named in the panel appears in the cloud.
    await h2.addUser('ida', 'installer')
    const ida = (await h2.login('ida')).accessToken
    assert.equal((await api(h2, 'POST', '/api/devices', { id: 'hall-lamp', source: 'virtual', name: 'Hall lamp', room: 'hall' }, ida)).status, 201)
    await waitFor('the device in MySQL', async () => {
      const [rows] = await pool.query<RowDataPacket[]>("SELECT name, room, home_id AS home FROM devices WHERE device_id = 'hall-lamp'")
      return (rows[0] as { name?: string } | undefined)?.name === 'Hall lamp'
    })
    // Its readings are no change to its record: they are not sent again (checked once the box has
    // pulled the guardian's acknowledgement below, which takes a sync round after them).
    const devicePostsBefore = devicePosts
    await Promise.all([1, 2, 3].map((i) => h2.gateway.journal.submit({ reading: reading('hall-lamp', 'power', { on: i % 2 === 1 }, Date.now()) })))

    // A guardian away from home acknowledges another alert in the cloud: it comes down to the box.
    const guardian = (await (
      await admin(`/v1/admin/homes/${home.id}/guardians`, { name: 'Ben', channels: [{ kind: 'sms', target: '+491701234567' }] })
    ).json()) as {
      token: string
    }
    const second = localIds[1] as number
    const [cloudRow] = await pool.query<RowDataPacket[]>('SELECT id FROM alerts WHERE local_id = ?', [second])
    const ack = await fetch(`${base}/v1/alerts/${(cloudRow[0] as { id: number }).id}/ack`, {
      method: 'POST',
      headers: { authorization: `Bearer ${guardian.token}` },
    })
    assert.equal(ack.status, 200)
    const local2 = () =>
      h2.gateway.store.db.prepare('SELECT status, acknowledged_by AS who FROM alerts WHERE id = ?').get(second) as { status: string; who: string }
    await waitFor('the acknowledgement on the box', () => local2().status === 'acknowledged', 15_000)
    assert.equal(local2().who, 'guardian:Ben')
    assert.equal(devicePosts, devicePostsBefore, 'readings did not send the device to the cloud again')
    const audit = h2.gateway.store.db
      .prepare("SELECT actor, detail FROM audit_log WHERE action = 'alert.ack' AND target = ?")
      .get(`alert:${second}`) as { actor: string; detail: string }
    assert.equal(audit.actor, 'guardian:Ben')
    assert.match(audit.detail, /"via":"cloud"/)

    // …and a snooze ("remind me in 30 minutes") comes down as a snooze of the box's alert.
    const third = localIds[2] as number
    const [row3] = await pool.query<RowDataPacket[]>('SELECT id FROM alerts WHERE local_id = ?', [third])
    const snooze = await fetch(`${base}/v1/alerts/${(row3[0] as { id: number }).id}/snooze`, {
      method: 'POST',
      headers: { authorization: `Bearer ${guardian.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ minutes: 30 }),
    })
    assert.equal(snooze.status, 200)
    const local3 = () =>
      h2.gateway.store.db.prepare('SELECT status, snoozed_until AS until FROM alerts WHERE id = ?').get(third) as { status: string; until: number }
    await waitFor('the snooze on the box', () => local3().status === 'snoozed', 15_000)
    assert.ok(Math.abs(local3().until - (Date.now() + 30 * 60_000)) < 60_000)
    await db.stop()
  })
})
