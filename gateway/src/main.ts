#!/usr/bin/env node
import { hostname, networkInterfaces } from 'node:os'
import { type Logger, pino } from 'pino'
import { loadConfig } from './config/load.js'
import { systemClock } from './core/clock.js'
import { CarehubError, isCarehubError } from './core/errors.js'
import { Gateway } from './gateway.js'
import { createLogger } from './system/logger.js'
import { panicExit, superviseProcess } from './system/process-supervisor.js'
import { RecentErrors } from './system/recent-errors.js'
import { RecentLogs } from './system/recent-logs.js'
import { createSystemdNotifier } from './system/systemd-notifier.js'
import { gatewayVersion } from './system/version.js'

/**
 * The process owner: the only module that touches `process` (argv, env, signals, exit codes).
 * Exit codes: sysexits(3) codes from the error catalogue for start-up failures; after start, those
 * of system/process-supervisor.ts (0 clean, 1 crash, 70 stop overran, 130 second signal).
 */
const USAGE = `Usage: carehub-gateway [--help] [--version]
Starts the CareHub gateway. Configuration: CAREHUB_CONFIG (YAML) and CAREHUB_* variables (see README).`

async function main(): Promise<void> {
  // Everything the gateway writes (database, keys, backups) is for its own user only.
  process.umask(0o077)
  const args = process.argv.slice(2)
  if (args.includes('--help') || args.includes('-h')) return void process.stdout.write(`${USAGE}\n`)
  if (args.includes('--version')) return void process.stdout.write(`${gatewayVersion()}\n`)
  if (args.length > 0) return fail(new CarehubError('CAREHUB_ERR_USAGE', `unknown argument "${args[0]}"\n${USAGE}`))

  let log: Logger | undefined
  try {
    const { config, source } = loadConfig(process.env, process.cwd())
    const recentErrors = new RecentErrors()
    const recentLogs = new RecentLogs()
    log = createLogger({
      level: config.log.level,
      destination: recentLogs.tee(pino.destination({ dest: 1, sync: true })),
      onError: (e) => recentErrors.push({ at: new Date().toISOString(), ...e }),
    })
    const notifier = createSystemdNotifier(process.env, process.pid, log.child({ module: 'systemd' }))
    const gateway = new Gateway({
      config,
      log,
      clock: systemClock,
      version: gatewayVersion(),
      pid: process.pid,
      notifier,
      recentErrors,
      recentLogs,
      host: { hostname: hostname(), interfaces: networkInterfaces },
      panic: panicExit({ proc: process, log, stderr: (t) => process.stderr.write(t) }),
    })

    superviseProcess({
      proc: process,
      log,
      notifier,
      stop: () => gateway.stop(),
      timeoutMs: config.shutdown.timeoutMs,
      stderr: (t) => process.stderr.write(t),
    })

    const started = performance.now()
    await gateway.start()
    if (gateway.stopRequested) return
    const address = gateway.http.address
    const urls = panelUrls(config.bind, address?.port ?? config.http.port, hostname())
    notifier.ready(`ready: ${urls[0]}`)
    log.info(
      {
        startupMs: Math.round(performance.now() - started),
        config: source ?? 'embedded defaults',
        dataDir: config.dataDir,
        gatewayId: gateway.gatewayId,
        urls,
      },
      `CareHub gateway ready — panel and API at ${urls.join(' and ')}`,
    )
  } catch (err) {
    log?.fatal({ err }, 'start-up failed')
    fail(err)
  }
}

function panelUrls(bind: string, port: number, host: string): string[] {
  if (bind === '0.0.0.0' || bind === '::') return [`https://127.0.0.1:${port}/`, `https://${host.toLowerCase()}.local:${port}/`]
  return [`https://${bind.includes(':') ? `[${bind}]` : bind}:${port}/`]
}

/** One line a person can act on, on stderr, and the catalogue's exit code. */
function fail(err: unknown): void {
  const message = isCarehubError(err) ? `${err.message} [${err.code}]` : `unexpected error: ${(err as Error)?.stack ?? String(err)}`
  process.stderr.write(`carehub: ${message}\n`)
  process.exit(isCarehubError(err) ? err.exitCode : 1)
}

await main()
