import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import Database from 'better-sqlite3'
import mqtt from 'mqtt'
import { runCli } from '../../gateway/src/cli/run.js'
import { JournalWriter } from '../../gateway/src/store/journal.js'
import { openStore } from '../../gateway/src/store/open.js'
import { isReadyLine, spawnDaemon } from '../_support/daemon.js'
import { reading, waitFor } from '../_support/history-data.js'
import { captureLogger } from '../_support/log-capture.js'
import { freePort, tempDir } from '../_support/temp.js'

/**
 * Restart semantics with the real daemon and SIGKILL (README "Rules and alerts"): a pending `for`
 * fires once after the restart, at its own time; a cooldown survives; readings journaled while the
 * engine lagged are each evaluated exactly once, even when it is killed in the middle of catching up.
 */

const RULES = `rules:
  - id: door-open
    name: Door open 3 s
    when: { threshold: { device: door, measurement: contact, field: open, op: '==', value: true } }
    for: 3s
    actions: [{ alert: { severity: warning, title: Door open } }]
  - id: button
    name: Button pressed
    when: { change: { device: door, measurement: button, field: pressed, to: true } }
    cooldown: 1h
    actions: [{ alert: { severity: info, title: Button } }]
  - id: flips
    name: Every flip
    when: { change: { device: flipper, measurement: state, field: n, direction: rising } }
    actions: [{ alert: { severity: info, title: Flip } }]
`

async function setup() {
  const dir = tempDir()
  writeFileSync(join(dir, 'rules.yaml'), RULES)
  writeFileSync(join(dir, 'gateway.yaml'), 'automations:\n  rulesFile: rules.yaml\n  checkpointMs: 200\n')
  const env = {
    CAREHUB_CONFIG: join(dir, 'gateway.yaml'),
    CAREHUB_LOG_LEVEL: 'info',
    CAREHUB_HTTP_PORT: String(await freePort()),
    CAREHUB_MQTT_PORT: String(await freePort()),
  }
  return { dataDir: join(dir, 'data'), env }
}

function readDb(dataDir: string) {
  const db = new Database(join(dataDir, 'carehub.db'), { readonly: true, fileMustExist: true })
  const all = <T>(sql: string, ...args: unknown[]) => db.prepare(sql).all(...args) as T[]
  return { all, close: () => db.close() }
}

const alerts = (dataDir: string, rule: string) => {
  const db = readDb(dataDir)
  try {
    return db.all<{ raised_at: number; created_at: number; idempotency_key: string }>(
      'SELECT raised_at, created_at, idempotency_key FROM alerts WHERE rule_id = ? ORDER BY id',
      rule,
    )
  } finally {
    db.close()
  }
}

/** Enrol through the CLI (as an installer would); returns a connect function for that device. */
async function enrol(dataDir: string, id: string) {
  const cwd = tempDir()
  const code = await runCli(['device', 'add', id, '--out', 'certs'], {
    env: { CAREHUB_DATA_DIR: dataDir },
    cwd,
    stdout: () => {},
    stderr: () => {},
    stdin: async () => '',
    now: () => Date.now(),
  })
  assert.equal(code, 0)
  const file = (f: string) => readFileSync(join(cwd, 'certs', f))
  return (mqttPort: number) =>
    mqtt.connectAsync(
      `mqtts://127.0.0.1:${mqttPort}`,
      { ca: file('ca.crt'), cert: file(`${id}.crt`), key: file(`${id}.key`), servername: 'localhost', clientId: id, reconnectPeriod: 0 },
      false,
    )
}

