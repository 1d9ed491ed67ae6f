import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ROUTE_DOCS } from '../../../gateway/src/api/openapi.js'
import { hotp, stepAt } from '../../../gateway/src/auth/totp.js'
import { base32Decode } from '../../_support/api-client.js'
import { type Harness, startGateway } from '../../_support/gateway-harness.js'
import { httpsJson } from '../../_support/https-get.js'
import { connectDevice } from '../../_support/mqtt-clients.js'

/** Call a route and parse its answer with the response schema the OpenAPI document publishes for it. */
async function call(
  h: Harness,
  seen: Set<string>,
  method: 'get' | 'post' | 'put' | 'delete',
  path: string,
  body?: unknown,
  token?: string,
  headers: Record<string, string> = {},
) {
  const template =
    path
      .split('?')[0]
      ?.replace(/\/api\/(users|devices|automations|alerts)\/[^/]+/, '/api/$1/{id}')
      .replace(/\/api\/ingest\/ha\/[^/]+/, '/api/ingest/ha/{client_id}') ?? ''
  const doc = ROUTE_DOCS.find((r) => r.method === method && r.path === template)
  assert.ok(doc, `${method} ${template} is documented`)
  const res = await httpsJson(
    method.toUpperCase(),
    `https://127.0.0.1:${h.httpPort}${path}`,
    h.gateway.pki.ca.certPem,
    body,
    token ? { authorization: `Bearer ${token}`, ...headers } : headers,
  )
  assert.equal(res.status, doc.ok.status, `${method} ${path}: ${JSON.stringify(res.body)}`)
  if (doc.ok.schema) {
    const parsed = doc.ok.schema.safeParse(res.body)
    assert.ok(parsed.success, `${method} ${path} answers its documented shape: ${parsed.success ? '' : JSON.stringify(parsed.error.issues)}`)
    seen.add(`${method} ${template}`)
  }
  return res.body
}

