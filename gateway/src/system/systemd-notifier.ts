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
  /** sd_watchdog_enabled(3): the ping period systemd expects (WATCHDOG_USEC), or null when off. */
  watchdogIntervalMs(): number | null
  close(): void
}

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
  const send = (lines: Record<string, string>): void => {
    // STATUS is free text; a newline would start a new assignment (sd_notify(3) format).
    const text = Object.entries(lines)
      .map(([k, v]) => `${k}=${v.replaceAll('\n', ' ')}`)
      .join('\n')
    const buf = Buffer.from(text)
    socket.send(buf, 0, buf.length, path, (err) => {
      if (err) log.warn({ err: err.message, notifySocket: path }, 'systemd notification failed')
    })
  }
  let closed = false
  return {
    enabled: true,
    ready: (status) => send({ READY: '1', STATUS: status, MAINPID: String(pid) }),
    status: (status) => send({ STATUS: status }),
    watchdog: () => send({ WATCHDOG: '1' }),
    stopping: (status) => send({ STOPPING: '1', STATUS: status }),
    watchdogIntervalMs: () => interval,
    close: () => {
      if (closed) return
      closed = true
      socket.close()
    },
  }
}

function nullNotifier(interval: number | null): SystemdNotifier {
  const noop = () => {}
  return { enabled: false, ready: noop, status: noop, watchdog: noop, stopping: noop, watchdogIntervalMs: () => interval, close: noop }
}
