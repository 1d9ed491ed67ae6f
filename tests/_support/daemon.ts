import { type ChildProcess, spawn } from 'node:child_process'
import { after } from 'node:test'
import { fileURLToPath } from 'node:url'
import { freePort, tempDir } from './temp.js'

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const DAEMON_ENTRY = fileURLToPath(new URL('../../gateway/dist/main.js', import.meta.url))

export interface DaemonHandle {
  readonly proc: ChildProcess
  readonly port: number
  readonly mqttPort: number
  readonly dataDir: string
  /** Parsed JSON log lines so far (non-JSON stdout lines are kept as { raw }). */
  logs(): Array<Record<string, unknown>>
  stderr(): string
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

export interface StartOptions {
  readonly dataDir?: string
  readonly env?: Record<string, string>
  readonly uid?: number
  readonly gid?: number
  readonly cwd?: string
  readonly args?: readonly string[]
}

/**
 * Run the compiled daemon as production does (node gateway/dist/main.js) on loopback, with a
 * throw-away data folder and a free port, from an empty working folder so a developer's
 * config/gateway.yaml never leaks into a test. Killed when the test file ends.
 */
export async function spawnDaemon(options: StartOptions = {}): Promise<DaemonHandle> {
  const port = Number(options.env?.CAREHUB_HTTP_PORT ?? (await freePort()))
  const mqttPort = Number(options.env?.CAREHUB_MQTT_PORT ?? (await freePort()))
  const dataDir = options.dataDir ?? `${tempDir()}/data`
  const proc = spawn(process.execPath, [DAEMON_ENTRY, ...(options.args ?? [])], {
    cwd: options.cwd ?? tempDir('carehub-cwd-'),
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      CAREHUB_DATA_DIR: dataDir,
      CAREHUB_HTTP_PORT: String(port),
      CAREHUB_MQTT_PORT: String(mqttPort),
      CAREHUB_BIND: '127.0.0.1',
      CAREHUB_MDNS: 'off',
      CAREHUB_LOG_LEVEL: 'debug',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid ?? options.uid }),
  })
  after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
  })
  const lines: Array<Record<string, unknown>> = []
  const waiters = new Set<() => void>()
  let buffer = ''
  let stderr = ''
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk
    let nl = buffer.indexOf('\n')
    while (nl >= 0) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + 1)
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>)
      } catch {
        lines.push({ raw: line })
      }
      nl = buffer.indexOf('\n')
    }
    for (const w of waiters) w()
  })
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('exit', (code, signal) => {
      for (const w of waiters) w()
      resolve({ code, signal })
    })
  })
  const handle: DaemonHandle = {
    proc,
    port,
    mqttPort,
    dataDir,
    logs: () => [...lines],
    stderr: () => stderr,
    exited,
    waitForLog(predicate, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find(predicate)
          if (found) {
            waiters.delete(check)
            clearTimeout(timer)
            resolve(found)
          } else if (proc.exitCode !== null || proc.signalCode !== null) {
            waiters.delete(check)
            clearTimeout(timer)
            reject(new Error(`daemon exited (${proc.exitCode ?? proc.signalCode}) before the awaited log line; stderr: ${stderr}`))
          }
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`timed out waiting for a log line; stderr: ${stderr}; last lines: ${JSON.stringify(lines.slice(-5))}`))
        }, timeoutMs)
        waiters.add(check)
        check()
      })
    },
  }
  return handle
}

export const isReadyLine = (l: Record<string, unknown>) => typeof l.msg === 'string' && l.msg.startsWith('CareHub gateway ready')
