import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { waitFor } from '../_support/history-data.js'
import { mariadbAvailable, startMariaDb } from '../_support/mariadb.js'
import { freePort } from '../_support/temp.js'

const MAIN = fileURLToPath(new URL('../../cloud-sync/dist/main.js', import.meta.url))

/** The compiled service as deployed: `migrate`, then serve; a bad environment is refused with the variable named. */
describe('cloud-sync as a process', { skip: !mariadbAvailable() && 'mariadbd is not installed (scripts/install-test-deps.sh)' }, () => {
  test('migrate, serve /health, stop on SIGTERM; configuration mistakes named', async () => {
    const db = await startMariaDb()
    await db.createDatabase('cloud', 'svc', 'svc-password-1')
    const port = await freePort()
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      CLOUD_DATABASE_URL: db.url('cloud'),
      CLOUD_CREDENTIAL_KEY: randomBytes(32).toString('base64'),
      CLOUD_ADMIN_TOKEN: randomBytes(32).toString('base64'),
      CLOUD_HTTP_PORT: String(port),
      CLOUD_LOG_LEVEL: 'warn',
    }
    const migrated = spawnSync(process.execPath, [MAIN, 'migrate'], { env: { ...env, CLOUD_LOG_LEVEL: 'info' }, encoding: 'utf8' })
    assert.equal(migrated.status, 0, migrated.stderr)
    assert.match(migrated.stdout, /001-initial\.sql/)
    const again = spawnSync(process.execPath, [MAIN, 'migrate'], { env: { ...env, CLOUD_LOG_LEVEL: 'info' }, encoding: 'utf8' })
    assert.match(again.stdout, /"applied":\[\]/, 'a second migrate applies nothing')

    const bad = spawnSync(process.execPath, [MAIN], { env: { ...env, CLOUD_CREDENTIAL_KEY: 'short' }, encoding: 'utf8' })
    assert.equal(bad.status, 1)
    assert.match(bad.stderr, /CLOUD_CREDENTIAL_KEY: 32 random bytes in base64/)

    const proc = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    proc.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c
    })
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)))
    await waitFor(
      'the service to answer',
      async () => {
        try {
          return (await fetch(`http://127.0.0.1:${port}/health`)).status === 200
        } catch {
          return false
        }
      },
      10_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; stderr: ${stderr}`)
    })
    const enrolWithoutCode = await fetch(`http://127.0.0.1:${port}/v1/enrol`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    })
    assert.equal(enrolWithoutCode.status, 400)
    assert.equal(((await enrolWithoutCode.json()) as { code: string }).code, 'CLOUD_ERR_VALIDATION')
    proc.kill('SIGTERM')
    assert.equal(await exited, 0)
    await db.stop()
  })
})
