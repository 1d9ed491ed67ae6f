import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { api } from '../../_support/api-client.js'
import { startGateway } from '../../_support/gateway-harness.js'
import { waitFor } from '../../_support/history-data.js'
import { BATH, BUFFERED, DOOR, HALL, HOUR, MIN, OTHER_THERMO, type Sample, syntheticDay, THERMO, toReading } from './_synthetic-day.js'

/**
 * Backtest matches a brute-force replay: a day of synthetic history with chosen receive times goes
 * into a real gateway's journal; for each rule the expected firings are worked out here from the
 * rule's plain meaning (an oracle that never calls the evaluator), then compared with what
 * POST /api/automations/:id/backtest answers.
 */

const SEED = 20_261_127
/** The backtest's range: the 24 hours up to a whole minute a little in the past (live readings come after it). */
const END = Math.floor(Date.now() / MIN) * MIN - 5 * MIN
const FROM = END - 24 * HOUR

// Many backtests in a row for one user: a machine fast enough outruns the default per-user API
// budget (120 at once, 20/s; failed once in CI with a 429). The budget has its own test (api/auth).
const h = await startGateway({ gateway: { timezone: 'UTC' }, auth: { apiBurst: 10_000, apiPerSecond: 10_000 } })
await h.addUser('ada', 'admin')
await h.addUser('anna', 'caregiver')
await h.addUser('victor', 'viewer')
const ada = (await h.login('ada')).accessToken
const anna = (await h.login('anna')).accessToken
const victor = (await h.login('victor')).accessToken

// Rooms first (the device directory the engine and the backtest read refreshes every few seconds).
const ROOMS: Record<string, string> = { [HALL[0]]: 'hallway', [HALL[1]]: 'hallway', [BATH]: 'bathroom' }
for (const [id, room] of Object.entries(ROOMS)) {
  const made = await api(h, 'POST', '/api/devices', { id, source: 'virtual' }, ada)
  assert.equal(made.status, 201, JSON.stringify(made.body))
  const moved = await api(h, 'PUT', `/api/devices/${id}`, { room }, ada)
  assert.equal(moved.status, 200, JSON.stringify(moved.body))
}

// The day of history, in receive-time order (journal order = time order), before any rule exists.
const day = syntheticDay(FROM, END, SEED)
const seqs = await Promise.all(day.map((s) => h.gateway.journal.submit({ reading: toReading(s) })))
day.forEach((s, i) => {
  s.seq = seqs[i] as number
})
const lastSeq = Math.max(...day.map((s) => s.seq))
await waitFor('the rules engine to pass the history', () => h.gateway.rules.engine.cursor >= lastSeq, 15_000)

const ALERT = [{ alert: { severity: 'warning', title: 'Check the home' } }]
const climate = { device: THERMO, measurement: 'climate', field: 'temp_c' }
const RULES = {
  hot: { id: 'bt-hot', name: 'Living room above 30 for 10 min', when: { threshold: { ...climate, op: '>', value: 30 } }, for: '10m', cooldown: '1h' },
  hyst: { id: 'bt-hyst', name: 'Living room hot (hysteresis 2)', when: { threshold: { ...climate, op: '>', value: 30, hysteresis: 2 } } },
  door: {
    id: 'bt-door',
    name: 'Front door opened',
    when: { change: { device: DOOR, measurement: 'contact', field: 'open', direction: 'rising' } },
    cooldown: '30m',
  },
  avg: { id: 'bt-avg', name: 'Living room average above 30', when: { window: { ...climate, agg: 'avg', over: '15m', op: '>', value: 30 } } },
  hall: {
    id: 'bt-hall',
    name: 'No movement in the hallway for 2 h',
    when: { inactivity: { room: 'hallway', measurement: 'motion', field: 'motion', equals: true, for: '2h' } },
  },
  cellar: {
    id: 'bt-cellar',
    name: 'Cellar above 30',
    when: { threshold: { device: BUFFERED, measurement: 'climate', field: 'temp_c', op: '>', value: 30 } },
  },
} as const
for (const r of Object.values(RULES)) {
  const created = await api(h, 'POST', '/api/automations', { ...r, actions: ALERT }, anna)
  assert.equal(created.status, 201, JSON.stringify(created.body))
}

