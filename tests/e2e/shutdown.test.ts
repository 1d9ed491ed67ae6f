import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { connect, type TLSSocket } from 'node:tls'
import { isReadyLine, spawnDaemon } from '../_support/daemon.js'
import { tempDir } from '../_support/temp.js'

/** A client that sent half a request and went quiet: the connection stays "in flight". */
async function stalledRequest(port: number): Promise<TLSSocket> {
  const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false })
  await new Promise((r) => socket.once('secureConnect', r))
  socket.write('GET /health HTTP/1.1\r\nHost: localhost\r\n')
  socket.on('error', () => {})
  return socket
}

describe('graceful shutdown with a stalled client', () => {
  test('the stalled connection is cut after the drain period and the daemon still exits 0 before its deadline', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'gateway.yaml'), 'shutdown:\n  timeoutMs: 3500\n')
    const d = await spawnDaemon({ env: { CAREHUB_CONFIG: join(dir, 'gateway.yaml') } })
    await d.waitForLog(isReadyLine)
    const socket = await stalledRequest(d.port)
    const closed = new Promise((r) => socket.once('close', r))
    const t0 = performance.now()
    d.proc.kill('SIGTERM')
    const { code } = await d.exited
    const ms = performance.now() - t0
    assert.equal(code, 0)
    await closed
    assert.ok(ms >= 1000, `waited for the in-flight connection (${Math.round(ms)} ms)`)
    assert.ok(ms < 3500, `but not past the deadline (${Math.round(ms)} ms)`)
    assert.ok(d.logs().some((l) => l.msg === 'store closed'))
  })

  test('a second signal while draining exits at once with 130', async () => {
    const d = await spawnDaemon()
    await d.waitForLog(isReadyLine)
    const socket = await stalledRequest(d.port)
    d.proc.kill('SIGTERM')
    await d.waitForLog((l) => l.msg === 'stopping')
    const t0 = performance.now()
    d.proc.kill('SIGINT')
    const { code } = await d.exited
    assert.equal(code, 130)
    assert.ok(performance.now() - t0 < 2000)
    socket.destroy()
  })
})
