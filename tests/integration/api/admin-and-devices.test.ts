import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { api } from '../../_support/api-client.js'
import { startGateway } from '../../_support/gateway-harness.js'

describe('device metadata over the API', () => {
  test('an installer creates a Home Assistant device and edits its metadata; a viewer may not; both audited', async () => {
    const h = await startGateway()
    await h.addUser('fitter', 'installer')
    await h.addUser('gran', 'viewer')
    const installer = await h.login('fitter')
    const viewer = await h.login('gran')
    const created = await api(
      h,
      'POST',
      '/api/devices',
      { id: 'ha_fridge', source: 'homeassistant', type: 'appliance', room: 'kitchen', capabilities: ['power'] },
      installer.accessToken,
    )
    assert.equal(created.status, 201, JSON.stringify(created.body))
    assert.equal((created.body as { room: string }).room, 'kitchen')
    assert.equal((await api(h, 'POST', '/api/devices', { id: 'ha_fridge', source: 'homeassistant' }, installer.accessToken)).status, 409)
    assert.equal(
      (await api(h, 'POST', '/api/devices', { id: 'esp_1', source: 'mqtt' }, installer.accessToken)).status,
      400,
      'MQTT devices are enrolled, not created',
    )
    assert.equal((await api(h, 'POST', '/api/devices', { id: 'x_1', source: 'virtual' }, viewer.accessToken)).status, 403)

    const renamed = await api(h, 'PUT', '/api/devices/ha_fridge', { name: 'Fridge', room: null }, installer.accessToken)
    assert.equal(renamed.status, 200)
    const d = renamed.body as { name: string; room: string | null; type: string; capabilities: string[] }
    assert.deepEqual([d.name, d.room, d.type, d.capabilities], ['Fridge', null, 'appliance', ['power']], 'fields left out keep their value')
    assert.equal((await api(h, 'PUT', '/api/devices/nope', { name: 'x' }, installer.accessToken)).status, 404)
    const rows = h.gateway.store.db.prepare("SELECT action, detail FROM audit_log WHERE action LIKE 'device.%' ORDER BY id").all() as Array<{
      action: string
      detail: string
    }>
    assert.deepEqual(
      rows.map((r) => r.action),
      ['device.create', 'device.update'],
    )
    assert.equal((JSON.parse(rows[1]?.detail ?? '{}') as { before: { room: string } }).before.room, 'kitchen')
  })
})

describe('admin views', () => {
  test('GET /api/audit (admin only, newest first, filter by action) and GET /api/logs (admin only, redacted lines)', async () => {
    const h = await startGateway()
    await h.addUser('root', 'admin')
    await h.addUser('nurse', 'caregiver')
    const admin = await h.login('root')
    const nurse = await h.login('nurse')
    await api(h, 'POST', '/api/auth/login', { username: 'root', password: 'wrong password here' })
    assert.equal((await api(h, 'GET', '/api/audit', undefined, nurse.accessToken)).status, 403)
    const audit = await api(h, 'GET', '/api/audit?action=auth.login&limit=2', undefined, admin.accessToken)
    assert.equal(audit.status, 200)
    const entries = audit.body as Array<{ id: number; action: string; outcome: string }>
    assert.equal(entries.length, 2)
    assert.ok((entries[0]?.id ?? 0) > (entries[1]?.id ?? 0), 'newest first')
    assert.equal(entries[0]?.outcome, 'denied')
    assert.equal((await api(h, 'GET', '/api/audit?limit=0', undefined, admin.accessToken)).status, 400)

    assert.equal((await api(h, 'GET', '/api/logs', undefined, nurse.accessToken)).status, 403)
    const logs = await api(h, 'GET', '/api/logs?level=info&limit=50', undefined, admin.accessToken)
    assert.equal(logs.status, 200)
    const lines = logs.body as Array<{ msg: string; level: string }>
    assert.ok(
      lines.some((l) => l.msg === 'request'),
      'access log lines are there',
    )
    assert.ok(lines.every((l) => l.level !== 'debug'))
    assert.doesNotMatch(JSON.stringify(lines), /correct horse battery|wrong password here/, 'no password ever reaches a log line')
  })
})