interface Backtest {
  rule: string
  from: number
  to: number
  readings: number
  truncated: boolean
  firings: Array<{ at: number; seq: number | null; deviceId: string | null }>
  clears: number[]
  nearMisses: Record<string, number>
}

const backtestOf = async (id: string, token = anna, query = `range=24h&end=${END}`) => {
  const res = await api(h, 'POST', `/api/automations/${id}/backtest?${query}`, undefined, token)
  assert.equal(res.status, 200, JSON.stringify(res.body))
  return res.body as Backtest
}

// ---------------------------------------------------------------------------------------------
// The oracle: what each rule means, worked out over the samples, without the evaluator.
// ---------------------------------------------------------------------------------------------

const iso = (t: number) => new Date(t).toISOString()
const inRange = (s: Sample) => s.at >= FROM && s.at <= END
const series = (devices: readonly string[], measurement: string) =>
  day.filter((s) => inRange(s) && devices.includes(s.deviceId) && s.measurement === measurement)
const tempsOf = () => series([THERMO], 'climate').map((s) => ({ at: s.at, seq: s.seq, v: s.fields.temp_c as number }))

interface Expected {
  firings: Array<{ at: string; seq: number | null }>
  clears: string[]
  nearMisses: Record<string, number>
}

const times = (ts: number[]) => ts.map(iso)
const misses = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).filter(([, n]) => n > 0))

/** The oracle's instants must not tie with a reading (a tie would make the answer depend on ordering, not meaning). */
function noTie(instant: number, readings: ReadonlyArray<{ at: number }>, what: string): void {
  assert.ok(!readings.some((r) => r.at === instant), `seed ${SEED}: ${what} at ${iso(instant)} falls on a reading; pick another seed`)
}

/**
 * "Above 30 for 10 minutes, at most once an hour": the value (the last reading's) stays above 30
 * without a break from a reading t0 on; the rule fires at t0 + 10 min if that is still inside the
 * episode; if it fired less than an hour before, it fires when the hour is up, if the episode lasts
 * that long. A reading not above 30 ends the episode (and resolves a firing).
 */
function oracleFor(values: Array<{ at: number; seq: number; v: number }>, forMs: number, cooldownMs: number) {
  const episodes: Array<{ start: { at: number; seq: number }; end: number | null }> = []
  let start: { at: number; seq: number } | null = null
  for (const r of values) {
    if (r.v > 30) start ??= r
    else if (start) {
      episodes.push({ start, end: r.at })
      start = null
    }
  }
  if (start) episodes.push({ start, end: null })
  const fires: Array<{ at: number; seq: number; deferred: boolean }> = []
  const clears: number[] = []
  const near = { for: 0, cooldown: 0 }
  let last = Number.NEGATIVE_INFINITY
  for (const ep of episodes) {
    const end = ep.end ?? Number.POSITIVE_INFINITY
    const due = ep.start.at + forMs
    noTie(due, values, 'a `for` deadline')
    if (due > end || due > END) {
      if (ep.end !== null) near.for++
      continue
    }
    const at = Math.max(due, last + cooldownMs)
    if (at > due) {
      near.cooldown++
      noTie(at, values, 'a cooldown end')
    }
    if (at < end && at <= END) {
      fires.push({ at, seq: ep.start.seq, deferred: at > due })
      last = at
      if (ep.end !== null) clears.push(ep.end)
    }
  }
  return { fires, clears, near }
}

/** Hysteresis 2 on "> 30": on when a reading is above 30, off again only at 28 or below. */
function oracleHysteresis(values: Array<{ at: number; seq: number; v: number }>) {
  let on = false
  const fires: Array<{ at: number; seq: number }> = []
  const clears: number[] = []
  for (const r of values) {
    const now: boolean = on ? r.v > 28 : r.v > 30
    if (now && !on) fires.push({ at: r.at, seq: r.seq })
    if (!now && on) clears.push(r.at)
    on = now
  }
  return { fires, clears }
}

