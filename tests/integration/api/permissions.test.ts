import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { can, PERMISSIONS, ROLE_PERMISSIONS } from '../../../gateway/src/auth/permissions.js'
import { ROLES } from '../../../gateway/src/store/users.js'
import { startGateway } from '../../_support/gateway-harness.js'

/** The written table (README "Accounts and security"), restated here so a change to one is a change to both. */
const EXPECTED: Record<string, Record<(typeof ROLES)[number], boolean>> = {
  'telemetry:read': { admin: true, caregiver: true, installer: true, viewer: true },
  'devices:read': { admin: true, caregiver: true, installer: true, viewer: true },
  'devices:write': { admin: true, caregiver: false, installer: true, viewer: false },
  'devices:command': { admin: true, caregiver: true, installer: false, viewer: false },
  'rules:read': { admin: true, caregiver: true, installer: true, viewer: true },
  'rules:write': { admin: true, caregiver: true, installer: false, viewer: false },
  'alerts:read': { admin: true, caregiver: true, installer: true, viewer: true },
  'alerts:ack': { admin: true, caregiver: true, installer: false, viewer: false },
  'users:manage': { admin: true, caregiver: false, installer: false, viewer: false },
  'audit:read': { admin: true, caregiver: false, installer: false, viewer: false },
  'logs:read': { admin: true, caregiver: false, installer: false, viewer: false },
  'metrics:read': { admin: true, caregiver: false, installer: true, viewer: false },
}

describe('the permission table', () => {
  test('every role × permission is exactly as documented', () => {
    assert.deepEqual(Object.keys(EXPECTED).sort(), [...PERMISSIONS].sort())
    for (const permission of PERMISSIONS)
      for (const role of ROLES) assert.equal(can(role, permission), EXPECTED[permission]?.[role], `${role} ${permission}`)
    assert.deepEqual(Object.keys(ROLE_PERMISSIONS).sort(), [...ROLES].sort())
  })

  test('routes enforce it: every route family that exists, for every role (off loopback)', async () => {
    const h = await startGateway()
    const routes: Array<{
      method: string
      path: (role: string) => string
      body?: (role: string) => unknown
      permission: keyof typeof EXPECTED
      ok: number
    }> = [
      { method: 'GET', path: () => '/api/devices', permission: 'devices:read', ok: 200 },
      { method: 'POST', path: () => '/api/devices', body: (role) => ({ id: `v_${role}`, source: 'virtual' }), permission: 'devices:write', ok: 201 },
      // Past the permission check, a device that does not exist is 404.
      { method: 'POST', path: () => '/api/devices/nobody/command', body: () => ({ capability: 'ping' }), permission: 'devices:command', ok: 404 },
      { method: 'GET', path: () => '/api/automations', permission: 'rules:read', ok: 200 },
      {
        method: 'POST',
        path: () => '/api/automations',
        body: (role) => ({ id: `r-${role}`, name: 'x', when: { time: { days: ['mon'] } }, actions: [{ alert: { severity: 'info', title: 'x' } }] }),
        permission: 'rules:write',
        ok: 201,
      },
      { method: 'GET', path: () => '/api/alerts', permission: 'alerts:read', ok: 200 },
      // Past the permission check, an alert that does not exist is 404.
      { method: 'POST', path: () => '/api/alerts/999999/ack', permission: 'alerts:ack', ok: 404 },
      { method: 'GET', path: () => '/api/users', permission: 'users:manage', ok: 200 },
      { method: 'GET', path: () => '/api/audit', permission: 'audit:read', ok: 200 },
      { method: 'GET', path: () => '/api/logs', permission: 'logs:read', ok: 200 },
      { method: 'GET', path: () => '/metrics', permission: 'metrics:read', ok: 200 },
    ]
    for (const role of ROLES) {
      await h.addUser(`u_${role}`, role)
      const { accessToken } = await h.login(`u_${role}`)
      for (const r of routes) {
        const body = r.body?.(role)
        // app.request has no socket address: the request counts as coming from the LAN.
        const res = await h.gateway.http.app.request(r.path(role), {
          method: r.method,
          headers: { authorization: `Bearer ${accessToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          ...(body ? { body: JSON.stringify(body) } : {}),
        })
        assert.equal(res.status, EXPECTED[r.permission]?.[role] ? r.ok : 403, `${role} ${r.method} ${r.path(role)}`)
      }
    }
  })
})
