import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import type { Pool, RowDataPacket } from 'mysql2/promise'
import pino from 'pino'
import { CredentialBox } from '../../../cloud-sync/src/crypto/credential-box.js'
import { migrate } from '../../../cloud-sync/src/db/migrate.js'
import { createPool } from '../../../cloud-sync/src/db/pool.js'
import { buildCloudApp } from '../../../cloud-sync/src/http/app.js'
import { signRequest } from '../../../cloud-sync/src/http/signature.js'
import type { Channel, Notification, SendResult } from '../../../cloud-sync/src/relay/channels/channel.js'
import { FcmChannel } from '../../../cloud-sync/src/relay/channels/fcm.js'
import { watchGateways } from '../../../cloud-sync/src/relay/offline-watch.js'
import { RelayWorker } from '../../../cloud-sync/src/relay/relay-worker.js'
import { mariadbAvailable, startMariaDb } from '../../_support/mariadb.js'
import { createServiceAccount, startFakeFcm } from '../../fakes/fcm.js'

/**
 * The guardian relay on a real MariaDB: instances claiming with SKIP LOCKED deliver each message
 * once; the escalation ladder climbs until someone acknowledges; a silent box is noticed.
 * The channel here records what it is asked to send (the claiming and the ladder are under test;
 * the FCM, email and SMS channels have their own tests against a fake FCM and a real SMTP server).
 */

const silent = pino({ level: 'silent' })

/** A channel that records each send, taking a little time like a network call would. */
function recorder(kind: Channel['kind'], answer: (n: Notification, target: string) => SendResult = () => ({ ok: true, receipt: 'r' })) {
  const sent: Array<{ target: string; n: Notification; by: string }> = []
  const make = (by: string): Channel => ({
    kind,
    async send(target, n) {
      await new Promise((r) => setTimeout(r, 1))
      sent.push({ target, n, by })
      return answer(n, target)
    },
  })
  return { sent, make }
}