/** A rising edge: a reading of open=true right after one of open=false; at most one firing per 30 minutes, edges inside it are lost. */
function oracleEdges(readings: Sample[], cooldownMs: number) {
  let prev: boolean | undefined
  let last = Number.NEGATIVE_INFINITY
  const fires: Array<{ at: number; seq: number }> = []
  let blocked = 0
  for (const r of readings) {
    const v = r.fields.open as boolean
    if (prev === false && v === true) {
      if (r.at >= last + cooldownMs) {
        fires.push({ at: r.at, seq: r.seq })
        last = r.at
      } else blocked++
    }
    prev = v
  }
  return { fires, blocked }
}

/**
 * "The average of the readings of the last 15 minutes is above 30", once the rule has watched for
 * 15 minutes. The answer can only change when a reading arrives, when a reading leaves the window
 * (15 minutes after it arrived), or when the window is first full: check every such instant.
 */
function oracleAverage(values: Array<{ at: number; seq: number; v: number }>, overMs: number) {
  const filled = FROM + overMs
  const holdsAt = (t: number) => {
    if (t < filled) return false
    const inWindow = values.filter((r) => r.at > t - overMs && r.at <= t)
    return inWindow.length > 0 && inWindow.reduce((a, r) => a + r.v, 0) / inWindow.length > 30
  }
  const readingAt = new Map(values.map((r) => [r.at, r]))
  const expiries = values.map((r) => r.at + overMs)
  for (const t of [...expiries, filled]) noTie(t, values, 'a window boundary')
  const instants = [...new Set([...values.map((r) => r.at), ...expiries, filled])].filter((t) => t >= FROM && t <= END).sort((a, b) => a - b)
  const fires: Array<{ at: number; seq: number | null }> = []
  const clears: number[] = []
  let holding = false
  for (const t of instants) {
    const now = holdsAt(t)
    if (now && !holding) fires.push({ at: t, seq: readingAt.get(t)?.seq ?? null })
    if (!now && holding) clears.push(t)
    holding = now
  }
  // A near miss: a reading above 30 (after one that was not) while the average is not.
  let window = 0
  let prevAbove = false
  for (const r of values) {
    const above = r.v > 30
    if (above && !prevAbove && !holdsAt(r.at)) window++
    prevAbove = above
  }
  return { fires, clears, window }
}

/** No motion=true from any device of the hallway for 2 h: fires 2 h after the last one (or after `from`), resolves at the next. */
function oracleInactivity(readings: Sample[], forMs: number) {
  const moves = readings.filter((r) => r.fields.motion === true)
  let last = FROM
  const fires: number[] = []
  const clears: number[] = []
  for (const m of moves) {
    if (m.at - last >= forMs) {
      noTie(last + forMs, moves, 'an inactivity deadline')
      fires.push(last + forMs)
      clears.push(m.at)
    }
    last = m.at
  }
  if (END - last >= forMs) fires.push(last + forMs)
  return { fires, clears }
}

// ---------------------------------------------------------------------------------------------

// A live firing, after END, so the live state has alerts and traces for the check that backtests leave them alone.
await h.gateway.journal.submit({ reading: toReading({ at: Date.now(), deviceId: THERMO, measurement: 'climate', fields: { temp_c: 35 }, seq: 0 }) })
const liveAlerts = async (id: string) => (await api(h, 'GET', `/api/alerts?rule=${id}`, undefined, anna)).body as Array<{ id: number }>
await waitFor('the live alert', async () => (await liveAlerts(RULES.hyst.id)).length === 1, 5000)