describe('rules across a kill -9', () => {
  test('a `for` pending at SIGKILL fires once after the restart, at its own time; a cooldown survives', async () => {
    const { dataDir, env } = await setup()
    const first = await spawnDaemon({ dataDir, env })
    await first.waitForLog(isReadyLine)
    const connect = await enrol(dataDir, 'door')
    const device = await connect(first.mqttPort)
    await device.publishAsync('care/door/button', '{"fields":{"pressed":false}}', { qos: 1 })
    await device.publishAsync('care/door/button', '{"fields":{"pressed":true}}', { qos: 1 })
    await waitFor('the button alert', () => alerts(dataDir, 'button').length === 1, 5000)
    const openedAt = Date.now()
    await device.publishAsync('care/door/contact', '{"fields":{"open":true}}', { qos: 1 })
    // The armed `for` is on disk (a trace is recorded with its state) before the kill.
    await waitFor('the armed state', () => {
      const db = readDb(dataDir)
      try {
        return db.all("SELECT 1 FROM rule_traces WHERE rule_id = 'door-open' AND outcome = 'armed'").length === 1
      } finally {
        db.close()
      }
    })
    device.end(true)
    first.proc.kill('SIGKILL')
    await first.exited
    assert.equal(alerts(dataDir, 'door-open').length, 0, 'killed before the 3 s were up')

    // Down for longer than the `for`: the timer runs out while nobody is looking.
    await new Promise((r) => setTimeout(r, Math.max(0, openedAt + 4000 - Date.now())))
    const second = await spawnDaemon({ dataDir, env })
    await second.waitForLog(isReadyLine)
    await waitFor('the late firing', () => alerts(dataDir, 'door-open').length === 1, 5000)
    const [fired] = alerts(dataDir, 'door-open')
    // Fired at its own time (3 s after the door opened), recorded later (after the restart).
    assert.ok(fired && fired.raised_at >= openedAt + 3000 && fired.raised_at < openedAt + 3500, `raised at +${(fired?.raised_at ?? 0) - openedAt} ms`)
    assert.ok(fired && fired.created_at > fired.raised_at + 300)

    // The cooldown outlived the process: another press inside the hour is a traced near miss.
    const again = await connect(second.mqttPort)
    await again.publishAsync('care/door/button', '{"fields":{"pressed":false}}', { qos: 1 })
    await again.publishAsync('care/door/button', '{"fields":{"pressed":true}}', { qos: 1 })
    await waitFor('the cooldown near miss', () => {
      const db = readDb(dataDir)
      try {
        return db.all("SELECT 1 FROM rule_traces WHERE rule_id = 'button' AND outcome = 'near_miss'").length === 1
      } finally {
        db.close()
      }
    })
    assert.equal(alerts(dataDir, 'button').length, 1)
    // A restart does not fire the door again either (one episode, one alert).
    again.end(true)
    second.proc.kill('SIGTERM')
    await second.exited
    const third = await spawnDaemon({ dataDir, env })
    await third.waitForLog(isReadyLine)
    await new Promise((r) => setTimeout(r, 500))
    assert.equal(alerts(dataDir, 'door-open').length, 1)
    third.proc.kill('SIGTERM')
    await third.exited
  })

  test('readings journaled while the engine lagged are evaluated exactly once, even when killed mid catch-up', async () => {
    const { dataDir, env } = await setup()
    const first = await spawnDaemon({ dataDir, env })
    await first.waitForLog(isReadyLine)
    first.proc.kill('SIGTERM')
    await first.exited
    // 40,000 readings written while the daemon is down (as after a crash between commit and evaluation):
    // n goes 0, 1, 0, 1, … so every second reading is a rising edge.
    const { log } = captureLogger()
    const db = openStore({ path: join(dataDir, 'carehub.db'), log, now: Date.now(), checkIntegrity: false })
    const writer = new JournalWriter(db)
    const TOTAL = 40_000
    const start = Date.now() - TOTAL
    for (let i = 0; i < TOTAL; i += 5000) {
      writer.commit(
        Array.from({ length: 5000 }, (_, k) => ({ ...reading('flipper', 'state', { n: (i + k) % 2 }, start + i + k), receivedAt: start + i + k })),
        [],
      )
    }
    db.close()

    const second = await spawnDaemon({ dataDir, env })
    await waitFor('catch-up under way', () => alerts(dataDir, 'flips').length > 0, 30_000)
    second.proc.kill('SIGKILL')
    await second.exited
    const partial = alerts(dataDir, 'flips').length
    assert.ok(partial < TOTAL / 2, `killed mid catch-up (${partial} of ${TOTAL / 2})`)

    const third = await spawnDaemon({ dataDir, env })
    await waitFor('every edge evaluated', () => alerts(dataDir, 'flips').length >= TOTAL / 2, 60_000)
    await new Promise((r) => setTimeout(r, 500))
    const all = alerts(dataDir, 'flips')
    assert.equal(all.length, TOTAL / 2, 'each rising edge exactly once')
    // …and they are exactly the rising edges: each alert names the reading (n = 1) that raised it.
    const check = readDb(dataDir)
    const edges = check.all<{ n: number }>(
      `SELECT count(DISTINCT a.seq) AS n FROM alerts a JOIN readings r ON r.seq = a.seq
       WHERE a.rule_id = 'flips' AND r.device_id = 'flipper' AND json_extract(r.fields, '$.n') = 1`,
    )
    check.close()
    assert.equal(edges[0]?.n, TOTAL / 2)
    // carehub status tells the same story: the alerts open and waiting for the cloud outbox.
    let out = ''
    const code = await runCli(['status', '--json'], {
      env: { CAREHUB_DATA_DIR: dataDir },
      cwd: tempDir(),
      stdout: (t) => {
        out += t
      },
      stderr: () => {},
      stdin: async () => '',
      now: () => Date.now(),
    })
    assert.equal(code, 0)
    const store = (JSON.parse(out) as { store: { rules: number; alerts: { unresolved: Record<string, number>; outbox: Record<string, number> } } })
      .store
    assert.deepEqual(store.alerts.unresolved, { info: TOTAL / 2 })
    assert.equal(store.alerts.outbox.cloud, TOTAL / 2)
    assert.equal(store.rules, 3)
    third.proc.kill('SIGTERM')
    await third.exited
  })
})