describe('guardian relay', { skip: !mariadbAvailable() && 'mariadbd is not installed (scripts/install-test-deps.sh)' }, async () => {
  const db = await startMariaDb()
  await db.createDatabase('relay', 'relay', 'relay-password-1')
  const url = db.url('relay')
  await migrate(url)
  const pool: Pool = createPool(url, 20)
  const q = async <T>(sql: string, args: unknown[] = []) => (await pool.query<RowDataPacket[]>(sql, args))[0] as unknown as T[]
  let now = Date.parse('2026-11-27T12:00:00Z')
  const adminToken = randomBytes(32).toString('base64')
  const box = new CredentialBox(randomBytes(32).toString('base64'))
  const app = buildCloudApp({ pool, box, log: silent, adminToken, maxSkewMs: 300_000, now: () => now })
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await app.request(path, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }
  const admin = { authorization: `Bearer ${adminToken}` }

  // A home, its box and two guardians with a ladder: Anna's phone at once, Anna's email after 60 s,
  // Ben's SMS after 300 s.
  const home = (await call('POST', '/v1/admin/homes', { name: 'Mum' }, admin)).body.id as number
  const code = (await call('POST', `/v1/admin/homes/${home}/enrolment-codes`, {}, admin)).body.code as string
  const secret = (await call('POST', '/v1/enrol', { code, gatewayId: 'box-1' })).body.secret as string
  const anna = (
    await call(
      'POST',
      `/v1/admin/homes/${home}/guardians`,
      {
        name: 'Anna',
        channels: [
          { kind: 'push', target: 'fcm-token-anna' },
          { kind: 'email', target: 'anna@family.test' },
        ],
      },
      admin,
    )
  ).body
  const ben = (await call('POST', `/v1/admin/homes/${home}/guardians`, { name: 'Ben', channels: [{ kind: 'sms', target: '+491701234567' }] }, admin))
    .body
  const ladder = await call(
    'PUT',
    `/v1/admin/homes/${home}/escalation`,
    {
      steps: [
        { afterSeconds: 0, guardianId: anna.id, kind: 'push' },
        { afterSeconds: 60, guardianId: anna.id, kind: 'email' },
        { afterSeconds: 300, guardianId: ben.id, kind: 'sms' },
      ],
    },
    admin,
  )
  assert.equal(ladder.status, 200)
  let seq = 0
  const sync = async (events: unknown[]) => {
    const body = JSON.stringify({ events })
    const ts = String(Math.floor(now / 1000) - (seq % 50)) // distinct signatures for requests in the same second
    const res = await app.request('/v1/sync/alerts', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-gateway-id': 'box-1',
        'x-timestamp': ts,
        'x-signature': signRequest(secret, ts, 'POST', '/v1/sync/alerts', body),
      },
      body,
    })
    assert.equal(res.status, 200, await res.clone().text())
  }
  const alertEvent = (localId: number, event: string, severity: string, status = 'open') => ({
    seq: ++seq,
    event,
    at: now,
    alert: {
      id: localId,
      ruleId: 'r',
      ruleName: 'Rule',
      deviceId: 'd',
      severity,
      title: `Alert ${localId}`,
      body: null,
      status,
      raisedAt: now,
      updatedAt: now,
      acknowledgedAt: null,
      acknowledgedBy: null,
    },
  })

  test('three relay instances deliver 1,000 due notifications exactly once each', async () => {
    const [g] = await q<{ id: number }>("SELECT id FROM guardian_channels WHERE kind = 'push'")
    for (let i = 0; i < 1000; i += 100) {
      const rows = Array.from({ length: 100 }, (_, k) => [`bulk:${i + k}`, home, null, 'box-1', 'raised', 0, anna.id, g?.id, 'push', now])
      await pool.query(
        'INSERT INTO deliveries (idempotency_key, home_id, alert_id, gateway_id, notice, step, guardian_id, channel_id, kind, due_at) VALUES ?',
        [rows],
      )
    }
    const push = recorder('push')
    const workers = ['relay-a', 'relay-b', 'relay-c'].map(
      (id) => new RelayWorker({ pool, channels: { push: push.make(id) }, id, log: silent, now: () => now, batch: 25 }),
    )
    const waiting = async () => Number((await q<{ n: number }>("SELECT count(*) AS n FROM deliveries WHERE status IN ('pending', 'sending')"))[0]?.n)
    await Promise.all(
      workers.map(async (w) => {
        // An instance that found nothing to claim (all locked by the others) looks again.
        while ((await w.runOnce()) > 0 || (await waiting()) > 0);
      }),
    )
    const ids = push.sent.map((s) => s.n.deliveryId)
    assert.equal(ids.length, 1000)
    assert.equal(new Set(ids).size, 1000, 'no notification sent twice')
    const by = new Set(push.sent.map((s) => s.by))
    assert.equal(by.size, 3, 'all three instances took part')
    const [left] = await q<{ n: number }>("SELECT count(*) AS n FROM deliveries WHERE status != 'sent'")
    assert.equal(Number(left?.n), 0)
    await pool.query("DELETE FROM deliveries WHERE idempotency_key LIKE 'bulk:%'")
  })

  test('an unacknowledged critical alert climbs the ladder; a guardian’s acknowledgement stops it and goes down to the box', async () => {
    const channels = { push: recorder('push'), email: recorder('email'), sms: recorder('sms') }
    const relay = new RelayWorker({
      pool,
      channels: { push: channels.push.make('r'), email: channels.email.make('r'), sms: channels.sms.make('r') },
      id: 'r',
      log: silent,
      now: () => now,
    })
    const drain = async () => {
      while ((await relay.runOnce()) > 0);
    }
    await sync([alertEvent(7, 'raised', 'critical')])
    await drain()
    assert.deepEqual(
      channels.push.sent.map((s) => [s.target, s.n.kind, s.n.severity]),
      [['fcm-token-anna', 'raised', 'critical']],
    )
    assert.equal(channels.email.sent.length, 0, 'the email step is not due yet')
    now += 61_000
    await drain()
    assert.deepEqual(
      channels.email.sent.map((s) => [s.target, s.n.kind]),
      [['anna@family.test', 'escalated']],
    )
    // Ben acknowledges from his phone before his SMS step is due: the ladder stops.
    const [cloudAlert] = await q<{ id: number }>("SELECT id FROM alerts WHERE gateway_id = 'box-1' AND local_id = 7")
    const wrong = await call('POST', `/v1/alerts/${cloudAlert?.id}/ack`, undefined, { authorization: 'Bearer not-a-guardian' })
    assert.equal(wrong.status, 401)
    const ack = await call('POST', `/v1/alerts/${cloudAlert?.id}/ack`, undefined, { authorization: `Bearer ${ben.token}` })
    assert.equal(ack.status, 200, JSON.stringify(ack.body))
    now += 300_000
    await drain()
    assert.equal(channels.sms.sent.length, 0, 'acknowledged: no SMS to Ben')
    const [cancelled] = await q<{ status: string }>("SELECT status FROM deliveries WHERE kind = 'sms' AND alert_id = ?", [cloudAlert?.id])
    assert.equal(cancelled?.status, 'cancelled')
    // The box learns of it (signed GET of the changes after its position).
    const ts = String(Math.floor(now / 1000))
    const changes = await app.request('/v1/sync/changes?after=0', {
      headers: { 'x-gateway-id': 'box-1', 'x-timestamp': ts, 'x-signature': signRequest(secret, ts, 'GET', '/v1/sync/changes?after=0', '') },
    })
    const body = (await changes.json()) as { changes: Array<{ localId: number; event: string; actor: string }> }
    assert.deepEqual(
      body.changes.map((c) => [c.localId, c.event, c.actor]),
      [[7, 'acknowledged', 'guardian:Ben']],
    )
  })

  test('a warning goes to the first step only; an alert acknowledged at home stops a critical ladder', async () => {
    const push = recorder('push')
    const email = recorder('email')
    const relay = new RelayWorker({
      pool,
      channels: { push: push.make('r'), email: email.make('r'), sms: recorder('sms').make('r') },
      id: 'r',
      log: silent,
      now: () => now,
    })
    const drain = async () => {
      while ((await relay.runOnce()) > 0);
    }
    await sync([alertEvent(8, 'raised', 'warning')])
    await sync([alertEvent(9, 'raised', 'critical')])
    await drain()
    assert.deepEqual(push.sent.map((s) => s.n.title).sort(), ['Alert 8', 'Alert 9'])
    await sync([alertEvent(9, 'acknowledged:1', 'critical', 'acknowledged')])
    now += 400_000
    await drain()
    assert.equal(email.sent.length, 0, 'acknowledged at home before the email step')
    const [info] = await q<{ n: number }>(
      'SELECT count(*) AS n FROM deliveries d JOIN alerts a ON a.id = d.alert_id WHERE a.local_id = 8 AND d.step > 0',
    )
    assert.equal(Number(info?.n), 0, 'a warning does not climb the ladder')
  })

  test('tenant isolation of the changes and devices routes: another home sees none of this one', async () => {
    const other = (await call('POST', '/v1/admin/homes', { name: 'Neighbour' }, admin)).body.id as number
    const code2 = (await call('POST', `/v1/admin/homes/${other}/enrolment-codes`, {}, admin)).body.code as string
    const secret2 = (await call('POST', '/v1/enrol', { code: code2, gatewayId: 'box-2' })).body.secret as string
    const signed = async (method: string, path: string, body = '') => {
      const ts = String(Math.floor(now / 1000) - 7)
      return app.request(path, {
        method,
        headers: {
          'content-type': 'application/json',
          'x-gateway-id': 'box-2',
          'x-timestamp': ts,
          'x-signature': signRequest(secret2, ts, method, path, body),
        },
        ...(body ? { body } : {}),
      })
    }
    const changes = (await (await signed('GET', '/v1/sync/changes?after=0')).json()) as { changes: unknown[] }
    assert.deepEqual(changes.changes, [], "box-1's acknowledgements are not box-2's business")
    const body = JSON.stringify({ devices: [{ id: 'd', name: 'Other lamp', room: null, type: 'light', source: 'virtual', updatedAt: 1 }] })
    assert.equal((await signed('POST', '/v1/sync/devices', body)).status, 200)
    const rows = await q<{ gateway_id: string; home_id: number }>("SELECT gateway_id, home_id FROM devices WHERE device_id = 'd'")
    assert.deepEqual(
      rows.map((r) => [r.gateway_id, Number(r.home_id)]),
      [['box-2', other]],
    )
  })

  test('through FCM: the push reaches the fake FCM; an UNREGISTERED token is disabled for good', async () => {
    const fake = await startFakeFcm({ now: () => Date.now() })
    try {
      const account = createServiceAccount(fake)
      const push = new FcmChannel({ serviceAccount: account, now: () => Date.now(), baseUrl: fake.url })
      const relay = new RelayWorker({
        pool,
        channels: { push, email: recorder('email').make('r'), sms: recorder('sms').make('r') },
        id: 'fcm',
        log: silent,
        now: () => now,
      })
      await sync([alertEvent(20, 'raised', 'critical')])
      while ((await relay.runOnce()) > 0);
      assert.equal(fake.messages.length, 1)
      assert.equal((fake.messages[0] as unknown as { message: { token: string } }).message.token, 'fcm-token-anna')
      const [sent] = await q<{ status: string; receipt: string }>(
        "SELECT d.status, d.receipt FROM deliveries d JOIN alerts a ON a.id = d.alert_id WHERE a.local_id = 20 AND d.kind = 'push'",
      )
      assert.equal(sent?.status, 'sent')
      assert.match(String(sent?.receipt), /^projects\/.+\/messages\//)

      fake.failToken('fcm-token-anna', { code: 'UNREGISTERED' })
      await sync([alertEvent(21, 'raised', 'warning')])
      while ((await relay.runOnce()) > 0);
      const [channel] = await q<{ disabled_at: number | null; disabled_reason: string }>(
        "SELECT disabled_at, disabled_reason FROM guardian_channels WHERE target = 'fcm-token-anna'",
      )
      assert.ok(channel?.disabled_at, 'the token is disabled')
      const [failed] = await q<{ status: string }>(
        "SELECT d.status FROM deliveries d JOIN alerts a ON a.id = d.alert_id WHERE a.local_id = 21 AND d.kind = 'push'",
      )
      assert.equal(failed?.status, 'failed')
      // /metrics (admin token) counts the deliveries by status.
      const metrics = await app.request('/metrics', { headers: admin })
      assert.match(await metrics.text(), /carehub_cloud_deliveries\{status="failed",kind="push"\} 1/)
      assert.equal((await app.request('/metrics')).status, 401)
      await pool.query('UPDATE guardian_channels SET disabled_at = NULL, disabled_reason = NULL')
    } finally {
      await fake.close()
    }
  })

  test('a box without heartbeats is reported offline to the guardians, and back online when it returns', async () => {
    const push = recorder('push')
    const relay = new RelayWorker({
      pool,
      channels: { push: push.make('r'), email: recorder('email').make('r'), sms: recorder('sms').make('r') },
      id: 'r',
      log: silent,
      now: () => now,
    })
    const heartbeat = async () => {
      const body = JSON.stringify({ at: now, health: { status: 'ok' } })
      const ts = String(Math.floor(now / 1000))
      const res = await app.request('/v1/heartbeat', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-gateway-id': 'box-1',
          'x-timestamp': ts,
          'x-signature': signRequest(secret, ts, 'POST', '/v1/heartbeat', body),
        },
        body,
      })
      assert.equal(res.status, 200)
    }
    await heartbeat()
    now += 5 * 60_000
    assert.deepEqual(await watchGateways(pool, { silentMs: 10 * 60_000, now: () => now, log: silent }), { opened: 0, closed: 0 })
    now += 6 * 60_000
    assert.deepEqual(await watchGateways(pool, { silentMs: 10 * 60_000, now: () => now, log: silent }), { opened: 1, closed: 0 })
    assert.deepEqual(
      await watchGateways(pool, { silentMs: 10 * 60_000, now: () => now, log: silent }),
      { opened: 0, closed: 0 },
      'one outage, one notice',
    )
    while ((await relay.runOnce()) > 0);
    assert.deepEqual(
      push.sent.map((s) => [s.n.kind, s.n.title]),
      [['offline', 'The CareHub box of Mum is offline']],
    )
    now += 60_000
    await heartbeat()
    assert.deepEqual(await watchGateways(pool, { silentMs: 10 * 60_000, now: () => now, log: silent }), { opened: 0, closed: 1 })
    while ((await relay.runOnce()) > 0);
    assert.deepEqual(push.sent.at(-1)?.n.kind, 'online')
    await pool.end()
    await db.stop()
  })
})
