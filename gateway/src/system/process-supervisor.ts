import type { Logger } from 'pino'
import type { SystemdNotifier } from './systemd-notifier.js'

/** The slice of `process` the supervisor needs; main.ts passes the real one, tests an EventEmitter. */
export interface SupervisedProcess {
  on(event: 'SIGTERM' | 'SIGINT', listener: (signal: NodeJS.Signals) => void): unknown
  on(event: 'unhandledRejection' | 'uncaughtException', listener: (reason: unknown) => void): unknown
  exit(code: number): void
  exitCode?: number | string | null | undefined
}

export interface SupervisorOptions {
  readonly proc: SupervisedProcess
  readonly log: Logger
  readonly notifier: SystemdNotifier
  /** Stops every part (the gateway's stop). */
  readonly stop: () => Promise<void>
  readonly timeoutMs: number
  readonly stderr: (text: string) => void
}

/** Exit codes of the process after start (sysexits(3) where one fits). */
export const EXIT = { clean: 0, crash: 1, stopTimeout: 70, secondSignal: 130 } as const

/**
 * Ends the process at once: logged (the logger writes synchronously), one line on stderr, then
 * SIGKILL — no exit handlers, so nothing closes the store (better-sqlite3 closes open databases at
 * exit, and the last close checkpoints the WAL) and no core is dumped on the box's SD card. systemd
 * restarts the daemon (Restart=on-failure counts a kill by signal as a failure).
 */
export function panicExit(o: {
  proc: { readonly pid: number; kill(pid: number, signal: NodeJS.Signals): unknown }
  log: Logger
  stderr: (text: string) => void
}): (what: string, err: Error) => void {
  return (what, err) => {
    o.log.fatal({ err }, what)
    o.stderr(`carehub: ${what}: ${err.message}\n`)
    o.proc.kill(o.proc.pid, 'SIGKILL')
  }
}

/**
 * Signals and fatal errors:
 * - SIGTERM/SIGINT: STOPPING=1, stop every part (in-flight work finishes), exit 0;
 * - a second signal exits at once (130); stopping past the deadline exits 70;
 * - an unhandled rejection or uncaught exception is logged and exits 1 so systemd restarts the
 *   daemon — it never limps on with unknown state.
 */
export function superviseProcess(o: SupervisorOptions): void {
  const { proc, log } = o
  let stopping = false
  const crash = (what: string, err: unknown) => {
    log.fatal({ err }, what)
    o.stderr(`carehub: ${what}: ${(err as Error)?.message ?? String(err)}\n`)
    proc.exit(EXIT.crash)
  }
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without waiting')
      proc.exit(EXIT.secondSignal)
      return
    }
    stopping = true
    log.info({ signal }, 'stopping')
    o.notifier.stopping(`stopping on ${signal}`)
    const deadline = setTimeout(() => {
      log.error({ timeoutMs: o.timeoutMs }, 'stopping took too long: exiting by force')
      proc.exit(EXIT.stopTimeout)
    }, o.timeoutMs)
    o.stop().then(
      () => {
        clearTimeout(deadline)
        log.info('stopped cleanly')
        o.notifier.close()
        // Let the event loop drain (log lines flushed) instead of process.exit(); but if a forgotten
        // handle keeps the process alive, exit anyway — unref'd, this timer alone keeps nothing alive.
        proc.exitCode = EXIT.clean
        setTimeout(() => {
          log.warn('still running after a clean stop: a handle was left open; exiting')
          proc.exit(EXIT.clean)
        }, 2000).unref()
      },
      (err: unknown) => {
        clearTimeout(deadline)
        crash('error while stopping', err)
      },
    )
  }
  proc.on('SIGTERM', shutdown)
  proc.on('SIGINT', shutdown)
  proc.on('unhandledRejection', (reason) => crash('unhandled promise rejection', reason))
  proc.on('uncaughtException', (err) => crash('uncaught exception', err))
}
