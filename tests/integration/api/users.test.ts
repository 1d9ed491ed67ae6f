import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { verifyAuditChain } from '../../../gateway/src/store/audit.js'
import { api } from '../../_support/api-client.js'
import { startGateway } from '../../_support/gateway-harness.js'

describe('accounts over the API', () => {
  test('GET/PUT /api/me; a password change needs the current one and ends every session', async () => {
    const h = await startGateway()
    await h.addUser('alice', 'caregiver')
    const a = await h.login('alice')
    const b = await h.login('alice')
    const me = await api(h, 'GET', '/api/me', undefined, a.accessToken)
    assert.equal((me.body as { username: string; role: string; mfaEnabled: boolean }).role, 'caregiver')
    const named = await api(h, 'PUT', '/api/me', { displayName: 'Alice M.' }, a.accessToken)
    assert.equal((named.body as { displayName: string }).displayName, 'Alice M.')
    const wrong = await api(h, 'PUT', '/api/me', { currentPassword: 'nope', newPassword: 'a brand new passphrase' }, a.accessToken)
    assert.equal(wrong.status, 401)
    const weak = await api(h, 'PUT', '/api/me', { currentPassword: 'correct horse battery', newPassword: 'password1' }, a.accessToken)
    assert.equal(weak.status, 400)
    const changed = await api(h, 'PUT', '/api/me', { currentPassword: 'correct horse battery', newPassword: 'a brand new passphrase' }, a.accessToken)
    assert.equal(changed.status, 200)
    assert.equal((await api(h, 'GET', '/api/me', undefined, a.accessToken)).status, 401, 'this session ended too: sign in again')
    assert.equal((await api(h, 'GET', '/api/me', undefined, b.accessToken)).status, 401)
    assert.equal((await api(h, 'POST', '/api/auth/refresh', { refreshToken: b.refreshToken })).status, 401)
    const fresh = await h.login('alice', 'a brand new passphrase')
    assert.equal((await api(h, 'GET', '/api/me', undefined, fresh.accessToken)).status, 200, 'a sign-in right after the change works')
  })

  test("admins manage users; a role change or disable ends that user's sessions; everything audited with before/after", async () => {
    const h = await startGateway()
    await h.addUser('root', 'admin')
    const admin = await h.login('root')
    const created = await api(h, 'POST', '/api/users', { username: 'nurse', role: 'viewer', password: 'another long passphrase' }, admin.accessToken)
    assert.equal(created.status, 201)
    const id = (created.body as { id: number }).id
    const nurse = await h.login('nurse', 'another long passphrase')
    assert.equal((await api(h, 'GET', '/api/users', undefined, nurse.accessToken)).status, 403)
    assert.equal((await api(h, 'GET', `/api/users/${id}`, undefined, nurse.accessToken)).status, 200, 'one may read oneself')
    const promoted = await api(h, 'PUT', `/api/users/${id}`, { role: 'caregiver' }, admin.accessToken)
    assert.equal((promoted.body as { role: string }).role, 'caregiver')
    assert.equal((await api(h, 'GET', '/api/me', undefined, nurse.accessToken)).status, 401, 'the role change ended the session')
    const again = await h.login('nurse', 'another long passphrase')
    assert.equal((await api(h, 'POST', `/api/users/${id}/sessions/revoke`, undefined, admin.accessToken)).status, 204)
    assert.equal((await api(h, 'GET', '/api/me', undefined, again.accessToken)).status, 401)
    const audit = h.gateway.store.db
      .prepare("SELECT actor, action, detail FROM audit_log WHERE action LIKE 'user.%' OR action = 'auth.sessions_revoked' ORDER BY id")
      .all() as Array<{ actor: string; action: string; detail: string }>
    assert.deepEqual(
      audit.map((a) => a.action),
      ['user.create', 'user.role_change', 'auth.sessions_revoked'],
    )
    assert.match(audit[0]?.actor ?? '', /^user:\d+:admin$/, 'admin actions are tagged')
    assert.deepEqual(JSON.parse(audit[1]?.detail ?? '{}'), {
      before: { role: 'viewer', disabled: false, displayName: null, email: null },
      after: { role: 'caregiver', disabled: false, displayName: null, email: null },
    })
    assert.equal(verifyAuditChain(h.gateway.store.db).broken, null)
  })

  test('guessing the current password with a stolen token is throttled like sign-in', async () => {
    const h = await startGateway()
    await h.addUser('alice', 'viewer')
    const t = await h.login('alice')
    const statuses: number[] = []
    for (let i = 0; i < 6; i++)
      statuses.push((await api(h, 'PUT', '/api/me', { currentPassword: `guess ${i}`, newPassword: 'a brand new passphrase' }, t.accessToken)).status)
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429])
    assert.equal(
      h.gateway.store.db.prepare("SELECT count(*) FROM audit_log WHERE action = 'auth.password_check' AND outcome = 'denied'").pluck().get(),
      5,
    )
  })

  test('the last enabled admin can be neither demoted nor disabled', async () => {
    const h = await startGateway()
    const id = await h.addUser('root', 'admin')
    const admin = await h.login('root')
    const demote = await api(h, 'PUT', `/api/users/${id}`, { role: 'viewer' }, admin.accessToken)
    assert.equal(demote.status, 409)
    assert.match((demote.body as { detail: string }).detail, /last enabled admin/)
    assert.equal((await api(h, 'PUT', `/api/users/${id}`, { disabled: true }, admin.accessToken)).status, 409)
  })

  test('bad input is refused with the field named, and unknown keys are errors', async () => {
    const h = await startGateway()
    await h.addUser('root', 'admin')
    const admin = await h.login('root')
    const bad = await api(h, 'POST', '/api/users', { username: 'x y', role: 'boss', password: 'short' }, admin.accessToken)
    assert.equal(bad.status, 400)
    const paths = ((bad.body as { issues: Array<{ path: string[] }> }).issues ?? []).map((i) => i.path.join('.'))
    assert.deepEqual(paths.sort(), ['password', 'role', 'username'])
    assert.equal((await api(h, 'PUT', '/api/me', { isAdmin: true }, admin.accessToken)).status, 400)
  })
})
