import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { Registry } from 'prom-client'
import { BrokerHost } from '../../../gateway/src/broker/broker-host.js'
import { isCarehubError } from '../../../gateway/src/core/errors.js'
import type { ServiceHealth } from '../../../gateway/src/core/service.js'
import { enrolDevice } from '../../../gateway/src/pki/device-enrolment.js'
import { LocalCa } from '../../../gateway/src/pki/local-ca.js'
import { SecretBox } from '../../../gateway/src/secrets/secret-box.js'
import type { MqttPublish } from '../../../gateway/src/sources/mqtt/classify-publish.js'
import { openStore } from '../../../gateway/src/store/open.js'
import { waitFor } from '../../_support/history-data.js'
import { captureLogger } from '../../_support/log-capture.js'
import { connectDevice } from '../../_support/mqtt-clients.js'
import { tempDir } from '../../_support/temp.js'

const health = (host: BrokerHost) => (host.healthCheck.check() as ServiceHealth).status

interface Held {
  readonly publish: MqttPublish
  resolve(): void
  reject(err: Error): void
}

/**
 * A BrokerHost on a real store and CA, its worker the real one (or the fragile test one), with
 * onPublish held by the test: each publish waits in `held` until the test settles it.
 */
async function setup(o: { fragile?: boolean; port?: number } = {}) {
  const dir = tempDir()
  const { log, lines } = captureLogger('debug')
  const db = openStore({ path: join(dir, 'carehub.db'), log, now: Date.now(), checkIntegrity: false })
  const ca = await LocalCa.loadOrCreate({ dir, secrets: await SecretBox.open(dir), gatewayId: 'gw-test', validityDays: 365, now: Date.now() })
  const server = await ca.issue({
    commonName: 'localhost',
    usage: 'server',
    subjectAltNames: [{ type: 'dns', value: 'localhost' }],
    validityDays: 30,
    now: Date.now(),
  })
  const device = await enrolDevice(db, ca, 'dev_a', { validityDays: 30, now: Date.now(), renew: false })
  const tlsKey = { pem: server.keyPem }
  const held: Held[] = []
  const sessions: string[] = []
  const registry = new Registry()
  const host = new BrokerHost({
    settings: {
      bind: '127.0.0.1',
      port: o.port ?? 0,
      loopbackPlainPort: null,
      maxPacketBytes: 64 * 1024,
      maxConnections: 100,
      maxConnectionsPerAddress: 32,
      keepaliveLimitSeconds: 120,
      connectBurst: 100,
      connectPerSecond: 100,
    },
    persistenceDir: join(dir, 'broker'),
    storePath: () => db.name,
    tls: () => ({ certPem: server.certPem, keyPem: tlsKey.pem, caPem: ca.certPem }),
    limits: { maxPayloadBytes: 16 * 1024, maxFutureMs: 60_000, maxPastMs: 86_400_000 },
    revocationIntervalMs: 100,
    onPublish: (publish) => new Promise((resolve, reject) => held.push({ publish, resolve, reject })),
    onSession: (event, session) => sessions.push(`${event} ${session.deviceId}`),
    log,
    registry,
    ...(o.fragile ? { workerModule: new URL('../../_support/fragile-broker-worker.ts', import.meta.url) } : {}),
  })
  const certs = { certPem: device.certPem, keyPem: device.keyPem, caPem: ca.certPem }
  const metric = async (name: string) => {
    const m = (await registry.getSingleMetricAsString(name)).match(/^\S+ (\d+)$/m)
    return m ? Number(m[1]) : 0
  }
  return { dir, db, host, held, sessions, lines, certs, metric, tlsKey, crash: () => writeFileSync(join(dir, 'crash'), '') }
}

