import { type ChildProcess, spawn } from 'node:child_process'
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'

/**
 * A real server the tests run (VictoriaMetrics, influxd, mariadbd): spawned under
 * `setpriv --pdeathsig KILL` (the kernel kills it if the test process dies without cleaning up),
 * optionally switched to another user by setpriv before it starts, its output in a file, and stopped
 * by PID. A process 'exit' handler SIGKILLs whatever is still running (--test-force-exit).
 */

const live = new Set<ChildProcess>()
process.on('exit', () => {
  for (const proc of live) proc.kill('SIGKILL')
})

export function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((d) => {
    try {
      accessSync(join(d, cmd), constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

/** The last lines of a log file, for error messages. */
export function fileTail(file: string, lines = 25): string {
  return existsSync(file) ? readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') : '(no log)'
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export interface ServerProcessOptions {
  readonly name: string
  readonly argv: readonly string[]
  readonly cwd: string
  /** Where stdout and stderr go (appended). */
  readonly output: string
  /** Run as this user: setpriv switches before the server starts (a setuid() inside it would clear the parent-death signal). */
  readonly user?: string
  /** Answers whether the server is ready (called every 50 ms until it is, or until `readyTimeoutMs`). */
  readonly ready: () => Promise<boolean>
  readonly readyTimeoutMs: number
  /** SIGKILL when SIGTERM has not ended it within this long. */
  readonly stopTimeoutMs: number
  /** What to show when it does not come up. */
  readonly logs: () => string
}

export class ServerProcess {
  readonly #o: ServerProcessOptions
  #proc: ChildProcess | undefined
  #exited: Promise<void> = Promise.resolve()

  constructor(o: ServerProcessOptions) {
    this.#o = o
  }

  get pid(): number {
    return this.#proc?.pid ?? -1
  }

  get running(): boolean {
    const p = this.#proc
    return p !== undefined && p.exitCode === null && p.signalCode === null
  }

  /** Spawn and wait until ready; a server that exits or never answers is stopped and reported with its log. */
  async start(): Promise<void> {
    if (this.running) return
    const o = this.#o
    const fd = openSync(o.output, 'a')
    const user = o.user ? [`--reuid=${o.user}`, `--regid=${o.user}`, '--init-groups'] : []
    const [cmd, ...args] = onPath('setpriv') ? ['setpriv', ...user, '--pdeathsig', 'KILL', '--', ...o.argv] : o.argv
    const proc = spawn(cmd as string, args, { cwd: o.cwd, stdio: ['ignore', fd, fd] })
    closeSync(fd)
    this.#proc = proc
    live.add(proc)
    let spawnError: Error | undefined
    this.#exited = new Promise<void>((resolve) => {
      proc.once('error', (err) => {
        spawnError = err
        resolve()
      })
      proc.once('exit', () => resolve())
    }).then(() => void live.delete(proc))
    const deadline = Date.now() + o.readyTimeoutMs
    while (Date.now() < deadline) {
      if (spawnError || !this.running) {
        await this.#exited
        throw new Error(`${o.name} exited (${spawnError?.message ?? proc.exitCode ?? proc.signalCode}) before it was ready:\n${o.logs()}`)
      }
      try {
        if (await o.ready()) return
      } catch {
        // not listening yet
      }
      await sleep(50)
    }
    await this.stop()
    throw new Error(`${o.name} did not come up within ${o.readyTimeoutMs / 1000} s:\n${o.logs()}`)
  }

  async stop(): Promise<void> {
    const proc = this.#proc
    if (!proc || !this.running) return
    proc.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const gone = await Promise.race([
      this.#exited.then(() => true),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), this.#o.stopTimeoutMs)
      }),
    ])
    clearTimeout(timer)
    if (!gone) {
      proc.kill('SIGKILL')
      await this.#exited
    }
  }
}