describe('Backtest matches a brute-force replay', () => {
  test('threshold above 30 for 10m with a 1h cooldown: firings at exactly t0 + 10m, or when the cooldown ends', async () => {
    const values = tempsOf()
    const o = oracleFor(values, 10 * MIN, HOUR)
    // The day covers what it should: several firings, one deferred to the end of a cooldown, near misses of both kinds.
    assert.ok(o.fires.length >= 6, `${o.fires.length} firings`)
    assert.ok(
      o.fires.some((f) => f.deferred),
      'a firing deferred to the end of a cooldown',
    )
    assert.ok(o.near.cooldown > o.fires.filter((f) => f.deferred).length, 'an episode held back by the cooldown that never fires')
    assert.ok(o.near.for >= 3)

    const bt = await backtestOf(RULES.hot.id)
    assert.equal(bt.rule, RULES.hot.id)
    assert.equal(bt.from, FROM)
    assert.equal(bt.to, END)
    assert.equal(bt.truncated, false)
    const expected: Expected = {
      firings: o.fires.map((f) => ({ at: iso(f.at), seq: f.seq })),
      clears: times(o.clears),
      nearMisses: misses(o.near),
    }
    assert.deepEqual(
      { firings: bt.firings.map((f) => ({ at: iso(f.at), seq: f.seq })), clears: times(bt.clears), nearMisses: bt.nearMisses },
      expected,
    )
    // The reading count is the rule's device only, in [from, to] (both bounds included), not bedroom-thermo.
    assert.equal(bt.readings, values.length)
    assert.equal(values.length, 24 * 60 + 2)
    assert.ok(day.filter((s) => s.deviceId === OTHER_THERMO && inRange(s)).length > 1000)
  })

  test('threshold with hysteresis 2: on above 30, off only at 28 or below; every firing at its reading', async () => {
    const values = tempsOf()
    const o = oracleHysteresis(values)
    const plain = oracleHysteresis(values.map((r) => ({ ...r, v: r.v > 30 ? r.v : Math.min(r.v, 28) })))
    assert.ok(o.fires.length < plain.fires.length, 'the dip to 29.2 and the reading of 30 do not turn it off')
    const bt = await backtestOf(RULES.hyst.id)
    assert.deepEqual(
      { firings: bt.firings.map((f) => ({ at: iso(f.at), seq: f.seq, device: f.deviceId })), clears: times(bt.clears), nearMisses: bt.nearMisses },
      { firings: o.fires.map((f) => ({ at: iso(f.at), seq: f.seq, device: THERMO })), clears: times(o.clears), nearMisses: {} },
    )
    assert.equal(bt.readings, values.length, 'the live reading after `end` is not part of it')
  })

  test('change, rising edge of the door with a 30m cooldown: one firing per opening, edges in the cooldown are lost', async () => {
    const readings = series([DOOR], 'contact')
    const o = oracleEdges(readings, 30 * MIN)
    assert.ok(o.fires.length >= 8 && o.blocked >= 2, `${o.fires.length} firings, ${o.blocked} held back`)
    const bt = await backtestOf(RULES.door.id)
    assert.deepEqual(
      { firings: bt.firings.map((f) => ({ at: iso(f.at), seq: f.seq, device: f.deviceId })), clears: bt.clears, nearMisses: bt.nearMisses },
      { firings: o.fires.map((f) => ({ at: iso(f.at), seq: f.seq, device: DOOR })), clears: [], nearMisses: misses({ cooldown: o.blocked }) },
    )
    assert.equal(bt.readings, readings.length)
  })

  test('window avg over 15m: holds once watched 15 minutes, fires when the average goes above 30, resolves when it drops', async () => {
    const values = tempsOf()
    const o = oracleAverage(values, 15 * MIN)
    assert.ok(o.fires.length >= 3, `${o.fires.length} firings`)
    const bt = await backtestOf(RULES.avg.id)
    assert.deepEqual(
      { firings: bt.firings.map((f) => ({ at: iso(f.at), seq: f.seq })), clears: times(bt.clears), nearMisses: bt.nearMisses },
      { firings: o.fires.map((f) => ({ at: iso(f.at), seq: f.seq })), clears: times(o.clears), nearMisses: misses({ window: o.window }) },
    )
    assert.equal(bt.readings, values.length)
  })

  test('inactivity over a room (devices given rooms through PUT /api/devices/:id): the room’s devices, no other', async () => {
    const readings = series(HALL, 'motion')
    const o = oracleInactivity(readings, 2 * HOUR)
    assert.ok(o.fires.length >= 3, `${o.fires.length} firings`)
    assert.ok(day.some((s) => s.deviceId === BATH && inRange(s)))
    // The directory takes the rooms up within a few seconds of the PUT.
    let bt = await backtestOf(RULES.hall.id)
    await waitFor('the backtest to see the hallway’s devices', async () => {
      bt = await backtestOf(RULES.hall.id)
      return bt.readings > 0
    })
    assert.equal(bt.readings, readings.length, 'both hallway sensors, motion true and false; not the bathroom')
    assert.deepEqual(
      { firings: bt.firings.map((f) => ({ at: iso(f.at), seq: f.seq })), clears: times(bt.clears), nearMisses: bt.nearMisses },
      { firings: o.fires.map((at) => ({ at: iso(at), seq: null })), clears: times(o.clears), nearMisses: {} },
    )
  })

  test('buffered readings: a reading received in the range counts at its receive time, whatever its device time', {}, async () => {
    const readings = series([BUFFERED], 'climate')
    const hot = readings.filter((s) => (s.fields.temp_c as number) > 30)
    assert.equal(hot.length, 2)
    const bt = await backtestOf(RULES.cellar.id)
    assert.deepEqual(
      bt.firings.map((f) => ({ at: iso(f.at), seq: f.seq })),
      hot.map((s) => ({ at: iso(s.at), seq: s.seq })),
    )
    assert.equal(bt.readings, readings.length)
  })

  test('a backtest leaves the live state alone: alerts, traces, rule status and evaluator state unchanged', async () => {
    const ids = Object.values(RULES).map((r) => r.id)
    const snapshot = async () => {
      const out: Record<string, unknown> = {}
      for (const id of ids) {
        const view = (await api(h, 'GET', `/api/automations/${id}`, undefined, anna)).body as { status: unknown }
        out[id] = {
          status: view.status,
          alerts: await liveAlerts(id),
          traces: ((await api(h, 'GET', `/api/automations/${id}/traces?limit=1000`, undefined, anna)).body as { traces: unknown[] }).traces,
          state: structuredClone(h.gateway.rules.engine.rules.get(id)?.state),
        }
      }
      const db = h.gateway.store.db
      out.counts = {
        alerts: db.prepare('SELECT count(*) FROM alerts').pluck().get(),
        traces: db.prepare('SELECT count(*) FROM rule_traces').pluck().get(),
        actions: db.prepare('SELECT count(*) FROM rule_actions').pluck().get(),
      }
      return out
    }
    const before = (await snapshot()) as Record<string, { alerts: unknown[]; traces: unknown[] }>
    assert.equal(before[RULES.hyst.id]?.alerts.length, 1, 'the live firing is there')
    assert.ok((before[RULES.hot.id]?.traces.length ?? 0) > 0, 'the live `for` rule armed')
    for (const id of ids) {
      await backtestOf(id)
      await backtestOf(id, victor)
    }
    assert.deepEqual(await snapshot(), before)
  })

  test('refusals: a range over 31d, an unknown rule; a viewer may backtest but not create', async () => {
    const long = await api(h, 'POST', `/api/automations/${RULES.hot.id}/backtest?range=32d&end=${END}`, undefined, anna)
    assert.equal(long.status, 400)
    assert.match(JSON.stringify(long.body), /at most 31d/)
    assert.equal((await api(h, 'POST', `/api/automations/${RULES.hot.id}/backtest?range=31d&end=${END}`, undefined, anna)).status, 200)
    assert.equal((await api(h, 'POST', `/api/automations/${RULES.hot.id}/backtest?range=soon`, undefined, anna)).status, 400)
    const unknown = await api(h, 'POST', '/api/automations/no-such-rule/backtest?range=24h', undefined, anna)
    assert.equal(unknown.status, 404)
    assert.equal((unknown.body as { detail: string }).detail, 'no rule "no-such-rule"')
    assert.equal((await api(h, 'POST', `/api/automations/${RULES.hot.id}/backtest?range=24h`, undefined)).status, 401)
    const viewed = await backtestOf(RULES.hot.id, victor)
    assert.equal(viewed.readings, tempsOf().length)
    const made = await api(h, 'POST', '/api/automations', { ...RULES.hot, id: 'bt-viewer', actions: ALERT }, victor)
    assert.equal(made.status, 403)
    assert.equal((await api(h, 'GET', '/api/automations/bt-viewer', undefined, anna)).status, 404)
    // The default range is 24h and the default end is now.
    const now = Date.now()
    const byDefault = await backtestOf(RULES.hot.id, anna, '')
    assert.ok(byDefault.to >= now && byDefault.to - byDefault.from === 24 * HOUR)
  })
})