describe('the broker worker host', () => {
  test('a publish is acknowledged only once the gateway stored it; a refused one closes the connection', async (t) => {
    const s = await setup()
    await s.host.start()
    t.after(() => s.host.stop())
    const client = await connectDevice(s.host.address?.port ?? 0, s.certs, { clientId: 'dev_a' })
    let acked = false
    const publishing = client.publishAsync('care/dev_a/climate', JSON.stringify({ fields: { temp_c: 21.5 } }), { qos: 1 }).then(() => (acked = true))
    await waitFor('the publish to reach the gateway', () => s.held.length === 1, 5000)
    const first = s.held[0]?.publish
    assert.equal(first?.kind, 'reading')
    assert.deepEqual(first?.kind === 'reading' && [first.reading.deviceId, first.reading.measurement, first.reading.fields], [
      'dev_a',
      'climate',
      { temp_c: 21.5 },
    ])
    await new Promise((r) => setTimeout(r, 300))
    assert.equal(acked, false, 'no PUBACK while the reading is not stored')
    s.held[0]?.resolve()
    await publishing
    assert.equal(acked, true)

    // Not JSON: classified in the worker as invalid, with its reason and a sample of the payload.
    const closed = new Promise<void>((r) => client.once('close', () => r()))
    void client.publishAsync('care/dev_a/climate', 'not json', { qos: 1 }).catch(() => {})
    await waitFor('the second publish', () => s.held.length === 2, 5000)
    const second = s.held[1]?.publish
    assert.equal(second?.kind === 'invalid' && second.reason, 'not_json')
    assert.equal(second?.kind === 'invalid' && Buffer.from(second.sample).toString(), 'not json')
    s.held[1]?.reject(new Error('journal full'))
    await closed
  })

  test('PUBACKs keep the order of their PUBLISHes: a status stored at once waits for the reading before it [MQTT-4.6.0-2]', async (t) => {
    const s = await setup()
    await s.host.start()
    t.after(() => s.host.stop())
    const client = await connectDevice(s.host.address?.port ?? 0, s.certs, { clientId: 'dev_a' })
    const order: string[] = []
    const reading = client
      .publishAsync('care/dev_a/climate', JSON.stringify({ fields: { temp_c: 21.5 } }), { qos: 1 })
      .then(() => order.push('reading'))
    const status = client.publishAsync('care/dev_a/status', 'online', { qos: 1 }).then(() => order.push('status'))
    await waitFor('both publishes to reach the gateway', () => s.held.length === 2, 5000)
    assert.deepEqual(
      s.held.map((h) => h.publish.kind),
      ['reading', 'status'],
    )
    s.held[1]?.resolve()
    await new Promise((r) => setTimeout(r, 300))
    assert.deepEqual(order, [], 'no PUBACK for the status while the reading before it is not stored')
    s.held[0]?.resolve()
    await Promise.all([reading, status])
    assert.deepEqual(order, ['reading', 'status'])
  })

  test('sessions reach the gateway: presence events, isConnected, the clients gauge; refusals are counted', async (t) => {
    const s = await setup()
    await s.host.start()
    t.after(() => s.host.stop())
    assert.deepEqual(s.host.healthCheck.check(), { status: 'ok', detail: '0 clients' })
    const client = await connectDevice(s.host.address?.port ?? 0, s.certs, { clientId: 'dev_a' })
    await waitFor('the session', () => s.host.isConnected('dev_a'), 5000)
    assert.deepEqual(s.sessions, ['connected dev_a'])
    assert.equal(await s.metric('carehub_mqtt_clients'), 1)
    assert.equal(s.host.isConnected('dev_b'), false)
    // A topic of another device: refused in the worker, counted here.
    // Not awaited: mqtt.js never settles a publish whose connection the broker closed.
    void client.publishAsync('care/dev_b/climate', JSON.stringify({ fields: { temp_c: 1 } }), { qos: 1 }).catch(() => {})
    await waitFor('the refusal on /metrics', async () => (await s.metric('carehub_mqtt_refused_total')) === 1, 5000)
    await waitFor('the disconnect', () => !s.host.isConnected('dev_a'), 5000)
    assert.deepEqual(s.sessions, ['connected dev_a', 'disconnected dev_a'])
    assert.equal(await s.metric('carehub_mqtt_clients'), 0)
  })

  test('a worker that dies is started again: its devices count as disconnected meanwhile, one error is logged per death, and they come back', async (t) => {
    const s = await setup({ fragile: true })
    await s.host.start()
    t.after(() => s.host.stop())
    const port = s.host.address?.port ?? 0
    const client = await connectDevice(port, s.certs, { clientId: 'dev_a', reconnectPeriod: 100 })
    // A second, diagnostic session of the same device: presence counts sessions per device.
    const diagnostic = await connectDevice(port, s.certs, { clientId: 'dev_a:diag' })
    await waitFor('both sessions', () => s.sessions.length === 2, 5000)

    s.crash()
    await waitFor('the worker to die', () => health(s.host) === 'down', 5000)
    assert.equal(s.host.isConnected('dev_a'), false)
    assert.deepEqual(s.sessions, ['connected dev_a', 'connected dev_a', 'disconnected dev_a', 'disconnected dev_a'], 'one disconnect per session')
    diagnostic.end(true)
    await assert.rejects(s.host.publish('care/dev_a/cmd/power', '{"on":true}'), /broker not started/)

    // Started again after the 1 s backoff, on the same port: the device reconnects and publishes.
    await waitFor('the broker back', () => health(s.host) === 'ok', 10_000)
    assert.equal(s.host.address?.port, port)
    await waitFor('the device back', () => s.host.isConnected('dev_a'), 10_000)
    const publishing = client.publishAsync('care/dev_a/climate', JSON.stringify({ fields: { temp_c: 20 } }), { qos: 1 })
    await waitFor('the publish', () => s.held.length === 1, 5000)
    s.held[0]?.resolve()
    await publishing

    // A second death, after it listened again, is a new episode: logged as an error again.
    s.crash()
    await waitFor('the second death', () => health(s.host) === 'down', 5000)
    await waitFor('the broker back again', () => health(s.host) === 'ok', 10_000)
    const died = s.lines().filter((l) => String(l.msg).includes('stopped unexpectedly'))
    assert.deepEqual(
      died.map((l) => l.level),
      ['error', 'error'],
      'one error per death',
    )
    assert.ok(s.lines().some((l) => l.msg === 'the MQTT broker listens again'))
  })

  test('a publish in flight when the worker dies is never acknowledged by it; the device resends it to the next one', async (t) => {
    const s = await setup({ fragile: true })
    await s.host.start()
    t.after(() => s.host.stop())
    const client = await connectDevice(s.host.address?.port ?? 0, s.certs, { clientId: 'dev_a', reconnectPeriod: 100 })
    let acked = false
    const publishing = client.publishAsync('care/dev_a/climate', JSON.stringify({ fields: { temp_c: 19 } }), { qos: 1 }).then(() => (acked = true))
    await waitFor('the publish', () => s.held.length === 1, 5000)
    s.crash()
    await waitFor('the worker to die', () => health(s.host) === 'down', 5000)
    await waitFor('the resend to the next worker', () => s.held.length === 2, 10_000)
    // The first copy is stored only now: its acknowledgement belongs to the dead worker and must
    // not reach the new one (whose ids start again at 1, like the resend's).
    s.held[0]?.resolve()
    await new Promise((r) => setTimeout(r, 300))
    assert.equal(acked, false, 'not acknowledged before the resend is stored')
    const [first, again] = [s.held[0]?.publish, s.held[1]?.publish]
    assert.deepEqual(again?.kind === 'reading' && again.reading.fields, first?.kind === 'reading' && first.reading.fields)
    s.held[1]?.resolve()
    await publishing
    assert.equal(acked, true)
  })

  test('a server key the TLS layer refuses on reload is logged, and the broker keeps serving with the one it has', async (t) => {
    const s = await setup()
    await s.host.start()
    t.after(() => s.host.stop())
    s.tlsKey.pem = '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n'
    s.host.reloadTls()
    await waitFor('the error', () => s.lines().some((l) => String(l.msg).includes('could not be loaded')), 5000)
    await connectDevice(s.host.address?.port ?? 0, s.certs, { clientId: 'dev_a' })
    assert.equal(health(s.host), 'ok')
    assert.equal(s.lines().filter((l) => String(l.msg).includes('stopped unexpectedly')).length, 0)
  })

  test('a port in use fails start() with the catalogue error, and nothing is started again', async (t) => {
    const first = await setup()
    await first.host.start()
    t.after(() => first.host.stop())
    const second = await setup({ port: first.host.address?.port ?? 0 })
    const err = await second.host.start().then(
      () => null,
      (e: unknown) => e,
    )
    assert.ok(isCarehubError(err) && err.code === 'CAREHUB_ERR_PORT_IN_USE', String(err))
    await new Promise((r) => setTimeout(r, 1500))
    assert.equal(health(second.host), 'down')
    assert.equal(second.lines().filter((l) => String(l.msg).includes('stopped unexpectedly')).length, 0)
    await second.host.stop()
  })
})
