import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { toNodeHandler } from 'h3/node'
import type { RowDataPacket } from 'mysql2/promise'
import pino from 'pino'
import { CredentialBox } from '../../cloud-sync/src/crypto/credential-box.js'
import { migrate } from '../../cloud-sync/src/db/migrate.js'
import { createPool } from '../../cloud-sync/src/db/pool.js'
import { buildCloudApp } from '../../cloud-sync/src/http/app.js'
import { runCli } from '../../gateway/src/cli/run.js'
import { JournalWriter } from '../../gateway/src/store/journal.js'
import { openStore } from '../../gateway/src/store/open.js'
import { isReadyLine, spawnDaemon } from '../_support/daemon.js'
import { reading, waitFor } from '../_support/history-data.js'
import { captureLogger } from '../_support/log-capture.js'
import { mariadbAvailable, startMariaDb } from '../_support/mariadb.js'
import { freePort, tempDir } from '../_support/temp.js'

/**
 * The uploader killed with SIGKILL while a batch is on the wire — the service has committed it,
 * the box has not marked it sent: after the restart every alert is in MySQL exactly once.
 */
describe('cloud uploader across a kill -9', { skip: !mariadbAvailable() && 'mariadbd is not installed (scripts/install-test-deps.sh)' }, () => {
  test('100 alerts, the daemon killed mid-batch, restarted: 100 in MySQL, 0 duplicates, in order', async () => {
    const db = await startMariaDb()
    await db.createDatabase('cloudkill', 'ck', 'ck-password-1')
    await migrate(db.url('cloudkill'))
    const pool = createPool(db.url('cloudkill'))
    after(() => pool.end())
    const adminToken = randomBytes(32).toString('base64')
    const app = buildCloudApp({
      pool,
      box: new CredentialBox(randomBytes(32).toString('base64')),
      log: pino({ level: 'silent' }),
      adminToken,
      maxSkewMs: 300_000,
      now: () => Date.now(),
    })
    const handler = toNodeHandler(app)
    // Answers to batches take 300 ms after the commit: the window in which the kill lands.
    const server: Server = createServer((req, res) => {
      if (req.url === '/v1/sync/alerts') {
        const end = res.end.bind(res) as (...a: unknown[]) => typeof res
        res.end = ((...a: unknown[]) => {
          setTimeout(() => end(...a), 300)
          return res
        }) as typeof res.end
      }
      return handler(req, res)
    })
    const port = await freePort()
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()))
    after(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const base = `http://127.0.0.1:${port}`
    const admin = (path: string, body: unknown) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    // Answers checked, so a failure here says what the service answered (a CI run once got no code).
    const json = async (res: Response) => {
      const body = (await res.json()) as Record<string, unknown>
      assert.ok(res.ok, `${res.url} answered ${res.status}: ${JSON.stringify(body)}`)
      return body
    }
    const home = (await json(await admin('/v1/admin/homes', { name: 'Mum' }))) as { id: number }
    const { code } = (await json(await admin(`/v1/admin/homes/${home.id}/enrolment-codes`, {}))) as { code: string }

    const dir = tempDir()
    writeFileSync(
      join(dir, 'rules.yaml'),
      'rules:\n  - id: call\n    name: Call\n    when: { change: { device: button, measurement: event, field: pressed, to: true } }\n    actions: [{ alert: { severity: warning, title: Call } }]\n',
    )
    writeFileSync(
      join(dir, 'gateway.yaml'),
      'automations:\n  rulesFile: rules.yaml\ncloud:\n  batchSize: 10\n  backoffMinMs: 200\n  backoffMaxMs: 1000\n',
    )
    const env = {
      CAREHUB_CONFIG: join(dir, 'gateway.yaml'),
      CAREHUB_LOG_LEVEL: 'info',
      CAREHUB_HTTP_PORT: String(await freePort()),
      CAREHUB_MQTT_PORT: String(await freePort()),
    }
    const dataDir = join(dir, 'data')
    const first = await spawnDaemon({ dataDir, env })
    await first.waitForLog(isReadyLine)
    first.proc.kill('SIGTERM')
    await first.exited
    const cliErrors: string[] = []
    const io = {
      env: { CAREHUB_DATA_DIR: dataDir, CAREHUB_CONFIG: env.CAREHUB_CONFIG },
      cwd: dir,
      stdout: () => {},
      stderr: (text: string) => void cliErrors.push(text),
      stdin: async () => '',
      now: () => Date.now(),
    }
    assert.equal(await runCli(['cloud', 'enroll', base, code], io), 0, `carehub cloud enroll: ${cliErrors.join('')}`)
    // 200 presses journaled (as if the box had been busy): 100 rising edges, 100 alerts.
    const { log } = captureLogger()
    const store = openStore({ path: join(dataDir, 'carehub.db'), log, now: Date.now(), checkIntegrity: false })
    const now = Date.now() + 60_000
    new JournalWriter(store).commit(
      Array.from({ length: 200 }, (_, i) => ({ ...reading('button', 'event', { pressed: i % 2 === 1 }, now + i), receivedAt: now + i })),
      [],
    )
    store.close()

    const stored = async () =>
      Number(((await pool.query<RowDataPacket[]>("SELECT count(*) AS n FROM alert_events WHERE event = 'raised'"))[0][0] as { n: number }).n)
    const second = await spawnDaemon({ dataDir, env })
    await waitFor('a few batches in MySQL', async () => (await stored()) >= 20, 30_000)
    second.proc.kill('SIGKILL')
    await second.exited
    const before = await stored()
    assert.ok(before < 100, `killed mid-way (${before} of 100 stored)`)

    const third = await spawnDaemon({ dataDir, env })
    await waitFor('all 100 in MySQL', async () => (await stored()) >= 100, 30_000)
    await new Promise((r) => setTimeout(r, 1000))
    const [events] = await pool.query<RowDataPacket[]>("SELECT seq FROM alert_events WHERE event = 'raised' ORDER BY id")
    assert.equal(events.length, 100, 'each alert exactly once')
    const seqs = events.map((e) => Number(e.seq))
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
    )
    const [[alerts]] = (await pool.query<RowDataPacket[]>('SELECT count(*) AS n FROM alerts')) as unknown as [[{ n: number }]]
    assert.equal(Number(alerts.n), 100)
    third.proc.kill('SIGTERM')
    await third.exited
    await db.stop()
  })
})
