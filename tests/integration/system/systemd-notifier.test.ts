import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, test } from 'node:test'
import type { Logger } from 'pino'
import { createSocket } from 'unix-dgram'
import { createSystemdNotifier, type SystemdNotifier } from '../../../gateway/src/system/systemd-notifier.js'
import { captureLogger } from '../../_support/log-capture.js'
import { tempDir } from '../../_support/temp.js'

/** A notifier (pid 4242) sending to a unix datagram socket this test reads; both closed after the test. */
function listening(log: Logger): { notifier: SystemdNotifier; received: string[] } {
  const path = join(tempDir('carehub-notify-'), 'notify.sock')
  const received: string[] = []
  const receiver = createSocket('unix_dgram')
  receiver.on('message', (buf: Buffer) => received.push(buf.toString()))
  receiver.bind(path)
  const notifier = createSystemdNotifier({ NOTIFY_SOCKET: path }, 4242, log)
  after(() => {
    notifier.close()
    receiver.close()
  })
  return { notifier, received }
}

async function arrived(received: readonly string[], count: number): Promise<void> {
  const deadline = Date.now() + 5000
  while (received.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
}

// The kernel queues at most net.unix.max_dgram_qlen datagrams (10 by default) for a unix datagram
// socket that is not reading; beyond that a send is refused ("congestion"), where sd_notify(3)
// would block. A receiver that is slow for a moment (a busy systemd, or this test) must still get
// every notification, READY=1 above all, in order.
test('a congested NOTIFY_SOCKET loses nothing: every notification arrives, in order, once the receiver reads', async () => {
  const { log, lines } = captureLogger()
  const { notifier, received } = listening(log)
  // All in one turn of the event loop, so the receiver (same process) cannot read in between: far
  // more than the kernel queues.
  for (let i = 0; i < 30; i++) notifier.status(`starting part ${i}`)
  notifier.ready('ready: https://127.0.0.1:8443/')
  await arrived(received, 31)
  assert.equal(received.length, 31, `got ${received.length} of 31`)
  assert.deepEqual(
    received.slice(0, 30),
    Array.from({ length: 30 }, (_, i) => `STATUS=starting part ${i}`),
  )
  assert.equal(received[30], 'READY=1\nSTATUS=ready: https://127.0.0.1:8443/\nMAINPID=4242')
  assert.deepEqual(
    lines().filter((l) => l.msg === 'systemd notification failed'),
    [],
    'congestion is waited out, not reported as a failure',
  )
})

// A long store upgrade (a rebuilt journal, minutes on an SD card) must not be ended by
// TimeoutStartSec: sd_notify(3) EXTEND_TIMEOUT_USEC, in microseconds, with the reason as STATUS.
test('extendStart asks systemd for more time to start, in microseconds, and says why', async () => {
  const { notifier, received } = listening(captureLogger().log)
  notifier.extendStart(90_000.4, 'upgrading the store (12 MiB)')
  await arrived(received, 1)
  assert.deepEqual(received, ['EXTEND_TIMEOUT_USEC=90001000\nSTATUS=upgrading the store (12 MiB)'])
})
