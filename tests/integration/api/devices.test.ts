import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ensureDevice } from '../../../gateway/src/store/devices.js'
import { startGateway } from '../../_support/gateway-harness.js'
import { httpsGet } from '../../_support/https-get.js'
import { connectDevice } from '../../_support/mqtt-clients.js'

describe('GET /api/devices (signed in)', () => {
  test('a published reading shows on the device: availability, last seen, latest per measurement, certificates', async () => {
    const h = await startGateway()
    const certs = await h.enrol('kitchen_temp')
    const client = await connectDevice(h.mqttPort, certs, { clientId: 'kitchen_temp' })
    await client.publishAsync('care/kitchen_temp/climate', '{"fields":{"temp_c":21.0}}', { qos: 1 })
    await client.publishAsync('care/kitchen_temp/climate', '{"fields":{"temp_c":21.5,"humid_pct":40},"tags":{"room":"kitchen"}}', { qos: 1 })
    await client.publishAsync('care/kitchen_temp/power', '{"fields":{"power_w":3.2}}', { qos: 1 })
    h.gateway.presence.flush()
    await h.addUser('nurse', 'caregiver')
    const { accessToken } = await h.login('nurse')
    const auth = { authorization: `Bearer ${accessToken}` }
    const res = await httpsGet(`https://127.0.0.1:${h.httpPort}/api/devices/kitchen_temp`, certs.caPem, auth)
    assert.equal(res.status, 200, res.body)
    const device = JSON.parse(res.body) as {
      id: string
      availability: string
      lastSeenAt: number
      silent: boolean
      latest: Array<{ measurement: string; fields: Record<string, unknown>; tags: Record<string, string> }>
      certificates: Array<{ serial: string; revokedAt: number | null; fingerprintSha256?: string }>
    }
    assert.equal(device.id, 'kitchen_temp')
    assert.equal(device.availability, 'online')
    assert.ok(Date.now() - device.lastSeenAt < 10_000)
    assert.equal(device.silent, false)
    assert.deepEqual(
      device.latest.map((r) => [r.measurement, r.fields]),
      [
        ['climate', { temp_c: 21.5, humid_pct: 40 }],
        ['power', { power_w: 3.2 }],
      ],
    )
    assert.equal(device.certificates[0]?.serial, certs.serial)
    assert.equal(device.certificates[0]?.fingerprintSha256, undefined)

    const list = await httpsGet(`https://127.0.0.1:${h.httpPort}/api/devices?source=mqtt`, certs.caPem, auth)
    assert.deepEqual(
      (JSON.parse(list.body) as Array<{ id: string }>).map((d) => d.id),
      ['kitchen_temp'],
    )
    const badFilter = await httpsGet(`https://127.0.0.1:${h.httpPort}/api/devices?source=zigbee`, certs.caPem, auth)
    assert.equal(badFilter.status, 400)
    const missing = await httpsGet(`https://127.0.0.1:${h.httpPort}/api/devices/nope`, certs.caPem, auth)
    assert.equal(missing.status, 404)
    assert.equal((JSON.parse(missing.body) as { code: string }).code, 'CAREHUB_ERR_NOT_FOUND')
  })

  test('a big fleet is listed page by page: 100 by default, a Link to the next page keeps the filter, each device once', async () => {
    const h = await startGateway()
    const db = h.gateway.store.db
    const now = Date.now()
    for (let i = 0; i < 250; i++) ensureDevice(db, { id: `ha_${String(i).padStart(3, '0')}`, source: 'homeassistant', room: 'hall' }, now)
    for (let i = 0; i < 5; i++) ensureDevice(db, { id: `v_${i}`, source: 'virtual' }, now)
    await h.addUser('nurse', 'caregiver')
    const { accessToken } = await h.login('nurse')
    const auth = { authorization: `Bearer ${accessToken}` }
    const base = `https://127.0.0.1:${h.httpPort}`
    const seen: string[] = []
    const sizes: number[] = []
    let next: string | null = '/api/devices?source=homeassistant'
    while (next !== null) {
      const res = await httpsGet(`${base}${next}`, h.gateway.pki.ca.certPem, auth)
      assert.equal(res.status, 200, res.body)
      const page = JSON.parse(res.body) as Array<{ id: string; source: string }>
      assert.ok(
        page.every((d) => d.source === 'homeassistant'),
        'the filter holds on every page',
      )
      sizes.push(page.length)
      seen.push(...page.map((d) => d.id))
      const link = res.headers.link as string | undefined
      next = link ? (/^<([^>]+)>; rel="next"$/.exec(link)?.[1] ?? assert.fail(`not a next link: ${link}`)) : null
    }
    assert.deepEqual(sizes, [100, 100, 50])
    assert.deepEqual(
      seen,
      Array.from({ length: 250 }, (_, i) => `ha_${String(i).padStart(3, '0')}`),
      'each once, in id order',
    )
    let pages = 0
    let count = 0
    for (let url: string | null = '/api/devices?room=hall&limit=40'; url !== null; pages++) {
      const res = await httpsGet(`${base}${url}`, h.gateway.pki.ca.certPem, auth)
      count += (JSON.parse(res.body) as unknown[]).length
      url = (res.headers.link as string | undefined)?.match(/^<([^>]+)>/)?.[1] ?? null
    }
    assert.deepEqual([pages, count], [7, 250], 'the Link keeps the page size too')

    const exact = await httpsGet(`${base}/api/devices?source=virtual&limit=5`, h.gateway.pki.ca.certPem, auth)
    assert.equal((JSON.parse(exact.body) as unknown[]).length, 5)
    assert.equal(exact.headers.link, undefined, 'no next page when the page ends the list exactly')
    for (const bad of ['limit=0', 'limit=501', 'limit=ten']) {
      const res = await httpsGet(`${base}/api/devices?${bad}`, h.gateway.pki.ca.certPem, auth)
      assert.equal(res.status, 400, bad)
    }
  })

  test('without a token: 401, even from loopback', async () => {
    const h = await startGateway()
    const res = await httpsGet(`https://127.0.0.1:${h.httpPort}/api/devices`, h.gateway.pki.ca.certPem)
    assert.equal(res.status, 401)
    assert.equal((JSON.parse(res.body) as { code: string }).code, 'CAREHUB_ERR_UNAUTHENTICATED')
  })
})
