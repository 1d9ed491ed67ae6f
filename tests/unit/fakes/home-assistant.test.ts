// Self-test of the fake Home Assistant (tests/fakes/home-assistant.ts) against spec §2a/§2b of
// /work/shared/specs/external-protocols.md.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import WebSocket from 'ws'
import { type FakeHomeAssistant, type HaState, startFakeHomeAssistant } from '../../fakes/home-assistant.js'

type Msg = Record<string, unknown> & { id?: number; type?: string }

/** A minimal WS client: records every frame (raw + parsed) and waits for matching messages. */
class Client {
  readonly frames: unknown[] = []
  readonly messages: Msg[] = []
  readonly closed: Promise<number>
  private waiters: (() => void)[] = []
  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)))
    ws.on('message', (data) => {
      const parsed = JSON.parse(String(data)) as Msg | Msg[]
      this.frames.push(parsed)
      this.messages.push(...(Array.isArray(parsed) ? parsed : [parsed]))
      for (const wake of this.waiters.splice(0)) wake()
    })
  }
  static async open(url: string): Promise<Client> {
    const ws = new WebSocket(url)
    const client = new Client(ws)
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
    return client
  }
  static async authed(fake: FakeHomeAssistant): Promise<Client> {
    const client = await Client.open(fake.wsUrl)
    await client.next((m) => m.type === 'auth_required')
    client.send({ type: 'auth', access_token: fake.token })
    await client.next((m) => m.type === 'auth_ok')
    return client
  }
  send(msg: unknown): void {
    this.ws.send(JSON.stringify(msg))
  }
  async next(match: (m: Msg) => boolean, timeoutMs = 1000): Promise<Msg> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const index = this.messages.findIndex(match)
      if (index >= 0) return this.messages.splice(index, 1)[0] as Msg
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no matching message; have ${JSON.stringify(this.messages)}`)
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve)
        setTimeout(resolve, left)
      })
    }
  }
  async request(msg: Msg): Promise<Msg> {
    this.send(msg)
    return this.next((m) => m.id === msg.id && (m.type === 'result' || m.type === 'pong'))
  }
}

const stateChanged = (m: Msg) => m.type === 'event' && (m.event as { event_type: string }).event_type === 'state_changed'
const eventData = (m: Msg) => (m.event as { data: { entity_id: string; old_state: HaState | null; new_state: HaState | null } }).data

describe('fake Home Assistant', () => {
  let fake: FakeHomeAssistant
  const clients: Client[] = []
  const authed = async () => {
    const c = await Client.authed(fake)
    clients.push(c)
    return c
  }
  before(async () => {
    fake = await startFakeHomeAssistant()
  })
  after(async () => {
    for (const c of clients) c.ws.terminate()
    await fake.stop()
  })

  test('handshake: auth_required with ha_version, auth_ok; a bad token gets auth_invalid and a close', async () => {
    const good = await authed()
    assert.equal(fake.connections, 1)
    const bad = await Client.open(fake.wsUrl)
    const required = await bad.next((m) => m.type === 'auth_required')
    assert.match(String(required.ha_version), /^\d{4}\.\d+\.\d+$/)
    bad.send({ type: 'auth', access_token: 'wrong' })
    assert.deepEqual(await bad.next((m) => m.type === 'auth_invalid'), { type: 'auth_invalid', message: 'Invalid access token or password' })
    assert.equal(await bad.closed, 1000)
    good.ws.close()
    await good.closed
  })

  test('ids must strictly increase: id_reuse; unknown_command does not consume the id', async () => {
    const c = await authed()
    assert.deepEqual(await c.request({ id: 1, type: 'ping' }), { id: 1, type: 'pong' })
    const reuse = await c.request({ id: 1, type: 'ping' })
    assert.deepEqual(reuse.error, { code: 'id_reuse', message: 'Identifier values have to increase.' })
    assert.equal(((await c.request({ id: 2, type: 'no_such_thing' })).error as Msg).code, 'unknown_command')
    assert.equal((await c.request({ id: 2, type: 'ping' })).type, 'pong')
    const ids = fake.received.filter((r) => r.phase === 'command').map((r) => (r.message as Msg).id)
    assert.deepEqual(ids.slice(-4), [1, 1, 2, 2])
  })

  test('subscribe_events + setState → event with the subscription id, old/new state, last_changed rules', async () => {
    const c = await authed()
    c.send({ id: 1, type: 'subscribe_events', event_type: 'state_changed' })
    assert.deepEqual(await c.next((m) => m.id === 1), { id: 1, type: 'result', success: true, result: null })
    const before = fake.getState('sensor.kitchen_temperature') as HaState
    fake.setState('sensor.kitchen_temperature', '22.0')
    const ev = await c.next(stateChanged)
    assert.equal(ev.id, 1)
    const { old_state, new_state } = eventData(ev)
    assert.deepEqual(old_state, before)
    assert.equal(new_state?.state, '22.0')
    assert.deepEqual(new_state?.attributes, before.attributes)
    assert.match(String(new_state?.last_changed), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$/)
    assert.match(String(new_state?.context.id), /^[0-9A-HJKMNP-TV-Z]{26}$/)
    fake.setState('sensor.kitchen_temperature', '22.0', { ...before.attributes, icon: 'mdi:thermometer' })
    const attrOnly = eventData(await c.next(stateChanged)).new_state as HaState
    assert.equal(attrOnly.last_changed, new_state?.last_changed)
    assert.notEqual(attrOnly.last_updated, new_state?.last_updated)
    fake.setState('sensor.new_thing', '1')
    assert.equal(eventData(await c.next(stateChanged)).old_state, null)
    fake.removeEntity('sensor.new_thing')
    assert.equal(eventData(await c.next(stateChanged)).new_state, null)
  })

  test('get_states returns every seeded entity; call_service changes state, emits the event, returns {context}', async () => {
    const c = await authed()
    const states = (await c.request({ id: 1, type: 'get_states' })).result as HaState[]
    assert.ok(states.length >= 14)
    assert.equal(states.find((s) => s.entity_id === 'sensor.outdoor_temperature')?.state, 'unavailable')
    await c.request({ id: 2, type: 'subscribe_events', event_type: 'state_changed' })
    const res = await c.request({ id: 3, type: 'call_service', domain: 'switch', service: 'turn_on', target: { entity_id: 'switch.kettle' } })
    const context = (res.result as { context: { id: string } }).context
    assert.deepEqual(Object.keys(res.result as object), ['context'])
    const ev = await c.next(stateChanged)
    assert.equal(eventData(ev).new_state?.state, 'on')
    assert.equal(eventData(ev).new_state?.context.id, context.id)
    assert.equal(fake.getState('switch.kettle')?.state, 'on')
    const missing = await c.request({ id: 4, type: 'call_service', domain: 'switch', service: 'explode', service_data: {} })
    assert.equal(missing.success, false)
    assert.deepEqual((missing.error as Msg).message, 'Service switch.explode not found.')
    assert.equal((missing.error as Msg).code, 'not_found')
    assert.deepEqual(
      fake.serviceCalls.slice(-2).map((s) => `${s.via}:${s.domain}.${s.service}`),
      ['ws:switch.turn_on', 'ws:switch.explode'],
    )
  })

  test('REST: 401 without a valid token (plain text, like aiohttp); states, 404, service call', async () => {
    const noAuth = await fetch(`${fake.url}/api/states`)
    assert.equal(noAuth.status, 401)
    assert.equal(await noAuth.text(), '401: Unauthorized')
    const headers = { Authorization: `Bearer ${fake.token}`, 'Content-Type': 'application/json' }
    assert.deepEqual(await (await fetch(`${fake.url}/api/`, { headers })).json(), { message: 'API running.' })
    const all = (await (await fetch(`${fake.url}/api/states`, { headers })).json()) as HaState[]
    assert.ok(all.some((s) => s.entity_id === 'climate.living_room'))
    const gone = await fetch(`${fake.url}/api/states/sensor.nope`, { headers })
    assert.equal(gone.status, 404)
    assert.deepEqual(await gone.json(), { message: 'Entity not found.' })
    const body = JSON.stringify({ entity_id: 'climate.living_room', temperature: 19.5 })
    const changed = (await (await fetch(`${fake.url}/api/services/climate/set_temperature`, { method: 'POST', headers, body })).json()) as HaState[]
    assert.equal(changed[0]?.attributes.temperature, 19.5)
    const unknown = await fetch(`${fake.url}/api/services/climate/explode`, { method: 'POST', headers, body })
    assert.equal(unknown.status, 400)
    assert.equal(fake.serviceCalls.at(-2)?.via, 'rest')
  })

  test('restart: drops clients, refuses connections while down, same port after, downtime changes only via REST', async () => {
    const c = await authed()
    await c.request({ id: 1, type: 'subscribe_events', event_type: 'state_changed' })
    const { port } = fake
    const back = fake.restart({ downMs: 200 })
    assert.equal(await c.closed, 1000)
    await assert.rejects(fetch(`${fake.url}/api/`), (err: Error) => (err.cause as NodeJS.ErrnoException)?.code === 'ECONNREFUSED')
    await assert.rejects(Client.open(fake.wsUrl), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED')
    fake.setState('binary_sensor.front_door', 'on')
    await back
    assert.equal(fake.port, port)
    const again = await authed()
    await again.request({ id: 1, type: 'subscribe_events', event_type: 'state_changed' })
    await new Promise((resolve) => setTimeout(resolve, 30))
    assert.equal(again.messages.filter(stateChanged).length, 0)
    const door = (await (
      await fetch(`${fake.url}/api/states/binary_sensor.front_door`, { headers: { Authorization: `Bearer ${fake.token}` } })
    ).json()) as HaState
    assert.equal(door.state, 'on')
  })
})

describe('fake Home Assistant coalescing', () => {
  const flood = async (fake: FakeHomeAssistant, setFlag: boolean) => {
    const c = await Client.authed(fake)
    if (setFlag) await c.request({ id: 1, type: 'supported_features', features: { coalesce_messages: 1 } })
    // A client may also send several commands as one array frame.
    c.ws.send(
      JSON.stringify([
        { id: 2, type: 'subscribe_events', event_type: 'state_changed' },
        { id: 3, type: 'ping' },
      ]),
    )
    await c.next((m) => m.id === 3)
    c.frames.length = 0
    const flip = (id: string) => fake.setState(id, fake.getState(id)?.state === 'on' ? 'off' : 'on')
    flip('binary_sensor.hall_motion')
    flip('binary_sensor.front_door')
    await c.next(stateChanged)
    await c.next(stateChanged)
    c.ws.terminate()
    return c.frames
  }

  test("'always' sends queued messages as one JSON array even without the flag; 'when-enabled' only with it", async () => {
    const always = await startFakeHomeAssistant({ coalesce: 'always' })
    const current = await startFakeHomeAssistant()
    try {
      const frames = await flood(always, false)
      assert.equal(frames.length, 1)
      assert.ok(Array.isArray(frames[0]) && frames[0].length === 2)
      assert.equal((await flood(current, false)).length, 2)
      const flagged = await flood(current, true)
      assert.equal(flagged.length, 1)
      assert.ok(Array.isArray(flagged[0]))
    } finally {
      await always.stop()
      await current.stop()
    }
  })
})
