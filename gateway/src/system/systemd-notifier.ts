import { constants as osConstants } from 'node:os'
import type { Logger } from 'pino'
import { createSocket } from 'unix-dgram'

/**
 * sd_notify(3) over the NOTIFY_SOCKET datagram socket. We send the datagrams ourselves (with the
 * small, widely used unix-dgram addon) instead of the card's `systemd-notify` package because that
 * package spawns the systemd-notify CLI per call, has no WATCHDOG=1 or STOPPING=1, and — as a
 * non-root child process — sends from the wrong PID so systemd's NotifyAccess=main would drop it
 * (dependencies notes §9). Node's dgram cannot open unix datagram sockets.
 */
export interface SystemdNotifier {
  readonly enabled: boolean
  ready(status: string): void
  status(status: string): void
  watchdog(): void
  stopping(status: string): void
  /** Ask for `ms` more before the start times out (EXTEND_TIMEOUT_USEC, systemd ≥ 236), with why. */
  extendStart(ms: number, status: string): void
  /** sd_watchdog_enabled(3): the ping period systemd expects (WATCHDOG_USEC), or null when off. */
  watchdogIntervalMs(): number | null
  close(): void
}

const EAGAIN = osConstants.errno.EAGAIN

export function createSystemdNotifier(env: Readonly<Record<string, string | undefined>>, pid: number, log: Logger): SystemdNotifier {
  const path = env.NOTIFY_SOCKET
  const watchdogUsec = Number(env.WATCHDOG_USEC)
  const watchdogPid = env.WATCHDOG_PID === undefined ? pid : Number(env.WATCHDOG_PID)
  const interval = Number.isFinite(watchdogUsec) && watchdogUsec > 0 && watchdogPid === pid ? watchdogUsec / 1000 : null

  if (!path) return nullNotifier(interval)
  if (path.startsWith('@')) {
    // unix-dgram copies sun_path with strncpy, so abstract-namespace sockets cannot be addressed.
    // systemd itself uses /run/systemd/notify; only some container managers hand out '@' sockets.
    log.warn({ notifySocket: path }, 'abstract NOTIFY_SOCKET is not supported; systemd notifications are off')
    return nullNotifier(interval)
  }
  const socket = createSocket('unix_dgram')
  socket.on('error', (err: Error) => log.warn({ err: err.message }, 'systemd notification failed'))
  // A full receive queue (net.unix.max_dgram_qlen, 10 by default) answers "congestion" and the
  // datagram is NOT sent; sd_notify(3) would block until it fits. Losing READY=1 that way leaves
  // systemd waiting until TimeoutStartSec and then killing a healthy gateway (seen in the e2e test
  // on a busy machine). So datagrams wait in order and a congested one is sent again shortly.
  const queue: Buffer[] = []
  let retry: NodeJS.Timeout | undefined
  const flush = (): void => {
    retry = undefined
    while (queue.length > 0) {
      const buf = queue[0] as Buffer
      let congested = false
      socket.send(buf, 0, buf.length, path, (err?: Error & { code?: unknown }) => {
        if (!err) return
        // unix-dgram reports a full queue as errno -EAGAIN (-11) or as its own "congestion".
        if (err.code === -EAGAIN || err.code === 1 || /congestion/.test(err.message)) congested = true
        else log.warn({ err: err.message, notifySocket: path }, 'systemd notification failed')
      })
      if (congested) {
        retry = setTimeout(flush, 20)
        retry.unref()
        return
      }
      queue.shift()
    }
  }
  socket.on('writable', () => {
    if (retry) {
      clearTimeout(retry)
      flush()
    }
  })
  const send = (lines: Record<string, string>): void => {
    // STATUS is free text; a newline would start a new assignment (sd_notify(3) format).
    const text = Object.entries(lines)
      .map(([k, v]) => `${k}=${v.replaceAll('\n', ' ')}`)
      .join('\n')
    // Bounded: a receiver that never reads must not grow this (the oldest goes first).
    if (queue.length >= 100) queue.shift()
    queue.push(Buffer.from(text))
    if (!retry) flush()
  }
  let closed = false
  return {
    enabled: true,
    ready: (status) => send({ READY: '1', STATUS: status, MAINPID: String(pid) }),
    status: (status) => send({ STATUS: status }),
    watchdog: () => send({ WATCHDOG: '1' }),
    stopping: (status) => send({ STOPPING: '1', STATUS: status }),
    extendStart: (ms, status) => send({ EXTEND_TIMEOUT_USEC: String(Math.ceil(ms) * 1000), STATUS: status }),
    watchdogIntervalMs: () => interval,
    close: () => {
      if (closed) return
      closed = true
      clearTimeout(retry)
      socket.close()
    },
  }
}

function nullNotifier(interval: number | null): SystemdNotifier {
  const noop = () => {}
  return {
    enabled: false,
    ready: noop,
    status: noop,
    watchdog: noop,
    stopping: noop,
    extendStart: noop,
    watchdogIntervalMs: () => interval,
    close: noop,
  }
}