describe('API contract: every JSON route answers the shape its OpenAPI entry documents', () => {
  test('a walk through every documented JSON response', async () => {
    const h = await startGateway({ homeassistant: { enabled: true, webhook: { clients: [{ id: 'ha-main', mode: 'bearer' }] } } })
    await h.gateway.secrets.set('ha-webhook.ha-main', 'contract-secret')
    const seen = new Set<string>()
    await h.addUser('root', 'admin')
    const certs = await h.enrol('kitchen_temp')
    const client = await connectDevice(h.mqttPort, certs, { clientId: 'kitchen_temp' })
    await client.publishAsync('care/kitchen_temp/climate', '{"fields":{"temp_c":21.5},"tags":{"room":"kitchen"}}', { qos: 1 })

    await call(h, seen, 'post', '/api/ingest/ha/ha-main', { entity_id: 'switch.kettle', state: 'on' }, undefined, {
      authorization: 'Bearer contract-secret',
    })
    await call(h, seen, 'get', '/health')
    await call(h, seen, 'get', '/health/ready')
    const tokens = (await call(h, seen, 'post', '/api/auth/login', { username: 'root', password: 'correct horse battery' })) as {
      accessToken: string
      refreshToken: string
    }
    const refreshed = (await call(h, seen, 'post', '/api/auth/refresh', { refreshToken: tokens.refreshToken })) as { accessToken: string }
    const t = refreshed.accessToken
    await call(h, seen, 'get', '/api/me', undefined, t)
    await call(h, seen, 'put', '/api/me', { displayName: 'Root' }, t)
    const user = (await call(h, seen, 'post', '/api/users', { username: 'nurse', role: 'caregiver', password: 'another long passphrase' }, t)) as {
      id: number
    }
    await call(h, seen, 'get', '/api/users', undefined, t)
    await call(h, seen, 'get', `/api/users/${user.id}`, undefined, t)
    await call(h, seen, 'put', `/api/users/${user.id}`, { email: 'nurse@example.org' }, t)
    await call(h, seen, 'post', '/api/devices', { id: 'ha_plug', source: 'homeassistant', room: 'hall' }, t)
    await call(h, seen, 'put', '/api/devices/ha_plug', { name: 'Hall plug' }, t)
    await call(h, seen, 'get', '/api/devices', undefined, t)
    await call(h, seen, 'get', '/api/devices/kitchen_temp', undefined, t)
    await client.subscribeAsync('care/kitchen_temp/cmd/+', { qos: 1 })
    client.on('message', (topic, payload) => {
      const { id } = JSON.parse(payload.toString()) as { id: string }
      void client.publishAsync(`${topic}/result`, JSON.stringify({ id, ok: true, result: { calibrated: true } }), { qos: 1 })
    })
    await call(h, seen, 'post', '/api/devices/kitchen_temp/command', { capability: 'calibrate', params: { offset_c: -0.5 } }, t)
    await h.gateway.history.rollups.flush()
    await call(h, seen, 'get', '/api/devices/kitchen_temp/series?measurement=climate&field=temp_c&range=1h&step=10s', undefined, t)
    await call(h, seen, 'get', '/api/devices/kitchen_temp/series?measurement=climate&field=temp_c&range=1d', undefined, t)
    for (const preset of ['latest', 'room_hourly&room=kitchen', 'daily_energy', 'door_openings', 'inactivity']) {
      await call(h, seen, 'get', `/api/telemetry/query?preset=${preset}`, undefined, t)
    }
    await call(h, seen, 'get', '/api/audit?limit=20', undefined, t)
    await call(h, seen, 'get', '/api/logs?level=info&limit=20', undefined, t)
    const enrol = (await call(h, seen, 'post', '/api/auth/mfa/enroll', undefined, t)) as { secret: string }
    await call(h, seen, 'post', '/api/auth/mfa/verify', { code: hotp(base32Decode(enrol.secret), stepAt(Date.now())) }, t)

    const rule = {
      id: 'warm-kitchen',
      name: 'Kitchen warm',
      when: { threshold: { device: 'kitchen_temp', measurement: 'climate', field: 'temp_c', op: '>', value: 25 } },
      actions: [{ alert: { severity: 'info', title: 'Warm: {value}' } }],
    }
    await call(h, seen, 'post', '/api/automations', rule, t)
    await call(h, seen, 'put', '/api/automations/warm-kitchen', { ...rule, cooldown: '1m' }, t)
    await call(h, seen, 'get', '/api/automations', undefined, t)
    await call(h, seen, 'get', '/api/automations/warm-kitchen', undefined, t)
    await client.publishAsync('care/kitchen_temp/climate', '{"fields":{"temp_c":26.5}}', { qos: 1 })
    let alerts: Array<{ id: number }> = []
    for (let i = 0; i < 100 && alerts.length === 0; i++) {
      alerts = (await call(h, seen, 'get', '/api/alerts?rule=warm-kitchen', undefined, t)) as Array<{ id: number }>
      if (alerts.length === 0) await new Promise((r) => setTimeout(r, 50))
    }
    const alertId = alerts[0]?.id
    await call(h, seen, 'get', `/api/alerts/${alertId}`, undefined, t)
    await call(h, seen, 'post', `/api/alerts/${alertId}/read`, undefined, t)
    await call(h, seen, 'post', `/api/alerts/${alertId}/ack`, undefined, t)
    await call(h, seen, 'post', `/api/alerts/${alertId}/snooze`, { for: '10m' }, t)
    await call(h, seen, 'post', `/api/alerts/${alertId}/resolve`, undefined, t)
    await call(h, seen, 'get', '/api/automations/warm-kitchen/traces?limit=10', undefined, t)
    await call(
      h,
      seen,
      'post',
      '/api/automations/warm-kitchen/test',
      { readings: [{ device: 'kitchen_temp', measurement: 'climate', fields: { temp_c: 30 } }] },
      t,
    )
    await call(h, seen, 'post', '/api/automations/warm-kitchen/backtest?range=1h', undefined, t)

    const documented = ROUTE_DOCS.filter((r) => r.ok.schema).map((r) => `${r.method} ${r.path}`)
    assert.deepEqual([...seen].sort(), documented.sort(), 'every route with a documented response was exercised')
  })
})
