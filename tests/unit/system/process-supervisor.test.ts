import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { describe, test } from 'node:test'
import { EXIT, panicExit, type SupervisedProcess, superviseProcess } from '../../../gateway/src/system/process-supervisor.js'
import type { SystemdNotifier } from '../../../gateway/src/system/systemd-notifier.js'
import { captureLogger } from '../../_support/log-capture.js'

class FakeProcess extends EventEmitter implements SupervisedProcess {
  exits: number[] = []
  exitCode: number | string | null | undefined
  exit(code: number): void {
    this.exits.push(code)
  }
}

function recordingNotifier(): SystemdNotifier & { sent: string[] } {
  const sent: string[] = []
  return {
    sent,
    enabled: true,
    ready: (s) => void sent.push(`READY ${s}`),
    status: (s) => void sent.push(`STATUS ${s}`),
    watchdog: () => void sent.push('WATCHDOG'),
    stopping: (s) => void sent.push(`STOPPING ${s}`),
    extendStart: () => {},
    watchdogIntervalMs: () => null,
    close: () => void sent.push('CLOSE'),
  }
}

function setup(stop: () => Promise<void>, timeoutMs = 200) {
  const proc = new FakeProcess()
  const { log, lines } = captureLogger()
  const notifier = recordingNotifier()
  let stderr = ''
  superviseProcess({
    proc,
    log,
    notifier,
    stop,
    timeoutMs,
    stderr: (t) => {
      stderr += t
    },
  })
  return { proc, lines, notifier, stderr: () => stderr }
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms))

describe('process supervisor', () => {
  test('SIGTERM: STOPPING=1, stop every part, exit code 0 without forcing exit', async () => {
    let stopped = 0
    const { proc, notifier, lines } = setup(async () => {
      stopped++
    })
    proc.emit('SIGTERM', 'SIGTERM')
    await tick()
    assert.equal(stopped, 1)
    assert.equal(proc.exitCode, EXIT.clean)
    assert.deepEqual(proc.exits, [], 'lets the event loop drain instead of process.exit()')
    assert.deepEqual(notifier.sent, ['STOPPING stopping on SIGTERM', 'CLOSE'])
    assert.ok(lines().some((l) => l.msg === 'stopped cleanly'))
  })

  test('a second signal exits at once with 130', async () => {
    const { proc } = setup(() => new Promise(() => {}))
    proc.emit('SIGINT', 'SIGINT')
    proc.emit('SIGTERM', 'SIGTERM')
    assert.deepEqual(proc.exits, [EXIT.secondSignal])
  })

  test('stopping past the deadline exits 70', async () => {
    const { proc, lines } = setup(() => new Promise(() => {}), 50)
    proc.emit('SIGTERM', 'SIGTERM')
    await tick(120)
    assert.deepEqual(proc.exits, [EXIT.stopTimeout])
    assert.ok(lines().some((l) => l.msg === 'stopping took too long: exiting by force'))
  })

  test('a stop that fails is a crash (exit 1), and the deadline no longer fires', async () => {
    const { proc, stderr } = setup(async () => {
      throw new Error('disk gone')
    }, 50)
    proc.emit('SIGTERM', 'SIGTERM')
    await tick(120)
    assert.deepEqual(proc.exits, [EXIT.crash])
    assert.match(stderr(), /error while stopping: disk gone/)
  })

  test('an unhandled rejection or uncaught exception is logged fatal and exits 1', () => {
    const { proc, lines, stderr } = setup(async () => {})
    proc.emit('unhandledRejection', new Error('nobody caught me'))
    assert.deepEqual(proc.exits, [EXIT.crash])
    const fatal = lines().find((l) => l.level === 'fatal')
    assert.equal(fatal?.msg, 'unhandled promise rejection')
    assert.match(stderr(), /^carehub: unhandled promise rejection: nobody caught me\n$/)
    proc.emit('uncaughtException', new TypeError('boom'))
    assert.deepEqual(proc.exits, [EXIT.crash, EXIT.crash])
  })
})

test('a panic logs, says why on stderr and kills the process at once (no exit handlers: nothing closes or checkpoints the store)', () => {
  const { log, lines } = captureLogger()
  const kills: Array<[number, string]> = []
  let stderr = ''
  const panic = panicExit({
    proc: { pid: 4242, kill: (pid, signal) => kills.push([pid, signal]) },
    log,
    stderr: (t) => {
      stderr += t
    },
  })
  panic('the disk failed to sync the journal', new Error('EIO: i/o error, fdatasync'))
  assert.deepEqual(kills, [[4242, 'SIGKILL']])
  assert.match(stderr, /^carehub: the disk failed to sync the journal: EIO: i\/o error, fdatasync\n$/)
  const fatal = lines().find((l) => l.level === 'fatal')
  assert.equal(fatal?.msg, 'the disk failed to sync the journal')
})
