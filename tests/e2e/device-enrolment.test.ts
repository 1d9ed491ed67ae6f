import assert from 'node:assert/strict'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import mqtt from 'mqtt'
import { runCli } from '../../gateway/src/cli/run.js'
import { isReadyLine, spawnDaemon } from '../_support/daemon.js'
import { tempDir } from '../_support/temp.js'

async function cli(args: string[], env: Record<string, string>, cwd: string) {
  let stdout = ''
  let stderr = ''
  const code = await runCli(args, {
    env,
    cwd,
    stdout: (t) => {
      stdout += t
    },
    stderr: (t) => {
      stderr += t
    },
    stdin: async () => '',
    now: () => Date.now(),
  })
  return { code, stdout, stderr }
}

describe('carehub device add | list | revoke against a running gateway', () => {
  test('enrol while running → the device connects; revoke → it is cut off within 2 s and refused after', async () => {
    const d = await spawnDaemon()
    await d.waitForLog(isReadyLine)
    const cwd = tempDir()
    const env = { CAREHUB_DATA_DIR: d.dataDir }

    const add = await cli(['device', 'add', 'kitchen_temp', '--out', 'certs'], env, cwd)
    assert.equal(add.code, 0, add.stderr)
    const dir = join(cwd, 'certs')
    for (const f of ['ca.crt', 'kitchen_temp.crt', 'kitchen_temp.key']) assert.ok(statSync(join(dir, f)).isFile(), f)
    assert.equal(statSync(join(dir, 'kitchen_temp.key')).mode & 0o777, 0o600, 'the private key is owner-only')
    assert.equal(readFileSync(join(dir, 'ca.crt'), 'utf8'), readFileSync(join(d.dataDir, 'pki', 'ca.crt'), 'utf8'), 'the box CA the daemon serves')

    const tls = {
      ca: readFileSync(join(dir, 'ca.crt')),
      cert: readFileSync(join(dir, 'kitchen_temp.crt')),
      key: readFileSync(join(dir, 'kitchen_temp.key')),
    }
    const url = `mqtts://127.0.0.1:${d.mqttPort}`
    const client = await mqtt.connectAsync(url, { ...tls, servername: 'localhost', clientId: 'kitchen_temp', reconnectPeriod: 0 }, false)
    await client.publishAsync('care/kitchen_temp/climate', '{"fields":{"temp_c":21.5}}', { qos: 1 })

    const again = await cli(['device', 'add', 'kitchen_temp', '--out', 'certs2'], env, cwd)
    assert.equal(again.code, 65)
    assert.match(again.stderr, /already has a valid certificate; add --renew/)

    const listed = JSON.parse((await cli(['device', 'list', '--json'], env, cwd)).stdout) as Array<{
      id: string
      certificate: string
      lastSeenAt: number | null
    }>
    assert.equal(listed[0]?.id, 'kitchen_temp')
    assert.equal(listed[0]?.certificate, 'valid')
    assert.ok(listed[0]?.lastSeenAt)

    const closed = new Promise<number>((resolve) => client.once('close', () => resolve(Date.now())))
    const revokedAt = Date.now()
    const revoke = await cli(['device', 'revoke', 'kitchen_temp'], env, cwd)
    assert.equal(revoke.code, 0, revoke.stderr)
    const cutAt = await Promise.race([
      closed,
      new Promise<number>((_, reject) => setTimeout(() => reject(new Error('not cut off within 3 s')), 3000)),
    ])
    assert.ok(cutAt - revokedAt <= 2000, `cut off after ${cutAt - revokedAt} ms`)
    const refused = await mqtt.connectAsync(url, { ...tls, servername: 'localhost', clientId: 'kitchen_temp', reconnectPeriod: 0 }, false).then(
      (c) => {
        c.end(true)
        return null
      },
      (err: Error) => err,
    )
    assert.match(String(refused?.message), /Not authorized/i)
    assert.match((await cli(['device', 'list'], env, cwd)).stdout, /kitchen_temp .*revoked\/expired/)

    // --renew issues a new certificate that works again.
    assert.equal((await cli(['device', 'add', 'kitchen_temp', '--out', 'certs3', '--renew'], env, cwd)).code, 0)
    const renewed = {
      ca: tls.ca,
      cert: readFileSync(join(cwd, 'certs3', 'kitchen_temp.crt')),
      key: readFileSync(join(cwd, 'certs3', 'kitchen_temp.key')),
    }
    const back = await mqtt.connectAsync(url, { ...renewed, servername: 'localhost', clientId: 'kitchen_temp', reconnectPeriod: 0 }, false)
    back.end(true)
    d.proc.kill('SIGTERM')
    assert.equal((await d.exited).code, 0)
  })

  test('bad ids and unknown devices are refused with a reason', async () => {
    const cwd = tempDir()
    const env = { CAREHUB_DATA_DIR: join(cwd, 'data') }
    const bad = await cli(['device', 'add', 'Kitchen Temp', '--out', 'c'], env, cwd)
    assert.equal(bad.code, 65)
    assert.match(bad.stderr, /lowercase letters/)
    assert.equal((await cli(['device', 'add', 'x1'], env, cwd)).code, 64)
    const unknown = await cli(['device', 'revoke', 'nope'], env, cwd)
    assert.equal(unknown.code, 66)
    assert.match(unknown.stderr, /no device "nope"/)
  })
})
