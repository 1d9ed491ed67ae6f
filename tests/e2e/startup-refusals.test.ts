import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { isReadyLine, spawnDaemon } from '../_support/daemon.js'
import { freePort, tempDir } from '../_support/temp.js'

/** Each refusal: a non-zero exit with the catalogue's code and exactly one line on stderr naming the cause. */
async function expectRefusal(d: Awaited<ReturnType<typeof spawnDaemon>>, exitCode: number, pattern: RegExp): Promise<string> {
  const { code } = await d.exited
  const stderr = d.stderr()
  assert.equal(code, exitCode, `exit code (stderr: ${stderr})`)
  const lines = stderr.trimEnd().split('\n')
  assert.equal(lines.length, 1, `one line on stderr, got: ${stderr}`)
  assert.match(lines[0] ?? '', pattern)
  return lines[0] ?? ''
}

describe('start-up refuses bad situations with one actionable line and a non-zero exit', () => {
  test('invalid config: unknown key', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'gateway.yaml'), 'http:\n  prot: 8443\n')
    const d = await spawnDaemon({ env: { CAREHUB_CONFIG: join(dir, 'gateway.yaml') } })
    await expectRefusal(d, 78, /unknown key "http\.prot".*CAREHUB_ERR_CONFIG_INVALID/)
  })

  test('invalid config: wrong type from the environment', async () => {
    const d = await spawnDaemon({ env: { CAREHUB_HTTP_PORT: 'eighty' } })
    await expectRefusal(d, 78, /CAREHUB_HTTP_PORT="eighty": expected a port number/)
  })

  test('port in use', async () => {
    const port = await freePort()
    const blocker = createServer().listen(port, '127.0.0.1')
    await new Promise((r) => blocker.once('listening', r))
    try {
      const d = await spawnDaemon({ env: { CAREHUB_HTTP_PORT: String(port) } })
      await expectRefusal(d, 69, new RegExp(`127\\.0\\.0\\.1:${port}: the address is already in use`))
      // Start-up failed after the store opened: the lock must still have been released.
      const again = await spawnDaemon({ dataDir: d.dataDir, env: { CAREHUB_HTTP_PORT: String(port) } })
      const line = await expectRefusal(again, 69, /already in use/)
      assert.doesNotMatch(line, /another CareHub gateway/)
    } finally {
      blocker.close()
    }
  })

  test('data folder blocked by a file', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'file'), 'x')
    const d = await spawnDaemon({ dataDir: join(dir, 'file', 'data') })
    await expectRefusal(d, 73, /data folder .*file\/data/)
  })

  test('data folder without permission (as an unprivileged user)', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to run the daemon as nobody')
    const dir = tempDir()
    chmodSync(dir, 0o755)
    const data = join(dir, 'data')
    mkdirSync(data, { mode: 0o700 }) // owned by root: nobody cannot enter
    const d = await spawnDaemon({ dataDir: data, uid: 65534, gid: 65534, cwd: '/tmp' })
    await expectRefusal(d, 73, /no permission to write there/)
  })

  test('corrupt database: refused with the path and what to do, file untouched', async () => {
    const dir = tempDir()
    const data = join(dir, 'data')
    mkdirSync(data, { mode: 0o700 })
    const db = join(data, 'carehub.db')
    writeFileSync(db, Buffer.alloc(4096, 'this is not sqlite '))
    const before = createHash('sha256').update(readFileSync(db)).digest('hex')
    const d = await spawnDaemon({ dataDir: data })
    await expectRefusal(d, 65, /carehub\.db is damaged .*left untouched.*restore the latest backup/)
    assert.equal(createHash('sha256').update(readFileSync(db)).digest('hex'), before)
  })

  test('a second gateway on the same data folder', async () => {
    const first = await spawnDaemon()
    await first.waitForLog(isReadyLine)
    const second = await spawnDaemon({ dataDir: first.dataDir })
    await expectRefusal(second, 75, new RegExp(`another CareHub gateway \\(pid ${first.proc.pid}\\)`))
    first.proc.kill('SIGTERM')
    assert.equal((await first.exited).code, 0)
  })

  test('an unknown argument', async () => {
    const d = await spawnDaemon({ args: ['--frobnicate'] })
    const { code } = await d.exited
    assert.equal(code, 64)
    assert.match(d.stderr(), /^carehub: unknown argument "--frobnicate"/)
  })
})
